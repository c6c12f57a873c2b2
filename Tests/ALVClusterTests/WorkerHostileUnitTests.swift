import ALVCluster
import ALVModel
import ALVProtocol
import ALVTesting
import ALVTransport
import Foundation
import Testing

/// A real `alv worker` process against a broker made of bare sockets in the test: units no broker would send
/// are refused with a reason naming the field, and the worker goes on working.
@Suite(.serialized) struct WorkerHostileUnitTests {
    /// The three broker sockets, bound on loopback, and one `alv worker` connected to them.
    final class BareBroker {
        let context = ZMQContext()
        let work: ZMQSocket, metrics: ZMQSocket, control: ZMQSocket
        let worker: SpawnedAlv

        init(workerArguments: [String] = []) throws {
            work = try ZMQSocket(context, .push)
            metrics = try ZMQSocket(context, .sub)
            control = try ZMQSocket(context, .pub)
            try metrics.subscribe("")
            func port(_ socket: ZMQSocket) throws -> String { String(try socket.bind("tcp://127.0.0.1:*").split(separator: ":").last!) }
            let ports = ["--work-port", try port(work), "--metrics-port", try port(metrics), "--control-port", try port(control)]
            worker = try SpawnedAlv(["worker", "--broker", "127.0.0.1", "--id", "w"] + ports + workerArguments)
        }

        deinit { worker.process.terminate() }

        /// The next message of one of `kinds`; others are skipped.
        func next(_ kinds: WorkerMessage.Kind..., within seconds: Double = 10) -> WorkerMessage? {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                guard ZMQPoller.readable([metrics], timeoutMs: 50)[0], let frames = try? metrics.receive(dontWait: true),
                      let message = try? WireCodec.decodeWorkerMessage(frames) else { continue }
                if kinds.contains(message.kind) { return message }
            }
            return nil
        }

        func send(_ message: UnitMessage) throws { try work.send(try WireCodec.encode(topic: "unit", message)) }

