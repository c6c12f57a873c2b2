import ALVForecast
import ALVModel
import ALVPrometheus
import ALVReport
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
        abstract: "Import an endpoint's history: from a timestamp,value CSV, a Prometheus range query, or a stored run; re-importing replaces equal timestamps.",
        discussion: """
            alv history import CSV --endpoint NAME
            alv history import --prometheus URL --query PROMQL --start T --end T --step S --endpoint NAME
              (T: seconds since the epoch, RFC 3339, now or now-7d; S: 60, 60s, 5m, 1h. A query giving several \
            series stores each as NAME/<label values>.)
            alv history import --run RUN --endpoint NAME
              (each request type's requests per second as NAME/TYPE and its p95 latency as NAME/TYPE/p95_ms; \
            with --observe data, the target's CPU busy as NAME/target_cpu_cores.)
            """)

    @Argument(help: ArgumentHelp("The history: timestamp,value CSV.", valueName: "CSV"))
    var file: String?

    @Option(help: ArgumentHelp("The endpoint it belongs to (the prefix, for several series).", valueName: "NAME"))
    var endpoint: String

    @Option(help: ArgumentHelp("The value column, by header name or 1-based index.", valueName: "NAME"))
    var column: String?

    @OptionGroup(title: "From Prometheus")
    var source: PrometheusRangeFlags

    @Option(name: .customLong("run"), help: ArgumentHelp("A stored run whose per-second rates and p95 latency become history.", valueName: "RUN"))
    var runID: String?

    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard !endpoint.isEmpty, endpoint.count <= 200, !endpoint.contains(where: { $0.isWhitespace }) else {
            throw ValidationError("--endpoint expects a name without spaces, got \"\(endpoint)\"")
        }
        let sources = [file != nil, source.prometheus != nil, runID != nil].filter { $0 }.count
        guard sources == 1 else { throw ValidationError("give one source: a CSV file, --prometheus URL with --query, or --run RUN") }
    }

    func run() throws {
        let metrics: MetricsStore
        do { metrics = try MetricsStore(database: try SQLiteDatabase(path: store.db)) } catch { throw CLIError.runtime("--db \(store.db): \(error)") }
        if let file {
            let series: TimeSeries
            do { series = try SeriesCSV.read(path: file, column: column) } catch { throw CLIError.badInput(error.description) }
            let points = series.values.indices.map { (series.timestamp(at: $0), series.values[$0]) }
            let added = try metrics.importHistory(endpoint: endpoint, points: points)
            print("imported \(points.count) points of \(series.step) s for endpoint \(endpoint) (\(added) new, \(points.count - added) replaced)"
                  + (series.filledSteps > 0 ? "; \(series.filledSteps) missing steps were interpolated" : ""))
        } else if let prometheus = source.prometheus, let query = source.query {
            let (from, to, step) = try source.range()
            let request = RangeQuery(server: prometheus, query: query, start: from, end: to, step: step)
            let found: [RangeQuery.Series]
            do {
                found = try request.run { done, total in if total > 1 { printError("alv: query_range \(done)/\(total)") } }
            } catch { throw CLIError.runtime("--prometheus \(error.description)") }
            guard !found.isEmpty else { throw CLIError.badInput("--query \(query): Prometheus at \(prometheus) has no series for it between \(from) and \(to)") }
            for (series, name) in zip(found, RangeQuery.endpointNames(found, base: endpoint)) {
                let added = try metrics.importHistory(endpoint: name, points: series.points)
                print("imported \(series.points.count) points of \(step) s for endpoint \(name) (\(added) new, \(series.points.count - added) replaced)")
            }
        } else if let run = runID {
            let report: RunReport
            do { report = try RunReport.load(run: run, from: metrics) } catch { throw CLIError.badInput("--run \(run): \(error)") }
            for (name, points) in RunHistory.series(report, endpoint: endpoint) {
                let added = try metrics.importHistory(endpoint: name, points: points)
                print("imported \(points.count) points of 1 s for endpoint \(name) (\(added) new, \(points.count - added) replaced)")
            }
        }
    }
}

/// A stored run as history: per request type requests per second and p95 latency, and the target's CPU.
enum RunHistory {
    static func series(_ report: RunReport, endpoint: String) -> [(String, [(Int64, Double)])] {
        var rates: [String: [Int64: Double]] = [:], p95: [String: [Int64: Double]] = [:]
        for point in report.series {
            let type = point.requestType
            rates[type, default: [:]][point.second, default: 0] += Double(point.requests)
            p95[type, default: [:]][point.second] = max(p95[type]?[point.second] ?? 0, point.p95)
        }
        var out: [(String, [(Int64, Double)])] = []
        for type in rates.keys.sorted() {
            out.append(("\(endpoint)/\(type)", rates[type]!.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
            out.append(("\(endpoint)/\(type)/p95_ms", p95[type]!.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
        }
        let busy = report.targetMetrics.filter { $0.name == "node_cpu_seconds_total" && !["idle", "iowait", "steal"].contains($0.labels["mode"] ?? "") }
        if !busy.isEmpty {
            var cpu: [Int64: Double] = [:]
            for s in busy { for p in s.points where p.count == 2 { cpu[Int64(p[0].rounded(.down)), default: 0] += p[1] } }
            out.append(("\(endpoint)/target_cpu_cores", cpu.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
        }
        return out
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
