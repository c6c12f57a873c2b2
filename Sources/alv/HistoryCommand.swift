import ALVForecast
import ALVStore
import ArgumentParser
import Foundation

struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Demand history per endpoint, for forecast-shaped loads (`\"history\": \"endpoint:NAME\"`).",
        subcommands: [HistoryImportCommand.self, HistoryListCommand.self])
}

struct HistoryImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import timestamp,value CSV (requests per second) as an endpoint's history; re-importing replaces equal timestamps.")

    @Argument(help: ArgumentHelp("The history: timestamp,value CSV.", valueName: "CSV"))
    var file: String

    @Option(help: ArgumentHelp("The endpoint it belongs to.", valueName: "NAME"))
    var endpoint: String

    @Option(help: ArgumentHelp("The value column, by header name or 1-based index.", valueName: "NAME"))
    var column: String?

    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard !endpoint.isEmpty, endpoint.count <= 200, !endpoint.contains(where: { $0.isWhitespace }) else {
            throw ValidationError("--endpoint expects a name without spaces, got \"\(endpoint)\"")
        }
    }

    func run() throws {
        let series: TimeSeries
        do { series = try SeriesCSV.read(path: file, column: column) } catch { throw CLIError.badInput(error.description) }
        let points = series.values.indices.map { (series.timestamp(at: $0), series.values[$0]) }
        let metrics: MetricsStore
        do { metrics = try MetricsStore(database: try SQLiteDatabase(path: store.db)) } catch { throw CLIError.runtime("--db \(store.db): \(error)") }
        let added = try metrics.importHistory(endpoint: endpoint, points: points)
        print("imported \(points.count) points of \(series.step) s for endpoint \(endpoint) (\(added) new, \(points.count - added) replaced)"
              + (series.filledSteps > 0 ? "; \(series.filledSteps) missing steps were interpolated" : ""))
    }
}

struct HistoryListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Endpoints with stored history.")

    @OptionGroup var store: StoreOptions

    func run() throws {
        let metrics = try MetricsStore(database: try SQLiteDatabase(path: store.db))
        for (endpoint, points) in try metrics.historyEndpoints() { print("\(endpoint)\t\(points) points") }
    }
}
