import ALVTransport

/// ZAP (ZeroMQ's authentication protocol, RFC 27): admits CURVE clients whose public key is on the allow-list.
/// Lives on the broker's thread; `BrokerSockets` polls its socket.
final class ZAPAuthenticator {
    let socket: ZMQSocket
    private let allowed: Set<String>

    init(context: ZMQContext, allowedClients: Set<String>) throws(ZMQError) {
        socket = try ZMQSocket(context, .rep)
        try socket.bind("inproc://zeromq.zap.01")
        allowed = allowedClients
    }

    /// Answers every pending request. - Returns: drop reasons to count ("zap", "unauthenticated").
    func answer() -> [String] {
        var rejected: [String] = []
        while let frames = try? socket.receive(dontWait: true) {
            // version, request id, domain, address, identity, mechanism, credentials
            guard frames.count >= 7 else {
                rejected.append("zap")
                continue
            }
            let key = CurveKeyPair.z85(frames[6])
            let admitted = key.map { allowed.contains($0) } ?? false
            if !admitted { rejected.append("unauthenticated") }
            let reply: [[UInt8]] = [
                Array("1.0".utf8), frames[1], Array((admitted ? "200" : "400").utf8), Array((admitted ? "OK" : "key not allowed").utf8),
                Array((key ?? "").utf8), [],
            ]
            _ = try? socket.send(reply)
        }
        return rejected
    }
}
