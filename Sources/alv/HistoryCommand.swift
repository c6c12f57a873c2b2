import ALVForecast
import ALVMetrics
import ALVModel
import ALVPrometheus
import ALVReport
import ALVRun
import ALVTemplates
import ALVStore
import ArgumentParser
import Foundation

struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Demand history per endpoint, for forecast-shaped loads (`\"history\": \"endpoint:NAME\"`).",
        subcommands: [HistoryImportCommand.self, HistoryListCommand.self, HistoryAnalyzeCommand.self])
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
        // The first and last seconds of a run are partial (the load starts and stops inside them): left out.
        func whole(_ points: [Int64: Double]) -> [(Int64, Double)] {
            let sorted = points.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            return sorted.count > 2 ? Array(sorted.dropFirst().dropLast()) : []
        }
        for type in rates.keys.sorted() {
            out.append(("\(endpoint)/\(type)", whole(rates[type]!)))
            out.append(("\(endpoint)/\(type)/p95_ms", whole(p95[type]!)))
        }
        let busy = report.targetMetrics.filter(\.isBusyCPU)
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

struct HistoryAnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Seasons, trend and peaks of an endpoint's history, and its capacity curve: rate against p95 latency and the target's CPU.",
        discussion: """
            The latency and CPU series default to NAME/p95_ms and PREFIX/target_cpu_cores (what `alv history import \
            --run RUN --endpoint PREFIX` stores beside PREFIX/TYPE).
            """)

    @Option(help: ArgumentHelp("The endpoint whose rate history to analyse.", valueName: "NAME"))
    var endpoint: String

    @Option(help: ArgumentHelp("The endpoint holding p95 latency in ms at the same timestamps.", valueName: "NAME"))
    var latency: String?

    @Option(help: ArgumentHelp("The endpoint holding the target's CPU in cores busy.", valueName: "NAME"))
    var cpu: String?

    @Option(name: .customLong("p95-limit"), help: ArgumentHelp("The p95 (ms) that counts as too slow (default: twice the p95 at the lowest fifth of rates).", valueName: "MS"))
    var p95Limit: Double?

    @Option(name: .customLong("cpu-limit"), help: ArgumentHelp("The target CPU (cores busy) that counts as saturated.", valueName: "CORES"))
    var cpuLimit: Double?

    @Flag(help: "Print one JSON object.")
    var json = false

    @OptionGroup var store: StoreOptions

    func validate() throws {
        if let p95Limit, !(p95Limit.isFinite && p95Limit > 0) { throw ValidationError("--p95-limit expects milliseconds above 0, got \(p95Limit)") }
        if let cpuLimit, !(cpuLimit.isFinite && cpuLimit > 0) { throw ValidationError("--cpu-limit expects cores above 0, got \(cpuLimit)") }
    }

    func run() throws {
        let metrics: MetricsStore
        do { metrics = try MetricsStore(database: try SQLiteDatabase(path: store.db)) } catch { throw CLIError.runtime("--db \(store.db): \(error)") }
        let points = try metrics.history(endpoint: endpoint)
        guard !points.isEmpty else {
            let known = try metrics.historyEndpoints().map(\.endpoint)
            let hint = closestName(to: endpoint, among: known).map { " (did you mean \"\($0)\"?)" } ?? ""
            throw CLIError.badInput("--endpoint \(endpoint): no history in \(store.db)\(hint); import it with `alv history import`")
        }
        let parent = endpoint.split(separator: "/").dropLast().joined(separator: "/")
        let latencyName = latency ?? endpoint + "/p95_ms"
        let cpuName = cpu ?? [parent.isEmpty ? nil : parent + "/target_cpu_cores", endpoint + "/target_cpu_cores"].compactMap { $0 }
            .first { (try? metrics.history(endpoint: $0).isEmpty == false) ?? false } ?? endpoint + "/target_cpu_cores"
        let latencyPoints = try metrics.history(endpoint: latencyName)
        let cpuPoints = try metrics.history(endpoint: cpuName)
        let a = HistoryAnalysis.analyze(points, latency: latencyPoints, cpu: cpuPoints, p95Limit: p95Limit, cpuLimit: cpuLimit)
        if json {
            func crossing(_ c: HistoryAnalysis.Crossing?) -> Any {
                c.map { ["limit": $0.limit, "at_rate": $0.atRate ?? NSNull(), "highest_rate_under": $0.highestRateUnder ?? NSNull()] as [String: Any] } ?? NSNull()
            }
            let object: [String: Any] = [
                "endpoint": endpoint, "points": a.points, "step_s": a.step, "mean": a.mean, "peak": a.peak,
                "seasons": a.seasons.map { ["steps": $0.steps, "seconds": $0.seconds] },
                "trend": a.trend.map { ["per_day": $0.perDay, "relative_per_day": $0.relativePerDay] as [String: Any] } ?? NSNull(),
                "peak_hour_utc": a.peakHourUTC ?? NSNull(), "peak_weekday": a.peakWeekday.map { HistoryAnalysis.weekdays[$0] } ?? NSNull(),
                "latency_series": latencyPoints.isEmpty ? NSNull() : latencyName, "cpu_series": cpuPoints.isEmpty ? NSNull() : cpuName,
                "capacity": a.capacity.map { bin in
                    ["rate_from": bin.rateFrom, "rate_to": bin.rateTo, "mean_rate": bin.meanRate, "samples": bin.samples,
                     "p95_ms": bin.p95Ms ?? NSNull(), "cpu_cores": bin.cpuCores ?? NSNull()] as [String: Any]
                },
                "latency_crossing": crossing(a.latencyCrossing), "cpu_crossing": crossing(a.cpuCrossing),
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        func f(_ v: Double) -> String { formatNumber((v * 100).rounded() / 100) }
        print("endpoint \(endpoint): \(a.points) points\(a.step > 0 ? " every \(a.step) s" : " (irregular)"), mean \(f(a.mean)), peak \(f(a.peak))")
        if a.step == 0 {
            print("seasons: not analysed (the history has gaps of more than half its steps)")
        } else {
            print("seasons: " + (a.seasons.isEmpty ? "none found" : a.seasons.map { "\($0.steps) steps (\(Self.duration($0.seconds)))" }.joined(separator: ", ")))
        }
        if let t = a.trend {
            // Per day over days of history; per hour (or minute) over less, where a day would extrapolate.
            let span = Double(a.points) * Double(max(1, a.step))
            let (unit, per) = span >= 2 * 86_400 ? ("day", 1.0) : span >= 2 * 3_600 ? ("hour", 1 / 24.0) : ("minute", 1 / 1_440.0)
            print("trend: \(t.perDay >= 0 ? "+" : "")\(f(t.perDay * per)) per \(unit) (\(t.relativePerDay >= 0 ? "+" : "")\(f(t.relativePerDay * per * 100))% of the mean)")
        }
        if let h = a.peakHourUTC { print("peak hour: \(String(format: "%02d", h)):00–\(String(format: "%02d", (h + 1) % 24)):00 UTC") }
        if let d = a.peakWeekday { print("peak day: \(HistoryAnalysis.weekdays[d])") }
        guard !a.capacity.isEmpty else {
            print("capacity: no latency (\(latencyName)) or CPU (\(cpuName)) history at these timestamps; `alv history import --run RUN` stores them")
            return
        }
        print("capacity curve (rate band: median p95, median target CPU):")
        for bin in a.capacity {
            let p95 = bin.p95Ms.map { "p95 \(f($0)) ms" } ?? "p95 –"
            let cores = bin.cpuCores.map { "cpu \(f($0)) cores" } ?? "cpu –"
            print("  \(f(bin.rateFrom))–\(f(bin.rateTo)) req/s (\(bin.samples) s): \(p95), \(cores)")
        }
        for (what, c, unit) in [("p95", a.latencyCrossing, "ms"), ("CPU", a.cpuCrossing, "cores")] {
            guard let c else { continue }
            if let rate = c.atRate {
                print("\(what) crossed \(f(c.limit)) \(unit) from \(f(rate)) req/s" + (c.highestRateUnder.map { "; it held up to \(f($0)) req/s" } ?? ""))
            } else {
                print("\(what) stayed under \(f(c.limit)) \(unit) at every rate seen (up to \(f(a.capacity.last?.rateTo ?? 0)) req/s)")
            }
        }
    }

    static func duration(_ seconds: Int64) -> String {
        switch seconds {
        case let s where s % 604_800 == 0: return "\(s / 604_800) w"
        case let s where s % 86_400 == 0: return "\(s / 86_400) d"
        case let s where s % 3_600 == 0: return "\(s / 3_600) h"
        case let s where s % 60 == 0: return "\(s / 60) min"
        default: return "\(seconds) s"
        }
    }
}
