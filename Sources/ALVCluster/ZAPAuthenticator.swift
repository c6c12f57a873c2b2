import ALVTransport
import Synchronization

/// ZAP (ZeroMQ's authentication protocol, RFC 27): admits CURVE clients whose public key is on the allow-list.
///
/// A key on the static list (`alv broker --allow-keys`) may speak for any worker id. A key admitted for one
/// worker (`admit(_:as:)`, the per-run keys `alv run` hands each worker it starts) speaks only for that id,
/// which the handler gives the connection as its User-Id, and only from the address it first connected
/// from: the same key from another machine is refused. Polled on the broker's thread; `admit` may be called
/// from any thread.
final class ZAPAuthenticator {
    struct Binding {
        var worker: String?
        var address: String?
    }

    let socket: ZMQSocket
    private let keys: Mutex<[String: Binding]>

    init(context: ZMQContext, allowedClients: Set<String>) throws(ZMQError) {
        socket = try ZMQSocket(context, .rep)
        try socket.bind("inproc://zeromq.zap.01")
        keys = Mutex(Dictionary(uniqueKeysWithValues: allowedClients.map { ($0, Binding()) }))
    }

    /// Admits `publicKey` for worker `id` alone.
    func admit(_ publicKey: String, as id: String) {
        keys.withLock { $0[publicKey] = Binding(worker: id) }
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
            let verdict: (admitted: Bool, userID: String, reason: String) = keys.withLock { keys in
                guard let key, var binding = keys[key] else { return (false, "", "unauthenticated") }
                guard let worker = binding.worker else { return (true, "", "") }
                if let first = binding.address, first != address { return (false, "", "key_elsewhere") }
                binding.address = address
                keys[key] = binding
                return (true, worker, "")
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
