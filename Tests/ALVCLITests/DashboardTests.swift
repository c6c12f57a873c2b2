import ALVTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The live dashboard of `alv run`, checked in a real browser (headless Chromium) and over HTTP.
@Suite(.serialized) struct DashboardTests {
    /// The token the tests' dashboards read from --dashboard-token-file.
    static let token = "dashboard-test-token-0123456789"

    /// The body of a 2xx answer to GET `url` with the token as `Authorization: Bearer` (nil otherwise).
    static func get(_ url: String, token: String? = DashboardTests.token) -> String? {
        let (code, body) = (try? curl((token.map { ["-H", "Authorization: Bearer \($0)"] } ?? []) + [url], body: true)) ?? ("", "")
        return code.hasPrefix("2") ? body : nil
    }

    /// curl's status code for a request (and the body, when `body`), within 5 s.
    static func curl(_ arguments: [String], body: Bool = false) throws -> (String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        let directory = TemporaryDirectory("alv-curl")
        process.arguments = ["-s", "-o", body ? directory.file("body") : "/dev/null", "-w", "%{http_code}", "--max-time", "5"] + arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let code = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (code, body ? ((try? String(contentsOfFile: directory.file("body"), encoding: .utf8)) ?? "") : "")
    }

    /// Without --dashboard-token-file, each run makes a new 128-bit token and prints it in the URL's fragment.
    @Test func aRunPrintsANewTokenInTheDashboardURL() throws {
        let directory = TemporaryDirectory("alv-dash-token")
        let (target, url) = try SpawnedAlv.target()
        defer { _ = target }
        let file = directory.write("v.json", #"{"vector_id": "tok", "name": "Tok", "duration_sec": 1, "load": {"target_rps": 10}, "request_types": [{"name": "a", "url": "/a", "frequency": 100}]}"#)
        var tokens: [String] = []
        for _ in 0..<2 {
            let port = freePort()
            let result = try AlvBinary.run(["run", file, "--target", url, "--workers", "0", "--dashboard", "127.0.0.1:\(port)", "--db", directory.file("d.db")])
            #expect(result.status == 0, "\(result.stderr)")
            let prefix = "dashboard at http://127.0.0.1:\(port)/#token="
            let line = try #require(result.stderr.split(separator: "\n").first { $0.contains(prefix) }, "\(result.stderr)")
            let token = String(line.components(separatedBy: prefix)[1])
            #expect(token.count == 32 && token.allSatisfy(\.isHexDigit), "\(token)")
            tokens.append(token)
        }
        #expect(tokens[0] != tokens[1])
        let short = directory.write("short.token", "tooshort\n")
        let refused = try AlvBinary.run(["run", file, "--target", url, "--workers", "0", "--dashboard-token-file", short, "--db", directory.file("d.db")])
        #expect(refused.status == 2 && refused.stderr.contains("--dashboard-token-file \(short): expected a first line of 16 to 256"), "\(refused.stderr)")
    }

    /// The live page lists a run's error samples while it runs (samples over the wire are RunCommandTests').
    @Test func theLiveFeedCarriesErrorSamples() async throws {
        let directory = TemporaryDirectory("alv-dash-errors")
        let (target, url) = try SpawnedAlv.target(["--error-rate", "1", "--error-status", "503"])
        defer { _ = target }
        let port = freePort()
        let file = directory.write("v.json", #"{"vector_id": "err", "name": "Err", "duration_sec": 90, "load": {"target_rps": 50}, "request_types": [{"name": "a", "url": "/a", "frequency": 100}]}"#)
        let tokenFile = directory.write("dashboard.token", Self.token + "\n")
        let run = try SpawnedAlv(["run", file, "--target", url, "--workers", "0", "--dashboard", "127.0.0.1:\(port)", "--dashboard-token-file", tokenFile, "--db", directory.file("d.db")])
        defer { _ = run }
        var samples: [[String: Any]] = []
        // Generous: the whole suite runs in parallel on two cores.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && samples.isEmpty {
            if let text = Self.get("http://127.0.0.1:\(port)/events?once=1"),
               let line = text.split(separator: "\n").first(where: { $0.hasPrefix("data: {\"") }),
               let object = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any] {
                samples = object["error_samples"] as? [[String: Any]] ?? []
            }
            if samples.isEmpty { try await Task.sleep(for: .milliseconds(300)) }
        }
        let first = try #require(samples.first, "no error sample on the live feed within 60 s")
        #expect(first["request_type"] as? String == "err/a" && first["message"] as? String == "HTTP 503" && first["status"] as? String == "503", "\(first)")
    }

