import ALVTesting
import Foundation
import Synchronization
import Testing

/// Remote write, history import and scrapes against Debian's Prometheus and node_exporter on 127.0.0.1.
@Suite(.serialized) struct PrometheusTests {
    static func runID(_ stdout: String) throws -> (id: String, summary: [String: Any]) {
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
        return (try #require(summary["run_id"] as? String), summary)
    }

    /// A 20 s run on two workers with Prometheus down for 5 s in the middle: the run completes, and what
    /// Prometheus holds afterwards equals the summary's totals.
    @Test func remoteWriteTotalsSurviveAPrometheusRestart() throws {
        let prometheus = try PrometheusServer()
        let (target, url) = try SpawnedAlv.target(["--latency-ms", "2"])
        defer { _ = target }
        let dir = TemporaryDirectory()
        let vector = dir.write("v.json", """
            { "vector_id": "rw", "name": "Remote write", "duration_sec": 20, "ramp_up_time_sec": 0,
              "load": { "virtual_users": 4 },
              "request_types": [
                { "name": "home", "method": "GET", "url": "/", "frequency": 70, "think_time_ms": [20, 40] },
                { "name": "missing", "method": "GET", "url": "/no-such-page", "frequency": 30, "think_time_ms": 30 } ] }
            """)
        let result = Mutex<AlvBinary.Result?>(nil)
        let done = DispatchSemaphore(value: 0)
        let db = dir.file("alv.db")
        let writeURL = prometheus.writeURL
        Thread.detachNewThread {
            let r = try? AlvBinary.run(["run", vector, "--target", url, "--workers", "2", "--db", db, "--no-dashboard", "--remote-write", writeURL, "--json"], timeout: 90)
            result.withLock { $0 = r }
            done.signal()
        }
        Thread.sleep(forTimeInterval: 7)
        prometheus.stop()
        Thread.sleep(forTimeInterval: 5)
        try prometheus.start()
        done.wait()
        let run = try #require(result.withLock { $0 })
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let (id, summary) = try Self.runID(run.stdout)
        let total = try #require(summary["requests_total"] as? Int)
        #expect(total > 500)
        let counts = try #require(summary["remote_write"] as? [String: Any])
        #expect(counts["dropped"] as? Int == 0 && counts["failed"] as? Int == 0, "\(counts)")
        #expect((counts["sent"] as? Int ?? 0) > 0)
        let stderr = run.stderr
        #expect(stderr.contains("failing"), "stderr: \(stderr)")
        #expect(stderr.contains("recovered"), "stderr: \(stderr)")

        let sum = try prometheus.query("sum(alv_requests_total{run=\"\(id)\"})")
        #expect(sum.first?.value == Double(total))
        let histogram = try prometheus.query("sum(alv_request_duration_seconds_count{run=\"\(id)\"})")
        #expect(histogram.first?.value == Double(total))
        let buckets = try prometheus.query("sum(alv_request_duration_seconds_bucket{run=\"\(id)\",le=\"+Inf\"})")
        #expect(buckets.first?.value == Double(total))
        // Per request type and outcome: the 404s of "missing" are all there.
        let missing = try prometheus.query("sum(alv_requests_total{run=\"\(id)\",request_type=\"missing\",outcome=\"4xx\"})")
        let types = try #require(summary["request_types"] as? [[String: Any]])
        let missingType = try #require(types.first { $0["name"] as? String == "missing" })
        let responses = try #require(missingType["responses"] as? [String: Any])
        let missing4xx = try #require(responses["4xx"] as? Int)
        #expect(missing.first?.value == Double(missing4xx))
        // Samples from before the outage and after it (the backlog held while it was down arrived too).
        let points = try prometheus.query("count_over_time(alv_workers{run=\"\(id)\"}[5m])")
        #expect((points.first?.value ?? 0) >= 17, "points of alv_workers: \(points)")
        let workers = try prometheus.query("max_over_time(alv_workers{run=\"\(id)\"}[5m])")
        #expect(workers.first?.value == 2)
        let users = try prometheus.query("max_over_time(alv_planned_users{run=\"\(id)\"}[5m])")
        #expect(users.first?.value == 4)
    }

    /// A profile's `remote_write` sends without the flag; an endpoint that refuses is counted, not fatal.
    @Test func profileRemoteWriteAndARefusingEndpoint() throws {
        let prometheus = try PrometheusServer()
        let (target, url) = try SpawnedAlv.target()
        defer { _ = target }
        let dir = TemporaryDirectory()
        let db = dir.file("alv.db")
        _ = try AlvBinary.run(["vector", "add", Fixtures.path("config/vectors/smoke.json"), "--db", db])
        let profile = dir.write("p.json", """
            { "profile_id": "rw-profile", "name": "P", "duration_sec": 3, "vector_sequence": ["smoke"],
              "remote_write": "\(prometheus.writeURL)" }
            """)
        let run = try AlvBinary.run(["run", profile, "--target", url, "--workers", "0", "--db", db, "--no-dashboard", "--json"], timeout: 60)
        let (id, summary) = try Self.runID(run.stdout)
        let total = try #require(summary["requests_total"] as? Int)
        #expect(try prometheus.query("sum(alv_requests_total{run=\"\(id)\"})").first?.value == Double(total))
        // The stored summary (the JSON report) carries the counts too.
        let report = try AlvBinary.run(["report", id, "--format", "json", "--db", db, "--out", dir.file("r.json")])
        #expect(report.status == 0, "\(report.stderr)")
        let stored = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.file("r.json")))) as? [String: Any])
        let storedSent = (stored["remote_write"] as? [String: Any])?["sent"] as? Int
        let printedSent = (summary["remote_write"] as? [String: Any])?["sent"] as? Int
        #expect(storedSent != nil && storedSent == printedSent)

        // A URL that is no remote-write receiver: every batch is refused (404), counted as failed.
        let refused = try AlvBinary.run(["run", profile, "--target", url, "--workers", "0", "--db", db, "--no-dashboard", "--json", "--remote-write", prometheus.url + "/api/v1/no-such-receiver"], timeout: 60)
        #expect(refused.status == 0, "\(refused.stderr)")
        let counts = try #require(try Self.runID(refused.stdout).summary["remote_write"] as? [String: Any])
        #expect((counts["failed"] as? Int ?? 0) > 0 && counts["sent"] as? Int == 0, "\(counts)")
        let refusedLog = refused.stderr
        #expect(refusedLog.contains("refused"), "\(refusedLog)")
    }
}

