import ALVCluster
import ALVLifecycle
import ALVProtocol
import ALVTransport
import Foundation
import Testing

/// The broker's enrol port under what a stranger can send: anything but a good token for a machine the
/// launcher knows, from the key the connection proved, is refused or dropped, and nothing traps.
@Suite(.serialized) struct EnrolmentTests {
    final class Replies: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [String: String] = [:]
        func set(_ key: String, _ value: String) { lock.withLock { values[key] = value } }
        var all: [String: String] { lock.withLock { values } }
    }

    @Test func strangersAreRefusedAndAGoodEnrolmentIsAdmitted() throws {
        let brokerKeys = try CurveKeyPair.generate()
        let broker = try Broker(
            configuration: BrokerConfiguration(endpoints: BrokerEndpoints(host: "127.0.0.1", workPort: 0, metricsPort: 0, controlPort: 0),
                                               curve: CurveServerKeys(keys: brokerKeys, allowedClients: []), enrolPort: 0),
            store: nil)
        broker.onEnrol = { request in
            request.instance == "i-good" ? .success("fleet-i-good-\(request.slot)") : .failure(EnrolmentRefused("instance \(request.instance) is not in the group (yet)"))
        }
        let port = broker.enrolPort
        #expect(port > 0)
        let goodToken = try #require(EnrolmentToken.issue(launcher: "fleet", expires: Date().addingTimeInterval(600), brokerSecretKey: brokerKeys.secretKey))
        let otherToken = try #require(EnrolmentToken.issue(launcher: "fleet", expires: Date().addingTimeInterval(600), brokerSecretKey: try CurveKeyPair.generate().secretKey))
        let replies = Replies()
        let done = CancellationFlag()
        let client = Thread {
            defer { done.cancel() }
            let context = ZMQContext()
            /// Sends one message from a fresh key (or plain TCP) and waits 2 s for an answer.
            func ask(_ name: String, curve: Bool = true, body: (CurveKeyPair) -> [UInt8]) {
                guard let socket = try? ZMQSocket(context, .dealer), let keys = try? CurveKeyPair.generate() else { return }
                if curve { try? CurveClientKeys(serverPublicKey: brokerKeys.publicKey, keys: keys).apply(to: socket) }
                try? socket.setLinger(ms: 0)
                try? socket.connect("tcp://127.0.0.1:\(port)")
                _ = try? socket.send([body(keys)], dontWait: false)
                let deadline = Date().addingTimeInterval(2)
                while Date() < deadline {
                    if ZMQPoller.readable([socket], timeoutMs: 100)[0], let frames = try? socket.receive(dontWait: true), let last = frames.last {
                        replies.set(name, String(decoding: last, as: UTF8.self))
                        return
                    }
                }
                replies.set(name, "no answer")
            }
            func request(_ keys: CurveKeyPair, instance: String = "i-good", slot: Int = 1, key: String? = nil, token t: String? = nil) -> [UInt8] {
                Array((try? JSONEncoder().encode(EnrolRequest(launcher: "fleet", instance: instance, slot: slot, publicKey: key ?? keys.publicKey, token: t ?? goodToken))) ?? Data())
            }
            ask("garbage") { _ in Array("not json at all \u{0}\u{1}".utf8) }
            ask("oversized") { keys in Array(repeating: UInt8(ascii: "{"), count: 8_000) }
            ask("plain tcp", curve: false) { keys in request(keys) }
            ask("forged token") { keys in request(keys, token: "v1.fleet.99999999999.00") }
            ask("other broker's token") { keys in request(keys, token: otherToken) }
            ask("someone else's key") { keys in request(keys, key: (try? CurveKeyPair.generate().publicKey) ?? "") }
            ask("unknown machine") { keys in request(keys, instance: "i-bad") }
            ask("odd fields") { keys in Array(#"{"launcher": "fleet", "instance": "../../etc", "slot": 1e300, "public_key": "x", "token": "y"}"#.utf8) }
            ask("good") { keys in request(keys) }
        }
        client.start()
        broker.serve(until: done)
        let got = replies.all
        #expect(got["garbage"] == "no answer" && got["oversized"] == "no answer" && got["plain tcp"] == "no answer" && got["odd fields"] == "no answer", "\(got)")
        #expect(got["forged token"]?.contains("signature does not match") == true, "\(got)")
        #expect(got["other broker's token"]?.contains("signature does not match") == true, "\(got)")
        #expect(got["someone else's key"]?.contains("not the connection's") == true, "\(got)")
        #expect(got["unknown machine"]?.contains("not in the group") == true, "\(got)")
        #expect(got["good"]?.contains(#""worker":"fleet-i-good-1""#) == true, "\(got)")
        #expect((broker.dropped["enrol"] ?? 0) >= 2 && (broker.dropped["enrol_refused"] ?? 0) == 4, "\(broker.dropped)")
    }
}
