import ALVLifecycle
import ALVProtocol
import ALVTransport
import Foundation

/// How a worker on an instance group's machine gets admitted: it makes a key pair here (the secret never
/// leaves the process), connects to the broker's enrol port over CURVE with it, and sends the launcher's
/// token with its machine and slot. It asks again every few seconds until the broker answers with a worker
/// id, or `stop` is set.
public enum EnrolmentClient {
    public struct Admission: Sendable {
        public var worker: String
        public var keys: CurveClientKeys
    }

    public enum Failure: Error, CustomStringConvertible {
        case stopped(lastRefusal: String?)
        case transport(String)

        public var description: String {
            switch self {
            case .stopped(let last): return "stopped before the broker admitted this worker" + (last.map { " (last refusal: \($0))" } ?? "")
            case .transport(let why): return why
            }
        }
    }

    /// - Parameters:
    ///   - retryEvery: seconds between tries after a refusal or no answer.
    public static func enrol(
        host: String, port: Int, serverPublicKey: String, launcher: String, instance: String, slot: Int, token: String,
        stop: CancellationFlag, retryEvery: Double = 3, log: (String) -> Void = { _ in }
    ) throws(Failure) -> Admission {
        let pair: CurveKeyPair
        do { pair = try CurveKeyPair.generate() } catch { throw .transport("cannot make a CURVE key pair: \(error)") }
        let keys = CurveClientKeys(serverPublicKey: serverPublicKey, keys: pair)
        let request = EnrolRequest(launcher: launcher, instance: instance, slot: slot, publicKey: pair.publicKey, token: token)
        guard let body = try? JSONEncoder().encode(request) else { throw .transport("cannot encode the enrolment") }
        let context = ZMQContext()
        var lastRefusal: String?
        while !stop.isCancelled {
            do throws(ZMQError) {
                // A fresh socket per try: a broker that restarted gets a clean handshake.
                let socket = try ZMQSocket(context, .dealer)
                try keys.apply(to: socket)
                try socket.setLinger(ms: 0)
                try socket.connect("tcp://\(host):\(port)")
                _ = try socket.send([Array(body)], dontWait: false)
                let deadline = Date().addingTimeInterval(5)
                while Date() < deadline && !stop.isCancelled {
                    guard ZMQPoller.readable([socket], timeoutMs: 200)[0], let frames = try socket.receive(dontWait: true) else { continue }
                    guard let last = frames.last, let reply = try? JSONDecoder().decode(EnrolReply.self, from: Data(last)) else { break }
                    if let worker = reply.worker { return Admission(worker: worker, keys: keys) }
                    lastRefusal = reply.refused ?? "refused"
                    log("enrolment refused: \(lastRefusal ?? "")")
                    break
                }
            } catch {
                throw .transport("enrol socket: \(error)")
            }
            let until = Date().addingTimeInterval(retryEvery)
            while Date() < until && !stop.isCancelled { Thread.sleep(forTimeInterval: 0.1) }
        }
        throw .stopped(lastRefusal: lastRefusal)
    }
}
