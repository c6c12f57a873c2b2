import ALVStore
import ALVTesting
import Foundation
import Testing

/// `alv serve` over a store: the runs list in a browser, a run recorded by another process followed live,
/// the comparison page, and the token's rules.
@Suite(.serialized) struct ServeTests {
    static let token = "serve-test-token-0123456789abcdef"

    static func storedRun(_ vector: String, target: String, db: String) throws -> String {
        let run = try AlvBinary.run(["run", vector, "--target", target, "--workers", "0", "--db", db, "--no-dashboard", "--json"], timeout: 60)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stderr)")
        return try #require(summary["run_id"] as? String)
    }

    @Test func runsListComparisonAndALiveRunFromAnotherProcess() async throws {
        let dir = TemporaryDirectory()
        let db = dir.file("alv.db")
        let (fastTarget, fastURL) = try SpawnedAlv.target(["--latency-ms", "5"])
        let (slowTarget, slowURL) = try SpawnedAlv.target(["--latency-ms", "20"])
        defer { _ = (fastTarget, slowTarget) }
        let vector = dir.write("v.json", """
            { "vector_id": "served", "name": "Served", "duration_sec": 8, "load": { "virtual_users": 3 },
              "request_types": [ { "name": "home", "method": "GET", "url": "/", "frequency": 100, "think_time_ms": 20 } ] }
            """)
        let fast = try Self.storedRun(vector, target: fastURL, db: db)
        let slow = try Self.storedRun(vector, target: slowURL, db: db)
        let third = try Self.storedRun(vector, target: fastURL, db: db)

        let port = freePort()
        let tokenFile = dir.write("token", Self.token + "\n")
        let serve = try SpawnedAlv(["serve", "--listen", "127.0.0.1:\(port)", "--db", db, "--token-file", tokenFile])
        defer { _ = serve }
        let base = "http://127.0.0.1:\(port)"
        #expect(waitForListener(port: port))

        // Without the token (or its cookie) nothing but the page itself answers.
        #expect(try DashboardTests.curl([base + "/runs"]).0 == "401")
        #expect(try DashboardTests.curl(["-H", "Cookie: alv_session=wrong-token-0123456789", base + "/runs"]).0 == "401")
        let list = try #require(DashboardTests.get(base + "/runs", token: Self.token))
        for id in [fast, slow, third] { #expect(list.contains("/runs/\(id)"), "\(id)") }
        // In a browser: the token in the fragment sets the session cookie, then the runs list opens.
        let dom = try DashboardTests.dumpDOM(base + "/#token=\(Self.token)&next=/runs", budgetMs: 6_000)
        let rows = dom.components(separatedBy: "<a href=\"/runs/").count - 1
        #expect(rows == 3, "runs listed in the browser: \(rows)\n\(dom.prefix(2_000))")
        let artifacts = Fixtures.path(".build/artifacts")
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        try DashboardTests.screenshot(base + "/#token=\(Self.token)&next=/runs", to: artifacts + "/serve-runs.png")
        let filtered = try #require(DashboardTests.get(base + "/runs?vector=nothing-like-it", token: Self.token))
        #expect(!filtered.contains("/runs/\(fast)"))

        // The comparison page: p50 worse by about 15 ms.
        let compare = try #require(DashboardTests.get(base + "/compare?a=\(slow)&b=\(fast)", token: Self.token))
        let p50Row = try #require(compare.components(separatedBy: "<tr>").first { $0.contains("<td>all</td><td>p50</td>") }, "\(compare.prefix(3_000))")
        #expect(p50Row.contains("class=\"worse\""), "\(p50Row)")
        let change = p50Row.components(separatedBy: "<td>").dropFirst(5).first.flatMap { Double($0.split(separator: " ").first?.replacingOccurrences(of: "+", with: "") ?? "") }
        #expect(change.map { $0 > 12 && $0 < 18 } == true, "\(p50Row)")
        try DashboardTests.screenshot(base + "/#token=\(Self.token)&next=" + "/compare?a=\(slow)&b=\(fast)".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!, to: artifacts + "/serve-compare.png")

        // A run another process records in the same store shows up on the live page within 2 s of its
        // first stored second.
        let long = dir.write("long.json", """
            { "vector_id": "followed", "name": "Followed", "duration_sec": 8, "load": { "virtual_users": 2 },
              "request_types": [ { "name": "home", "method": "GET", "url": "/", "frequency": 100, "think_time_ms": 50 } ] }
            """)
        let other = try SpawnedAlv(["run", long, "--target", fastURL, "--workers", "0", "--db", db, "--no-dashboard"])
        defer { _ = other }
        // When the other process has made its run's row, and when the live page first names that run.
        let store = try MetricsStore(database: try SQLiteDatabase(path: db))
        var recorded: (id: String, at: Date)?
        var shown: Date?
        var counting = false
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, shown == nil || !counting {
            if recorded == nil, let id = try store.newestRunning(), ![fast, slow, third].contains(id) { recorded = (id, Date()) }
            if let recorded, let status = DashboardTests.get(base + "/api/status", token: Self.token),
               let object = try? JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any], object["run_id"] as? String == recorded.id {
                if shown == nil { shown = Date() }
                counting = (object["requests_total"] as? Int ?? 0) > 0
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let run = try #require(recorded, "the other process recorded no run within 30 s")
        let appeared = try #require(shown, "the live page never named run \(run.id)")
        #expect(appeared.timeIntervalSince(run.at) < 2, "live \(appeared.timeIntervalSince(run.at)) s after the run's row")
        #expect(counting, "the live page shows requests of the followed run")
        let once = try #require(DashboardTests.get(base + "/events?once=1", token: Self.token))
        #expect(once.contains("Latency from intended send time"))
    }
}

extension ServeTests {
    /// Starting a stored profile from the server: refused without the token or from another site's page; with
    /// the token it runs to completion in the same store, and the start is an event there.
    @Test func startingAProfileNeedsTheTokenAndRunsToCompletion() async throws {
        let dir = TemporaryDirectory()
        let db = dir.file("alv.db")
        let (target, url) = try SpawnedAlv.target()
        defer { _ = target }
        _ = try AlvBinary.run(["vector", "add", Fixtures.path("config/vectors/smoke.json"), "--db", db])
        let profile = dir.write("p.json", #"{ "profile_id": "from-the-page", "name": "From the page", "duration_sec": 3, "vector_sequence": ["smoke"] }"#)
        #expect(try AlvBinary.run(["profile", "add", profile, "--db", db]).status == 0)
        let port = freePort()
        let serve = try SpawnedAlv(["serve", "--listen", "127.0.0.1:\(port)", "--db", db, "--token-file", dir.write("token", Self.token + "\n")])
        defer { _ = serve }
        #expect(waitForListener(port: port))
        let base = "http://127.0.0.1:\(port)"
        let body = #"{"input": "from-the-page", "target": "\#(url)"}"#
        let json = ["-X", "POST", "-H", "Content-Type: application/json", "--data", body]
        #expect(try DashboardTests.curl(json + [base + "/api/runs"]).0 == "401")
        #expect(try DashboardTests.curl(json + ["-H", "Authorization: Bearer \(Self.token)", "-H", "Origin: http://evil.example", base + "/api/runs"]).0 == "403")
        let unknown = try DashboardTests.curl(["-X", "POST", "-H", "Content-Type: application/json", "--data", #"{"input": "no-such", "target": "\#(url)"}"#, "-H", "Authorization: Bearer \(Self.token)", base + "/api/runs"], body: true)
        #expect(unknown.0 == "422" && unknown.1.contains("no vector or profile"), "\(unknown)")
        let started = try DashboardTests.curl(json + ["-H", "Authorization: Bearer \(Self.token)", base + "/api/runs"], body: true)
        #expect(started.0 == "201", "\(started)")
        let busy = try DashboardTests.curl(json + ["-H", "Authorization: Bearer \(Self.token)", base + "/api/runs"]).0
        #expect(busy == "409")
        // The child run completes in the server's store.
        let store = try MetricsStore(database: try SQLiteDatabase(path: db))
        var completed: MetricsStore.RunRecord?
        let deadline = Date().addingTimeInterval(40)
        while Date() < deadline, completed == nil {
            if let id = try store.runIDs(limit: 5).first, let record = try store.run(id), record.profileID == "from-the-page", record.status == "completed" { completed = record }
            try await Task.sleep(for: .milliseconds(300))
        }
        let record = try #require(completed, "the profile started from the server did not complete within 40 s")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data((record.summaryJSON ?? "").utf8)) as? [String: Any])
        #expect((summary["requests_total"] as? Int ?? 0) > 0)
        let events = try SQLiteDatabase(path: db).prepare("SELECT kind FROM events WHERE run_id = 'serve'")
        var kinds: [String] = []
        while try events.step() { kinds.append(events.string(0) ?? "") }
        #expect(kinds == ["ui_run_started"], "\(kinds)")
        #expect(try DashboardTests.curl(["-X", "POST", "-H", "Content-Type: application/json", "--data", "{}", "-H", "Authorization: Bearer \(Self.token)", base + "/api/runs/stop"]).0 == "409")
    }
}

extension ServeTests {
    /// The live page's rates by request type add up to "all" every second, its first frame comes with the
    /// page (charts before any event), and the stored series agree the same way through the API.
    @Test func ratesByTypeSumToAllLiveAndStored() async throws {
        let dir = TemporaryDirectory()
        let (target, url) = try SpawnedAlv.target()
        defer { _ = target }
        let vector = dir.write("v.json", """
            { "vector_id": "sums", "name": "Sums", "duration_sec": 10, "load": { "target_rps": 60 },
              "thresholds": { "http_errors": "rate<0.01", "latency_p99_ms": "<0.001" },
              "request_types": [ { "name": "a", "method": "GET", "url": "/a", "frequency": 70 }, { "name": "b", "method": "GET", "url": "/b", "frequency": 30 } ] }
            """)
        let port = freePort()
        let tokenFile = dir.write("token", Self.token + "\n")
        let db = dir.file("alv.db")
        let run = try SpawnedAlv(["run", vector, "--target", url, "--workers", "0", "--dashboard", "127.0.0.1:\(port)", "--dashboard-token-file", tokenFile, "--db", db, "--json"])
        let base = "http://127.0.0.1:\(port)"
        var rates: [[String: Any]] = []
        var types: [[String: Any]] = []
        var thresholds: [[String: Any]] = []
        var inFlight: Int?
        var plannedRPS: String?
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, rates.filter({ !(($0["types"] as? [String: Any]) ?? [:]).isEmpty }).count < 3 {
            if let text = DashboardTests.get(base + "/events?once=1", token: Self.token),
               let line = text.split(separator: "\n").first(where: { $0.hasPrefix("data: {\"") }),
               let object = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any] {
                rates = object["rates"] as? [[String: Any]] ?? []
                types = object["types"] as? [[String: Any]] ?? []
                thresholds = object["thresholds"] as? [[String: Any]] ?? []
                inFlight = object["in_flight"] as? Int
                plannedRPS = object["planned_rps"] as? String
            }
            try await Task.sleep(for: .milliseconds(300))
        }
        let typed = rates.filter { !(($0["types"] as? [String: Any]) ?? [:]).isEmpty }
        #expect(typed.count >= 3, "\(rates)")
        for point in typed {
            let sum = (point["types"] as? [String: Int] ?? [:]).values.reduce(0, +)
            #expect(point["all"] as? Int == sum, "\(point)")
        }
        #expect(Set(types.compactMap { $0["name"] as? String }) == ["sums/a", "sums/b"], "\(types)")
        #expect(inFlight.map { $0 >= 0 && $0 < 60 } == true && plannedRPS == "60", "in flight \(String(describing: inFlight)), planned \(String(describing: plannedRPS))")
        // Thresholds stand live: the error rate passes, a p99 under a microsecond cannot.
        #expect(thresholds.first { ($0["name"] as? String ?? "").contains("http_errors") }?["passed"] as? Bool == true, "\(thresholds)")
        #expect(thresholds.first { ($0["name"] as? String ?? "").contains("latency_p99_ms") }?["passed"] as? Bool == false, "\(thresholds)")
        // The first frame: with the session cookie, the page itself carries charts.
        let page = try DashboardTests.curl(["-H", "Cookie: alv_session=\(Self.token)", base + "/"], body: true)
        #expect(page.0 == "200" && page.1.contains("id=\"first-frame\"") && page.1.contains("<svg"), "\(page.1.prefix(500))")
        let bare = try DashboardTests.curl([base + "/"], body: true)
        #expect(!bare.1.contains("id=\"first-frame\""), "without the cookie the page holds no data")

        // Stored: the report's per-type seconds add up to the API's merged seconds.
        var output = ""
        while let line = run.readLine() { output += line + "\n" }
        run.process.waitUntilExit()
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        let id = try #require(summary["run_id"] as? String)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(AlvBinary.run(["report", id, "--format", "json", "--db", db]).stdout.utf8)) as? [String: Any])
        var byType: [Int: Int] = [:]
        for point in report["series"] as? [[String: Any]] ?? [] { byType[point["second"] as? Int ?? 0, default: 0] += point["requests"] as? Int ?? 0 }
        let serve = try SpawnedAlv(["serve", "--listen", "127.0.0.1:\(freePort())", "--db", db, "--token-file", tokenFile])
        _ = serve
        let servePort = Int(serve.process.arguments?[2].split(separator: ":").last ?? "") ?? 0
        #expect(waitForListener(port: servePort))
        let api = try #require(DashboardTests.get("http://127.0.0.1:\(servePort)/api/runs/\(id)/series?step=1", token: Self.token))
        let points = try #require((try JSONSerialization.jsonObject(with: Data(api.utf8)) as? [String: Any])?["points"] as? [[String: Any]])
        #expect(points.count == byType.count && points.count >= 5)
        for point in points { #expect(point["requests"] as? Int == byType[point["second"] as? Int ?? -1], "\(point)") }
    }
}

extension ServeTests {
    /// The repository pages: every vector and profile, a vector's versions, and what changed between two.
    @Test func repositoryPagesShowVersionsAndTheirDiff() throws {
        let dir = TemporaryDirectory()
        let db = dir.file("alv.db")
        let original = try String(contentsOfFile: Fixtures.path("config/vectors/smoke.json"), encoding: .utf8)
        #expect(try AlvBinary.run(["vector", "add", dir.write("smoke.json", original), "--db", db]).status == 0)
        let changed = original.replacingOccurrences(of: "\"duration_sec\": 10", with: "\"duration_sec\": 25")
        #expect(changed != original)
        let second = try AlvBinary.run(["vector", "add", dir.write("smoke2.json", changed), "--db", db])
        // The store also holds the built-in smoke: the number of the version just added.
        let version = try #require(second.stdout.components(separatedBy: "version ").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }, "\(second.stdout)")
        let port = freePort()
        let serve = try SpawnedAlv(["serve", "--listen", "127.0.0.1:\(port)", "--db", db, "--token-file", dir.write("token", Self.token + "\n")])
        defer { _ = serve }
        #expect(waitForListener(port: port))
        let base = "http://127.0.0.1:\(port)"
        let list = try #require(DashboardTests.get(base + "/repository", token: Self.token))
        #expect(list.contains("href=\"/repository/vector/smoke\""))
        let page = try #require(DashboardTests.get(base + "/repository/vector/smoke", token: Self.token))
        #expect(page.contains("version \(version) of \(version)") && page.contains("Changes from version \(version - 1)"), "\(page.components(separatedBy: "<h1>").last?.prefix(400) ?? "")")
        let removed = page.components(separatedBy: "<del>").dropFirst().map { $0.components(separatedBy: "</del>")[0] }
        let added = page.components(separatedBy: "<ins>").dropFirst().map { $0.components(separatedBy: "</ins>")[0] }
        #expect(removed.count == 1 && removed[0].contains("duration_sec") && removed[0].contains("10"), "\(removed)")
        #expect(added.count == 1 && added[0].contains("duration_sec") && added[0].contains("25"), "\(added)")
        #expect(try DashboardTests.curl(["-H", "Authorization: Bearer \(Self.token)", base + "/repository/vector/nothing"]).0 == "404")
    }
}
