import Synchronization

/// Requests the target received, per method and path, and the last recorded bodies.
public final class TargetStats: Sendable {
    struct State {
        var counts: [String: Int] = [:]
        var total = 0
        var bodies: [RecordedBody] = []
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

    func count(method: String, path: String) {
        state.withLock {
            $0.counts["\(method) \(path)", default: 0] += 1
            $0.total += 1
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
    public var bodies: [RecordedBody] { state.withLock { $0.bodies } }
}
