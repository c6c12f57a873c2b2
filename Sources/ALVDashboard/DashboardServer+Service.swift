import ALVLifecycle

/// The dashboard under a supervisor: it serves from the moment it is made (so its address can be printed
/// first) and stops when the supervisor stops it.
extension DashboardServer: Service {
    public var name: String { "dashboard" }

    public func run(stop: CancellationFlag) throws {
        stop.wait()
        self.stop()
    }
}
