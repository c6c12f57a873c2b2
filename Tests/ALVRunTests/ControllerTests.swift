import ALVLifecycle
import ALVProtocol
import ALVEngine
import ALVMetrics
import ALVModel
import ALVRun
import ALVStore
import ALVTarget
import ALVTesting
import Foundation
import Testing

func vector(_ id: String, path: String, seconds: Double, users: Int = 5) throws -> LoadVector {
    let json = #"{"vector_id": "\#(id)", "name": "\#(id)", "duration_sec": \#(seconds), "load": {"virtual_users": \#(users)}, "request_types": [{"name": "r", "url": "\#(path)", "frequency": 100, "think_time_ms": 20}]}"#
    return try #require(VectorValidator.validate(Array(json.utf8), file: nil, baseDirectory: "/").model)
}

func profile(_ json: String, known: Set<String>) throws -> ALVProfile {
    let result = ProfileValidator.validate(Array(json.utf8), file: nil, knownVectors: known)
    return try #require(result.model, "\(result.diagnostics)")
}

func iso(_ text: String?) -> Double? {
    guard let text else { return nil }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.date(from: text)?.timeIntervalSince1970
}

@Suite struct AdaptiveControllerTests {
    func second(ok: UInt64, failed: UInt64) -> RequestMetrics {
        var m = RequestMetrics()
        m.outcomes[.status2xx] = ok
        m.outcomes[.status5xx] = failed
        m.latency.record(1000, count: ok + failed)
        return m
    }

