import ALVTesting
import Foundation
import Testing

/// `alv report --baseline` and `--format hgrm` on real stored runs.
@Suite struct ReportComparisonTests {
    static func run(_ latency: String, db: String, dir: TemporaryDirectory) throws -> String {
        let (target, url) = try SpawnedAlv.target(["--latency-ms", latency])
        defer { _ = target }
        let vector = dir.write("v.json", """
            { "vector_id": "cmp", "name": "Compare", "duration_sec": 8, "load": { "virtual_users": 4 },
              "request_types": [ { "name": "home", "method": "GET", "url": "/", "frequency": 100, "think_time_ms": 20 } ] }
            """)
        let result = try AlvBinary.run(["run", vector, "--target", url, "--workers", "0", "--db", db, "--no-dashboard", "--json"], timeout: 60)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stderr)")
        return try #require(summary["run_id"] as? String)
    }

    @Test func aSlowerTargetIsWorseByItsLatency() throws {
        let dir = TemporaryDirectory()
        let db = dir.file("alv.db")
        let fast = try Self.run("5", db: db, dir: dir)
        let slow = try Self.run("20", db: db, dir: dir)
        let json = try AlvBinary.run(["report", slow, "--baseline", fast, "--format", "json", "--db", db])
        #expect(json.status == 0, "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let rows = try #require(object["rows"] as? [[String: Any]])
        func row(_ type: String, _ metric: String) -> [String: Any]? { rows.first { $0["request_type"] as? String == type && $0["metric"] as? String == metric } }
        for type in ["all", "cmp/home"] {
            let p50 = try #require(row(type, "p50"), "\(rows)")
            let change = try #require(p50["change"] as? Double)
            #expect(change > 12 && change < 18, "p50 change \(change) ms")
            #expect(p50["verdict"] as? String == "worse")
            #expect(row(type, "error rate")?["verdict"] as? String == "same")
            // Closed users that wait 4× longer send fewer requests.
            #expect(row(type, "throughput")?["verdict"] as? String == "worse")
        }
        #expect((object["method"] as? String ?? "").contains("Mann–Whitney"))

        let gate = try AlvBinary.run(["report", slow, "--baseline", fast, "--fail-on-regression", "10%", "--db", db])
        #expect(gate.status == 1 && gate.stderr.contains("regression"), "\(gate.status) \(gate.stderr)")
        #expect(gate.stdout.contains("worse"))
        let reverse = try AlvBinary.run(["report", fast, "--baseline", slow, "--fail-on-regression", "10%", "--db", db])
        #expect(reverse.status == 0, "\(reverse.stdout) \(reverse.stderr)")
        #expect(reverse.stdout.contains("better"))
        let same = try AlvBinary.run(["report", fast, "--baseline", fast, "--format", "json", "--fail-on-regression", "0.1", "--db", db])
        #expect(same.status == 0 && !same.stdout.contains("\"worse\"") && !same.stdout.contains("\"better\""), "\(same.stdout)")
        let html = try AlvBinary.run(["report", slow, "--baseline", fast, "--format", "html", "--out", dir.file("cmp.html"), "--db", db])
        #expect(html.status == 0)
        let page = try String(contentsOfFile: dir.file("cmp.html"), encoding: .utf8)
        #expect(page.contains("class=\"worse\"") && page.contains("baseline p50"))
        let bad = try AlvBinary.run(["report", slow, "--baseline", fast, "--fail-on-regression", "ten", "--db", db])
        #expect(bad.status == 2 && bad.stderr.contains("--fail-on-regression expects"), "\(bad.stderr)")
    }

    /// The `.hgrm` files parse as HdrHistogram's percentile distribution and agree with the report's p99; the
    /// HTML report has the merged latency, the distribution and the configuration.
    @Test func hgrmAndTheReportsNewSections() throws {
        let dir = TemporaryDirectory()
        let db = dir.file("alv.db")
        let id = try Self.run("2-8", db: db, dir: dir)
        let written = try AlvBinary.run(["report", id, "--format", "hgrm", "--out", dir.file("hgrm"), "--db", db])
        #expect(written.status == 0, "\(written.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.file("hgrm/cmp.home.hgrm")))
        let text = try String(contentsOfFile: dir.file("hgrm/all.hgrm"), encoding: .utf8)
        var rows: [(value: Double, percentile: Double, count: Int)] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let columns = line.split(separator: " ")
            guard columns.count >= 3, let value = Double(columns[0]), let percentile = Double(columns[1]), let count = Int(columns[2]) else { continue }
            rows.append((value, percentile, count))
        }
        #expect(rows.count > 20)
        #expect(zip(rows, rows.dropFirst()).allSatisfy { $0.percentile <= $1.percentile && $0.value <= $1.value && $0.count <= $1.count })
        #expect(rows.last?.percentile == 1)
        #expect(text.contains("#[Mean    =") && text.contains("Total count    ="))
        let json = try AlvBinary.run(["report", id, "--format", "json", "--db", db])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let p99 = try #require((report["latency_ms"] as? [String: Any])?["p99"] as? Double)
        let row99 = try #require(rows.first { $0.percentile == 0.99 })
        #expect(abs(row99.value - p99) < 0.0005, "hgrm 99% \(row99.value) ms, report p99 \(p99) ms")
        let total = try #require(report["requests_total"] as? Int)
        #expect(rows.last?.count == total)
        let configuration = try #require(report["configuration"] as? [String: Any])
        #expect((configuration["seed"] as? String).flatMap { UInt64($0) } != nil && configuration["alv_version"] as? String != nil, "\(configuration)")

        let html = try AlvBinary.run(["report", id, "--format", "html", "--db", db])
        for section in ["Latency of all request types merged", "Latency distribution", "Configuration", "Throughput: bytes per second", "99.9%"] {
            #expect(html.stdout.contains(section), "\(section)")
        }
    }
}
