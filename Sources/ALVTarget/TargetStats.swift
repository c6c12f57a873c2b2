import Synchronization

/// Requests the target received, per method and path and per client address, and the last recorded bodies.
public final class TargetStats: Sendable {
    struct State {
        var counts: [String: Int] = [:]
        var clients: [String: Int] = [:]
        var total = 0
        var connections = 0
        var bodies: [RecordedBody] = []
        var firstSeen: [String: Double] = [:]
        var lastSeen: [String: Double] = [:]
        var routeStarted: [Int: Double] = [:]
    }

    /// One request as it arrived, for tests that check payloads.
    public struct RecordedBody: Sendable, Codable, Equatable {
        public var method: String
        public var path: String
        public var contentType: String?
        public var body: String

        enum CodingKeys: String, CodingKey { case method, path, contentType = "content_type", body }
    }

    private let state = Mutex(State())
    let bodyLimit: Int

    init(bodyLimit: Int) {
        self.bodyLimit = bodyLimit
    }

    func count(method: String, path: String, client: String, at unixTime: Double) {
        let key = "\(method) \(path)"
        state.withLock {
            $0.counts[key, default: 0] += 1
            $0.clients[client, default: 0] += 1
            $0.total += 1
            if $0.firstSeen[key] == nil { $0.firstSeen[key] = unixTime }
            $0.lastSeen[key] = unixTime
        }
    }

    /// A client opened a connection.
    func connected() { state.withLock { $0.connections += 1 } }

    /// Elapsed time of the first request on route `index`, recorded now if this is it.
    func routeStarted(_ index: Int, elapsed: Double) -> Double {
        state.withLock { state in
            if let started = state.routeStarted[index] { return started }
            state.routeStarted[index] = elapsed
            return elapsed
        }
    }

    /// Unix time of the first and last request per `"METHOD path"`.
    public var timings: [String: (first: Double, last: Double)] {
        state.withLock { state in
            Dictionary(uniqueKeysWithValues: state.firstSeen.map { ($0.key, ($0.value, state.lastSeen[$0.key] ?? $0.value)) })
        }
    }

    func record(_ body: RecordedBody) {
        guard bodyLimit > 0 else { return }
        state.withLock {
            $0.bodies.append(body)
            if $0.bodies.count > bodyLimit { $0.bodies.removeFirst($0.bodies.count - bodyLimit) }
        }
    }

    /// Counts so far: `"GET /items"` → n.
    public var counts: [String: Int] { state.withLock { $0.counts } }
    public var total: Int { state.withLock { $0.total } }
    /// Requests per client IP address.
    public var clients: [String: Int] { state.withLock { $0.clients } }
    /// Connections clients opened so far.
    public var connections: Int { state.withLock { $0.connections } }
    public var bodies: [RecordedBody] { state.withLock { $0.bodies } }
}
