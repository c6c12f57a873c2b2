import ALVMetrics
import ALVProtocol
import ALVTemplates
import ALVTransport
import Foundation

/// Many workers in one process, speaking the real protocol over real sockets without doing HTTP:
/// each takes units from the broker and publishes a heartbeat and one realistic metrics delta per
/// held unit every second (three request types, a few hundred histogram buckets each).
func simulateWorkers(count: Int, host: String, workPort: Int, metricsPort: Int, seconds: Double) throws {
    struct Simulated {
        var id: String
        var pull: ZMQSocket
        var pub: ZMQSocket
        var seq: UInt64 = 0
        var units: [(UnitMessage, Int64)] = []
        var nextSecond: Date
    }
    // libzmq caps sockets per context (1023 by default): 250 workers (500 sockets) per context.
    let contexts = (0..<((count + 249) / 250)).map { _ in ZMQContext() }
    var workers: [Simulated] = []
    for i in 0..<count {
        let context = contexts[i / 250]
        let pull = try ZMQSocket(context, .pull)
        let pub = try ZMQSocket(context, .xpub)
        try pub.set(23, 100_000)
        try pull.connect("tcp://\(host):\(workPort)")
        try pub.connect("tcp://\(host):\(metricsPort)")
        // Spread the once-a-second messages over the second, as independent workers would.
        workers.append(Simulated(id: "sim-\(i)", pull: pull, pub: pub, nextSecond: Date().addingTimeInterval(2 + Double(i) / Double(count))))
    }
    // Like real workers, say nothing before the broker's subscription has arrived.
    var subscribed = Set<Int>()
    let patience = Date().addingTimeInterval(60)
    while subscribed.count < workers.count && Date() < patience {
        for i in workers.indices where !subscribed.contains(i) {
            if let frames = try workers[i].pub.receive(dontWait: true), frames.first?.first == 1 { subscribed.insert(i) }
        }
        usleep(10_000)
    }
    // Straight to the descriptor: the benchmark script waits for this line.
    FileHandle.standardOutput.write(Data("\(subscribed.count) of \(workers.count) simulated workers subscribed\n".utf8))
    func send(_ w: inout Simulated, _ message: WorkerMessage) throws {
        var m = message
        w.seq += 1
        m.seq = w.seq
        try w.pub.send(try WireCodec.encode(m))
    }
    for i in workers.indices {
        try send(&workers[i], WorkerMessage(worker: workers[i].id, incarnation: 0, .hello(.init(host: "simulated", pid: getpid()))))
    }
    var random = SeededGenerator(seed: 1)
    // Deltas are made up front and sent in turn: making each one (six dense histograms per request type)
    // would cost the simulator more than the broker spends decoding it.
    var made: [MetricsDelta] = []
    for _ in 0..<128 { made.append(makeDelta(second: 0)) }
    var nextMade = 0
    func delta(second: Int64) -> MetricsDelta {
        var delta = made[nextMade % made.count]
        nextMade += 1
        delta.second = second
        return delta
    }
    func makeDelta(second: Int64) -> MetricsDelta {
        var types: [String: RequestDelta] = [:]
        for name in ["browse", "search", "buy"] {
            var m = RequestMetrics()
            let n = 50 + Int(random.next(upperBound: 100 as UInt64))
            for _ in 0..<n {
                let latency = UInt64(exp(7 + 1.5 * random.nextUnit()))
                m.latency.record(latency)
                // What a real engine records per request: a name lookup, a connect on a few, the wait, the rest.
                let fresh = random.next(upperBound: 50 as UInt64) == 0
                m.recordPhases((20 + random.next(upperBound: 30 as UInt64), fresh ? 150 : 0, 0, latency * 9 / 10, latency / 20))
            }
            m.outcomes[.status2xx] = UInt64(n)
            m.intended = UInt64(n); m.sent = UInt64(n); m.completed = UInt64(n)
            m.bytesIn = UInt64(n * 420); m.bytesOut = UInt64(n * 180)
            types[name] = RequestDelta(m)
        }
        return MetricsDelta(second: second, requestTypes: types, cpuSeconds: 0.3, rssBytes: 40 << 20)
    }
    let end = Date().addingTimeInterval(seconds)
    var published = 0
    let started = Date()
    while Date() < end {
        let now = Date()
        let nowMs = Int64(now.timeIntervalSince1970 * 1000)
        for i in workers.indices {
            while (try? workers[i].pub.receive(dontWait: true)) != nil {}
            while let frames = try workers[i].pull.receive(dontWait: true) {
                guard let (_, unit) = try? WireCodec.decode(frames, topics: ["unit"], as: UnitMessage.self) else { continue }
                workers[i].units.append((unit, unit.unit.startMs + Int64(unit.unit.durationSec * 1000)))
                try send(&workers[i], WorkerMessage(worker: workers[i].id, incarnation: 0, .accepted(.init(unitID: unit.unit.unitID, runID: unit.unit.runID))))
            }
            guard now >= workers[i].nextSecond else { continue }
            workers[i].nextSecond = workers[i].nextSecond.addingTimeInterval(1)
            try send(&workers[i], WorkerMessage(worker: workers[i].id, incarnation: 0, .heartbeat(.init(cpuSeconds: 1, rssBytes: 40 << 20, runningUnits: workers[i].units.count))))
            published += 1
            for (unit, endMs) in workers[i].units where unit.unit.startMs <= nowMs {
                let metrics = WorkerMessage.Metrics(unitID: unit.unit.unitID, runID: unit.unit.runID, epoch: unit.unit.epoch, vectorIndex: unit.vectorIndex, delta: delta(second: nowMs / 1000 - 1))
                try send(&workers[i], WorkerMessage(worker: workers[i].id, incarnation: 0, .metrics(metrics)))
                published += 1
                if nowMs >= endMs {
                    let done = WorkerMessage.UnitDone(unitID: unit.unit.unitID, runID: unit.unit.runID, requestsTotal: 0, late: false, cancelled: false)
                    try send(&workers[i], WorkerMessage(worker: workers[i].id, incarnation: 0, .unitDone(done)))
                }
            }
            workers[i].units.removeAll { $0.1 <= nowMs }
        }
        usleep(5_000)
    }
    let elapsed = Date().timeIntervalSince(started)
    print(String(format: "simulated %d workers for %.0f s: %d heartbeat and metrics messages (%.0f/s)", count, elapsed, published, Double(published) / elapsed))
    for i in workers.indices {
        try? send(&workers[i], WorkerMessage(worker: workers[i].id, incarnation: 0, .bye(.init(reason: "stopped"))))
    }
    Thread.sleep(forTimeInterval: 0.5)
}
