import ALVMetrics
import ALVModel
import ALVProtocol
import Foundation
import Testing

/// The wire on its own: every message family encodes and decodes to itself, and every damaged or foreign
/// payload is rejected with a reason, never a crash.
struct WireTests {
    static func delta() -> MetricsDelta {
        var m = RequestMetrics()
        for v in [900, 1_200, 45_000] { m.latency.record(UInt64(v)) }
        m.outcomes[.status2xx] = 3
        m.intended = 3; m.sent = 3; m.completed = 3
        m.recordPhases((40, 0, 0, 850, 20))
        m.recordPhases((35, 120, 900, 43_000, 15))
        m.emptyVariables = 2
        m.late = 1
        return MetricsDelta(second: 1_764_000_000, requestTypes: ["browse": RequestDelta(m)], cpuSeconds: 0.25, rssBytes: 1 << 24)
    }

    static let bodies: [WorkerMessage.Body] = [
        .hello(.init(host: "lg-1", pid: 4242)),
        .heartbeat(.init(cpuSeconds: 1.5, rssBytes: 1 << 26, runningUnits: 2)),
        .accepted(.init(unitID: "r-u1", runID: "r")),
        .metrics(.init(unitID: "r-u1", runID: "r", epoch: 3, vectorIndex: 1, delta: delta())),
        .unitDone(.init(unitID: "r-u1", runID: "r", requestsTotal: 999, late: false, cancelled: true)),
        .unitRejected(.init(unitID: "r-u2", runID: "r", reason: "data file users.csv: no such file")),
        .bye(.init(reason: "retired")),
    ]

    static func unit() throws -> UnitMessage {
        let json = #"{"vector_id": "v", "name": "V", "duration_sec": 4, "load": {"target_rps": 50}, "request_types": [{"name": "a", "url": "/a", "frequency": 100}]}"#
        let vector = try #require(VectorValidator.validate(Array(json.utf8), file: nil, baseDirectory: "/").model)
        let unit = WorkUnit(runID: "r", unitID: "r-u1", epoch: 2, vector: vector, dataDirectory: nil, baseURL: "http://127.0.0.1:1", load: .open(targetRPS: 25, arrival: .poisson, maxInFlight: nil),
                            startMs: 1_764_000_000_000, rampUpSec: 0, durationSec: 4, deadlineMs: 1_764_000_001_000, seed: 9)
        var options = EngineOptions()
        options.requestTimeoutMs = 150
        return UnitMessage(unit: unit, vectorIndex: 0, options: options)
    }

    @Test(arguments: bodies) func everyWorkerMessageRoundTrips(_ body: WorkerMessage.Body) throws {
        let message = WorkerMessage(worker: "w-1", incarnation: 2, seq: 17, body)
        let frames = try WireCodec.encode(message)
        #expect(frames.count == 2 && String(decoding: frames[0], as: UTF8.self) == message.kind.rawValue)
        #expect(try WireCodec.decodeWorkerMessage(frames) == message)
    }

    @Test func unitControlAggregateAndPlannerMessagesRoundTrip() throws {
        let unit = try Self.unit()
        #expect(try WireCodec.decode(try WireCodec.encode(topic: "unit", unit), topics: ["unit"], as: UnitMessage.self).1 == unit)
        let control = ControlMessage(kind: .stopRun, runID: "r", vectorIndex: 1, epoch: 4)
        #expect(try WireCodec.decode(try WireCodec.encode(topic: "ctl", control), topics: ["ctl"], as: ControlMessage.self).1 == control)
        let aggregate = BrokerAggregate(at: 1.5, runID: "r", observedRPS: 10, cpuPerRequest: 1e-5, liveWorkers: ["a"], demandAhead: [1, 2], usersAhead: [0, 0], scaling: nil, issueLead: 0.5,
                                        schedule: ScheduleKept(second: 1_764_000_000, intended: 2_000, missed: 7))
        #expect(try WireCodec.decode(try WireCodec.encode(topic: "agg", aggregate), topics: ["agg"], as: BrokerAggregate.self).1 == aggregate)
        // An older broker's aggregate has no schedule: the planner outside it then runs without the budget's evidence.
        var older = aggregate
        older.schedule = nil
        #expect(try WireCodec.decode(try WireCodec.encode(topic: "agg", older), topics: ["agg"], as: BrokerAggregate.self).1.schedule == nil)
        let planner = PlannerMessage(kind: .event, event: "scaling_decision", detail: ["workers_after": "3"])
        #expect(try WireCodec.decode(try WireCodec.encode(topic: "planner", planner), topics: ["planner"], as: PlannerMessage.self).1 == planner)
    }

