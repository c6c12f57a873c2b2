import ALVReport
import ALVRun
import ALVStore
import ArgumentParser
import Foundation

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a report of a stored run: html (self-contained, with charts), json, junit, csv or hgrm; or compare it with a baseline run.",
        discussion: """
            RUN is a run id or "latest". The JSON holds the run summary and the per-second series; the CSV the series; JUnit \
            one test case per threshold; hgrm HdrHistogram's percentile distribution per request type (--out names a \
            directory: all.hgrm and VECTOR.TYPE.hgrm).
            With --baseline RUN2: per request type the change in p50, p95, p99, error rate and throughput, each with a \
            verdict (\(RunComparison.method)); --format text (default), json or html. --fail-on-regression 10% exits 1 when \
            a change is worse by more than that.
            """)

    @Argument(help: ArgumentHelp("A run id, or latest.", valueName: "RUN"))
    var runID: String

    @Option(help: "html, json, junit, csv or hgrm; with --baseline: text, json or html.")
    var format: String?

    @Option(help: ArgumentHelp("The file to write (- for stdout, the default); a directory for hgrm.", valueName: "FILE"))
    var out: String = "-"

    @Option(help: ArgumentHelp("Compare RUN with this run.", valueName: "RUN2"))
    var baseline: String?

    @Option(name: .customLong("fail-on-regression"), help: ArgumentHelp("With --baseline: exit 1 when a p50/p95/p99, error rate or throughput is worse by more than this (10% or 0.1).", valueName: "PERCENT"))
    var failOnRegression: String?

    @OptionGroup var store: StoreOptions

    var regressionLimit: Double? {
        guard let text = failOnRegression else { return nil }
        if text.hasSuffix("%") { return Double(text.dropLast()).map { $0 / 100 } }
        return Double(text)
    }

    func validate() throws {
        if baseline != nil {
            guard ["text", "json", "html"].contains(format ?? "text") else {
                throw ValidationError("--format with --baseline expects text, json or html, got \"\(format ?? "")\"")
            }
            if failOnRegression != nil {
                guard let limit = regressionLimit, limit.isFinite, limit >= 0, limit < 100 else {
                    throw ValidationError("--fail-on-regression expects a share such as 10% or 0.1, got \"\(failOnRegression ?? "")\"")
                }
            }
            return
        }
        if failOnRegression != nil { throw ValidationError("--fail-on-regression goes with --baseline RUN2") }
        guard let format else { throw ValidationError("--format expects html, json, junit, csv or hgrm") }
        guard format == "hgrm" || ReportFormat(rawValue: format) != nil else {
            throw ValidationError("--format expects html, json, junit, csv or hgrm, got \"\(format)\"")
        }
        if format == "hgrm", out == "-" { throw ValidationError("--format hgrm writes one file per request type: --out names a directory") }
    }

    func run() throws {
        let report = try loadReport(runID, db: store.db)
        if let baseline {
            let other = try loadReport(baseline, db: store.db)
            let comparison = RunComparison(run: report, baseline: other)
            let text: String
            switch format ?? "text" {
            case "json": text = try ComparisonReport.json(comparison, failOver: regressionLimit)
            case "html": text = ComparisonReport.html(comparison, run: report, baseline: other)
            default: text = ComparisonReport.text(comparison)
            }
            try emit(text)
            if let limit = regressionLimit {
                let regressions = comparison.regressions(over: limit)
                if !regressions.isEmpty {
                    printError("alv: \(regressions.count) regression\(regressions.count == 1 ? "" : "s") over \(formatNumber(limit * 100))%: " + regressions.map {
                        "\($0.requestType) \($0.metric) \(formatNumber($0.baseline)) → \(formatNumber($0.run)) \($0.unit)"
                    }.joined(separator: "; "))
                    throw ExitCode(1)
                }
            }
            return
        }
        if format == "hgrm" {
            for file in HgrmReport.files(report) { try write(file.text, to: (out as NSString).appendingPathComponent(file.name)) }
            printError("wrote \(report.histograms.count) histograms to \(out)")
            return
        }
        try emit(try ReportFormat(rawValue: format ?? "html")!.render(report))
    }

    private func emit(_ text: String) throws {
        if out == "-" {
            FileHandle.standardOutput.write(Data(text.utf8))
        } else {
            try write(text, to: out)
            printError("wrote \(out)")
        }
    }
}

func loadReport(_ run: String, db: String) throws -> RunReport {
    guard FileManager.default.fileExists(atPath: db) else { throw CLIError.badInput("--db \(db): no such store") }
    do {
        return try RunReport.load(run: run, from: try MetricsStore(database: try SQLiteDatabase(path: db)))
    } catch let error as ReportError {
        throw CLIError.badInput(error.description)
    }
}

func write(_ text: String, to path: String) throws {
    do {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    } catch {
        throw CLIError.badInput("\(path): cannot write (\(error.localizedDescription))")
    }
}

/// Writes all four reports of a run into a directory; returns their paths.
func writeReports(run: String, db: String, directory: String) throws -> [String] {
    let report = try loadReport(run, db: db)
    return try ReportFormat.allCases.map { format in
        let path = (directory as NSString).appendingPathComponent(format.fileName)
        try write(try format.render(report), to: path)
        return path
    }
}