    @Test func theLivePageShowsTheRunInABrowser() async throws {
        let directory = TemporaryDirectory("alv-dash")
        let (target, url) = try SpawnedAlv.target()
        defer { _ = target }
        let port = freePort()
        // Long enough to outlast every live check on a loaded machine; stopped with SIGINT once they are done.
        let file = directory.write("v.json", #"{"vector_id": "dash", "name": "Dash", "duration_sec": 60, "load": {"target_rps": 100}, "request_types": [{"name": "a", "url": "/a", "frequency": 100}]}"#)
        let tokenFile = directory.write("dashboard.token", Self.token + "\n")
        let run = try SpawnedAlv(["run", file, "--target", url, "--workers", "0", "--dashboard", "127.0.0.1:\(port)", "--dashboard-token-file", tokenFile, "--db", directory.file("d.db")])
        let base = "http://127.0.0.1:\(port)"
        let deadline = Date().addingTimeInterval(10)
        var status: [String: Any]? = nil
        while Date() < deadline {
            if let text = Self.get(base + "/api/status"), let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                (object["requests_total"] as? Int ?? 0) > 0 {
                status = object
                break
            }
            usleep(200_000)
        }
        #expect(status?["running"] as? Bool == true, "\(String(describing: status))")
        #expect((status?["run_id"] as? String)?.isEmpty == false, "the live status names its run")

        // Prometheus text: counters and a cumulative histogram.
        let metrics = try #require(Self.get(base + "/metrics"))
        #expect(metrics.contains("# TYPE alv_requests_total counter") && metrics.contains("# TYPE alv_request_duration_seconds histogram"))
        #expect(metrics.contains(#"alv_requests_total{run=""#) && metrics.contains(#"vector="dash",request_type="a",outcome="2xx"}"#), "by vector and request type: \(metrics)")
        #expect(metrics.contains("# TYPE alv_workers gauge"))
        let buckets = metrics.split(separator: "\n").filter { $0.hasPrefix("alv_request_duration_seconds_bucket") }.compactMap { Int($0.split(separator: " ").last ?? "") }
        #expect(buckets.count == 14 && buckets == buckets.sorted() && (buckets.last ?? 0) > 0)
        // Prometheus's own linter accepts the exposition (scripts/test installs Debian's prometheus).
        let promtool = Process()
        promtool.executableURL = URL(fileURLWithPath: "/usr/bin/promtool")
        promtool.arguments = ["check", "metrics"]
        let input = Pipe(), lint = Pipe()
        promtool.standardInput = input
        promtool.standardOutput = lint
        promtool.standardError = lint
        try promtool.run()
        input.fileHandleForWriting.write(Data(metrics.utf8))
        try input.fileHandleForWriting.close()
        let lintOutput = String(decoding: lint.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        promtool.waitUntilExit()
        #expect(promtool.terminationStatus == 0, "promtool: \(lintOutput)")

        // Requests per second by vector and request type on the live page.
        let once = try #require(Self.get(base + "/events?once=1"))
        // (the SVG travels inside JSON, where "/" may be written "\/")
        #expect(once.replacingOccurrences(of: "\\/", with: "/").contains(">dash/a<"), "the rate chart has a line per request type")

        // The series API: buckets of `step` seconds with merged histograms, within a window.
        let runID = try #require(status?["run_id"] as? String)
        try await Task.sleep(for: .seconds(2))
        var seriesText: String? = nil
        for _ in 0..<3 where seriesText == nil { seriesText = Self.get(base + "/api/runs/\(runID)/series?step=2") }
        let series = try #require(seriesText)
        let seriesObject = try #require(try JSONSerialization.jsonObject(with: Data(series.utf8)) as? [String: Any])
        let buckets2 = try #require(seriesObject["points"] as? [[String: Any]])
        #expect(seriesObject["step_sec"] as? Int == 2 && !buckets2.isEmpty)
        #expect(buckets2.allSatisfy { (($0["second"] as? Int) ?? 1) % 2 == 0 }, "buckets start on multiples of the step")
        let firstSecond = try #require(buckets2.first?["second"] as? Int)
        let windowed = try #require(Self.get(base + "/api/runs/\(runID)/series?step=1&from=\(firstSecond)&to=\(firstSecond + 1)"))
        #expect(windowed.components(separatedBy: "\"second\"").count - 1 <= 1, "\(windowed)")
        #expect(Self.get(base + "/api/runs/\(runID)/series?step=0") == nil, "a step of 0 is rejected (400)")

        // Stored runs are listed while the run goes on.
        let runs = try #require(Self.get(base + "/api/runs"))
        #expect(runs.contains("\"status\":\"running\""))

        // The API validates vectors on write and serves the repository.
        func post(_ body: String) async throws -> (Int, [String: Any]) {
            var request = URLRequest(url: URL(string: base + "/api/vectors")!)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue("Bearer \(Self.token)", forHTTPHeaderField: "Authorization")
            request.httpBody = Data(body.utf8)
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as? HTTPURLResponse)?.statusCode ?? 0, (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:])
        }
        let (created, _) = try await post(#"{"vector_id": "api-v", "name": "API", "duration_sec": 5, "load": {"target_rps": 1}, "request_types": [{"name": "a", "url": "/", "frequency": 100}]}"#)
        #expect(created == 201)
        let (rejected, problems) = try await post(#"{"vector_id": "api-v", "name": "API", "duration_sec": -5, "load": {"target_rps": 1}, "request_types": [{"name": "a", "url": "/", "frequency": 90}]}"#)
        #expect(rejected == 422)
        let paths = (problems["diagnostics"] as? [[String: Any]])?.compactMap { $0["path"] as? String } ?? []
        #expect(Set(paths) == ["duration_sec", "request_types"], "\(problems)")
        // Doors a page on another site would use: a text/plain POST (no preflight), a foreign Origin, a rebound
        // Host name. Each is refused, and nothing is stored.
        let bearer = ["-H", "Authorization: Bearer \(Self.token)"]
        func curl(_ arguments: [String]) throws -> String { try Self.curl(bearer + arguments).0 }
        // The token, on loopback too: none, a wrong one, one in the query string (where logs and Referer
        // headers keep it) are 401; the page itself (no data, no token in it) is served to anyone.
        #expect(try Self.curl([base + "/api/status"]).0 == "401")
        #expect(try Self.curl(["-H", "Authorization: Bearer \(Self.token.dropLast())x", base + "/api/status"]).0 == "401")
        #expect(try Self.curl([base + "/api/status?token=\(Self.token)"]).0 == "401")
        #expect(try Self.curl([base + "/events?once=1&token=\(Self.token)"]).0 == "401")
        #expect(try Self.curl(["-H", "Authorization: \(Self.token)", base + "/metrics"]).0 == "401")
        let page = try Self.curl([base + "/"], body: true)
        #expect(page.0 == "200" && page.1.contains("<h1>alv</h1>") && !page.1.contains(Self.token))
        #expect(try Self.curl(["-X", "POST", "-H", "Content-Type: application/json", "--data", "{}", base + "/api/vectors"]).0 == "401")
        let evil = #"{"vector_id": "evil", "name": "E", "duration_sec": 5, "load": {"target_rps": 1}, "request_types": [{"name": "a", "url": "/", "frequency": 100}]}"#
        #expect(try curl(["-X", "POST", "-H", "Content-Type: text/plain", "--data", evil, base + "/api/vectors"]) == "415")
        #expect(try curl(["-X", "POST", "-H", "Content-Type: application/json", "-H", "Origin: http://evil.example", "--data", evil, base + "/api/vectors"]) == "403")
        #expect(try curl(["-H", "Host: evil.example:\(port)", base + "/api/status"]) == "421")
        #expect(try curl([base + "/api/status"]) == "200")
        #expect(try curl([base + "/api/vectors/evil"]) == "404", "nothing was stored")
        // A posted vector's data files are read under data/ beside the database only, by relative path; a
        // path that leaves it (absolute, '..', a link out) is refused without a byte of the file in the answer.
        let dataDir = directory.file("data")
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        try "name\nposted\n".write(toFile: dataDir + "/users.csv", atomically: true, encoding: .utf8)
        try "secretcolumn\nsecretvalue\n".write(toFile: directory.file("secret.csv"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dataDir + "/link.csv", withDestinationPath: directory.file("secret.csv"))
        func reading(_ id: String, _ path: String) -> String {
            #"{"vector_id": "\#(id)", "name": "D", "duration_sec": 5, "load": {"target_rps": 1}, "data_files": {"f": {"path": "\#(path)"}}, "request_types": [{"name": "a", "url": "/{{data.f.name}}", "frequency": 100}]}"#
        }
        #expect(try await post(reading("data-ok", "users.csv")).0 == 201)
        for (id, path, words) in [("abs", directory.file("secret.csv"), "must be relative"), ("up", "../secret.csv", "must not contain"), ("link", "link.csv", "leads outside"), ("passwd", "/etc/passwd", "must be relative")] {
            let (code, answer) = try await post(reading(id, path))
            let text = String(describing: answer)
            #expect(code == 422 && text.contains(words), "\(path): \(code) \(text)")
            #expect(!text.contains("secretcolumn") && !text.contains("secretvalue") && !text.contains("root:"), "\(path): the answer shows the file: \(text)")
        }
        let undeclared = try await post(#"{"vector_id": "undeclared", "name": "U", "duration_sec": 5, "load": {"target_rps": 1}, "request_types": [{"name": "a", "url": "/{{data./etc/hosts.x}}", "frequency": 100}]}"#)
        #expect(undeclared.0 == 422 && String(describing: undeclared.1).contains("must be relative"), "\(undeclared)")
        // 300 clients that send half a request and wait: the first 256 are held for at most 10 s, the rest
        // closed at once, and then the dashboard answers again.
        let halfOpen = (0..<300).compactMap { _ in Self.halfRequest(port: port) }
        #expect(halfOpen.count == 300)
        usleep(500_000)
        let refusedAtOnce = halfOpen.filter { Self.closedByPeer($0, waitMs: 0) }.count
        #expect(refusedAtOnce >= 300 - 256, "\(refusedAtOnce) closed at once")
        let heldUntil = Date().addingTimeInterval(15)
        while Date() < heldUntil && !halfOpen.allSatisfy({ Self.closedByPeer($0, waitMs: 0) }) { usleep(200_000) }
        #expect(halfOpen.allSatisfy { Self.closedByPeer($0, waitMs: 0) }, "half-sent requests were all closed within 15 s")
        halfOpen.forEach { close($0) }
        // (retried for a while: on a machine running the whole suite, one answer may take more than curl's 5 s)
        var answered = false
        let answerBy = Date().addingTimeInterval(20)
        while !answered && Date() < answerBy { answered = try curl([base + "/api/status"]) == "200" }
        #expect(answered, "the dashboard answers again once the half-open clients are gone")
        let stored = try #require(Self.get(base + "/api/vectors/api-v"))
        #expect(stored.contains("\"version\":1") && stored.contains("\"duration_sec\":5"))

        // Screenshots of the live page and, after the run, of its HTML report, kept as test artifacts.
        let artifacts = Fixtures.path(".build/artifacts")
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        // Let a few seconds of data accumulate so the picture has lines, not single points.
        let enough = Date().addingTimeInterval(5)
        while Date() < enough, let text = Self.get(base + "/api/status"), !text.contains("\"requests_total\":3"), !text.contains("\"requests_total\":4") { usleep(200_000) }
        try Self.screenshot(base + "/?once=1#token=\(Self.token)", to: artifacts + "/dashboard.png")

        // A real browser runs the page's script against the live event stream.
        let html = try Self.dumpDOM(base + "/?once=1#token=\(Self.token)", budgetMs: 4000)
        #expect(html.contains("dash (1/1"), "the status line was not updated: \(html.prefix(600))")
        #expect(html.contains("<svg") && html.contains("Requests per second"))
        // The ALV timeline lists the vector's start; the worker table the in-process generator.
        #expect(html.contains("<td>vector_started</td>") && html.contains("vector_id=dash"), "no timeline in the page")
        #expect(html.contains("<td>local</td>"), "no worker table in the page")
        let requests = html.components(separatedBy: "id=\"requests\">").dropFirst().first?.prefix { $0.isNumber }
        #expect((Int(requests ?? "") ?? 0) > 0)
        // Without the token (no fragment, and a tab of its own) the page says what it needs and shows no data.
        let bareHTML = try Self.dumpDOM(base + "/?once=1", budgetMs: 3000)
        #expect(bareHTML.contains("needs the dashboard's token") && !bareHTML.contains("<svg"), "\(bareHTML.prefix(600))")
        // The charts hold data points: path elements with more than one segment.
        #expect(html.range(of: #"d="M[0-9.]+,[0-9.]+L"#, options: .regularExpression) != nil, "no plotted points")


        // Ctrl-C: the run stops at once, is recorded as aborted (exit 1) and keeps its data for the report.
        kill(run.process.processIdentifier, SIGINT)
        run.process.waitUntilExit()
        #expect(run.process.terminationStatus == 1)
        let report = directory.file("report.html")
        let written = try AlvBinary.run(["report", "latest", "--format", "html", "--out", report, "--db", directory.file("d.db")])
        #expect(written.status == 0, "\(written.stderr)")
        try Self.screenshot("file://" + report, to: artifacts + "/report.png")
        for shot in ["dashboard.png", "report.png"] {
            let size = (try FileManager.default.attributesOfItem(atPath: artifacts + "/" + shot)[.size] as? Int) ?? 0
            #expect(size > 10_000, "\(shot) is \(size) bytes")
        }
    }

    /// A TCP connection to 127.0.0.1:`port` that sent the start of a request and no more.
    static func halfRequest(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { close(fd); return nil }
        let partial = Array("GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n".utf8)
        _ = partial.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        return fd
    }

    /// Whether the peer has closed `fd` (a read returns end of file or an error).
    static func closedByPeer(_ fd: Int32, waitMs: Int32) -> Bool {
        var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&ready, 1, waitMs) > 0 else { return false }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_DONTWAIT)) <= 0
    }

    /// The DOM of `url` once headless Chromium (with a profile of its own) has run its scripts.
    static func dumpDOM(_ url: String, budgetMs: Int) throws -> String {
        let chromium = Process()
        chromium.executableURL = URL(fileURLWithPath: "/usr/bin/chromium")
        let profile = TemporaryDirectory("alv-chromium")
        chromium.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile.path)", "--virtual-time-budget=\(budgetMs)", "--dump-dom", url]
        let dom = Pipe()
        chromium.standardOutput = dom
        chromium.standardError = FileHandle.nullDevice
        try chromium.run()
        let html = String(decoding: dom.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        chromium.waitUntilExit()
        return html
    }

    /// A PNG of `url` from headless Chromium, with a profile directory of its own (a profile still
    /// held by an earlier instance makes Chromium exit without a picture); tried twice.
    static func screenshot(_ url: String, to file: String) throws {
        try? FileManager.default.removeItem(atPath: file)
        for _ in 0..<2 where !FileManager.default.fileExists(atPath: file) {
            let profile = TemporaryDirectory("alv-chromium")
            let chromium = Process()
            chromium.executableURL = URL(fileURLWithPath: "/usr/bin/chromium")
            chromium.arguments = [
                "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=\(profile.path)",
                "--window-size=1100,900", "--virtual-time-budget=2000", "--screenshot=\(file)", url,
            ]
            chromium.standardOutput = FileHandle.nullDevice
            chromium.standardError = FileHandle.nullDevice
            try chromium.run()
            chromium.waitUntilExit()
        }
    }
}
