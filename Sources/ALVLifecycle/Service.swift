/// Where a service is in its life. Moves only forward: idle → running → stopping → stopped | failed.
public enum ServiceState: Sendable, Equatable, CustomStringConvertible {
    case idle
    case running
    case stopping
    case stopped
    case failed(String)

    public var description: String {
        switch self {
        case .idle: return "idle"
        case .running: return "running"
        case .stopping: return "stopping"
        case .stopped: return "stopped"
        case .failed(let why): return "failed: \(why)"
        }
    }

    /// Whether the service has ended, one way or the other.
    public var isFinal: Bool {
        switch self {
        case .stopped, .failed: return true
        default: return false
        }
    }
}

/// A long-running part of alv (broker, worker, planner, dashboard, pool reaper). `run` blocks on the thread
/// the supervisor gives it, until `stop` is set or its work is over, and owns every resource it creates there
/// (ZeroMQ sockets and curl handles stay on the thread that made them).
public protocol Service: AnyObject, Sendable {
    /// A short name for logs and errors ("broker", "dashboard").
    var name: String { get }
    /// Works until `stop` is set or the work ends.
    /// - Throws: when the service cannot go on; the supervisor then stops the others.
    func run(stop: CancellationFlag) throws
}
