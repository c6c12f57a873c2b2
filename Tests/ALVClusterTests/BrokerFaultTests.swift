import ALVCluster
import ALVLifecycle
import ALVModel
import ALVProtocol
import ALVRun
import ALVStore
import ALVTarget
import ALVTesting
import Foundation
import Synchronization
import Testing

/// The distributed-run faults, each pinned against real worker processes and a real target.
@Suite(.serialized) struct BrokerFaultTests {
    func profilePlan(_ profileJSON: String, vectors: [String], target: String) throws -> RunPlan {
        let profile = try #require(ProfileValidator.validate(Array(profileJSON.utf8), file: nil, knownVectors: nil).model)
        let steps = try vectors.map { json in
            RunPlan.Step(vector: try #require(VectorValidator.validate(Array(json.utf8), file: nil, baseDirectory: "/").model), dataDirectory: nil)
        }
        return RunPlan(profile: profile, steps: steps, target: target)
    }

    @Test func aDistributedProfileStartsAtItsStartTime() throws {
        let target = try LiveTarget()
        let cluster = try Cluster(workers: 1)
        #expect(cluster.broker.waitForWorkers(1, timeout: 20, cancellation: CancellationFlag()) == 1)
        let start = Date().addingTimeInterval(3)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plan = try profilePlan(
            #"{"profile_id": "timed", "name": "Timed", "start_time": "\#(formatter.string(from: start))", "duration_sec": 30, "vector_sequence": ["t"]}"#,
            vectors: [#"{"vector_id": "t", "name": "T", "duration_sec": 2, "load": {"target_rps": 200}, "request_types": [{"name": "a", "url": "/a", "frequency": 100}]}"#],
            target: target.url)
        let summary = try cluster.run(plan)
        let first = try #require(target.stats.timings["GET /a"]?.first)
        #expect(abs(first - start.timeIntervalSince1970) < 0.1, "first request \(first - start.timeIntervalSince1970) s after start_time")
        let started = try #require(iso(summary.vectors.first?.startedAt))
        #expect(abs(started - start.timeIntervalSince1970) < 0.1, "vector started \(started - start.timeIntervalSince1970) s after start_time")
    }

    @Test func aReissuedUnitKeepsTheRunsOptions() throws {
        // Every request takes 300 ms and the run allows 100: all time out, on the worker that takes over too.
        let target = try LiveTarget(TargetConfiguration(latencyMs: .fixed(300)), threads: 2)
        // Long units, and a kill early in the first: the broker notices (2.5 s of silence) with seconds of it left.
        let cluster = try Cluster(workers: 2, unitSeconds: 8)
        #expect(cluster.broker.waitForWorkers(2, timeout: 20, cancellation: CancellationFlag()) == 2)
        let victim = cluster.workers.pids[0]
        DispatchQueue.global().asyncAfter(deadline: .now() + 1.5) { kill(victim, SIGKILL) }
        var options = EngineOptions()
        options.requestTimeoutMs = 100
        let summary = try cluster.broker.execute(
            try plan(#"{"vector_id": "slow", "name": "Slow", "duration_sec": 10, "load": {"target_rps": 40}, "request_types": [{"name": "a", "url": "/a", "frequency": 100}]}"#, target: target.url),
            options: options, seed: 3, cancellation: CancellationFlag())
        #expect(summary.events.contains { $0.kind == "unit_reassigned" }, "the killed worker's unit was handed on")
        #expect(summary.responses["2xx"] == 0, "a reissued unit fell back to the default timeout: \(summary.responses)")
        #expect((summary.errors["timeout"] ?? 0) > 100, "\(summary.errors)")
    }

    @Test func aRunThatCannotStartLeavesNothingBehind() throws {
        let target = try LiveTarget()
        let cluster = try Cluster(workers: 1)
        #expect(cluster.broker.waitForWorkers(1, timeout: 20, cancellation: CancellationFlag()) == 1)
        // skip_known_bad reads the events table: without it, the run cannot be planned.
        let other = try SQLiteDatabase(path: cluster.directory.file("metrics.db"))
        try other.execute("DROP TABLE events")
        let plan = try profilePlan(
            #"{"profile_id": "kb", "name": "KB", "duration_sec": 10, "vector_sequence": ["k"], "adjustment": {"error_rate_threshold": 0.5, "window_sec": 1, "consecutive_windows": 2, "skip_known_bad": 3}}"#,
            vectors: [#"{"vector_id": "k", "name": "K", "duration_sec": 1, "load": {"target_rps": 10}, "request_types": [{"name": "a", "url": "/", "frequency": 100}]}"#],
            target: target.url)
        #expect(throws: BrokerError.self) { try cluster.run(plan) }
        #expect(cluster.broker.runningRunID == nil, "the broker still advertises a run")
        let rows = try other.prepare("SELECT COUNT(*) FROM runs WHERE status = 'running'")
        _ = try rows.step()
        #expect(rows.int(0) == 0)
        #expect(target.stats.total == 0)
    }

    @Test func aUnitAWorkerRefusesIsReissuedAndRecorded() throws {
        let target = try LiveTarget()
        let cluster = try Cluster(workers: 1)
        let e = cluster.broker.endpoints
        let refuser = ScriptedWorker(id: "refuser", metricsPort: e.metricsPort, workPort: e.workPort, behaviour: .rejectUnits)
        defer { refuser.stop() }
        #expect(cluster.broker.waitForWorkers(2, timeout: 20, cancellation: CancellationFlag()) == 2)
        let summary = try cluster.run(try plan(#"{"vector_id": "r", "name": "R", "duration_sec": 6, "load": {"target_rps": 200}, "request_types": [{"name": "a", "url": "/a", "frequency": 100}]}"#, target: target.url))
        #expect(refuser.unitsSeen.load(ordering: .relaxed) >= 2)
        let rejected = summary.events.filter { $0.kind == "unit_rejected" }
        #expect(rejected.count == refuser.unitsSeen.load(ordering: .relaxed), "\(summary.events.map(\.kind))")
        #expect(rejected.allSatisfy { $0.detail["worker"] == "refuser" && $0.detail["reason"] == "scripted refusal" })
        #expect(!summary.events.contains { $0.kind == "unit_dropped" })
        // The refused halves ran on the real worker, less the broker's issue lead for each reissue.
        #expect(Double(summary.requestsTotal) >= 0.85 * 1200, "\(summary.requestsTotal) of 1200")
        #expect(summary.requestsTotal == UInt64(target.stats.total))
    }

    @Test func messagesOfAnOlderIncarnationAreDropped() throws {
        let cluster = try Cluster(workers: 0)
        let e = cluster.broker.endpoints
        let scripted = ScriptedWorker(id: "twice", metricsPort: e.metricsPort, workPort: e.workPort, behaviour: .staleHeartbeats)
        #expect(cluster.broker.waitForWorkers(1, timeout: 10, cancellation: CancellationFlag()) == 1)
        cluster.broker.waitForWorkers(2, timeout: 2, cancellation: CancellationFlag())
        scripted.stop()
        cluster.broker.waitForWorkers(2, timeout: 0.3, cancellation: CancellationFlag())
        let sent = scripted.staleSent.load(ordering: .relaxed)
        #expect(sent >= 3)
        #expect(cluster.broker.dropped["stale"] == sent, "\(cluster.broker.dropped), \(sent) stale sent")
        #expect(cluster.broker.registry.record("twice")?.incarnation == 1)
    }

    @Test func aRetiredWorkerLosesNoMetricsAndLiveSecondsNeverCollide() throws {
        let target = try LiveTarget()
        let cluster = try Cluster(workers: 2)
        #expect(cluster.broker.waitForWorkers(2, timeout: 20, cancellation: CancellationFlag()) == 2)
        let began = Date()
        var retired = false
        cluster.broker.onTick = { [unowned broker = cluster.broker] now in
            if !retired && now.timeIntervalSince(began) > 3, let first = broker.liveWorkers.first {
                retired = true
                broker.retire(worker: first)
            }
        }
        var seconds: [Int64] = []
        let summary = try cluster.broker.execute(
            try plan(#"{"vector_id": "ret", "name": "Ret", "duration_sec": 8, "load": {"target_rps": 300, "arrival": "uniform"}, "request_types": [{"name": "a", "url": "/a", "frequency": 100}]}"#, target: target.url),
            options: EngineOptions(), seed: 5, cancellation: CancellationFlag()) { second, _, _ in seconds.append(second) }
        #expect(retired)
        #expect(summary.events.contains { $0.kind == "worker_left" && $0.detail["retired"] == true }, "\(summary.events.map(\.kind))")
        #expect(summary.requestsTotal == UInt64(target.stats.total), "broker \(summary.requestsTotal), target \(target.stats.total)")
        #expect(summary.metricsGaps == 0)
        #expect(abs(Double(summary.requestsTotal) - 2400) <= 2400 * 0.05, "\(summary.requestsTotal) of 2400")
        // The rate holds within 5% in every whole second, through the retirement.
        var perSecond: [Int64: UInt64] = [:]
        for point in try cluster.store.series(run: summary.runID) { perSecond[point.second, default: 0] += point.metrics.requestsTotal }
        let whole = perSecond.keys.sorted().dropFirst().dropLast()
        #expect(whole.count >= 6)
        for second in whole { #expect(abs(Double(perSecond[second]!) - 300) <= 15, "second \(second - whole.first!): \(perSecond[second]!) req/s") }
        // Each second once, in order, with nothing skipped.
        #expect(!seconds.isEmpty && seconds == Array(seconds.first!...seconds.last!), "\(seconds)")
    }
}
