import ALVLifecycle
import ALVProtocol
import ALVEngine
import ALVMetrics
import ALVModel
import ALVTarget
import ALVTesting
import Foundation
import Synchronization
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

/// Collects deltas from an executor and merges them per request type.
final class Collector: Sendable {
    private let state = Mutex<[String: RequestMetrics]>([:])
    private let deltaCount = Mutex(0)

    func add(_ delta: MetricsDelta) {
        let decoded = delta.requestTypes.mapValues { try! $0.metrics() }
        state.withLock { totals in for (name, m) in decoded { totals[name, default: RequestMetrics()].merge(m) } }
        deltaCount.withLock { $0 += 1 }
    }

    var byType: [String: RequestMetrics] { state.withLock { $0 } }
    var deltas: Int { deltaCount.withLock { $0 } }

    var all: RequestMetrics {
        var merged = RequestMetrics()
        for m in byType.values { merged.merge(m) }
        return merged
    }
}

func vector(_ json: String) throws -> LoadVector {
    let result = VectorValidator.validate(Array(json.utf8), file: "test", baseDirectory: Fixtures.path("config/vectors"))
    return try #require(result.model, "\(result.diagnostics.map(\.description))")
}

/// Runs `vector` against `target` in this thread and returns the merged metrics.
@discardableResult
func execute(
    _ vector: LoadVector, target: String, duration: Double? = nil, options: EngineOptions = EngineOptions(), collector: Collector = Collector(),
    deadlineOffsetMs: Int64 = 10_000
) throws -> (Collector, UnitExecutor.Report) {
    let start = Int64(Date().timeIntervalSince1970 * 1000) + 50
    let unit = WorkUnit(
        runID: "test", unitID: "u1", vector: vector, dataDirectory: Fixtures.path("config/vectors"), baseURL: target, load: vector.load,
        startMs: start, rampUpSec: vector.rampUpTimeSec, durationSec: duration ?? vector.totalSeconds, deadlineMs: start + deadlineOffsetMs,
        seed: 42)
    let executor = try UnitExecutor(unit: unit, options: options, sink: collector.add)
    return (collector, executor.run())
}

