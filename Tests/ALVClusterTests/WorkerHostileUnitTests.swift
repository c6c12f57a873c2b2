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
    @Test func unitsWithImpossibleNumbersAreRefusedAndTheWorkerGoesOn() throws {
        let target = try LiveTarget()
        let context = ZMQContext()
        let work = try ZMQSocket(context, .push), metrics = try ZMQSocket(context, .sub), control = try ZMQSocket(context, .pub)
        try metrics.subscribe("")
        func port(_ socket: ZMQSocket) throws -> String { String(try socket.bind("tcp://127.0.0.1:*").split(separator: ":").last!) }
        let ports = ["--work-port", try port(work), "--metrics-port", try port(metrics), "--control-port", try port(control)]
        let worker = try SpawnedAlv(["worker", "--broker", "127.0.0.1", "--id", "w"] + ports)
        defer { worker.process.terminate() }
        func next(_ kind: WorkerMessage.Kind, within seconds: Double = 10) -> WorkerMessage? {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                guard ZMQPoller.readable([metrics], timeoutMs: 50)[0], let frames = try? metrics.receive(dontWait: true),
                      let message = try? WireCodec.decodeWorkerMessage(frames) else { continue }
                if message.kind == kind { return message }
            }
            return nil
        }
        #expect(next(.hello) != nil, "the worker said hello")
        let vector = try #require(VectorValidator.validate(Array(#"{"vector_id": "h", "name": "H", "duration_sec": 2, "load": {"target_rps": 50}, "request_types": [{"name": "a", "url": "/", "frequency": 100}]}"#.utf8), file: "h", baseDirectory: "/").model)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        func unit(_ id: String, duration: Double = 1, ramp: Double = 0, load: LoadModel = .open(targetRPS: 50, arrival: .uniform, maxInFlight: nil), start: Int64? = nil) -> UnitMessage {
            let s = start ?? now + 300
            return UnitMessage(unit: WorkUnit(runID: "r", unitID: id, vector: vector, dataDirectory: nil, baseURL: target.url, load: load, startMs: s,
                                              rampUpSec: ramp, durationSec: duration, deadlineMs: s + 1000, seed: 1), vectorIndex: 0, options: EngineOptions())
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
            try work.send(try WireCodec.encode(topic: "unit", message))
            let refusal = try #require(next(.unitRejected), "no refusal for \(message.unit.unitID)")
            guard case .unitRejected(let rejected) = refusal.body else { continue }
            #expect(rejected.unitID == message.unit.unitID && rejected.reason.contains(field), "\(rejected)")
        }
        var options = EngineOptions()
        options.connections = -5
        var badOptions = unit("options")
        badOptions.options = options
        try work.send(try WireCodec.encode(topic: "unit", badOptions))
        if case .unitRejected(let rejected)? = next(.unitRejected)?.body { #expect(rejected.reason.contains("options.connections"), "\(rejected)") } else { Issue.record("no refusal for bad options") }
        // Still working: a sound unit runs to its end.
        try work.send(try WireCodec.encode(topic: "unit", unit("good", start: Int64(Date().timeIntervalSince1970 * 1000) + 300)))
        let done = try #require(next(.unitDone), "the worker still runs units")
        if case .unitDone(let d) = done.body { #expect(d.unitID == "good" && d.requestsTotal > 30, "\(d)") }
        #expect(worker.process.isRunning)
        _ = control
    }
}
