import ALVReport
import ALVStore
import ArgumentParser
import Foundation

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a report of a stored run: html (self-contained, with charts), json, junit or csv.",
        discussion: "RUN is a run id or \"latest\". The JSON holds the run summary and the per-second series; the CSV the series; JUnit one test case per threshold.")

    @Argument(help: ArgumentHelp("A run id, or latest.", valueName: "RUN"))
    var runID: String

    @Option(help: "html, json, junit or csv.")
    var format: String

    @Option(help: ArgumentHelp("The file to write (- for stdout).", valueName: "FILE"))
    var out: String

    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard ReportFormat(rawValue: format) != nil else {
            throw ValidationError("--format expects html, json, junit or csv, got \"\(format)\"")
        }
    }

    func run() throws {
        let report = try loadReport(runID, db: store.db)
        let text = try ReportFormat(rawValue: format)!.render(report)
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
