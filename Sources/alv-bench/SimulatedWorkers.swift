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
        try w.pub.send(try WireCodec.encode(topic: m.kind.rawValue, m))
    }
    for i in workers.indices {
        var hello = WorkerMessage(kind: .hello, worker: workers[i].id, incarnation: 0, seq: 0)
        hello.host = "simulated"
        hello.pid = getpid()
        try send(&workers[i], hello)
    }
    var random = SeededGenerator(seed: 1)
    func delta(second: Int64) -> MetricsDelta {
        var types: [String: RequestDelta] = [:]
        for name in ["browse", "search", "buy"] {
            var m = RequestMetrics()
            let n = 50 + Int(random.next(upperBound: 100 as UInt64))
            for _ in 0..<n { m.latency.record(UInt64(exp(7 + 1.5 * random.nextUnit()))) }
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
                var accepted = WorkerMessage(kind: .accepted, worker: workers[i].id, incarnation: 0, seq: 0)
                accepted.unitID = unit.unit.unitID
                try send(&workers[i], accepted)
            }
            guard now >= workers[i].nextSecond else { continue }
            workers[i].nextSecond = workers[i].nextSecond.addingTimeInterval(1)
            var heartbeat = WorkerMessage(kind: .heartbeat, worker: workers[i].id, incarnation: 0, seq: 0)
            heartbeat.cpuSeconds = 1; heartbeat.rssBytes = 40 << 20; heartbeat.runningUnits = workers[i].units.count
            try send(&workers[i], heartbeat)
            published += 1
            for (unit, endMs) in workers[i].units where unit.unit.startMs <= nowMs {
                var m = WorkerMessage(kind: .metrics, worker: workers[i].id, incarnation: 0, seq: 0)
                m.unitID = unit.unit.unitID; m.runID = unit.unit.runID; m.epoch = unit.unit.epoch; m.vectorIndex = unit.vectorIndex
                m.delta = delta(second: nowMs / 1000 - 1)
                try send(&workers[i], m)
                published += 1
                if nowMs >= endMs {
                    var done = WorkerMessage(kind: .unitDone, worker: workers[i].id, incarnation: 0, seq: 0)
                    done.unitID = unit.unit.unitID
                    done.requestsTotal = 0
                    try send(&workers[i], done)
                }
            }
            workers[i].units.removeAll { $0.1 <= nowMs }
        }
        usleep(5_000)
    }
    let elapsed = Date().timeIntervalSince(started)
    print(String(format: "simulated %d workers for %.0f s: %d heartbeat and metrics messages (%.0f/s)", count, elapsed, published, Double(published) / elapsed))
    for i in workers.indices {
        var bye = WorkerMessage(kind: .bye, worker: workers[i].id, incarnation: 0, seq: 0)
        bye.host = nil
        try? send(&workers[i], bye)
    }
    Thread.sleep(forTimeInterval: 0.5)
}
