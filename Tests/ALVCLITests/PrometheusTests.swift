import ALVPrometheus
import ALVStore
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

extension PrometheusTests {
    /// A known history written into Prometheus comes back point for point through `history import
    /// --prometheus`, over more than one query_range chunk; a query with 3 series stores 3 endpoints.
    @Test func historyImportReadsPrometheusPointForPoint() throws {
        let prometheus = try PrometheusServer()
        let now = Int64(Date().timeIntervalSince1970)
        // 12,000 points a second apart (more than one 10,000-point request), ending a minute ago.
        let first = now - 60 - 11_999
        func value(_ route: Int, _ i: Int64) -> Double { Double(100 * route) + Double(i % 600) / 4 + (i % 7 == 0 ? 0.125 : 0) }
        var batches: [RemoteWriteRequest.Batch] = []
        for i in 0..<Int64(12_000) {
            batches.append(.init(timestampMs: (first + i) * 1000, series: (1...3).map { route in
                PromSeries(name: "known_rps", labels: [("route", "r\(route)"), ("job", "shop")], value: value(route, i))
            }))
        }
        for chunk in stride(from: 0, to: batches.count, by: 3_000) { try prometheus.write(Array(batches[chunk..<min(batches.count, chunk + 3_000)])) }
        let dir = TemporaryDirectory()
        let db = dir.file("alv.db")
        let one = try AlvBinary.run(
            ["history", "import", "--prometheus", prometheus.url, "--query", "known_rps{route=\"r2\"}", "--start", String(first), "--end", String(first + 11_999),
             "--step", "1s", "--endpoint", "shop", "--db", db], timeout: 60)
        #expect(one.status == 0, "\(one.stderr)")
        #expect(one.stderr.contains("query_range 2/2"), "\(one.stderr)")
        #expect(one.stdout.contains("imported 12000 points of 1 s for endpoint shop "), "\(one.stdout)")
        let store = try MetricsStore(database: try SQLiteDatabase(path: db))
        let history = try store.history(endpoint: "shop")
        #expect(history.count == 12_000)
        #expect(history.map(\.0) == (0..<Int64(12_000)).map { first + $0 })
        #expect(history.map(\.1) == (0..<Int64(12_000)).map { value(2, $0) })

        let three = try AlvBinary.run(
            ["history", "import", "--prometheus", prometheus.url, "--query", "known_rps", "--start", String(first), "--end", String(first + 599),
             "--step", "60", "--endpoint", "shop", "--db", db], timeout: 60)
        #expect(three.status == 0, "\(three.stderr)")
        let endpoints = try store.historyEndpoints().map(\.endpoint)
        #expect(endpoints == ["shop", "shop/shop,r1", "shop/shop,r2", "shop/shop,r3"], "\(endpoints)")
        #expect(try store.history(endpoint: "shop/shop,r3").map(\.1) == (0..<Int64(10)).map { value(3, $0 * 60) })

        // The same source feeds a forecast: a season of 10 steps of 60 s repeats exactly, so the seasonal naive
        // forecast is the known series' next values.
        let forecast = try AlvBinary.run(
            ["forecast", "--prometheus", prometheus.url, "--query", "known_rps{route=\"r1\"}", "--start", String(first), "--end", String(first + 11_999),
             "--step", "60", "--model", "snaive", "--season", "10", "--horizon", "3", "--format", "csv"], timeout: 60)
        #expect(forecast.status == 0, "\(forecast.stderr)")
        let means = forecast.stdout.split(separator: "\n").dropFirst().compactMap { $0.split(separator: ",").dropFirst().first.flatMap { Double($0) } }
        let lastIndex = Int64(11_999 / 60 * 60)
        #expect(means == (1...3).map { value(1, lastIndex + Int64($0) * 60 - 600) }, "\(forecast.stdout)")
        let several = try AlvBinary.run(["forecast", "--prometheus", prometheus.url, "--query", "known_rps", "--start", String(first), "--end", String(first + 11_999), "--step", "60"])
        #expect(several.status == 2 && several.stderr.contains("gives 3 series"), "\(several.stderr)")

        // And a vector's forecast load, read when the run starts.
        let (target, targetURL) = try SpawnedAlv.target()
        defer { _ = target }
        let vector = dir.write("forecast.json", """
            { "vector_id": "from-prometheus", "name": "F", "duration_sec": 2,
              "load": { "forecast": { "prometheus": { "url": "\(prometheus.url)", "query": "sum(known_rps)", "range": "3h", "step": "60s" },
                                      "horizon_sec": 7200, "scale": 0.05, "time_scale": 600 } },
              "request_types": [ { "name": "home", "method": "GET", "url": "/", "frequency": 100 } ] }
            """)
        let run = try AlvBinary.run(["run", vector, "--target", targetURL, "--workers", "0", "--db", db, "--no-dashboard", "--json"], timeout: 60)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("from-prometheus: forecast load, peak"), "\(run.stderr)")
        let badVector = dir.write("bad.json", """
            { "vector_id": "b", "name": "B", "duration_sec": 2,
              "load": { "forecast": { "prometheus": { "url": "\(prometheus.url)", "query": "up", "range": "3 hours", "step": "60s" }, "history": "x.csv", "horizon_sec": 60 } },
              "request_types": [ { "name": "home", "method": "GET", "url": "/", "frequency": 100 } ] }
            """)
        let refused = try AlvBinary.run(["vector", "validate", badVector])
        #expect(refused.status == 2 && refused.stderr.contains("load.forecast.prometheus.range") && refused.stderr.contains("found both"), "\(refused.stderr)")