    @Test func triggersOnlyAfterTheConsecutiveWindowsAllFail() {
        var controller = AdaptiveController(adjustment: Adjustment(errorRateThreshold: 0.1, windowSec: 2, consecutiveWindows: 2, action: .shorten))
        var second: Int64 = 100
        for _ in 0..<5 { #expect(controller.add(second: second, self.second(ok: 100, failed: 0)) == nil); second += 1 }
        // Failing from here at 50%. Two 2 s windows above 10%: the older window holds one healthy
        // and one failing second (25%), so the third failing second completes the condition.
        for n in 1...3 {
            let decision = controller.add(second: second, self.second(ok: 50, failed: 50))
            #expect((decision != nil) == (n == 3), "after \(n) failing seconds")
            if let decision { #expect(decision.windowErrorRates == [0.25, 0.5] && decision.action == .shorten) }
            second += 1
        }
    }

    @Test func aRecoveredWindowResetsTheCount() {
        var controller = AdaptiveController(adjustment: Adjustment(errorRateThreshold: 0.1, windowSec: 1, consecutiveWindows: 3, action: .abort))
        let pattern: [UInt64] = [50, 50, 0, 50, 50, 50]
        var decisions: [Bool] = []
        for (i, failed) in pattern.enumerated() { decisions.append(controller.add(second: Int64(i), second(ok: 100 - failed, failed: failed)) != nil) }
        #expect(decisions == [false, false, false, false, false, true])
    }

    @Test func fourHundredsCountOnlyWhenAsked() {
        var m = RequestMetrics()
        m.outcomes[.status4xx] = 10
        m.outcomes[.status2xx] = 10
        m.outcomes[.timeout] = 5
        #expect(AdaptiveController.failures(m, count4xx: false) == (5, 25))
        #expect(AdaptiveController.failures(m, count4xx: true) == (15, 25))
    }

    @Test func latencyGuard() {
        var controller = AdaptiveController(adjustment: Adjustment(errorRateThreshold: 0.5, windowSec: 1, consecutiveWindows: 1, action: .shorten, p99MsThreshold: 50))
        var slow = RequestMetrics()
        slow.outcomes[.status2xx] = 10
        slow.latency.record(80_000, count: 10)
        #expect(controller.add(second: 1, slow)?.reason.contains("p99") == true)
    }
}

@Suite(.serialized) struct ProfileRunTests {
    /// Vector two fails (503 on its route) from its third second; window 1 s × 3 windows.
    func failingRun(action: String) throws -> (RunSummary, TargetStats) {
        let target = try LiveTarget(TargetConfiguration(routes: [
            .init(path: "/two", errorRate: nil, schedule: [.init(fromSec: 3, toSec: 1000, errorRate: 1, errorStatus: 503)], scheduleFrom: .firstRequest)
        ]))
        let steps = try [("one", "/one", 2.0), ("two", "/two", 12.0), ("three", "/three", 2.0)].map {
            RunPlan.Step(vector: try vector($0.0, path: $0.1, seconds: $0.2), dataDirectory: nil)
        }
        let p = try profile(#"{"profile_id": "p", "name": "P", "duration_sec": 60, "transition_delay_sec": 0.5, "vector_sequence": ["one", "two", "three"], "adjustment": {"error_rate_threshold": 0.05, "window_sec": 1, "consecutive_windows": 3, "action": "\#(action)"}}"#, known: ["one", "two", "three"])
        let runner = InProcessRunner(plan: RunPlan(profile: p, steps: steps, target: target.url), options: EngineOptions())
        return (try runner.run(seed: 3), target.stats)
    }

    @Test func aFailingVectorIsShortenedInTimeAndTheNextStillRuns() throws {
        let (summary, stats) = try failingRun(action: "shorten")
        #expect(summary.vectors.map(\.status) == ["completed", "shortened", "completed"], "\(summary.vectors)")
        let two = try #require(summary.vectors.first { $0.vectorID == "two" })
        #expect(two.reason?.contains("error rate above 5.0%") == true)
        let timings = stats.timings
        let failuresBegan = try #require(timings["GET /two"]?.first) + 3
        let ended = try #require(iso(two.endedAt))
        #expect(ended - failuresBegan <= 3 * 1 + 1, "shortened \(ended - failuresBegan) s after the failures began")
        #expect(ended - failuresBegan >= 2, "shortened too early: \(ended - failuresBegan) s")
        #expect((timings["GET /three"]?.first ?? 0) > ended)
        let event = try #require(summary.events.first { $0.kind == "vector_shortened" })
        #expect(event.detail["vector_id"] == "two" && event.detail["window_error_rates"]?.description.split(separator: ",").count == 3)
        #expect(summary.status == "completed")
    }

    @Test func skipNextSkipsTheFollowingVector() throws {
        let (summary, stats) = try failingRun(action: "skip_next")
        #expect(summary.vectors.map(\.status) == ["completed", "shortened", "skipped"], "\(summary.vectors)")
        #expect(summary.vectors[2].reason?.contains("skip_next") == true)
        #expect(stats.timings["GET /three"] == nil)
    }

    @Test func abortEndsTheProfile() throws {
        let (summary, stats) = try failingRun(action: "abort")
        #expect(summary.status == "aborted")
        #expect(summary.vectors.map(\.status) == ["completed", "aborted", "aborted"], "\(summary.vectors)")
        #expect(stats.timings["GET /three"] == nil)
        #expect(summary.events.contains { $0.kind == "profile_aborted" })
    }

    @Test func startTimeDelaysAndTheCapAreHonouredWithin100ms() throws {
        let target = try LiveTarget()
        let steps = try [("one", "/one", 2.0), ("two", "/two", 10.0)].map { RunPlan.Step(vector: try vector($0.0, path: $0.1, seconds: $0.2), dataDirectory: nil) }
        let start = Date().addingTimeInterval(5)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let p = try profile(#"{"profile_id": "t", "name": "T", "start_time": "\#(formatter.string(from: start))", "duration_sec": 5, "transition_delay_sec": 1.5, "vector_sequence": ["one", "two"]}"#, known: ["one", "two"])
        let summary = try InProcessRunner(plan: RunPlan(profile: p, steps: steps, target: target.url), options: EngineOptions()).run(seed: 1)
        let timings = target.stats.timings
        let oneFirst = try #require(timings["GET /one"]?.first), oneLast = try #require(timings["GET /one"]?.last)
        let twoFirst = try #require(timings["GET /two"]?.first), twoLast = try #require(timings["GET /two"]?.last)
        let s = start.timeIntervalSince1970
        #expect(abs(oneFirst - s) <= 0.1, "first request \(oneFirst - s) s after start_time")
        #expect(abs(twoFirst - (s + 2 + 1.5)) <= 0.1, "second vector began \(twoFirst - s) s after start_time")
        // The cap (5 s) cuts the second vector; its last request leaves before it, within one request time.
        #expect(twoLast <= s + 5 + 0.05 && twoLast >= s + 5 - 0.1, "last request at \(twoLast - s) s")
        #expect(oneLast <= s + 2 + 0.05)
        #expect(summary.vectors.map(\.status) == ["completed", "cut"])
    }
}

@Suite(.serialized) struct KnownBadTests {
    @Test func aVectorShortenedLastTimeIsSkippedUpFront() throws {
        let directory = TemporaryDirectory("alv-known-bad")
        let store = try MetricsStore(database: try SQLiteDatabase(path: directory.file("runs.db")))
        let target = try LiveTarget(TargetConfiguration(routes: [.init(path: "/bad", errorRate: 1, errorStatus: 500)]))
        let steps = try [("good", "/good", 1.5), ("bad", "/bad", 6.0)].map { RunPlan.Step(vector: try vector($0.0, path: $0.1, seconds: $0.2), dataDirectory: nil) }
        let p = try profile(#"{"profile_id": "kb", "name": "KB", "duration_sec": 30, "vector_sequence": ["good", "bad"], "adjustment": {"error_rate_threshold": 0.5, "window_sec": 1, "consecutive_windows": 1, "skip_known_bad": 3}}"#, known: ["good", "bad"])
        let plan = RunPlan(profile: p, steps: steps, target: target.url)
        let first = try InProcessRunner(plan: plan, options: EngineOptions(), store: store).run(seed: 1)
        #expect(first.vectors.map(\.status) == ["completed", "shortened"])
        let second = try InProcessRunner(plan: plan, options: EngineOptions(), store: store).run(seed: 2)
        #expect(second.vectors.map(\.status) == ["completed", "skipped"])
        #expect(second.vectors[1].reason?.contains("skip_known_bad") == true)
        #expect(try store.status(run: second.runID) == "completed")
    }
}
