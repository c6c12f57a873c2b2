import ALVTesting
import Foundation
import Testing

/// `alv forecast` as a user runs it: real data in, CSV or JSON out, and every bad input rejected with exit 2.
@Suite struct ForecastCommandTests {
    let directory = TemporaryDirectory("alv-forecast")
    let history = Fixtures.path("Tests/Fixtures/forecast/traffic_i94_excerpt.csv")

    func alv(_ arguments: [String]) throws -> AlvBinary.Result {
        try AlvBinary.run(["forecast"] + arguments, in: directory.path, timeout: 120)
    }

    @Test func csvHasOneRowPerStepWithNestedIntervals() throws {
        let result = try alv(["--input", history, "--horizon", "24", "--model", "mstl"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.first == "timestamp,mean,lo80,hi80,lo95,hi95")
        #expect(lines.count == 25)
        // The excerpt ends at 2017-05-13 09:00; the forecast starts an hour later.
        #expect(lines[1].hasPrefix("2017-05-13 10:00:00,"))
        #expect(lines[24].hasPrefix("2017-05-14 09:00:00,"))
        for line in lines.dropFirst() {
            let v = line.split(separator: ",").dropFirst().compactMap { Double($0) }
            #expect(v.count == 5)
            #expect(v[3] <= v[1] && v[1] <= v[0] && v[0] <= v[2] && v[2] <= v[4], "\(line)")
            #expect(v[3] >= 0, "demand is clipped at zero")
        }
    }

    @Test func jsonNamesTheChosenModelAndItsFit() throws {
        // No time budget: every candidate is scored, whatever the machine's speed (a debug build is ~10× slower).
        let result = try alv(["--input", history, "--horizon", "6", "--format", "json", "--level", "50,90,99", "--budget", "0"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["method"] as? String == "auto")
        #expect((json["model"] as? String)?.isEmpty == false)
        #expect(json["seasons"] as? [Int] == [24, 168], "daily and weekly seasons are detected")
        let statistics = try #require(json["statistics"] as? [String: Double])
        #expect(statistics["backtest_origins"] == 14)
        #expect(statistics.keys.contains("backtest_mae_mstl") && statistics.keys.contains("backtest_mae_snaive"))
        // What auto tried, in order, how long each took, and what it chose.
        let candidates = try #require(json["candidates"] as? [[String: Any]])
        #expect(candidates.compactMap { $0["name"] as? String } == ["snaive", "window", "mstl"], "\(candidates)")
        #expect(candidates.allSatisfy { ($0["seconds"] as? Double).map { $0 >= 0 } == true && $0["status"] as? String == "scored" && $0["backtest_mae"] is Double }, "\(candidates)")
        let chosen = try #require(json["chosen"] as? [String])
        #expect(!chosen.isEmpty && chosen.allSatisfy { c in candidates.contains { $0["name"] as? String == c } })
        #expect(json["budget_sec"] is NSNull && (json["seconds"] as? Double ?? 0) > 0)
        // The default budget (0.5 s) is said, and whatever it left out says why.
        let budgeted = try alv(["--input", history, "--horizon", "6", "--format", "json"])
        let document = try #require(try JSONSerialization.jsonObject(with: Data(budgeted.stdout.utf8)) as? [String: Any])
        #expect(document["budget_sec"] as? Double == 0.5)
        for candidate in document["candidates"] as? [[String: Any]] ?? [] where candidate["status"] as? String != "scored" {
            #expect((candidate["reason"] as? String)?.isEmpty == false, "\(candidate)")
        }
        let rows = try #require(json["forecast"] as? [[String: Any]])
        #expect(rows.count == 6)
        let first = rows[0]
        let (lo50, hi50, lo99, hi99) = (first["lo50"] as! Double, first["hi50"] as! Double, first["lo99"] as! Double, first["hi99"] as! Double)
        #expect(lo99 < lo50 && hi50 < hi99)
        let series = try #require(json["series"] as? [String: Any])
        #expect(series["step_sec"] as? Int == 3600 && series["length"] as? Int == 720)
    }

    @Test func everyModelRuns() throws {
        for model in ["snaive", "window", "ets", "arima", "mstl", "prophet"] {
            let result = try alv(["--input", history, "--horizon", "3", "--model", model, "--format", "json"])
            #expect(result.status == 0, "\(model): \(result.stderr)")
            let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            #expect((json?["forecast"] as? [Any])?.count == 3, "\(model)")
        }
    }

    @Test func badInputExitsTwoWithAClearMessage() throws {
        let cases: [(String, String, [String])] = [
            ("empty.csv", "", []),
            ("letters.csv", "timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 01:00:00,lots\n", []),
            ("unsorted.csv", "timestamp,value\n2024-01-01 01:00:00,1\n2024-01-01 00:00:00,2\n2024-01-01 02:00:00,3\n", []),
            ("duplicate.csv", "timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:00:00,2\n2024-01-01 01:00:00,3\n", []),
            ("short.csv", (0..<30).map { "\(1_700_000_000 + $0 * 3600),\($0 % 24)" }.joined(separator: "\n"), ["--season", "24"]),
        ]
        let expected = [
            "empty.csv: no observations",
            "letters.csv:3: value 'lots' is not a finite number",
            "unsorted.csv:3: timestamp 2024-01-01 00:00:00 is earlier than line 2's",
            "duplicate.csv:3: timestamp 2024-01-01 00:00:00 repeats line 2",
            "30 values are too little history for a season of 24 steps",
        ]
        for ((name, text, extra), message) in zip(cases, expected) {
            let path = directory.write(name, text)
            let result = try alv(["--input", path] + extra)
            #expect(result.status == 2, "\(name): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains(message), "\(name): \(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
        for (flags, message) in [(["--model", "magic"], "--model expects one of"), (["--level", "80,120"], "--level expects"),
                                 (["--season", "24,x"], "--season expects"), (["--horizon", "0"], "--horizon expects"),
                                 (["--format", "xml"], "--format expects")] {
            let result = try alv(["--input", history] + flags)
            #expect(result.status == 2 && result.stderr.contains(message), "\(flags): \(result.stderr)")
        }
        let missing = try alv(["--input", directory.file("nope.csv")])
        #expect(missing.status == 2 && missing.stderr.contains("nope.csv: cannot read the file"))
    }
}

/// `alv plan simulate` on real demand: the JSON keys ARCHITECTURE.md fixes and the policies' order.
@Suite struct PlanSimulateCommandTests {
    let history = Fixtures.path("Tests/Fixtures/forecast/traffic_i94_excerpt.csv")

    @Test func predictiveUnderProvisionsLessThanReactive() throws {
        var shares: [String: Double] = [:]
        for policy in ["predictive", "reactive", "oracle"] {
            let result = try AlvBinary.run(["plan", "simulate", "--demand", history, "--peak-workers", "100", "--lead-time", "1",
                                            "--policy", policy, "--json"], timeout: 120)
            #expect(result.status == 0, "\(result.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            for key in ["policy", "under_provisioned_share", "under_provisioned_steps_share", "worker_seconds", "oracle_worker_seconds", "cost_vs_oracle"] {
                #expect(json[key] != nil, "\(key) missing")
            }
            #expect(json["policy"] as? String == policy)
            shares[policy] = json["under_provisioned_share"] as? Double
            if policy == "oracle" { #expect(json["cost_vs_oracle"] as? Double == 1) }
        }
        #expect(shares["oracle"] == 0)
        let predictive = try #require(shares["predictive"]), reactive = try #require(shares["reactive"])
        #expect(predictive < reactive / 3, "\(shares)")
        let bad = try AlvBinary.run(["plan", "simulate", "--demand", history, "--lead-time", "1"])
        #expect(bad.status == 2 && bad.stderr.contains("give one of --capacity and --peak-workers"))
    }
}
