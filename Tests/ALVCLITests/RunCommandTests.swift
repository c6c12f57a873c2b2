import ALVStore
import ALVTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `alv run` and `alv target` as separate processes talking HTTP over loopback.
@Suite(.serialized) struct RunCommandTests {
    let directory = TemporaryDirectory("alv-run-cli")

    func alv(_ arguments: [String]) throws -> AlvBinary.Result {
        try AlvBinary.run(arguments, in: directory.path, environment: ["ALV_CONFIG_DIR": Fixtures.path("config")])
    }

    func stats(_ url: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(string: url + "/__stats")!)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func vectorFile(rate: Int = 200, seconds: Int = 2, thresholds: String = "") throws -> String {
        directory.write("v.json", #"""
            {"vector_id": "cli", "name": "CLI", "duration_sec": \#(seconds), "load": {"target_rps": \#(rate)}\#(thresholds),
             "request_types": [{"name": "a", "url": "/a", "frequency": 100}]}
            """#)
    }

    @Test func jsonSummaryHasTheFixedKeysAndExactCounts() throws {
        let (target, url) = try SpawnedAlv.target()
        defer { _ = target }
        let result = try alv(["run", try vectorFile(), "--target", url, "--workers", "0", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "stdout: \(result.stdout)")
        for key in ["run_id", "status", "duration_s", "requests_total", "responses", "errors", "dropped", "achieved_rps", "latency_ms",
                    "request_types", "vectors", "workers", "metrics_gaps", "thresholds", "events"] {
            #expect(summary[key] != nil, "missing \(key)")
        }
        let responses = try #require(summary["responses"] as? [String: Int])
        #expect(Set(responses.keys).isSuperset(of: ["2xx", "3xx", "4xx", "5xx"]))
        #expect(Set((summary["errors"] as? [String: Int] ?? [:]).keys).isSuperset(of: ["timeout", "connect", "other"]))
        #expect(Set((summary["latency_ms"] as? [String: Double] ?? [:]).keys).isSuperset(of: ["p50", "p90", "p95", "p99", "max"]))
        let total = try #require(summary["requests_total"] as? Int)
        #expect(total == (try stats(url)["total"] as? Int))
        #expect(total == responses["2xx"])
        #expect(summary["status"] as? String == "completed")
        #expect((summary["vectors"] as? [[String: Any]])?.first?["status"] as? String == "completed")
    }

    /// A login flow through a broker and a worker process: checks travel the wire as their own outcome, the
    /// summary counts them in total and per step, and the target saw every user's own token and cookie.
    @Test(arguments: [true, false])
    func aLoginFlowOnAWorkerCountsItsChecksPerStep(cookies: Bool) throws {
        let (target, url) = try SpawnedAlv.target()
        defer { _ = target }
        var vector = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("config/vectors/login-flow.json")))) as? [String: Any])
        vector["load"] = ["virtual_users": 100]
        vector["duration_sec"] = 4
        vector["cookies"] = cookies
        let file = directory.write("flow.json", String(decoding: try JSONSerialization.data(withJSONObject: vector), as: UTF8.self))
        let result = try alv(["run", file, "--target", url, "--workers", "1", "--no-dashboard", "--json", "--db", directory.file("flow.db")])
        #expect(result.status == (cookies ? 0 : 1), "\(result.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "stdout: \(result.stdout)")
        let types = try #require(summary["request_types"] as? [[String: Any]])
        let byName = Dictionary(uniqueKeysWithValues: types.map { ($0["name"] as? String ?? "", $0) })
        #expect(Set(byName.keys) == ["journey/login", "journey/me", "journey/cart"])
        let cart = try #require(byName["journey/cart"]), login = try #require(byName["journey/login"])
        let sessions = try #require(try stats(url)["sessions"] as? [String: Int])
        let passed = try #require(summary["checks_passed"] as? Int), failed = try #require(summary["checks_failed"] as? Int)
        #expect(passed + failed == summary["requests_total"] as? Int, "every step of this flow checks its response")
        #expect((login["checks_passed"] as? Int ?? 0) > 100)
        #expect(sessions["me_without_token"] == 0 && sessions["me_cookie_mismatch"] == 0, "\(sessions)")
        if cookies {
            #expect(failed == 0 && sessions["cart_without_cookie"] == 0, "\(sessions)")
        } else {
            // Every cart request lacks the cookie, so every one fails its check, and nothing else does.
            #expect(cart["checks_failed"] as? Int == cart["requests_total"] as? Int && failed == cart["requests_total"] as? Int)
            #expect(sessions["cart_without_cookie"] == cart["requests_total"] as? Int)
            #expect((summary["errors"] as? [String: Int])?["check"] == failed)
        }
    }

    /// A run in which nothing succeeded fails with no thresholds at all, and says why with its error samples:
    /// libcurl's message for a transport failure, the status and the body's first bytes for an HTTP error.
    @Test func aRunWhereEveryRequestFailsExitsOneNamingTheTopErrorSample() throws {
        let (target, url) = try SpawnedAlv.target(["--error-rate", "1", "--error-status", "503"])
        defer { _ = target }
        let refused = try alv(["run", try vectorFile(rate: 50, seconds: 1), "--target", url, "--workers", "1", "--no-dashboard", "--json", "--db", directory.file("f.db")])
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("every request failed") && refused.stderr.contains("HTTP 503"), "\(refused.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(refused.stdout.utf8)) as? [String: Any])
        let samples = try #require(summary["error_samples"] as? [[String: Any]])
        #expect(samples.count == 1, "one distinct failure: \(samples)")
        #expect(samples.first?["status"] as? Int == 503 && (samples.first?["body"] as? String)?.contains("injected") == true)
        #expect(samples.first?["count"] as? Int == summary["requests_total"] as? Int)
        // Nothing listens on the port: libcurl's own text names what happened.
        let port = freePort()
        let unreachable = try alv(["run", try vectorFile(rate: 20, seconds: 1), "--target", "http://127.0.0.1:\(port)", "--workers", "0", "--no-dashboard", "--json", "--db", directory.file("f.db")])
        #expect(unreachable.status == 1)
        let message = try #require(((try JSONSerialization.jsonObject(with: Data(unreachable.stdout.utf8)) as? [String: Any])?["error_samples"] as? [[String: Any]])?.first?["message"] as? String)
        #expect(message.contains("port \(port)") && message.contains("onnect"), "\(message)")
    }

    /// Thresholds narrowed by tag judge only their request types (a flow's steps by its name), `checks` is the
    /// share of checks passed, and `abort_on_fail` ends the run soon after the breach, past its delay.
    @Test func thresholdsByTagAndAbortOnFail() throws {
        let config = directory.write("target.json", #"""
            {"latency_ms": {"min": 1, "max": 2}, "routes": [{"path": "/slow", "latency_ms": {"min": 60, "max": 80}},
             {"path": "/broken", "schedule": [{"from_sec": 0, "to_sec": 1000, "error_rate": 1, "error_status": 500}]}]}
            """#)
        let (target, url) = try SpawnedAlv.target(["--config", config])
        defer { _ = target }
        func vector(_ thresholds: String, seconds: Int = 3) -> String {
            directory.write("t.json", #"""
                {"vector_id": "tags", "name": "Tags", "duration_sec": \#(seconds), "load": {"target_rps": 60}, "thresholds": {\#(thresholds)},
                 "request_types": [{"name": "fast", "url": "/fast", "frequency": 40},
                                   {"name": "slow", "url": "/slow", "frequency": 30, "expect": {"max_ms": 1000}},
                                   {"name": "flow", "frequency": 30, "steps": [{"name": "a", "url": "/fast", "expect": {"status": [200]}}, {"name": "b", "url": "/broken", "expect": {"status": [200]}}]}]}
                """#)
        }
        func run(_ file: String) throws -> (AlvBinary.Result, [String: Any], [String: [String: Any]]) {
            let result = try alv(["run", file, "--target", url, "--workers", "0", "--no-dashboard", "--json", "--db", directory.file("t.db")])
            let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stderr)")
            let thresholds = (summary["thresholds"] as? [[String: Any]] ?? []).reduce(into: [String: [String: Any]]()) { $0[$1["name"] as? String ?? ""] = $1 }
            return (result, summary, thresholds)
        }
        let (passing, _, judged) = try run(vector(#""latency_p95_ms{request_type:fast}": "<50", "latency_p95_ms{request_type:slow}": ">50", "http_errors{request_type:fast}": "rate==0", "http_errors{request_type:flow/a}": "rate==0", "http_errors{vector:tags}": "rate>0.1""#))
        #expect(passing.status == 0, "\(judged)")
        #expect(judged.count == 5 && judged.values.allSatisfy { $0["passed"] as? Bool == true }, "\(judged)")
        let (failing, summary, failed) = try run(vector(#""latency_p95_ms{request_type:slow}": "<50", "checks": "rate>0.99", "http_errors{request_type:flow}": "rate<0.01""#))
        #expect(failing.status == 1)
        #expect(failed.values.allSatisfy { $0["passed"] as? Bool == false }, "\(failed)")
        // Checks (fast checks nothing): slow and flow/a pass, flow/b fails, in equal numbers: about 2/3 pass.
        let checks = try #require(failed["checks"]?["value"] as? Double)
        let passed = Double(summary["checks_passed"] as? Int ?? 0), all = passed + Double(summary["checks_failed"] as? Int ?? 0)
        #expect(abs(checks - passed / all) < 1e-6 && checks > 0.55 && checks < 0.8, "checks \(checks)")
        // abort_on_fail: a 60 s run whose threshold fails from the start ends within 2 s of its 2 s delay, aborted.
        let (aborted, abortedSummary, abortedThresholds) = try run(vector(#""http_errors{request_type:flow/b}": {"threshold": "rate<0.5", "abort_on_fail": true, "delay_abort_eval_sec": 2}"#, seconds: 60))
        #expect(aborted.status == 1 && abortedSummary["status"] as? String == "aborted", "\(aborted.stderr)")
        #expect(abortedThresholds["http_errors{request_type:flow/b}"]?["passed"] as? Bool == false)
        let events = abortedSummary["events"] as? [[String: Any]] ?? []
        let abort = try #require(events.first { ($0["kind"] as? String) == "profile_aborted" }, "\(events)")
        #expect("\(abort["detail"] ?? "")".contains("abort_on_fail"))
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let vectorStart = try #require(((abortedSummary["vectors"] as? [[String: Any]])?.first?["started_at"] as? String).flatMap { iso.date(from: $0) })
        let abortedAt = try #require((abort["at"] as? String).flatMap { iso.date(from: $0) })
        // The breach: the first whole second after the delay (the partial first second does not count).
        let breach = vectorStart.addingTimeInterval(2)
        #expect(abortedAt.timeIntervalSince(breach) < 2 + 1, "aborted \(abortedAt.timeIntervalSince(vectorStart)) s after the vector started (delay 2 s)")
    }

    /// `{{env.NAME}}` reads only what `--env` passes, in-process and on workers: a run that does not pass
    /// it is refused before any load with the JSON path and the flag, even when alv's own environment has it.
    @Test func envValuesComeOnlyFromTheEnvFlag() throws {
        let (target, url) = try SpawnedAlv.target()
        defer { _ = target }
        let file = directory.write("env.json", #"{"vector_id": "env", "name": "Env", "duration_sec": 1, "load": {"target_rps": 20}, "request_types": [{"name": "a", "url": "/a", "frequency": 50}, {"name": "s", "url": "/s/{{env.ALV_SECRET}}", "frequency": 50}]}"#)
        func run(_ extra: [String], environment: [String: String] = ["ALV_SECRET": "fromenv"]) throws -> AlvBinary.Result {
            var env = environment
            env["ALV_CONFIG_DIR"] = Fixtures.path("config")
            return try AlvBinary.run(["run", file, "--target", url, "--no-dashboard"] + extra, in: directory.path, environment: env)
        }
        let refused = try run(["--workers", "0"])
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("vector env: request_types[1].url reads {{env.ALV_SECRET}}") && refused.stderr.contains("--env ALV_SECRET"), "\(refused.stderr)")
        for bad in ["1BAD", "A-B=c", ""] {
            let result = try run(["--workers", "0", "--env", bad])
            #expect(result.status == 2 && result.stderr.contains("--env"), "\(bad): \(result.stderr)")
        }
        let unset = try run(["--workers", "0", "--env", "ALV_SECRET"], environment: [:])
        #expect(unset.status == 2 && unset.stderr.contains("ALV_SECRET is not set in this environment"), "\(unset.stderr)")
        #expect(try run(["--workers", "0", "--env", "ALV_SECRET"]).status == 0)
        #expect(try run(["--workers", "1", "--env", "ALV_SECRET=given"]).status == 0)
        let paths = Set((try stats(url)["requests"] as? [String: Int] ?? [:]).keys)
        #expect(paths.contains("GET /s/fromenv") && paths.contains("GET /s/given"), "\(paths)")
        #expect(paths.filter { $0.hasPrefix("GET /s/") }.count == 2, "\(paths)")
    }

    /// A vector run by id says which stored version runs and where it came from, and an absolute request
    /// URL that does not name the target is a warning before any load (127.0.0.2 here: loopback, port 9).
    @Test func aStoredVectorRunSaysItsVersionAndWarnsOfRequestsElsewhere() throws {
        let (target, url) = try SpawnedAlv.target()
        defer { _ = target }
        let file = directory.write("elsewhere.json", #"{"vector_id": "elsewhere", "name": "E", "duration_sec": 1, "load": {"target_rps": 5}, "request_types": [{"name": "here", "url": "/a", "frequency": 50}, {"name": "there", "url": "http://127.0.0.2:9/x/{{seq}}", "frequency": 50}]}"#)
        #expect(try alv(["vector", "add", file]).status == 0)
        let result = try alv(["run", "elsewhere", "--target", url, "--workers", "0", "--no-dashboard"])
        #expect(result.stderr.contains("alv: vector elsewhere version 1, added ") && result.stderr.contains("from \(file)"), "\(result.stderr)")
        #expect(result.stderr.contains("warning: vector elsewhere: request_types[1].url is http://127.0.0.2:9/x/{{seq}}, an absolute URL: its requests go to http://127.0.0.2:9, not to --target \(url)"), "\(result.stderr)")
        #expect(!result.stderr.contains("request_types[0]"), "a path under the target is not warned about")
    }

    @Test func aFailedThresholdExitsOne() throws {
        let (target, url) = try SpawnedAlv.target(["--error-rate", "0.5", "--error-status", "503"])
        defer { _ = target }
        let file = try vectorFile(rate: 100, seconds: 1, thresholds: #", "thresholds": {"http_errors": "rate<0.01"}"#)
        let result = try alv(["run", file, "--target", url])
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("FAIL  cli: http_errors rate<0.01"))
    }

    @Test func aProfileRunsItsVectorsInOrderWithinItsCap() throws {
        let (target, url) = try SpawnedAlv.target()
        defer { _ = target }
        let db = directory.file("run.db")
        for (id, seconds) in [("one", 1), ("two", 5)] {
            let file = directory.write("\(id).json", #"{"vector_id": "\#(id)", "name": "\#(id)", "duration_sec": \#(seconds), "load": {"target_rps": 50}, "request_types": [{"name": "r", "url": "/\#(id)", "frequency": 100}]}"#)
            #expect(try alv(["vector", "add", file, "--db", db]).status == 0)
        }
        let profile = directory.write("p.json", #"{"profile_id": "p", "name": "P", "duration_sec": 3, "transition_delay_sec": 0.5, "vector_sequence": ["one", "two"], "thresholds": {"requests_total": ">10"}}"#)
        let began = Date()
        let result = try alv(["run", profile, "--target", url, "--db", db, "--json", "--workers", "0"])
        let elapsed = Date().timeIntervalSince(began)
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let vectors = try #require(summary["vectors"] as? [[String: Any]])
        #expect(vectors.map { $0["vector_id"] as? String } == ["one", "two"])
        #expect(vectors.map { $0["status"] as? String } == ["completed", "cut"])
        #expect(elapsed < 6, "the 3 s cap was not honoured: \(elapsed) s")
        let counts = try #require(try stats(url)["requests"] as? [String: Int])
        #expect((counts["GET /one"] ?? 0) > 30 && (counts["GET /two"] ?? 0) > 30, "\(counts)")
    }

    @Test func badRunInputIsExitTwo() throws {
        #expect(try alv(["run", "smoke", "--target", "ftp://x"]).status == 2)
        let unknown = try alv(["run", "smokee", "--target", "http://127.0.0.1:9", "--db", directory.file("x.db")])
        #expect(unknown.status == 2 && unknown.stderr.contains("did you mean \"smoke\""), "\(unknown.stderr)")
        let bad = try alv(["run", Fixtures.path("Tests/Fixtures/invalid/vectors/frequency-sum.json"), "--target", "http://127.0.0.1:9"])
        #expect(bad.status == 2 && bad.stderr.contains("sum to 100"))
        #expect(try alv(["run", "smoke", "--target", "http://127.0.0.1:9", "--workers", "many"]).status == 2)
        #expect(try alv(["target", "--latency-ms", "abc"]).status == 2)
    }
}

/// `alv run --workers N` as a user runs it, including its worst end.
@Suite(.serialized) struct DistributedRunTests {
    let directory = TemporaryDirectory("alv-dist")

    @Test func distributedRunCountsExactlyAndStoresTheRun() throws {
        let (target, url) = try SpawnedAlv.target()
        defer { _ = target }
        let file = directory.write("v.json", #"{"vector_id": "d", "name": "D", "duration_sec": 4, "load": {"target_rps": 200}, "request_types": [{"name": "a", "url": "/a", "frequency": 100}]}"#)
        let db = directory.file("d.db")
        let result = try AlvBinary.run(["run", file, "--target", url, "--workers", "2", "--unit-sec", "2", "--db", db, "--json"], in: directory.path)
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let total = try #require(summary["requests_total"] as? Int)
        let stats = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(string: url + "/__stats")!)) as? [String: Any]
        #expect(total == stats?["total"] as? Int)
        #expect((summary["workers"] as? [[String: Any]])?.count == 2)
        #expect(summary["metrics_gaps"] as? Int == 0)
    }

    /// SIGKILL the process that hosts the broker: the SQLite file still opens and holds every second
    /// up to about the last one, and the workers (whose stdin was a pipe from it) exit.
    @Test func killingTheBrokerLeavesAReadableStore() throws {
        let (target, url) = try SpawnedAlv.target()
        defer { _ = target }
        let file = directory.write("k.json", #"{"vector_id": "k", "name": "K", "duration_sec": 30, "load": {"target_rps": 200}, "request_types": [{"name": "a", "url": "/a", "frequency": 100}]}"#)
        let db = directory.file("k.db")
        let process = Process()
        process.executableURL = AlvBinary.url
        process.arguments = ["run", file, "--target", url, "--workers", "2", "--unit-sec", "2", "--db", db]
        let errors = directory.file("stderr")
        _ = FileManager.default.createFile(atPath: errors, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: errors)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: 6)
        let killedAt = Int64(Date().timeIntervalSince1970)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let log = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
        let pids = log.components(separatedBy: "(pids ").dropFirst().first?.prefix { $0 != ")" }.split(separator: " ").compactMap { Int32($0) } ?? []
        #expect(pids.count == 2, "\(log)")

        let reader = try SQLiteDatabase(path: db)
        let statement = try reader.prepare("SELECT COUNT(*), MAX(second), (SELECT status FROM runs LIMIT 1) FROM samples")
        #expect(try statement.step())
        let rows = statement.int(0), lastSecond = Int64(statement.int(1))
        #expect(rows >= 6, "\(rows) rows")
        #expect(killedAt - lastSecond <= 3, "last stored second \(lastSecond), killed at \(killedAt)")
        #expect(statement.string(2) == "running")

        // Workers notice their stdin closing and leave within a few seconds.
        let deadline = Date().addingTimeInterval(5)
        while pids.contains(where: { kill($0, 0) == 0 }) && Date() < deadline { usleep(50_000) }
        for pid in pids where kill(pid, 0) == 0 {
            Issue.record("worker \(pid) outlived the broker")
            kill(pid, SIGKILL)
        }
    }
}

@Suite struct BrokerCommandTests {
    @Test func aNetworkAddressWithoutCurveIsRefused() throws {
        let result = try AlvBinary.run(["broker", "--listen", "0.0.0.0", "--work-port", "0", "--metrics-port", "0", "--control-port", "0", "--db", "/tmp/alv-refuse.db"])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("without CURVE"))
    }

    @Test func keysGenerateWritesAUsablePair() throws {
        let directory = TemporaryDirectory("alv-keys")
        let result = try AlvBinary.run(["keys", "generate", "--out", directory.path, "--name", "w1"])
        #expect(result.status == 0)
        let secret = try String(contentsOfFile: directory.file("w1.key"), encoding: .utf8)
        let pub = try String(contentsOfFile: directory.file("w1.pub"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(secret.contains("public=\(pub)") && pub.count == 40)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory.file("w1.key"))
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func brokerNumbersThatCannotBeAreRefused() throws {
        for (flag, value) in [("--wait-timeout", "nan"), ("--wait-timeout", "-1"), ("--wait-workers", "-5"), ("--unit-sec", "inf"), ("--unit-sec", "nan")] {
            let result = try AlvBinary.run(["broker", "--run", "smoke", "--target", "http://127.0.0.1:9", flag, value, "--db", "/tmp/alv-numbers.db"])
            #expect(result.status == 2 && result.stderr.contains(flag), "\(flag) \(value): \(result.status) \(result.stderr)")
        }
    }

    @Test func keysGenerateFailsLoudlyWhenTheSecretCannotBeWritten() throws {
        let directory = TemporaryDirectory("alv-keys-fail")
        // A directory where the secret key file should go: the write fails.
        try FileManager.default.createDirectory(atPath: directory.file("w1.key"), withIntermediateDirectories: true)
        let result = try AlvBinary.run(["keys", "generate", "--out", directory.path, "--name", "w1"])
        #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("w1.key") && !result.stdout.contains("wrote"), "\(result.stderr)")
    }

    @Test func aStoredVectorWhoseDataFileWentAwayIsNamedAsSuch() throws {
        let directory = TemporaryDirectory("alv-stored-invalid")
        _ = directory.write("users.csv", "name\nada\n")
        let file = directory.write("withdata.json", #"{"vector_id": "withdata", "name": "W", "duration_sec": 1, "load": {"target_rps": 5}, "data_files": {"users": "users.csv"}, "request_types": [{"name": "a", "url": "/u/{{data.users.name}}", "frequency": 100}]}"#)
        let db = directory.file("alv.db")
        var result = try AlvBinary.run(["vector", "add", file, "--db", db])
        #expect(result.status == 0, "\(result.stderr)")
        try FileManager.default.removeItem(atPath: directory.file("users.csv"))
        result = try AlvBinary.run(["run", "withdata", "--target", "http://127.0.0.1:9", "--workers", "0", "--db", db, "--no-dashboard"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("stored vector \"withdata\" version 1 no longer validates") && !result.stderr.contains("built-in"), "\(result.stderr)")
    }
}