        // What the server refuses, and a query with no data, are clear errors.
        let bad = try AlvBinary.run(["history", "import", "--prometheus", prometheus.url, "--query", "sum(", "--start", "now-1h", "--step", "60", "--endpoint", "x", "--db", db])
        #expect(bad.status != 0 && bad.stderr.contains("refused the query") && bad.stderr.contains("bad_data"), "\(bad.stderr)")
        let none = try AlvBinary.run(["history", "import", "--prometheus", prometheus.url, "--query", "no_such_metric", "--start", "now-1h", "--step", "60", "--endpoint", "x", "--db", db])
        #expect(none.status == 2 && none.stderr.contains("has no series"), "\(none.stderr)")
        let flags = try AlvBinary.run(["history", "import", "--prometheus", prometheus.url, "--query", "up", "--start", "yesterday", "--step", "60", "--endpoint", "x", "--db", db])
        #expect(flags.status == 2 && flags.stderr.contains("--start expects"), "\(flags.stderr)")
    }
}

extension PrometheusTests {
    /// A run against a target that slows down as the rate climbs: the stored run becomes history, and
    /// `history analyze` draws the capacity curve and says at which rate p95 crossed its limit. A CSV of two
    /// weeks with a daily cycle shows seasons, trend and peaks.
    @Test func historyAnalyzeFindsSeasonsAndTheCapacityCurve() throws {
        let dir = TemporaryDirectory()
        // p95 2 ms for the first 4 s on /, then 8 ms, then 40 ms, while the rate ramps from 0 to 120 req/s.
        let routes = dir.write("slow.json", """
            { "routes": [ { "path": "/", "schedule_from": "first_request", "schedule": [
                { "from_sec": 0, "to_sec": 4, "latency_ms": 2 }, { "from_sec": 4, "to_sec": 8, "latency_ms": 8 },
                { "from_sec": 8, "to_sec": 600, "latency_ms": 40 } ] } ] }
            """)
        let (target, url) = try SpawnedAlv.target(["--config", routes])
        defer { _ = target }
        let vector = dir.write("ramp.json", """
            { "vector_id": "cap", "name": "Capacity", "duration_sec": 3, "ramp_up_time_sec": 12, "load": { "target_rps": 120 },
              "request_types": [ { "name": "home", "method": "GET", "url": "/", "frequency": 100 } ] }
            """)
        let db = dir.file("alv.db")
        let run = try AlvBinary.run(["run", vector, "--target", url, "--workers", "0", "--db", db, "--no-dashboard", "--json"], timeout: 60)
        let (id, _) = try Self.runID(run.stdout)
        let imported = try AlvBinary.run(["history", "import", "--run", id, "--endpoint", "lab", "--db", db])
        #expect(imported.status == 0 && imported.stdout.contains("endpoint lab/home/p95_ms"), "\(imported.stdout) \(imported.stderr)")

        let text = try AlvBinary.run(["history", "analyze", "--endpoint", "lab/home", "--p95-limit", "20", "--db", db])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("capacity curve") && text.stdout.contains("p95 crossed 20 ms from"), "\(text.stdout)")
        let json = try AlvBinary.run(["history", "analyze", "--endpoint", "lab/home", "--p95-limit", "20", "--json", "--db", db])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let bins = try #require(object["capacity"] as? [[String: Any]])
        let p95s = bins.compactMap { $0["p95_ms"] as? Double }
        #expect(bins.count >= 5 && p95s.count == bins.count, "\(bins)")
        // Latency rises with the rate: the fastest band is over 3× slower than the slowest.
        #expect((p95s.last ?? 0) > 3 * (p95s.first ?? 1), "\(p95s)")
        let crossing = try #require(object["latency_crossing"] as? [String: Any])
        // The 40 ms window starts 8 s into a 12 s ramp to 120 req/s: about 80 req/s.
        let at = try #require(crossing["at_rate"] as? Double)
        #expect(at > 45 && at < 110, "\(crossing)")
        #expect((crossing["highest_rate_under"] as? Double ?? 0) <= at)

