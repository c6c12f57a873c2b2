/// Control channel (broker PUB → worker SUB), topic `ctl`.
public struct ControlMessage: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// The named worker must stop its units and rejoin as a new incarnation.
        case evict
        /// The named worker (or every worker, when `worker` is nil) finishes its units and exits.
        case retire
        /// Every unit of the run (or of one vector of it) stops now.
        case stopRun = "stop_run"
        /// The broker's time, answering one worker's hello or heartbeat (topic `clk.WORKER`, so only that
        /// worker receives it).
        case clock
    }

    public var v: Int
    public var kind: Kind
    public var worker: String?
    public var runID: String?
    /// With `stop_run`: only units of this vector of the run (control and work travel on different
    /// sockets, so a stop must not catch units of the next vector that overtook it).
    public var vectorIndex: Int?
    public var epoch: Int
    /// With `clock`: the `sent_at_ms` being answered (the worker's clock) and the broker's Unix time in ms
    /// when it answered.
    public var echoMs: Double?
    public var brokerMs: Double?

    public init(kind: Kind, worker: String? = nil, runID: String? = nil, vectorIndex: Int? = nil, epoch: Int, echoMs: Double? = nil, brokerMs: Double? = nil) {
        v = wireVersion
        self.kind = kind
        self.worker = worker
        self.runID = runID
        self.vectorIndex = vectorIndex
        self.epoch = epoch
        self.echoMs = echoMs
        self.brokerMs = brokerMs
    }

    /// The topic a clock answer to `worker` travels under.
    public static func clockTopic(_ worker: String) -> String { "clk." + worker }

    enum CodingKeys: String, CodingKey {
        case v, kind, worker, runID = "run_id", vectorIndex = "vector_index", epoch, echoMs = "echo_ms", brokerMs = "broker_ms"
    }
}