extension PrometheusTests {
    /// `--observe` on node_exporter: the target's CPU one point a second in the report, `target_metrics` in the
    /// JSON report; an endpoint nothing listens on is an event, and the run passes.
    @Test func observeScrapesNodeExporterBesideTheLoad() throws {
        let exporter = try NodeExporter()
        let (target, url) = try SpawnedAlv.target()
        defer { _ = target }
        let dir = TemporaryDirectory()
        let vector = dir.write("v.json", """
            { "vector_id": "observed", "name": "Observed", "duration_sec": 6, "load": { "virtual_users": 2 },
              "request_types": [ { "name": "home", "method": "GET", "url": "/", "frequency": 100, "think_time_ms": 50 } ] }
            """)
        let dead = "http://127.0.0.1:\(freePort())/metrics"
        let run = try AlvBinary.run(
            ["run", vector, "--target", url, "--workers", "0", "--db", dir.file("alv.db"), "--no-dashboard", "--json", "--report", dir.file("rep"),
             "--observe", "\(exporter.url),\(dead)"], timeout: 60)
        #expect(run.status == 0, "\(run.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.file("rep/report.json")))) as? [String: Any])
        let metrics = try #require(report["target_metrics"] as? [[String: Any]])
        let source = "127.0.0.1:\(exporter.port)"
        let idle = try #require(metrics.first { $0["name"] as? String == "node_cpu_seconds_total" && ($0["labels"] as? [String: String])?["mode"] == "idle" })
        #expect(idle["source"] as? String == source && idle["kind"] as? String == "rate")
        let points = try #require(idle["points"] as? [[Double]])
        // About one a second over a 6 s run, a second apart; idle CPU is between 0 and the machine's cores.
        #expect(points.count >= 5 && points.count <= 8, "\(points.count) points")
        let gaps = zip(points.dropFirst(), points).map { $0[0] - $1[0] }
        #expect(gaps.allSatisfy { $0 > 0.5 && $0 < 1.6 }, "\(gaps)")
        #expect(points.allSatisfy { $0[1] >= 0 && $0[1] <= Double(ProcessInfo.processInfo.activeProcessorCount) + 0.5 }, "\(points)")
        #expect(metrics.contains { $0["name"] as? String == "node_memory_MemAvailable_bytes" })
        #expect(!metrics.contains { $0["source"] as? String != source })
        let events = try #require(report["events"] as? [[String: Any]])
        let failed = events.filter { $0["kind"] as? String == "observe_failed" }
        #expect(failed.count == 1 && (failed.first?["detail"] as? [String: Any])?["url"] as? String == dead, "\(events)")
        let html = try String(contentsOfFile: dir.file("rep/report.html"), encoding: .utf8)
        #expect(html.contains("Target CPU (cores busy)") && html.contains("\(source) host CPU busy"))
        #expect(html.contains("Target memory"))
    }

    @Test func observeFlagsAreChecked() throws {
        let bad = try AlvBinary.run(["run", "smoke", "--target", "http://127.0.0.1:1", "--observe", "127.0.0.1:9100/metrics"])
        #expect(bad.status == 2 && bad.stderr.contains("--observe expects"), "\(bad.stderr)")
        let name = try AlvBinary.run(["run", "smoke", "--target", "http://127.0.0.1:1", "--observe", "http://127.0.0.1:9100/metrics", "--observe-metrics", "cpu-seconds"])
        #expect(name.status == 2 && name.stderr.contains("--observe-metrics expects"), "\(name.stderr)")
        let write = try AlvBinary.run(["run", "smoke", "--target", "http://127.0.0.1:1", "--remote-write", "ftp://x/write"])
        #expect(write.status == 2 && write.stderr.contains("not http or https"), "\(write.stderr)")
    }
}