        // Two weeks of hourly history peaking at 14:00 UTC, higher on Wednesdays, growing by 1 a day.
        var lines = ["timestamp,value"]
        let monday: Int64 = 1_797_206_400  // 2026-12-14T00:00:00Z, a Monday
        for h in 0..<(14 * 24) {
            let hour = Double(h % 24), day = h / 24
            let value = 100 + 50 * cos((hour - 14) / 24 * 2 * .pi) + (day % 7 == 2 ? 30 : 0) + Double(day)
            lines.append("\(monday + Int64(h) * 3_600),\(value)")
        }
        let csv = dir.write("traffic.csv", lines.joined(separator: "\n") + "\n")
        _ = try AlvBinary.run(["history", "import", csv, "--endpoint", "shop", "--db", db])
        let seasons = try AlvBinary.run(["history", "analyze", "--endpoint", "shop", "--json", "--db", db])
        let s = try #require(try JSONSerialization.jsonObject(with: Data(seasons.stdout.utf8)) as? [String: Any])
        #expect((s["seasons"] as? [[String: Any]])?.first?["seconds"] as? Int == 86_400, "\(seasons.stdout)")
        #expect(s["peak_hour_utc"] as? Int == 14)
        #expect(s["peak_weekday"] as? String == "Wednesday")
        let perDay = try #require((s["trend"] as? [String: Any])?["per_day"] as? Double)
        #expect(perDay > 0.5 && perDay < 1.5, "\(perDay)")
        let none = try AlvBinary.run(["history", "analyze", "--endpoint", "shopp", "--db", db])
        #expect(none.status == 2 && none.stderr.contains("did you mean \"shop\""), "\(none.stderr)")
    }
}

extension PrometheusTests {
    /// The live page draws the target's CPU under the latency chart while the run goes on.
    @Test func theLivePageDrawsTheObservedTarget() async throws {
        let exporter = try NodeExporter()
        let (target, url) = try SpawnedAlv.target()
        defer { _ = target }
        let dir = TemporaryDirectory()
        let vector = dir.write("v.json", """
            { "vector_id": "live-observed", "name": "L", "duration_sec": 60, "load": { "virtual_users": 2 },
              "request_types": [ { "name": "home", "method": "GET", "url": "/", "frequency": 100, "think_time_ms": 100 } ] }
            """)
        let port = freePort()
        let tokenFile = dir.write("dashboard.token", DashboardTests.token + "\n")
        let run = try SpawnedAlv(["run", vector, "--target", url, "--workers", "0", "--dashboard", "127.0.0.1:\(port)", "--dashboard-token-file", tokenFile,
                                  "--db", dir.file("alv.db"), "--observe", exporter.url])
        defer { _ = run }
        var charts: [String] = []
        let deadline = Date().addingTimeInterval(40)
        while Date() < deadline && !charts.contains(where: { $0.contains("Target CPU (cores busy)") && $0.contains("<path d=\"M") }) {
            if let text = DashboardTests.get("http://127.0.0.1:\(port)/events?once=1"),
               let line = text.split(separator: "\n").first(where: { $0.hasPrefix("data: {\"") }),
               let object = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any] {
                charts = object["charts"] as? [String] ?? []
            }
            try await Task.sleep(for: .milliseconds(300))
        }
        let titles = charts.map { chart in chart.components(separatedBy: "font-weight=\"bold\">").dropFirst().first?.prefix(60) ?? "" }
        let cpu = try #require(charts.firstIndex { $0.contains("Target CPU (cores busy)") }, "charts: \(titles)")
        let latency = try #require(charts.firstIndex { $0.contains("Latency from intended send time") })
        #expect(cpu == latency + 1, "the target's CPU comes right under the latency chart")
        #expect(charts[cpu].contains("<path d=\"M"))
        #expect(charts.contains { $0.contains("Target memory") })
    }
}
