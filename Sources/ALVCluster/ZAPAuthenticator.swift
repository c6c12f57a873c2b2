import ALVTransport
import Synchronization

/// ZAP (ZeroMQ's authentication protocol, RFC 27): admits CURVE clients whose public key is on an allow-list,
/// and tells the broker what each connection may say through its User-Id.
///
/// - `w:ID`: a key admitted for one worker (`admit(_:as:)`, the per-run keys `alv run` hands each worker it
///   starts). It speaks only as that worker, never as a planner, and only from the address it first connected
///   from: the same key from another machine is refused.
/// - `k:KEY`: a key on the static worker list (`alv broker --allow-keys`). It speaks as workers; each worker
///   id belongs to the first key that speaks as it (`WorkerIdentities`).
/// - `e:KEY`: any key, on the enrol socket alone (ZAP domain `enrol`): it may only ask to be admitted, with a
///   launcher's enrolment token (`Broker` checks the request).
/// - `p:KEY`: a key on the planner list (`alv broker --planner-keys`). It may also send planner messages
///   (scale, retire, events); the workers a planner starts share its key.
///
/// Polled on the broker's thread; `admit` may be called from any thread.
final class ZAPAuthenticator {
    enum Role {
        case worker(String)
        case fleet
        case planner
    }

    struct Binding {
        var role: Role
        var address: String?
    }

    let socket: ZMQSocket
    private let keys: Mutex<[String: Binding]>

    init(context: ZMQContext, allowedClients: Set<String>, plannerClients: Set<String>) throws(ZMQError) {
        socket = try ZMQSocket(context, .rep)
        try socket.bind("inproc://zeromq.zap.01")
        var bindings = Dictionary(uniqueKeysWithValues: allowedClients.map { ($0, Binding(role: .fleet)) })
        for key in plannerClients { bindings[key] = Binding(role: .planner) }
        keys = Mutex(bindings)
    }

    /// The ZAP domain of the enrol socket, where any key may connect to ask for admission.
    static let enrolDomain = Array("enrol".utf8)

    /// Admits `publicKey` for worker `id` alone.
    func admit(_ publicKey: String, as id: String) {
        keys.withLock { $0[publicKey] = Binding(role: .worker(id)) }
    }

    /// Forgets a key admitted for one worker (its process is gone).
    func revoke(_ publicKey: String) {
        keys.withLock { _ = $0.removeValue(forKey: publicKey) }
    }

    /// Answers every pending request. - Returns: drop reasons to count ("zap", "unauthenticated", "key_elsewhere").
    func answer() -> [String] {
        var rejected: [String] = []
        while let frames = try? socket.receive(dontWait: true) {
            // version, request id, domain, address, identity, mechanism, credentials
            guard frames.count >= 7 else {
                rejected.append("zap")
                continue
            }
            let key = CurveKeyPair.z85(frames[6])
            let address = String(decoding: frames[3], as: UTF8.self)
            let enrolling = frames[2] == Self.enrolDomain
            let verdict: (admitted: Bool, userID: String, reason: String) = keys.withLock { keys in
                if enrolling, let key { return (true, "e:" + key, "") }
                guard let key, var binding = keys[key] else { return (false, "", "unauthenticated") }
                switch binding.role {
                case .fleet: return (true, "k:" + key, "")
                case .planner: return (true, "p:" + key, "")
                case .worker(let worker):
                    if let first = binding.address, first != address { return (false, "", "key_elsewhere") }
                    binding.address = address
                    keys[key] = binding
                    return (true, "w:" + worker, "")
                }
            }
            if !verdict.admitted { rejected.append(verdict.reason) }
            let reply: [[UInt8]] = [
                Array("1.0".utf8), frames[1], Array((verdict.admitted ? "200" : "400").utf8),
                Array((verdict.admitted ? "OK" : "key not allowed").utf8), Array(verdict.userID.utf8), [],
            ]
            _ = try? socket.send(reply)
        }
        return rejected
    }
}

/// Which connection speaks for which worker id, for keys that may speak as more than one worker (`k:` and
/// `p:` User-Ids): an id belongs to the first User-Id that speaks as it, for the broker's life, so another
/// key can neither say hello as a live worker nor evict it with a higher incarnation. A restarted worker with
/// the same key keeps its id. Without CURVE (User-Id "") nothing is bound: every local peer is trusted.
struct WorkerIdentities {
    /// Beyond this many ids, messages from unseen ids are dropped (`too_many_ids`) instead of growing the table.
    static let capacity = 100_000
    private var owners: [String: String] = [:]

    /// - Returns: nil when the connection may speak as `worker`, or the counter to drop the message under.
    mutating func refusal(worker: String, userID: String) -> String? {
        guard !userID.isEmpty else { return nil }
        if let owner = owners[worker] { return owner == userID ? nil : "impersonation" }
        guard owners.count < Self.capacity else { return "too_many_ids" }
        owners[worker] = userID
        return nil
    }
}
