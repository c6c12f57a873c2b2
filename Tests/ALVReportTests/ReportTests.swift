import ALVLifecycle
import ALVProtocol
import ALVEngine
import ALVModel
import ALVReport
import ALVRun
import ALVStore
import ALVTarget
import ALVTesting
import Foundation
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

/// Runs a short two-vector profile against the live target (503s on one route), stores it, and
/// checks every report format against the stored run.
@Suite(.serialized) struct ReportTests {
    static func storedRun() throws -> (RunReport, RunSummary, TemporaryDirectory) {
        let directory = TemporaryDirectory("alv-report")
        let store = try MetricsStore(database: try SQLiteDatabase(path: directory.file("runs.db")))
        let target = try LiveTarget(TargetConfiguration(routes: [.init(path: "/bad", errorRate: 0.3, errorStatus: 503)]))
        func vector(_ json: String) throws -> RunPlan.Step {
            RunPlan.Step(vector: try #require(VectorValidator.validate(Array(json.utf8), file: nil, baseDirectory: "/").model), dataDirectory: nil)
        }
        let steps = [
            try vector(#"{"vector_id": "a", "name": "A", "duration_sec": 3, "load": {"target_rps": 100}, "request_types": [{"name": "ok", "url": "/ok", "frequency": 80}, {"name": "bad", "url": "/bad", "frequency": 20}], "thresholds": {"http_errors": "rate<0.01"}}"#),
            try vector(#"{"vector_id": "b", "name": "B \"quoted\" <x>", "duration_sec": 2, "load": {"virtual_users": 3}, "request_types": [{"name": "r", "url": "/r", "frequency": 100, "think_time_ms": 50}]}"#),
        ]
        let profile = try #require(ProfileValidator.validate(Array(#"{"profile_id": "rp", "name": "RP", "duration_sec": 30, "vector_sequence": ["a", "b"], "thresholds": {"latency_p99_ms": "<1000"}}"#.utf8), file: nil, knownVectors: nil).model)
        let summary = try InProcessRunner(plan: RunPlan(profile: profile, steps: steps, target: target.url), options: EngineOptions(), store: store).run(seed: 5)
        return (try RunReport.load(run: "latest", from: store), summary, directory)
    }

    @Test func everyFormatReflectsTheStoredRun() throws {
        let (report, summary, _) = try Self.storedRun()
        #expect(report.summary.runID == summary.runID)
        #expect(report.series.map(\.requests).reduce(0, +) == summary.requestsTotal)

        // JSON: the summary's fixed keys at the top level, as `alv run --json` prints them, plus the series.
        let json = try #require(try JSONSerialization.jsonObject(with: Data(try ReportFormat.json.render(report).utf8)) as? [String: Any])
        #expect(json["summary"] == nil)
        #expect(json["requests_total"] as? Int == Int(summary.requestsTotal) && json["run_id"] as? String == summary.runID)
        let runJSON = try #require(try JSONSerialization.jsonObject(with: summary.jsonData()) as? [String: Any])
        #expect(Set(runJSON.keys).isSubset(of: Set(json.keys)), "keys of alv run --json missing from the report: \(Set(runJSON.keys).subtracting(json.keys))")
        #expect(json["format_version"] as? Int == 2)
        #expect((json["series"] as? [[String: Any]])?.count == report.series.count)

        // The JSON report validates against its documented schema (config/schema/report.schema.json).
        let directory = TemporaryDirectory("alv-report-json")
        let jsonFile = directory.write("report.json", try ReportFormat.json.render(report))
        let python = ProcessInfo.processInfo.environment["ALV_PYTHON"] ?? "python3"
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = [python, Fixtures.path("Tests/Fixtures/schema_check.py"), Fixtures.path("config/schema"), "report", jsonFile]
        let output = Pipe()
        check.standardOutput = output
        try check.run()
        let verdict = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        check.waitUntilExit()
        #expect(verdict.contains("\"valid\": true"), "\(verdict)")

        // CSV: a header and one row per second and request type, counts adding up.
        let csv = try ReportFormat.csv.render(report).split(separator: "\n")
        #expect(csv.first?.hasPrefix("second,time,vector_id,request_type,requests,2xx") == true)
        #expect(csv.count == report.series.count + 1)
        let requestsColumn = csv.dropFirst().map { Int($0.split(separator: ",")[4]) ?? -1 }
        #expect(requestsColumn.reduce(0, +) == Int(summary.requestsTotal))

        // JUnit: one test case per threshold and per vector; the failed threshold a failure.
        let junit = try ReportFormat.junit.render(report)
        let cases = XMLCounter(junit)
        #expect(cases.wellFormed)
        #expect(cases.testcases == summary.thresholds.count + summary.vectors.count && summary.thresholds.count == 2)
        #expect(cases.failures == summary.thresholds.filter { !$0.passed }.count && cases.failures == 1)
        #expect(cases.skipped == 0)

        // HTML: self-contained, with charts, tables and the escaped vector name.
        let html = try ReportFormat.html.render(report)
        // Requests, merged latency, failures, bytes per second, and the latency distribution.
        #expect(html.components(separatedBy: "<svg").count - 1 == 5)
        #expect(html.contains("Latency by percentile") && html.contains("<h2>Configuration</h2>"))
        // Hover values: each second of the merged latency chart has a tooltip with its percentiles.
        #expect(html.contains("<title>") && html.range(of: #"<title>[0-9.]+ s\np50: [0-9.]+ ms\np95: "#, options: .regularExpression) != nil)
        #expect(!html.contains("<script") && !html.contains("<link") && !html.contains("src=\"http"))
        #expect(html.contains(summary.runID) && html.contains("http_errors rate&lt;0.01") && html.contains("FAIL"))
        #expect(XMLCounter(html.replacingOccurrences(of: "<!DOCTYPE html>", with: "")).wellFormed, "the HTML should be well-formed XML")
    }

    @Test func aShortenedVectorIsSkippedInJUnitAsTheExitCodeSays() throws {
        let target = try LiveTarget(TargetConfiguration(routes: [.init(path: "/bad", errorRate: 1, errorStatus: 503)]))
        let directory = TemporaryDirectory("alv-report-junit")
        let store = try MetricsStore(database: try SQLiteDatabase(path: directory.file("runs.db")))
        let steps = try ["bad", "good"].map { id in
            let json = #"{"vector_id": "\#(id)", "name": "\#(id)", "duration_sec": 6, "load": {"target_rps": 50}, "request_types": [{"name": "r", "url": "/\#(id)", "frequency": 100}]}"#
            return RunPlan.Step(vector: try #require(VectorValidator.validate(Array(json.utf8), file: nil, baseDirectory: "/").model), dataDirectory: nil)
        }
        let profile = try #require(ProfileValidator.validate(Array(#"{"profile_id": "sj", "name": "SJ", "duration_sec": 30, "vector_sequence": ["bad", "good"], "adjustment": {"error_rate_threshold": 0.5, "window_sec": 1, "consecutive_windows": 2, "action": "skip_next"}}"#.utf8), file: nil, knownVectors: nil).model)
        let summary = try InProcessRunner(plan: RunPlan(profile: profile, steps: steps, target: target.url), options: EngineOptions(), store: store).run(seed: 2)
        #expect(summary.vectors.map(\.status) == ["shortened", "skipped"])
        #expect(summary.status == "completed" && summary.thresholdsPassed, "a shortened vector does not fail the run")
        let cases = XMLCounter(try ReportFormat.junit.render(try RunReport.load(run: summary.runID, from: store)))
        #expect(cases.wellFormed && cases.failures == 0 && cases.skipped == 2 && cases.testcases == 2)
        #expect(summary.events.first?.kind == "run_started" && summary.events.last?.kind == "run_ended", "\(summary.events.map(\.kind))")
    }

    @Test func missingRunsAreReportedClearly() throws {
        let directory = TemporaryDirectory("alv-report-empty")
        let store = try MetricsStore(database: try SQLiteDatabase(path: directory.file("none.db")))
        #expect(throws: ReportError.self) { try RunReport.load(run: "nope", from: store) }
        try store.beginRun("r1", target: "http://127.0.0.1:1", profileID: nil, planJSON: nil)
        do {
            _ = try RunReport.load(run: "r1", from: store)
            Issue.record("a run without a summary loaded")
        } catch let error as ReportError {
            #expect(error.description.contains("still running"))
        }
    }
}

/// Counts test cases and failures, and whether the document parses.
final class XMLCounter: NSObject, XMLParserDelegate {
    var testcases = 0
    var failures = 0
    var skipped = 0
    var wellFormed = false

    init(_ text: String) {
        super.init()
        let parser = XMLParser(data: Data(text.utf8))
        parser.delegate = self
        wellFormed = parser.parse()
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        if name == "testcase" { testcases += 1 }
        if name == "failure" { failures += 1 }
        if name == "skipped" { skipped += 1 }
    }
}
