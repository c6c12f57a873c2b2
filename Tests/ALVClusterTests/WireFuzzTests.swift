import ALVCluster
import ALVLifecycle
import ALVMetrics
import ALVProtocol
import ALVRun
import ALVTarget
import ALVTesting
import ALVTransport
import Foundation
import Synchronization
import Testing

/// 100,000 random and mutated messages at the broker's metrics port from a real ZeroMQ peer, and peers of
/// the wrong kind at its work and control ports: the broker takes every message off the socket, drops
/// every garbage one with a counted reason, and runs a plan exactly afterwards.
@Suite(.serialized) struct WireFuzzTests {
    @Test func aHundredThousandHostileMessages() throws {
        let target = try LiveTarget()
        let cluster = try Cluster(workers: 0)
        let e = cluster.broker.endpoints
        var random = SystemRandomNumberGenerator()
        // Valid messages of every kind, to mutate.
        var seeds: [[[UInt8]]] = []
        var delta = RequestMetrics()
        delta.outcomes[.status2xx] = 12
        let bodies: [WorkerMessage.Body] = [
            .hello(.init(host: "h", pid: 1, sentAtMs: 1)), .heartbeat(.init(cpuSeconds: 1, rssBytes: 2, runningUnits: 3, sentAtMs: 4, clockOffsetMs: 5)),
            .accepted(.init(unitID: "u", runID: "r")),
            .metrics(.init(unitID: "u", runID: "r", epoch: 0, vectorIndex: 0, delta: MetricsDelta(second: 1_700_000_000, requestTypes: ["a": RequestDelta(delta)], cpuSeconds: 0.1, rssBytes: 9))),
            .unitDone(.init(unitID: "u", runID: "r", requestsTotal: 5, late: false, cancelled: false)),
            .unitRejected(.init(unitID: "u", runID: "r", reason: "x")), .bye(.init(reason: "stopped")),
        ]
        for (i, body) in bodies.enumerated() { seeds.append(try WireCodec.encode(WorkerMessage(worker: "fz\(i)", incarnation: 0, seq: 1, body))) }
        seeds.append(try WireCodec.encode(topic: "planner", PlannerMessage(kind: .event, event: "x", detail: ["a": .int(1)])))
        let extremes = ["1e309", "-1", "18446744073709551616", "-9223372036854775809", "null", "\"\"", "[]", "{}", "NaN", "1e-400"]

        let samples = seeds
        let total = 100_000
        let garbage = Atomic<Int>(0)
        let sent = Atomic<Int>(0)
        let fuzzer = Thread {
            let context = ZMQContext()
            guard let pub = try? ZMQSocket(context, .xpub) else { return }
            try? pub.set(23, 1_000_000)  // ZMQ_SNDHWM: queue everything rather than drop
            try? pub.setLinger(ms: 5_000)
            try? pub.connect("tcp://127.0.0.1:\(e.metricsPort)")
            let patience = Date().addingTimeInterval(10)
            while Date() < patience, !(ZMQPoller.readable([pub], timeoutMs: 50)[0] && (try? pub.receive(dontWait: true))??.first?.first == 1) {}
            var rng = SystemRandomNumberGenerator()
            for n in 0..<total {
                var frames = samples[n % samples.count]
                switch n % 5 {
                case 0:  // random frames
                    frames = (0..<Int.random(in: 1...3, using: &rng)).map { _ in (0..<Int.random(in: 0...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) } }
                    garbage.add(1, ordering: .relaxed)
                case 1:  // flipped bytes in the payload
                    for _ in 0..<Int.random(in: 1...4, using: &rng) where !frames[1].isEmpty {
                        frames[1][Int.random(in: 0..<frames[1].count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                    }
                case 2:  // truncated
                    frames[1] = Array(frames[1].prefix(Int.random(in: 0..<max(1, frames[1].count - 1), using: &rng)))
                    garbage.add(1, ordering: .relaxed)
                case 3:  // an extreme value for every number
                    let text = String(decoding: frames[1], as: UTF8.self)
                    let extreme = extremes[Int.random(in: 0..<extremes.count, using: &rng)]
                    frames[1] = Array(text.replacingOccurrences(of: #"(?<=[:\[,])-?[0-9][0-9.eE+-]*"#, with: extreme, options: .regularExpression).utf8)
                default:  // as sent by a worker nobody knows, or a planner
                    break
                }
                if (try? pub.send(frames)) == true { sent.add(1, ordering: .relaxed) }
            }
        }
        fuzzer.start()
        // Peers of the wrong kind at the work and control ports, sending what they can.
        let context = ZMQContext()
        for (kind, port) in [(ZMQSocket.Kind.push, e.workPort), (.pub, e.controlPort), (.dealer, e.workPort), (.router, e.controlPort)] {
            let socket = try ZMQSocket(context, kind)
            try socket.connect("tcp://127.0.0.1:\(port)")
            for _ in 0..<200 { _ = try? socket.send([(0..<64).map { _ in UInt8.random(in: 0...255, using: &random) }], dontWait: true) }
        }
        let deadline = Date().addingTimeInterval(120)
        while (cluster.broker.inputs < total || fuzzer.isExecuting) && Date() < deadline {
            cluster.broker.waitForWorkers(1_000_000, timeout: 0.2, cancellation: CancellationFlag())
        }
        #expect(sent.load(ordering: .relaxed) == total)
        #expect(cluster.broker.inputs == total, "every message was taken off the socket: \(cluster.broker.inputs) of \(total)")
        let dropped = cluster.broker.dropped
        let badFrames = ["frames", "malformed", "topic", "version", "too_large", "planner"].reduce(0) { $0 + (dropped[$1] ?? 0) }
        #expect(badFrames >= garbage.load(ordering: .relaxed), "garbage \(garbage.load(ordering: .relaxed)), dropped \(dropped)")

        // Afterwards (the ghosts that forged hellos made have gone silent and been evicted), a real worker and
        // an exact run.
        try cluster.workers.start(1, endpoints: e)
        let settle = Date().addingTimeInterval(30)
        while cluster.broker.liveWorkers != ["local-1"] && Date() < settle {
            cluster.broker.waitForWorkers(1_000_000, timeout: 0.2, cancellation: CancellationFlag())
        }
        #expect(cluster.broker.liveWorkers == ["local-1"], "\(cluster.broker.liveWorkers)")
        let summary = try cluster.run(try plan(#"{"vector_id": "after-fuzz", "name": "After", "duration_sec": 2, "load": {"target_rps": 100}, "request_types": [{"name": "a", "url": "/", "frequency": 100}]}"#, target: target.url))
        #expect(summary.status == "completed" && summary.requestsTotal == UInt64(target.stats.total) && summary.requestsTotal > 150, "\(summary.requestsTotal) vs \(target.stats.total)")
    }
}