        /// Sends `message` and returns the reason of its refusal, or nil when it ran (or nothing came).
        func refusal(of message: UnitMessage) throws -> String? {
            try send(message)
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                guard let reply = next(.unitRejected, .unitDone, within: 0.5) else { continue }
                switch reply.body {
                case .unitRejected(let r) where r.unitID == message.unit.unitID: return r.reason
                case .unitDone(let d) where d.unitID == message.unit.unitID: return nil
                default: continue
                }
            }
            Issue.record("no answer for unit \(message.unit.unitID)")
            return nil
        }
    }

    static func unit(
        _ id: String, vector: LoadVector, target: String, duration: Double = 1, ramp: Double = 0,
        load: LoadModel = .open(targetRPS: 50, arrival: .uniform, maxInFlight: nil), start: Int64? = nil,
        data: [String: String]? = nil, env: [String: String]? = nil
    ) -> UnitMessage {
        let s = start ?? Int64(Date().timeIntervalSince1970 * 1000) + 300
        return UnitMessage(unit: WorkUnit(runID: "r", unitID: id, vector: vector, dataDirectory: nil, baseURL: target, load: load, startMs: s,
                                          rampUpSec: ramp, durationSec: duration, deadlineMs: s + 1000, seed: 1, data: data, env: env),
                           vectorIndex: 0, options: EngineOptions())
    }

    static func vector(_ json: String, directory: String = "/") throws -> LoadVector {
        try #require(VectorValidator.validate(Array(json.utf8), file: "h", baseDirectory: directory, environment: [:]).model)
    }

    @Test func unitsWithImpossibleNumbersAreRefusedAndTheWorkerGoesOn() throws {
        let target = try LiveTarget()
        let broker = try BareBroker()
        #expect(broker.next(.hello) != nil, "the worker said hello")
        let vector = try Self.vector(#"{"vector_id": "h", "name": "H", "duration_sec": 2, "load": {"target_rps": 50}, "request_types": [{"name": "a", "url": "/", "frequency": 100}]}"#)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        func unit(_ id: String, duration: Double = 1, ramp: Double = 0, load: LoadModel = .open(targetRPS: 50, arrival: .uniform, maxInFlight: nil), start: Int64? = nil) -> UnitMessage {
            Self.unit(id, vector: vector, target: target.url, duration: duration, ramp: ramp, load: load, start: start ?? now + 300)
        }
        let hostile: [(UnitMessage, String)] = [
            (unit("neg", duration: -1e300), "duration_sec"),
            (unit("huge", duration: 1e300), "duration_sec"),
            (unit("ramp", ramp: 1e300), "ramp_up_sec"),
            (unit("rate", load: .open(targetRPS: 1e300, arrival: .poisson, maxInFlight: nil)), "target_rps"),
            (unit("users", load: .closed(virtualUsers: Int.max)), "virtual_users"),
            (unit("start", start: Int64.max / 2), "start_ms"),
        ]
        for (message, field) in hostile {
            try broker.send(message)
            let refusal = try #require(broker.next(.unitRejected), "no refusal for \(message.unit.unitID)")
            guard case .unitRejected(let rejected) = refusal.body else { continue }
            #expect(rejected.unitID == message.unit.unitID && rejected.reason.contains(field), "\(rejected)")
        }
        var options = EngineOptions()
        options.connections = -5
        var badOptions = unit("options")
        badOptions.options = options
        try broker.send(badOptions)
        if case .unitRejected(let rejected)? = broker.next(.unitRejected)?.body { #expect(rejected.reason.contains("options.connections"), "\(rejected)") } else { Issue.record("no refusal for bad options") }
        // Still working: a sound unit runs to its end.
        try broker.send(unit("good", start: Int64(Date().timeIntervalSince1970 * 1000) + 300))
        let done = try #require(broker.next(.unitDone), "the worker still runs units")
        if case .unitDone(let d) = done.body { #expect(d.unitID == "good" && d.requestsTotal > 30, "\(d)") }
        #expect(broker.worker.process.isRunning)
    }

    /// A unit reads only what it brings: a data file it names by path, on this machine, is refused (without
    /// `--data-dir`, every path; with it, any path that leaves the directory, by `..`, as an absolute path or
    /// through a link), and `{{env.NAME}}` reads the unit's values, never the worker's own environment.
    @Test func aUnitReadsNoFileAndNoEnvironmentOfTheWorkersOwn() throws {
        let target = try LiveTarget()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("alv-hostile-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dataDir = root + "/data", outside = root + "/outside"
        for dir in [dataDir, outside] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        try "col\nsecretvalue\n".write(toFile: outside + "/secret.csv", atomically: true, encoding: .utf8)
        try "col\nallowedvalue\n".write(toFile: dataDir + "/fine.csv", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dataDir + "/link.csv", withDestinationPath: outside + "/secret.csv")
        /// A vector reading `{{data.f.col}}` from `path` (validated where the path exists, then sent as if forged).
        func reading(_ path: String) throws -> LoadVector {
            try Self.vector(#"{"vector_id": "d", "name": "D", "duration_sec": 1, "load": {"target_rps": 20}, "data_files": {"f": {"path": "\#(path)"}}, "request_types": [{"name": "a", "url": "/v/{{data.f.col}}", "frequency": 100}]}"#, directory: dataDir)
        }

        let plain = try BareBroker()
        #expect(plain.next(.hello) != nil)
        let named = try #require(try plain.refusal(of: Self.unit("abs", vector: try reading(outside + "/secret.csv"), target: target.url)), "a path on the worker's disk was read")
        #expect(named.contains("was not sent with the unit") && named.contains("--data-dir"), "\(named)")
        let fine = try #require(try plain.refusal(of: Self.unit("rel", vector: try reading("fine.csv"), target: target.url)))
        #expect(fine.contains("was not sent with the unit"), "\(fine)")
        // Sent with the unit, the same vector runs.
        #expect(try plain.refusal(of: Self.unit("sent", vector: try reading(outside + "/secret.csv"), target: target.url, data: ["f": "col\nshipped\n"])) == nil)

        // env: the worker has HOME, the unit does not give it.
        let home = try Self.vector(#"{"vector_id": "e", "name": "E", "duration_sec": 1, "load": {"target_rps": 20}, "request_types": [{"name": "a", "url": "/e/{{env.HOME}}", "frequency": 100}]}"#)
        let noEnv = try #require(try plain.refusal(of: Self.unit("env-missing", vector: home, target: target.url)), "the worker's own HOME was read")
        #expect(noEnv.contains("env.HOME"), "\(noEnv)")
        #expect(try plain.refusal(of: Self.unit("env-given", vector: home, target: target.url, env: ["HOME": "given"])) == nil)

        let confined = try BareBroker(workerArguments: ["--data-dir", dataDir])
        #expect(confined.next(.hello) != nil)
        for (path, words) in [(outside + "/secret.csv", "must be relative"), ("../outside/secret.csv", "'..'"), ("link.csv", "leads outside")] {
            let reason = try #require(try confined.refusal(of: Self.unit("c-\(path.count)", vector: try reading(path), target: target.url)), "\(path) was read")
            #expect(reason.contains(words), "\(path): \(reason)")
        }
        #expect(try confined.refusal(of: Self.unit("c-fine", vector: try reading("fine.csv"), target: target.url)) == nil)

        let seen = Set(target.stats.counts.keys)
        #expect(!seen.contains { $0.contains("secretvalue") }, "\(seen)")
        #expect(seen.isSuperset(of: ["GET /v/shipped", "GET /v/allowedvalue", "GET /e/given"]), "\(seen)")
        #expect(!seen.contains { $0.hasPrefix("GET /e/") && $0 != "GET /e/given" }, "\(seen)")
    }
}
