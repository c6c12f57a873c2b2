import ALVLifecycle
import ALVCluster
import ALVEngine
import ALVMetrics
import ALVModel
import ALVProtocol
import ALVRun
import ALVStore
import ALVTarget
import ALVTesting
import ALVTransport
import Foundation
import Synchronization
import Testing

func plan(_ json: String, target: String) throws -> RunPlan {
    let result = VectorValidator.validate(Array(json.utf8), file: "test", baseDirectory: "/")
    let vector = try #require(result.model, "\(result.diagnostics)")
    return RunPlan(profile: nil, steps: [.init(vector: vector, dataDirectory: nil)], target: target)
}

/// A broker in the test process with real worker processes (the built `alv worker`) on loopback.
final class Cluster {
    let directory = TemporaryDirectory("alv-cluster")
    let store: MetricsStore
    let broker: Broker
    let workers = LocalWorkers(executable: AlvBinary.url)

    init(workers count: Int, unitSeconds: Double = 2, curve: CurveServerKeys? = nil) throws {
        store = try MetricsStore(database: try SQLiteDatabase(path: directory.file("metrics.db")))
        broker = try Broker(
            configuration: BrokerConfiguration(endpoints: BrokerEndpoints(host: "127.0.0.1", workPort: 0, metricsPort: 0, controlPort: 0), curve: curve, unitSeconds: unitSeconds, leadSeconds: 0.5, suspectAfterSeconds: 2.5),
            store: store)
        if count > 0 { try workers.start(count, endpoints: broker.endpoints) }
    }

    deinit {
        broker.retireAll()
        workers.stop(grace: 2)
    }

    func run(_ plan: RunPlan, during: ((Cluster) -> Void)? = nil) throws -> RunSummary {
        return try broker.execute(plan, options: EngineOptions(), seed: 7, cancellation: CancellationFlag())
    }
}

