import ALVTesting
import Foundation
import Testing

/// A vector whose load is a forecast of an endpoint's history: the target sees the forecast's shape.
@Suite struct ForecastLoadTests {
    let directory = TemporaryDirectory("alv-forecast-load")
    var db: String { directory.file("alv.db") }

    func alv(_ arguments: [String]) throws -> AlvBinary.Result {
        try AlvBinary.run(arguments, in: directory.path, timeout: 90)
    }

    /// The hourly history, and what the weekly seasonal naive forecasts for the next hours (× 0.1).
    func expectedRates(hours: Int) throws -> [Double] {
        let text = try String(contentsOfFile: Fixtures.path("Tests/Fixtures/forecast/traffic_i94_excerpt.csv"), encoding: .utf8)
        let values = text.split(separator: "\n").dropFirst().compactMap { $0.split(separator: ",").last.flatMap { Double($0) } }
        return (0..<hours).map { values[values.count - 168 + $0] * 0.1 }
    }

    func perSecond(run: String) throws -> [Int] {
        let report = try alv(["report", run, "--format", "csv", "--out", "-", "--db", db])
        return report.stdout.split(separator: "\n").dropFirst().compactMap { line in Int(line.split(separator: ",")[4]) }
    }

    @Test func theRateFollowsTheForecastSecondBySecond() throws {
        let history = Fixtures.path("Tests/Fixtures/forecast/traffic_i94_excerpt.csv")
        let imported = try alv(["history", "import", history, "--endpoint", "checkout", "--db", db])
        #expect(imported.status == 0 && imported.stdout.contains("imported 720 points of 3600 s for endpoint checkout (720 new"), "\(imported.stdout)\(imported.stderr)")
        let again = try alv(["history", "import", history, "--endpoint", "checkout", "--db", db])
        #expect(again.stdout.contains("(0 new, 720 replaced)"))

        // One hour of forecast per second of test, a tenth of the traffic, even arrivals so counts are exact.
        let (target, url) = try SpawnedAlv.target()
        defer { _ = target }
        let vector = directory.write("shaped.json", """
            {"vector_id": "shaped", "name": "checkout as forecast", "duration_sec": 10,
             "load": {"forecast": {"history": "endpoint:checkout", "horizon_sec": 43200, "time_scale": 3600, "scale": 0.1, "model": "snaive"}, "arrival": "uniform"},
             "request_types": [{"name": "get", "url": "/", "frequency": 100}]}
            """)
        let shown = try alv(["vector", "validate", vector])
        #expect(shown.stdout.contains("forecast of endpoint:checkout (snaive, 43200 s ahead, ×0.1, 3600 s per second)"), "\(shown.stdout)")
        let result = try alv(["run", vector, "--target", url, "--workers", "0", "--db", db, "--no-dashboard", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let expected = try expectedRates(hours: 10)
        let total = try #require(summary["requests_total"] as? Int)
        #expect(abs(Double(total) - expected.reduce(0, +)) < 0.02 * expected.reduce(0, +) + 5, "\(total) vs \(expected.reduce(0, +))")
        // Wall-clock seconds straddle the forecast's seconds: each full one lies between its two neighbours' rates.
        let seconds = try perSecond(run: try #require(summary["run_id"] as? String))
        #expect(seconds.count >= 10)
        for (i, count) in seconds.dropFirst().dropLast().enumerated() where i + 1 < expected.count {
            let low = min(expected[i], expected[i + 1]), high = max(expected[i], expected[i + 1])
            #expect(Double(count) >= low - 3 && Double(count) <= high + 3, "second \(i + 1): \(count) not within \(low)…\(high)")
        }

        let missing = directory.write("missing.json", #"{"vector_id": "m", "name": "m", "duration_sec": 5, "load": {"forecast": {"history": "endpoint:nowhere", "horizon_sec": 60}}, "request_types": [{"name": "get", "url": "/", "frequency": 100}]}"#)
        let failed = try alv(["run", missing, "--target", url, "--workers", "0", "--db", db, "--no-dashboard"])
        #expect(failed.status == 2 && failed.stderr.contains("no history for endpoint \"nowhere\""), "\(failed.stderr)")
        let both = directory.write("both.json", #"{"vector_id": "b", "name": "b", "duration_sec": 5, "load": {"target_rps": 5, "forecast": {"history": "x.csv"}}, "request_types": [{"name": "get", "url": "/", "frequency": 100}]}"#)
        let invalid = try alv(["vector", "validate", both])
        #expect(invalid.status == 2 && invalid.stderr.contains("load.forecast") && invalid.stderr.contains("remove \"target_rps\""), "\(invalid.stderr)")
    }
}