    @Test func aPayloadCutAtAnyByteIsRejectedNotTrusted() throws {
        var payloads: [(String, [UInt8])] = try Self.bodies.map { body in
            let frames = try WireCodec.encode(WorkerMessage(worker: "w", incarnation: 0, seq: 1, body))
            return (String(decoding: frames[0], as: UTF8.self), frames[1])
        }
        payloads.append(("unit", try WireCodec.encode(topic: "unit", try Self.unit())[1]))
        for (topic, payload) in payloads {
            for cut in 0..<payload.count {
                let frames = [Array(topic.utf8), Array(payload[..<cut])]
                if topic == "unit" {
                    #expect(throws: WireError.self) { try WireCodec.decode(frames, topics: ["unit"], as: UnitMessage.self) }
                } else {
                    #expect(throws: WireError.self) { try WireCodec.decodeWorkerMessage(frames) }
                }
            }
        }
    }

    @Test func everyFamilyChecksItsVersion() throws {
        func bumped<T: Encodable>(_ value: T) throws -> [UInt8] {
            var object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as? [String: Any])
            object["v"] = 2
            return Array(try JSONSerialization.data(withJSONObject: object))
        }
        let worker = WorkerMessage(worker: "w", incarnation: 0, .bye(.init(reason: "x")))
        #expect(throws: WireError.unknownVersion(2)) { try WireCodec.decodeWorkerMessage([Array("bye".utf8), try bumped(worker)]) }
        #expect(throws: WireError.unknownVersion(2)) { try WireCodec.decode([Array("unit".utf8), try bumped(try Self.unit())], topics: ["unit"], as: UnitMessage.self) }
        #expect(throws: WireError.unknownVersion(2)) { try WireCodec.decode([Array("ctl".utf8), try bumped(ControlMessage(kind: .retire, epoch: 0))], topics: ["ctl"], as: ControlMessage.self) }
        let aggregate = BrokerAggregate(at: 0, runID: nil, observedRPS: nil, cpuPerRequest: nil, liveWorkers: [], demandAhead: [], usersAhead: [], scaling: nil, issueLead: 0.5)
        #expect(throws: WireError.unknownVersion(2)) { try WireCodec.decode([Array("agg".utf8), try bumped(aggregate)], topics: ["agg"], as: BrokerAggregate.self) }
        #expect(throws: WireError.unknownVersion(2)) { try WireCodec.decode([Array("planner".utf8), try bumped(PlannerMessage(kind: .retire, worker: "w"))], topics: ["planner"], as: PlannerMessage.self) }
    }

    @Test func forgedMessagesAreRejectedWithTheirReason() throws {
        let hello = try WireCodec.encode(WorkerMessage(worker: "w", incarnation: 0, .hello(.init(host: "h", pid: 1))))
        // A hello sent on the metrics topic: subscribers filter by topic, so kind and topic must agree.
        #expect(throws: WireError.topicMismatch(topic: "metrics", kind: "hello")) { try WireCodec.decodeWorkerMessage([Array("metrics".utf8), hello[1]]) }
        // A metrics kind whose body is a hello's.
        let forged = Array(#"{"v":1,"kind":"metrics","worker":"w","incarnation":0,"seq":1,"body":{"host":"h","pid":1}}"#.utf8)
        #expect(throws: WireError.self) { try WireCodec.decodeWorkerMessage([Array("metrics".utf8), forged]) }
        // A sequence number and counts at the top of their range decode (the receiver must cope, not trap).
        let huge = Array(#"{"v":1,"kind":"heartbeat","worker":"w","incarnation":0,"seq":18446744073709551615,"body":{"cpu_s":1e308,"rss_bytes":18446744073709551615,"running_units":9223372036854775807}}"#.utf8)
        let decoded = try WireCodec.decodeWorkerMessage([Array("heartbeat".utf8), huge])
        #expect(decoded.seq == .max)
        #expect(throws: WireError.self) { try WireCodec.decodeWorkerMessage([Array("bye".utf8)]) }
        #expect(throws: WireError.unexpectedTopic("nonsense")) { try WireCodec.decodeWorkerMessage([Array("nonsense".utf8), hello[1]]) }
    }

    /// Heartbeats and metrics go in the compact encoding: extreme values survive it, it is a fraction of
    /// the JSON, and any byte of it changed, any length of garbage after its marker, decodes or is refused,
    /// never traps.
    @Test func theCompactEncodingKeepsEveryValueAndSurvivesDamage() throws {
        var extreme = Self.delta()
        extreme.second = .min
        extreme.cpuSeconds = -.infinity
        extreme.rssBytes = .max
        extreme.requestTypes["other"] = RequestDelta(RequestMetrics())
        extreme.requestTypes["other"]?.curlErrors = ["7": .max, "28": 0]
        extreme.requestTypes["other"]?.lagMaxMicros = .max
        let messages = [
            WorkerMessage(worker: "w-é", incarnation: .max, seq: .max, .metrics(.init(unitID: "", runID: "r", epoch: .min, vectorIndex: -1, delta: extreme))),
            WorkerMessage(worker: "w", incarnation: -3, seq: 0, .heartbeat(.init(cpuSeconds: .nan, rssBytes: 0, runningUnits: .min, sentAtMs: 1.5, clockOffsetMs: nil))),
        ]
        for message in messages {
            let frames = try WireCodec.encode(message)
            #expect(BinaryWire.isBinary(frames[1]))
            let decoded = try WireCodec.decodeWorkerMessage(frames)
            if case .heartbeat(let beat) = decoded.body {
                #expect(beat.cpuSeconds.isNaN && beat.runningUnits == .min && beat.sentAtMs == 1.5 && beat.clockOffsetMs == nil && decoded.incarnation == -3)
            } else {
                #expect(decoded == message)
            }
        }
        let metrics = WorkerMessage(worker: "w-17", incarnation: 0, seq: 123_456, .metrics(.init(unitID: "20261203-101010-ab12-u4", runID: "20261203-101010-ab12", epoch: 1, vectorIndex: 0, delta: Self.delta())))
        let compact = try WireCodec.encode(metrics)[1].count, json = try JSONEncoder().encode(metrics).count
        #expect(compact * 2 < json, "compact \(compact) bytes, JSON \(json)")

        var random = SystemRandomNumberGenerator()
        for message in messages + [metrics] {
            let payload = try WireCodec.encode(message)[1]
            let topic = Array(message.kind.rawValue.utf8)
            for index in 1..<payload.count {
                for value: UInt8 in [0, 1, 0x7F, 0x80, 0xFF, payload[index] ^ 0x55] {
                    var damaged = payload
                    damaged[index] = value
                    _ = try? WireCodec.decodeWorkerMessage([topic, damaged])
                }
            }
            for _ in 0..<5_000 {
                let garbage = [0xB1] + (0..<Int.random(in: 0...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                _ = try? WireCodec.decodeWorkerMessage([topic, garbage])
            }
        }
        // A newer sender's compact payload is counted as a version, not as garbage.
        var newer = try WireCodec.encode(metrics)
        newer[1][0] = 0xB4
        #expect(throws: WireError.unknownVersion(4)) { try WireCodec.decodeWorkerMessage(newer) }
        // Version 2 (no late sends) is still read, as none late.
        let second = try #require(BinaryWire.encode(metrics, version: 2))
        #expect(second.first == 0xB2)
        var withoutLate = metrics
        if case .metrics(var m) = metrics.body {
            m.delta.requestTypes = m.delta.requestTypes.mapValues { var d = $0; d.late = 0; return d }
            withoutLate = WorkerMessage(worker: metrics.worker, incarnation: metrics.incarnation, seq: metrics.seq, .metrics(m))
        }
        #expect(withoutLate != metrics)
        #expect(try WireCodec.decodeWorkerMessage([Array(metrics.kind.rawValue.utf8), second]) == withoutLate)
        // Version 1 (no phases, no error samples) is still read.
        let older = try #require(BinaryWire.encode(metrics, version: 1))
        #expect(older.first == 0xB1)
        var withoutPhases = metrics
        if case .metrics(var m) = metrics.body {
            m.delta.requestTypes = m.delta.requestTypes.mapValues { var d = $0; d.phases = []; d.emptyVariables = 0; d.late = 0; return d }
            withoutPhases = WorkerMessage(worker: metrics.worker, incarnation: metrics.incarnation, seq: metrics.seq, .metrics(m))
        }
        #expect(try WireCodec.decodeWorkerMessage([Array(metrics.kind.rawValue.utf8), older]) == withoutPhases)
        // Error samples travel with their delta, and a forged status is refused.
        var withSamples = Self.delta()
        withSamples.errorSamples = [ErrorSample(requestType: "browse", outcome: "5xx", status: 503, message: "HTTP 503", body: "{\"error\":1}", count: 7),
                                    ErrorSample(requestType: "browse", outcome: "timeout", status: nil, message: "Operation timed out", body: "", count: 1)]
        let sampled = WorkerMessage(worker: "w-17", incarnation: 0, seq: 9, .metrics(.init(unitID: "u", runID: "r", epoch: 1, vectorIndex: 0, delta: withSamples)))
        #expect(try WireCodec.decodeWorkerMessage(try WireCodec.encode(sampled)) == sampled)
        // Bytes after a whole message are refused, not ignored.
        let whole = try WireCodec.encode(metrics)
        #expect(throws: WireError.self) { try WireCodec.decodeWorkerMessage([whole[0], whole[1] + [0]]) }
    }
}
