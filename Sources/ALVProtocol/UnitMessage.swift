/// Work channel (broker PUSH → worker PULL), topic `unit`: a unit and the run's engine settings.
public struct UnitMessage: Sendable, Codable, Equatable {
    public var v: Int
    public var unit: WorkUnit
    /// The vector's position in the run's sequence, echoed back with metrics.
    public var vectorIndex: Int
    /// The run's HTTP settings. Every unit carries them, reissued ones too.
    public var options: EngineOptions

    public init(unit: WorkUnit, vectorIndex: Int, options: EngineOptions) {
        v = wireVersion
        self.unit = unit
        self.vectorIndex = vectorIndex
        self.options = options
    }

    enum CodingKeys: String, CodingKey { case v, unit, vectorIndex = "vector_index", options }
}