@Suite(.serialized) struct EngineTests {
    @Test(arguments: ["open", "closed"])
    func countsMatchWhatTheTargetReceivedExactly(model: String) throws {
        let target = try LiveTarget(TargetConfiguration(latencyMs: .range(0, 2)))
        let load = model == "open" ? #"{"target_rps": 400}"# : #"{"virtual_users": 20}"#
        let think = model == "open" ? "" : #", "think_time_ms": {"min": 10, "max": 40}"#
        let v = try vector(#"""
            {"vector_id": "count", "name": "Count", "duration_sec": 10, "ramp_up_time_sec": 1, "load": \#(load),
             "request_types": [{"name": "a", "url": "/a/{{seq}}", "frequency": 60\#(think)},
                               {"name": "b", "method": "POST", "url": "/b", "frequency": 40, "payload_template": "{\"n\":{{seq}}}"\#(think)}]}
            """#)
        let (collector, report) = try execute(v, target: target.url)
        let all = collector.all
        let received = target.stats.total
        #expect(all.requestsTotal == UInt64(received), "alv counted \(all.requestsTotal), the target saw \(received)")
        #expect(report.requestsTotal == all.requestsTotal)
        #expect(all.outcomes[.status2xx] == all.requestsTotal, "\(all.outcomes)")
        #expect(all.intended == all.sent && all.sent == all.completed)
        let counts = target.stats.counts
        #expect(UInt64(counts.filter { $0.key.hasPrefix("GET /a/") }.values.reduce(0, +)) == collector.byType["a"]?.requestsTotal)
        #expect(UInt64(counts["POST /b"] ?? 0) == collector.byType["b"]?.requestsTotal)
        if model == "open" {
            // A 1 s ramp (half the rate on average) then 400/s for 10 s: about 4200 Poisson arrivals.
            #expect(abs(Double(received) - 4200) < 4200 * 0.05, "received \(received)")
        }
        #expect(collector.deltas >= 10)
    }

    @Test func medianLatencyMatchesTheTargetsDelay() throws {
        let target = try LiveTarget(TargetConfiguration(latencyMs: .fixed(20)))
        let v = try vector(#"{"vector_id": "lat", "name": "Lat", "duration_sec": 3, "load": {"virtual_users": 4}, "request_types": [{"name": "a", "url": "/", "frequency": 100}]}"#)
        let (collector, _) = try execute(v, target: target.url)
        let p50 = Double(collector.all.latency.value(atPercentile: 50)) / 1000
        // Never below the delay; above it by the time a loaded 2-core machine takes to schedule both ends.
        #expect(p50 >= 20 && p50 <= 26, "p50 \(p50) ms")
        #expect(collector.all.requestsTotal > 450)
        // The phases: the 20 ms are spent waiting for the first byte; 4 users open 4 connections, then reuse them.
        let phases = collector.all.phases
        #expect(phases.count == Phase.allCases.count && phases[Phase.ttfb.rawValue].totalCount == collector.all.completed)
        let ttfb = Double(phases[Phase.ttfb.rawValue].value(atPercentile: 50)) / 1000
        #expect(ttfb >= 19.5 && ttfb <= 23, "ttfb p50 \(ttfb) ms")
        let connect = phases[Phase.connect.rawValue]
        #expect(connect.value(atPercentile: 50) == 0 && connect.maximum > 0, "a connect time only on the first request of each connection")
        #expect(phases[Phase.tls.rawValue].maximum == 0, "no TLS")
    }

    /// wrk2's point: when the target stalls, requests that should have been sent during the stall
    /// count their wait. Measuring from the actual send would hide it (coordinated omission).
    @Test func aStallShowsInTheTailBecauseLatencyCountsFromTheIntendedTime() throws {
        let target = try LiveTarget(TargetConfiguration(schedule: [.init(fromSec: 1.5, toSec: 2.5, stall: true)]))
        let v = try vector(#"{"vector_id": "stall", "name": "Stall", "duration_sec": 4, "load": {"target_rps": 200}, "request_types": [{"name": "a", "url": "/", "frequency": 100}]}"#)
        let (collector, _) = try execute(v, target: target.url, options: EngineOptions(connections: 10))
        let all = collector.all
        let p90 = Double(all.latency.value(atPercentile: 90)) / 1000
        let p99 = Double(all.latency.value(atPercentile: 99)) / 1000
        #expect(p99 >= 850, "p99 \(p99) ms")
        #expect(p90 >= 200, "p90 \(p90) ms: requests queued behind the stall must count their wait")
        #expect(all.outcomes[.status2xx] == all.requestsTotal)
        #expect(all.lagMaxMicros > 500_000, "requests waited for a connection: lag \(all.lagMaxMicros) µs")
    }

    @Test func frequencyMixLandsWithinTwoPoints() throws {
        let target = try LiveTarget()
        let v = try vector(#"""
            {"vector_id": "mix", "name": "Mix", "duration_sec": 4, "load": {"target_rps": 2600},
             "request_types": [{"name": "a", "url": "/a", "frequency": 70}, {"name": "b", "url": "/b", "frequency": 20},
                               {"name": "c", "url": "/c", "frequency": 10}]}
            """#)
        try execute(v, target: target.url)
        let counts = target.stats.counts
        let total = Double(target.stats.total)
        #expect(total >= 10_000, "only \(total) requests")
        for (path, share) in [("GET /a", 70.0), ("GET /b", 20), ("GET /c", 10)] {
            let measured = Double(counts[path] ?? 0) / total * 100
            #expect(abs(measured - share) <= 2, "\(path): \(measured)%")
        }
    }

    @Test func thinkTimesAreHonoured() throws {
        let target = try LiveTarget()
        let v = try vector(#"""
            {"vector_id": "think", "name": "Think", "duration_sec": 3, "load": {"virtual_users": 5},
             "request_types": [{"name": "a", "url": "/a", "frequency": 50, "think_time_ms": {"min": 100, "max": 300}},
                               {"name": "b", "url": "/b", "frequency": 50, "think_time_ms": 200}]}
            """#)
        let (collector, _) = try execute(v, target: target.url)
        // Mean think 200 ms: each of 5 users completes about 3 s / 0.2 s = 15 iterations.
        let total = collector.all.requestsTotal
        #expect(total >= 65 && total <= 80, "\(total) requests")
    }

    @Test func templatedPayloadsArriveValidAndEscaped() throws {
        let target = try LiveTarget(TargetConfiguration(recordBodies: 1000))
        var crud = try #require(VectorValidator.validateFile(atPath: Fixtures.path("config/vectors/crud-mixed.json")).model)
        crud.load = .closed(virtualUsers: 5)
        crud.rampUpTimeSec = 0
        crud.durationSec = 2
        try execute(crud, target: target.url)
        let bodies = target.stats.bodies.filter { !$0.body.isEmpty }
        let names = Set(["alice", "bob", "Chloé \"CJ\" <Jones>", "dmitri", "eve"])
        var json = 0, xml = 0
        for recorded in bodies {
            #expect(!recorded.body.contains("{{"), "unsubstituted: \(recorded.body)")
            if recorded.contentType == "application/json" {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(recorded.body.utf8)) as? [String: Any], "invalid JSON: \(recorded.body)")
                if let owner = object["owner"] as? String { #expect(names.contains(owner)) }
                if let note = object["note"] as? String { #expect(["ok", "quote \" inside", "back\\slash"].contains(note)) }
                json += 1
            } else if recorded.contentType == "application/xml" {
                let parser = XMLParser(data: Data(recorded.body.utf8))
                #expect(parser.parse(), "not well-formed: \(recorded.body)")
                xml += 1
            }
        }
        #expect(json > 10 && xml > 5, "json \(json), xml \(xml)")
    }

    @Test func arrivalsBeyondTheInFlightCapAreDroppedAndCounted() throws {
        let target = try LiveTarget(TargetConfiguration(latencyMs: .fixed(1000)))
        let v = try vector(#"{"vector_id": "cap", "name": "Cap", "duration_sec": 2, "load": {"target_rps": 200, "max_in_flight": 20}, "request_types": [{"name": "a", "url": "/", "frequency": 100}]}"#)
        let (collector, _) = try execute(v, target: target.url)
        let all = collector.all
        #expect(all.outcomes[.dropped] > 300, "\(all.outcomes)")
        #expect(all.requestsTotal == all.outcomes.responses + all.outcomes.errors + all.outcomes[.dropped])
        #expect(all.intended == all.requestsTotal)
    }

    @Test func transportFailuresAreClassified() throws {
        // Nothing listens on the port of a target that has just been stopped.
        let closedURL: String
        do {
            let gone = try LiveTarget()
            closedURL = gone.url
        }
        let refused = try vector(#"{"vector_id": "refused", "name": "R", "duration_sec": 1, "load": {"target_rps": 50}, "request_types": [{"name": "a", "url": "/", "frequency": 100}]}"#)
        let (collector, _) = try execute(refused, target: closedURL)
        #expect(collector.all.outcomes[.connect] == collector.all.requestsTotal && collector.all.requestsTotal > 30, "\(collector.all.outcomes)")

        let slow = try LiveTarget(TargetConfiguration(latencyMs: .fixed(500)))
        let timeouts = try vector(#"{"vector_id": "slow", "name": "S", "duration_sec": 1, "load": {"target_rps": 20}, "request_types": [{"name": "a", "url": "/", "frequency": 100, "timeout_ms": 100}]}"#)
        let (slowCollector, _) = try execute(timeouts, target: slow.url)
        #expect(slowCollector.all.outcomes[.timeout] == slowCollector.all.requestsTotal, "\(slowCollector.all.outcomes)")

        let errors = try LiveTarget(TargetConfiguration(errorRate: 1, errorStatus: 503))
        let (errorCollector, _) = try execute(refused, target: errors.url)
        #expect(errorCollector.all.outcomes[.status5xx] == errorCollector.all.requestsTotal)
    }

    @Test func aUnitPastItsDeadlineIsDroppedNotRun() throws {
        let target = try LiveTarget()
        let v = try vector(#"{"vector_id": "late", "name": "L", "duration_sec": 1, "load": {"target_rps": 10}, "request_types": [{"name": "a", "url": "/", "frequency": 100}]}"#)
        let (collector, report) = try execute(v, target: target.url, deadlineOffsetMs: -1000)
        #expect(report.late)
        #expect(collector.deltas == 0 && target.stats.total == 0)
    }

    @Test func cancellationStopsLaunchingAndDrains() throws {
        let target = try LiveTarget(TargetConfiguration(latencyMs: .fixed(50)))
        let v = try vector(#"{"vector_id": "cancel", "name": "C", "duration_sec": 30, "load": {"virtual_users": 5}, "request_types": [{"name": "a", "url": "/", "frequency": 100}]}"#)
        let cancellation = CancellationFlag()
        let start = Int64(Date().timeIntervalSince1970 * 1000)
        let unit = WorkUnit(runID: "t", unitID: "c", vector: v, dataDirectory: nil, baseURL: target.url, load: v.load, startMs: start, rampUpSec: 0, durationSec: 30, deadlineMs: start + 5000, seed: 1)
        let collector = Collector()
        let executor = try UnitExecutor(unit: unit, cancellation: cancellation, sink: collector.add)
        DispatchQueue.global().asyncAfter(deadline: .now() + 1) { cancellation.cancel() }
        let began = Date()
        let report = executor.run()
        #expect(report.cancelled)
        #expect(Date().timeIntervalSince(began) < 3)
        #expect(collector.all.requestsTotal == UInt64(target.stats.total))
    }
}

/// One engine hosting consecutive units, as a worker runs them.
@Suite(.serialized) struct LongLivedEngineTests {
    /// Units of one run and vector, back to back from `start` (Unix ms), `seconds` each.
    func units(_ vector: LoadVector, target: String, count: Int, seconds: Double, start: Int64, collector: Collector) throws -> [UnitExecutor] {
        try (0..<count).map { i in
            let startMs = start + Int64(Double(i) * seconds * 1000)
            let unit = WorkUnit(
                runID: "long", unitID: "u\(i)", vector: vector, dataDirectory: nil, baseURL: target, load: vector.load,
                startMs: startMs, rampUpSec: 0, durationSec: seconds, deadlineMs: startMs + 10_000, seed: 7 &+ UInt64(i))
            return try UnitExecutor(unit: unit, vectorIndex: 0, sink: collector.add)
        }
    }

    /// Runs `units` on one engine (on a thread of its own, as `alv worker` does) until every one reported.
    func host(_ units: [UnitExecutor]) throws -> [UnitExecutor.Report] {
        let engine = try Engine()
        let thread = Thread { engine.serve() }
        thread.start()
        defer { engine.shutdown() }
        let reports = Mutex<[Int: UnitExecutor.Report]>([:])
        for (i, unit) in units.enumerated() { engine.submit(unit) { report in reports.withLock { $0[i] = report } } }
        let patience = Date().addingTimeInterval(30)
        while reports.withLock({ $0.count }) < units.count && Date() < patience { usleep(20_000) }
        return try reports.withLock { done in try units.indices.map { try #require(done[$0]) } }
    }

    /// Three 1 s units of 4 closed-model users on one engine: the target sees 4 connections, not 12, and
    /// every request the units counted.
    @Test func aUnitBoundaryOpensNoConnection() throws {
        let target = try LiveTarget(TargetConfiguration(latencyMs: .range(1, 3)))
        let v = try vector(#"{"vector_id": "keep", "name": "Keep", "duration_sec": 3, "load": {"virtual_users": 4}, "request_types": [{"name": "a", "url": "/a", "frequency": 100, "think_time_ms": 20}]}"#)
        let collector = Collector()
        let start = Int64(Date().timeIntervalSince1970 * 1000) + 300
        let reports = try host(try units(v, target: target.url, count: 3, seconds: 1, start: start, collector: collector))
        #expect(reports.allSatisfy { !$0.late && !$0.cancelled && $0.requestsTotal > 20 }, "\(reports)")
        #expect(target.stats.connections == 4, "connections opened over three units: \(target.stats.connections)")
        #expect(UInt64(target.stats.total) == reports.reduce(0) { $0 + $1.requestsTotal })
        #expect(collector.all.outcomes[.status2xx] == UInt64(target.stats.total))
    }

    /// One closed-model user thinking 1.5 s, over three 1 s units: its think time spans the boundaries, so
    /// it sends at 0 s and 1.5 s (and its `{{seq}}` goes on), where restarting each unit would send at 0, 1 and 2 s.
    @Test func aClosedUsersThinkTimeSpansAUnitBoundary() throws {
        let target = try LiveTarget()
        let v = try vector(#"{"vector_id": "think", "name": "Think", "duration_sec": 3, "load": {"virtual_users": 1}, "request_types": [{"name": "a", "url": "/r/{{seq}}", "frequency": 100, "think_time_ms": 1500}]}"#)
        let collector = Collector()
        let start = Int64(Date().timeIntervalSince1970 * 1000) + 300
        let reports = try host(try units(v, target: target.url, count: 3, seconds: 1, start: start, collector: collector))
        let timings = target.stats.timings
        #expect(target.stats.total == 2, "\(target.stats.counts)")
        let times = timings.values.map(\.first).sorted()
        #expect(times.count == 2 && abs((times.last ?? 0) - (times.first ?? 0) - 1.5) < 0.1, "request times \(times.map { $0 - Double(start) / 1000 })")
        #expect(timings.keys.count == 2, "the user's {{seq}} went on: \(timings.keys.sorted())")
        #expect(reports.map(\.requestsTotal) == [1, 1, 0], "\(reports)")
    }
}