@Suite(.serialized) struct ClusterTests {
    @Test func fourWorkersDeliverTheRateEvenlyAndCountExactly() throws {
        let target = try LiveTarget()
        let cluster = try Cluster(workers: 4)
        #expect(cluster.broker.waitForWorkers(4, timeout: 20, cancellation: CancellationFlag()) == 4)
        let summary = try cluster.run(try plan(#"{"vector_id": "four", "name": "Four", "duration_sec": 10, "load": {"target_rps": 400}, "request_types": [{"name": "a", "url": "/a", "frequency": 100}]}"#, target: target.url))
        #expect(summary.status == "completed")
        #expect(summary.requestsTotal == UInt64(target.stats.total), "broker \(summary.requestsTotal), target \(target.stats.total)")
        #expect(abs(Double(summary.requestsTotal) - 4000) <= 4000 * 0.02, "\(summary.requestsTotal) of 4000")
        let perWorker = summary.workers.map(\.requestsTotal)
        let mean = Double(perWorker.reduce(0, +)) / Double(perWorker.count)
        #expect(perWorker.count == 4)
        for count in perWorker { #expect(Double(count) <= 1.2 * mean, "uneven split \(perWorker)") }
        #expect(summary.metricsGaps == 0)
        let stored = try cluster.store.requestsByWorker(run: summary.runID)
        #expect(stored.values.reduce(0, +) == summary.requestsTotal)
    }

    @Test func losingAWorkerMidRunIsSurvivedAndBounded() throws {
        let target = try LiveTarget()
        let cluster = try Cluster(workers: 4)
        #expect(cluster.broker.waitForWorkers(4, timeout: 20, cancellation: CancellationFlag()) == 4)
        let victim = cluster.workers.pids[1]
        let killedAt = Date().addingTimeInterval(0.5 + 5)
        DispatchQueue.global().asyncAfter(deadline: .now() + 5.5) { kill(victim, SIGKILL) }
        let summary = try cluster.run(try plan(#"{"vector_id": "loss", "name": "Loss", "duration_sec": 16, "load": {"target_rps": 400}, "request_types": [{"name": "a", "url": "/a", "frequency": 100}]}"#, target: target.url))
        #expect(summary.status == "completed")
        let lost = summary.workers.filter(\.lost)
        #expect(lost.map(\.id) == ["local-2"], "\(summary.workers)")
        let estimate = try #require(lost.first?.estimatedRequestsLost)
        // At most what one worker sends between its last heartbeat and the broker's reassignment (~3.5 s at 100/s).
        #expect(estimate > 0 && estimate < 600, "estimated loss \(estimate)")
        #expect(summary.metricsGaps == 0, "survivors' metrics must all arrive")
        // The target also saw what the killed worker sent in its last moments and could not report.
        let unreported = Int(target.stats.total) - Int(summary.requestsTotal)
        #expect(unreported >= 0 && unreported <= 150, "target \(target.stats.total), reported \(summary.requestsTotal)")
        // From 5 s after the kill to the end, every second runs at ≥ 95% of the target rate.
        let series = try cluster.store.series(run: summary.runID)
        var perSecond: [Int64: UInt64] = [:]
        for point in series { perSecond[point.second, default: 0] += point.metrics.requestsTotal }
        let from = Int64(killedAt.timeIntervalSince1970) + 5
        let last = (perSecond.keys.max() ?? 0) - 1
        let window = perSecond.filter { $0.key >= from && $0.key < last }
        #expect(window.count >= 4, "seconds \(perSecond.keys.sorted())")
        let rate = Double(window.values.reduce(0, +)) / Double(max(1, window.count))
        #expect(rate >= 380, "rate after recovery \(rate)/s, per second \(window.sorted { $0.key < $1.key }.map(\.value))")
        #expect(summary.events.contains { $0.kind == "worker_lost" && $0.detail["worker"] == "local-2" })
    }

    @Test func curveAdmitsListedWorkersOnly() throws {
        let target = try LiveTarget()
        let brokerKeys = try CurveKeyPair.generate()
        let good = try CurveKeyPair.generate(), bad = try CurveKeyPair.generate()
        let cluster = try Cluster(workers: 0, curve: CurveServerKeys(keys: brokerKeys, allowedClients: [good.publicKey]))
        let files = cluster.directory
        files.write("good.key", "public=\(good.publicKey)\nsecret=\(good.secretKey)\n")
        files.write("bad.key", "public=\(bad.publicKey)\nsecret=\(bad.secretKey)\n")
        files.write("broker.pub", brokerKeys.publicKey + "\n")
        let e = cluster.broker.endpoints
        let common = ["worker", "--broker", "127.0.0.1", "--work-port", String(e.workPort), "--metrics-port", String(e.metricsPort), "--control-port", String(e.controlPort), "--curve-server-key", files.file("broker.pub")]
        let intruder = try SpawnedAlv(common + ["--curve-key", files.file("bad.key"), "--id", "intruder"])
        #expect(cluster.broker.waitForWorkers(1, timeout: 3, cancellation: CancellationFlag()) == 0)
        #expect((cluster.broker.dropped["unauthenticated"] ?? 0) > 0, "\(cluster.broker.dropped)")
        let member = try SpawnedAlv(common + ["--curve-key", files.file("good.key"), "--id", "member"])
        #expect(cluster.broker.waitForWorkers(1, timeout: 10, cancellation: CancellationFlag()) == 1)
        #expect(cluster.broker.liveWorkers == ["member"])
        let summary = try cluster.run(try plan(#"{"vector_id": "curve", "name": "Curve", "duration_sec": 2, "load": {"target_rps": 100}, "request_types": [{"name": "a", "url": "/", "frequency": 100}]}"#, target: target.url))
        #expect(summary.workers.map(\.id) == ["member"])
        #expect(summary.requestsTotal == UInt64(target.stats.total) && summary.requestsTotal > 150, "\(summary.requestsTotal) \(summary.events.map { "\($0.kind) \($0.detail)" })")
        _ = (intruder, member)
    }

    /// Units carry the vector's data files: a worker reads nothing from disk, so deleting the files mid-run
    /// (as on a host that never had them) changes nothing.
    @Test func unitsCarryTheirDataFiles() throws {
        let target = try LiveTarget()
        let cluster = try Cluster(workers: 2, unitSeconds: 1)
        #expect(cluster.broker.waitForWorkers(2, timeout: 20, cancellation: CancellationFlag()) == 2)
        let dir = cluster.directory.file("vector")
        let csv = cluster.directory.write("vector/data/users.csv", "name,tier\nalice,gold\nbob,silver\n\"carol, jr\",bronze\n")
        let json = #"{"vector_id": "data", "name": "Data", "duration_sec": 5, "load": {"target_rps": 100}, "request_types": [{"name": "u", "url": "/u/{{data.users.name}}", "frequency": 100}]}"#
        let validated = VectorValidator.validate(Array(json.utf8), file: dir + "/v.json", baseDirectory: dir)
        let vector = try #require(validated.model, "\(validated.diagnostics)")
        let plan = RunPlan(profile: nil, steps: [.init(vector: vector, dataDirectory: dir)], target: target.url)
        DispatchQueue.global().asyncAfter(deadline: .now() + 1.5) { try? FileManager.default.removeItem(atPath: csv) }
        let summary = try cluster.run(plan)
        #expect(!FileManager.default.fileExists(atPath: csv))
        #expect(summary.status == "completed" && summary.requestsTotal == UInt64(target.stats.total) && summary.requestsTotal >= 450, "\(summary.requestsTotal)")
        #expect(!summary.events.contains { $0.kind == "unit_rejected" || $0.kind == "unit_data_by_path" }, "\(summary.events.map(\.kind))")
        #expect(Set(target.stats.counts.keys) == ["GET /u/alice", "GET /u/bob", "GET /u/carol%2C%20jr"], "\(target.stats.counts)")
    }

    /// Two worker processes, 10 closed-model users, four 1 s units each: every worker keeps one engine and
    /// its connections for its life, so the target sees 10 connections, not 10 per unit.
    @Test func unitBoundariesOpenNoConnectionOnWorkers() throws {
        let target = try LiveTarget(TargetConfiguration(latencyMs: .range(1, 3)))
        let cluster = try Cluster(workers: 2, unitSeconds: 1)
        #expect(cluster.broker.waitForWorkers(2, timeout: 20, cancellation: CancellationFlag()) == 2)
        let summary = try cluster.run(try plan(
            #"{"vector_id": "keep", "name": "Keep", "duration_sec": 4, "load": {"virtual_users": 10}, "request_types": [{"name": "a", "url": "/a", "frequency": 100, "think_time_ms": 50}]}"#,
            target: target.url))
        #expect(summary.status == "completed" && summary.requestsTotal == UInt64(target.stats.total) && summary.requestsTotal > 300, "\(summary.requestsTotal)")
        #expect(target.stats.connections == 10, "connections opened: \(target.stats.connections)")
    }

    /// The same workers (and their long-lived engines) run a vector, then a new version of it with another
    /// URL and data: the second run's requests follow the new version alone.
    @Test func aNewVectorVersionReachesTheRunningEngine() throws {
        let target = try LiveTarget()
        let cluster = try Cluster(workers: 1, unitSeconds: 1)
        #expect(cluster.broker.waitForWorkers(1, timeout: 20, cancellation: CancellationFlag()) == 1)
        let dir = cluster.directory.file("versions")
        _ = cluster.directory.write("versions/data/names.csv", "name\nfirst\n")
        func version(_ path: String) throws -> RunPlan {
            let json = #"{"vector_id": "same", "name": "Same", "duration_sec": 2, "load": {"virtual_users": 2}, "data_files": {"names": "data/names.csv"}, "request_types": [{"name": "a", "url": "\#(path)/{{data.names.name}}", "frequency": 100, "think_time_ms": 20}]}"#
            let validated = VectorValidator.validate(Array(json.utf8), file: dir + "/v.json", baseDirectory: dir)
            let vector = try #require(validated.model, "\(validated.diagnostics)")
            return RunPlan(profile: nil, steps: [.init(vector: vector, dataDirectory: dir)], target: target.url)
        }
        let first = try cluster.run(try version("/v1"))
        #expect(Set(target.stats.counts.keys) == ["GET /v1/first"], "\(target.stats.counts)")
        _ = cluster.directory.write("versions/data/names.csv", "name\nsecond\n")
        let before = target.stats.counts
        let second = try cluster.run(try version("/v2"))
        let after = target.stats.counts
        #expect(after["GET /v1/first"] == before["GET /v1/first"], "the first version sent nothing more")
        #expect(Set(after.keys) == ["GET /v1/first", "GET /v2/second"] && (after["GET /v2/second"] ?? 0) > 20, "\(after)")
        #expect(first.requestsTotal + second.requestsTotal == UInt64(target.stats.total))
    }

    /// A worker whose clock is 3 s ahead (libfaketime) learns the offset from the broker's answers to its
    /// heartbeats and runs its units in broker time: its first request comes within 50 ms of the other
    /// worker's, and the summary gives its offset.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/faketime"), "needs faketime"))
    func aWorkerWithAClockThreeSecondsAheadRunsInBrokerTime() throws {
        let target = try LiveTarget()
        let cluster = try Cluster(workers: 0)
        let e = cluster.broker.endpoints
        try cluster.workers.start(1, endpoints: e, idPrefix: "true")
        try cluster.workers.start(1, endpoints: e, idPrefix: "ahead", environment: ["FAKETIME_DONT_FAKE_MONOTONIC": "1"],
                                  launcher: ["/usr/bin/faketime", "-f", "+3s"])
        #expect(cluster.broker.waitForWorkers(2, timeout: 20, cancellation: CancellationFlag()) == 2)
        // A few heartbeats, so the offset is known before the first unit.
        cluster.broker.waitForWorkers(3, timeout: 2.5, cancellation: CancellationFlag())
        let summary = try cluster.run(try plan(
            #"{"vector_id": "clock", "name": "Clock", "duration_sec": 4, "load": {"target_rps": 1000, "arrival": "uniform"}, "request_types": [{"name": "w", "url": "/w/{{worker_id}}", "frequency": 100}]}"#,
            target: target.url))
        let offsets = Dictionary(uniqueKeysWithValues: summary.workers.map { ($0.id, $0.clockOffsetMs) })
        let ahead = try #require(offsets["ahead-1"] ?? nil, "\(offsets)")
        let exact = try #require(offsets["true-1"] ?? nil, "\(offsets)")
        #expect(abs(ahead + 3000) <= 100, "a clock 3 s ahead is estimated at \(ahead) ms")
        #expect(abs(exact) <= 100, "\(exact)")
        #expect(summary.requestsTotal == UInt64(target.stats.total))
        let timings = target.stats.timings
        let first = try #require(timings["GET /w/ahead-1"]?.first, "\(target.stats.counts)"), other = try #require(timings["GET /w/true-1"]?.first)
        #expect(abs(first - other) <= 0.05, "first requests \(Int((first - other) * 1000)) ms apart")
        let counts = target.stats.counts
        #expect(Double(counts["GET /w/ahead-1"] ?? 0) >= 0.95 * 2000 && Double(counts["GET /w/true-1"] ?? 0) >= 0.95 * 2000, "\(counts)")
    }

    /// A key admitted for one worker (as `alv run` admits each worker's own pair) speaks only as that worker,
    /// never as another or as a planner, and only from the address it first connected from.
    @Test func anAdmittedKeySpeaksOnlyAsItsWorkerFromItsAddress() throws {
        let brokerKeys = try CurveKeyPair.generate(), a = try CurveKeyPair.generate()
        let cluster = try Cluster(workers: 0, curve: CurveServerKeys(keys: brokerKeys, allowedClients: []))
        cluster.broker.admit(publicKey: a.publicKey, as: "w-a")
        let e = cluster.broker.endpoints
        let context = ZMQContext()
        func publisher(from source: String?) throws -> ZMQSocket? {
            try curvePublisher(context, cluster: cluster, brokerKey: brokerKeys.publicKey, keys: a, from: source)
        }
        func hello(_ id: String, seq: UInt64) throws -> [[UInt8]] { try helloFrames(id, seq: seq) }
        let own = try #require(try publisher(from: nil), "key A is admitted from its first address")
        try own.send(try hello("w-b", seq: 1))
        try own.send(try WireCodec.encode(topic: "planner", PlannerMessage(kind: .retire, worker: "w-a")))
        #expect(cluster.broker.waitForWorkers(1, timeout: 1, cancellation: CancellationFlag()) == 0)
        #expect(cluster.broker.dropped["impersonation"] == 2, "\(cluster.broker.dropped)")
        try own.send(try hello("w-a", seq: 2))
        #expect(cluster.broker.waitForWorkers(1, timeout: 3, cancellation: CancellationFlag()) == 1)
        #expect(cluster.broker.liveWorkers == ["w-a"])

        // The same key from another address (127.0.0.2 is loopback too) is refused at the handshake.
        #expect(try publisher(from: "127.0.0.2") == nil)
        #expect((cluster.broker.dropped["key_elsewhere"] ?? 0) >= 1, "\(cluster.broker.dropped)")
        // A peer without CURVE fails the handshake, on the work endpoint (no unit reaches it) and the metrics one.
        let plainPull = try ZMQSocket(context, .pull), plainPub = try ZMQSocket(context, .xpub)
        try plainPull.connect("tcp://127.0.0.1:\(e.workPort)")
        try plainPub.connect("tcp://127.0.0.1:\(e.metricsPort)")
        let patience = Date().addingTimeInterval(3)
        while (cluster.broker.dropped["handshake_failed"] ?? 0) < 2 && Date() < patience {
            cluster.broker.waitForWorkers(9, timeout: 0.05, cancellation: CancellationFlag())
        }
        #expect((cluster.broker.dropped["handshake_failed"] ?? 0) >= 2, "\(cluster.broker.dropped)")
        // A revoked key is refused from anywhere.
        cluster.broker.revoke(publicKey: a.publicKey)
        #expect(try publisher(from: nil) == nil)
        #expect((cluster.broker.dropped["unauthenticated"] ?? 0) >= 1, "\(cluster.broker.dropped)")
    }

    /// `alv broker --allow-keys` and `--planner-keys`: a fleet key speaks as workers, but a worker id belongs
    /// to the first key that speaks as it, so another key can neither say hello as that worker nor evict it
    /// with a higher incarnation; only a planner key sends planner messages (and its workers, which share the
    /// key, speak as workers too).
    @Test func fleetKeysOwnTheIdsTheyUseAndOnlyPlannerKeysPlan() throws {
        let brokerKeys = try CurveKeyPair.generate()
        let fleetA = try CurveKeyPair.generate(), fleetB = try CurveKeyPair.generate(), planner = try CurveKeyPair.generate()
        let cluster = try Cluster(workers: 0, curve: CurveServerKeys(
            keys: brokerKeys, allowedClients: [fleetA.publicKey, fleetB.publicKey], plannerClients: [planner.publicKey]))
        let events = Mutex<[RunSummary.Event]>([])
        cluster.broker.onEvent = { event in events.withLock { $0.append(event) } }
        let context = ZMQContext()
        func peer(_ keys: CurveKeyPair) throws -> ZMQSocket {
            try #require(try curvePublisher(context, cluster: cluster, brokerKey: brokerKeys.publicKey, keys: keys, from: nil))
        }
        func pump(_ seconds: Double) { cluster.broker.waitForWorkers(99, timeout: seconds, cancellation: CancellationFlag()) }
        let a = try peer(fleetA), b = try peer(fleetB), p = try peer(planner)
        try a.send(try helloFrames("f-1", seq: 1))
        #expect(cluster.broker.waitForWorkers(1, timeout: 3, cancellation: CancellationFlag()) == 1)
        // Key B takes f-1's id with a huge incarnation, and tries to plan: dropped, f-1 stays as it was.
        try b.send(try helloFrames("f-1", incarnation: 1 << 40, seq: 1))
        try b.send(try WireCodec.encode(topic: "planner", PlannerMessage(kind: .retire, worker: "f-1")))
        try a.send(try WireCodec.encode(topic: "planner", PlannerMessage(kind: .event, event: "forged", detail: [:])))
        pump(0.5)
        #expect(cluster.broker.dropped["impersonation"] == 3, "\(cluster.broker.dropped)")
        #expect(cluster.broker.registry.state(of: "f-1") == .live)
        #expect(!events.withLock { $0.contains { $0.kind == "worker_rejoined" || $0.kind == "forged" } })
        // Key B's own id, and key A's rejoin after a restart, are taken.
        try b.send(try helloFrames("f-2", seq: 1))
        try a.send(try helloFrames("f-1", incarnation: 1, seq: 1))
        #expect(cluster.broker.waitForWorkers(2, timeout: 3, cancellation: CancellationFlag()) == 2)
        pump(0.3)
        #expect(events.withLock { $0.contains { $0.kind == "worker_rejoined" && $0.detail["worker"] == "f-1" && $0.detail["incarnation"] == .int(1) } })
        // The planner key writes events, retires a worker and speaks as a worker of its own.
        try p.send(try WireCodec.encode(topic: "planner", PlannerMessage(kind: .event, event: "planned", detail: [:])))
        try p.send(try WireCodec.encode(topic: "planner", PlannerMessage(kind: .retire, worker: "f-2")))
        try p.send(try helloFrames("p-1", seq: 1))
        pump(0.5)
        #expect(events.withLock { $0.contains { $0.kind == "planned" } })
        #expect(cluster.broker.registry.state(of: "f-2") == .retiring)
        #expect(cluster.broker.registry.state(of: "p-1") == .live)
        #expect(cluster.broker.dropped["impersonation"] == 3, "\(cluster.broker.dropped)")
    }

    /// Numbers no engine could send, from a peer that speaks the protocol: a sequence jump to 2^64−1 and a
    /// count of 2^63 during a run. Counted and dropped; the run completes and its store row is readable.
    @Test func forgedNumbersAreDroppedNotTrapped() throws {
        let target = try LiveTarget()
        let cluster = try Cluster(workers: 1)
        #expect(cluster.broker.waitForWorkers(1, timeout: 20, cancellation: CancellationFlag()) == 1)
        let e = cluster.broker.endpoints
        let runID = Mutex<String?>(nil)
        cluster.broker.onStart = { id in runID.withLock { $0 = id } }
        let forger = Thread {
            let context = ZMQContext()
            guard let pub = try? ZMQSocket(context, .xpub) else { return }
            try? pub.setLinger(ms: 2_000)
            try? pub.connect("tcp://127.0.0.1:\(e.metricsPort)")
            let patience = Date().addingTimeInterval(10)
            while Date() < patience, !(ZMQPoller.readable([pub], timeoutMs: 50)[0] && (try? pub.receive(dontWait: true))??.first?.first == 1) {}
            func send(_ seq: UInt64, _ body: WorkerMessage.Body) {
                if let frames = try? WireCodec.encode(WorkerMessage(worker: "forger", incarnation: 0, seq: seq, body)) { _ = try? pub.send(frames) }
            }
            send(0, .hello(.init(host: "forged", pid: 1)))
            send(UInt64.max, .heartbeat(.init(cpuSeconds: 0, rssBytes: UInt64.max, runningUnits: Int.max)))
            while Date() < patience && runID.withLock({ $0 }) == nil { usleep(20_000) }
            guard let run = runID.withLock({ $0 }) else { return }
            var huge = RequestMetrics()
            huge.outcomes[.status2xx] = 1 << 63
            huge.bytesIn = UInt64.max
            let delta = MetricsDelta(second: Int64(Date().timeIntervalSince1970), requestTypes: ["a": RequestDelta(huge)], cpuSeconds: 0, rssBytes: 0)
            send(UInt64.max, .metrics(.init(unitID: "\(run)-u1", runID: run, epoch: 0, vectorIndex: 0, delta: delta)))
            var hot = delta
            hot.cpuSeconds = 1e300  // (JSON has no infinity)
            send(UInt64.max, .metrics(.init(unitID: "\(run)-u1", runID: run, epoch: 0, vectorIndex: 0, delta: hot)))
            usleep(500_000)
        }
        forger.start()
        let summary = try cluster.run(try plan(#"{"vector_id": "forged", "name": "Forged", "duration_sec": 3, "load": {"target_rps": 100}, "request_types": [{"name": "a", "url": "/", "frequency": 100}]}"#, target: target.url))
        #expect(summary.status == "completed" && summary.requestsTotal == UInt64(target.stats.total) && summary.requestsTotal > 250, "\(summary.requestsTotal)")
        let counted = cluster.broker.dropped
        #expect(counted["implausible"] == 2, "\(counted)")
        #expect(try cluster.store.requestsByWorker(run: summary.runID)["forger"] == nil)
    }

    @Test func hostileInputLeavesTheBrokerRunningAndCounted() throws {
        let target = try LiveTarget()
        let cluster = try Cluster(workers: 1)
        #expect(cluster.broker.waitForWorkers(1, timeout: 20, cancellation: CancellationFlag()) == 1)
        let e = cluster.broker.endpoints
        // A ZeroMQ peer publishing junk to the metrics endpoint.
        let context = ZMQContext()
        let junk = try ZMQSocket(context, .pub)
        try junk.connect("tcp://127.0.0.1:\(e.metricsPort)")
        // The broker's SUB sends its subscription when its own thread next touches the socket.
        cluster.broker.waitForWorkers(2, timeout: 0.5, cancellation: CancellationFlag())
        let frames: [[[UInt8]]] = [
            [[0xFF, 0x00, 0x13]],                                                     // one frame
            [Array("metrics".utf8), Array("{not json".utf8)],                         // malformed
            [Array("metrics".utf8), Array(#"{"v": 99, "kind": "metrics"}"#.utf8)],     // unknown version
            [Array("nonsense".utf8), Array(#"{"v": 1}"#.utf8)],                       // unknown topic
            [Array("heartbeat".utf8), Array(#"{"v":1,"kind":"heartbeat","worker":"ghost","incarnation":0,"seq":1,"body":{"cpu_s":0,"rss_bytes":0,"running_units":0}}"#.utf8)],  // unknown worker
            [Array("metrics".utf8), [UInt8](repeating: 0x41, count: 17 << 20)],       // larger than the payload limit
        ]
        for message in frames.dropLast() { try junk.send(message) }
        cluster.broker.waitForWorkers(2, timeout: 1, cancellation: CancellationFlag())
        try junk.send(frames.last!)
        // Raw TCP garbage (100 MB) at every endpoint: the ZMTP handshake fails and the peer is dropped.
        for port in [e.workPort, e.metricsPort, e.controlPort] { blast(port: port, bytes: 100 << 20) }
        cluster.broker.waitForWorkers(2, timeout: 2, cancellation: CancellationFlag())
        let counted = cluster.broker.dropped
        #expect(counted["frames"] == 1 && counted["malformed"] == 1 && counted["version"] == 1 && counted["topic"] == 1 && counted["stale"] == 1, "\(counted)")
        // Still works.
        let summary = try cluster.run(try plan(#"{"vector_id": "after", "name": "After", "duration_sec": 2, "load": {"target_rps": 100}, "request_types": [{"name": "a", "url": "/", "frequency": 100}]}"#, target: target.url))
        #expect(summary.requestsTotal > 150 && summary.requestsTotal == UInt64(target.stats.total))
    }
}

/// Writes `bytes` of garbage to a TCP port on loopback (until the peer closes).
func blast(port: Int, bytes: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard connected == 0 else { return }
    var timeout = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let chunk = [UInt8](repeating: 0xAB, count: 1 << 20)
    var sent = 0
    while sent < bytes {
        let n = chunk.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n <= 0 { break }
        sent += n
    }
}

@Suite(.serialized) struct DistributedControllerTests {
    @Test func theBrokerShortensAFailingVectorAndRunsTheNext() throws {
        let target = try LiveTarget(TargetConfiguration(routes: [
            .init(path: "/two", schedule: [.init(fromSec: 3, toSec: 1000, errorRate: 1, errorStatus: 503)], scheduleFrom: .firstRequest)
        ]))
        let cluster = try Cluster(workers: 2)
        #expect(cluster.broker.waitForWorkers(2, timeout: 20, cancellation: CancellationFlag()) == 2)
        func v(_ id: String, _ seconds: Int) throws -> RunPlan.Step {
            let json = #"{"vector_id": "\#(id)", "name": "\#(id)", "duration_sec": \#(seconds), "load": {"target_rps": 100}, "request_types": [{"name": "r", "url": "/\#(id)", "frequency": 100}]}"#
            return RunPlan.Step(vector: try #require(VectorValidator.validate(Array(json.utf8), file: nil, baseDirectory: "/").model), dataDirectory: nil)
        }
        let profile = try #require(ProfileValidator.validate(Array(#"{"profile_id": "d", "name": "D", "duration_sec": 60, "transition_delay_sec": 0.5, "vector_sequence": ["one", "two", "three"], "adjustment": {"error_rate_threshold": 0.05, "window_sec": 1, "consecutive_windows": 3}}"#.utf8), file: nil, knownVectors: nil).model)
        let summary = try cluster.run(RunPlan(profile: profile, steps: [try v("one", 2), try v("two", 15), try v("three", 2)], target: target.url))
        #expect(summary.vectors.map(\.status) == ["completed", "shortened", "completed"], "\(summary.vectors)")
        let failuresBegan = try #require(target.stats.timings["GET /two"]?.first) + 3
        let ended = try #require(iso(summary.vectors[1].endedAt))
        // Seconds reach the broker about a second after they end: one more second than in-process.
        #expect(ended - failuresBegan <= 3 * 1 + 2, "shortened \(ended - failuresBegan) s after the failures began")
        let lastTwo = try #require(target.stats.timings["GET /two"]?.last)
        #expect(lastTwo - ended < 0.5, "units kept sending \(lastTwo - ended) s after the vector was shortened")
        #expect(target.stats.timings["GET /three"] != nil)
        #expect(try cluster.store.status(run: summary.runID) == "completed")
    }
}

func iso(_ text: String?) -> Double? {
    guard let text else { return nil }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.date(from: text)?.timeIntervalSince1970
}

/// An XPUB speaking CURVE with `keys`, connected to the cluster's metrics endpoint from `source` (an address
/// of this machine, or any), once the broker's subscription has arrived; nil when the broker refuses it.
private func curvePublisher(_ context: ZMQContext, cluster: Cluster, brokerKey: String, keys: CurveKeyPair, from source: String?) throws -> ZMQSocket? {
    let socket = try ZMQSocket(context, .xpub)
    try CurveClientKeys(serverPublicKey: brokerKey, keys: keys).apply(to: socket)
    try socket.connect("tcp://" + (source.map { "\($0):0;" } ?? "") + "127.0.0.1:\(cluster.broker.endpoints.metricsPort)")
    let patience = Date().addingTimeInterval(3)
    while Date() < patience {
        cluster.broker.waitForWorkers(99, timeout: 0.05, cancellation: CancellationFlag())  // pumps the broker
        if ZMQPoller.readable([socket], timeoutMs: 20)[0], let frames = try socket.receive(dontWait: true), frames.first?.first == 1 { return socket }
    }
    return nil
}

private func helloFrames(_ id: String, incarnation: Int = 0, seq: UInt64) throws -> [[UInt8]] {
    try WireCodec.encode(WorkerMessage(worker: id, incarnation: incarnation, seq: seq, .hello(.init(host: "test", pid: 1))))
}
