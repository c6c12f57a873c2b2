import ALVDashboard
import ALVForecast
import ALVModel
import ALVPrometheus
import ALVRun
import ALVStore
import ArgumentParser
import Foundation
import Synchronization

/// Prometheus beside a run: where its series go (remote write) and which of the target's metrics to scrape.
struct PrometheusFlags: ParsableArguments {
    @Option(name: .customLong("remote-write"), help: ArgumentHelp("Send the run's series to this Prometheus remote-write URL once a second (overrides the profile's remote_write).", valueName: "URL"))
    var remoteWrite: String?

    @Option(help: ArgumentHelp("Scrape these Prometheus endpoints of the target's side each second during the run, comma-separated (adds to the profile's observe).", valueName: "URL[,URL]"))
    var observe: String?

    @Option(name: .customLong("observe-metrics"), help: ArgumentHelp("Metric names to keep from --observe, comma-separated (default: CPU and memory of node_exporter and of the process).", valueName: "NAME[,NAME]"))
    var observeMetrics: String?

    var observeURLs: [String] { observe.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } } ?? [] }
    var observeMetricNames: [String] { observeMetrics.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } } ?? [] }

    func validate() throws {
        if observe != nil, observeURLs.isEmpty { throw ValidationError("--observe expects one or more metrics URLs separated by commas, such as http://127.0.0.1:9100/metrics") }
        for url in observeURLs {
            if let problem = ProfileValidator.httpURLProblem(url) { throw ValidationError("--observe expects metrics URLs such as http://127.0.0.1:9100/metrics: \(problem)") }
        }
        for name in observeMetricNames where !ProfileValidator.isMetricName(name) {
            throw ValidationError("--observe-metrics expects Prometheus metric names ([a-zA-Z_:][a-zA-Z0-9_:]*), got \"\(name)\"")
        }
        if let remoteWrite, let problem = ProfileValidator.httpURLProblem(remoteWrite) {
            throw ValidationError("--remote-write expects a URL such as http://127.0.0.1:9090/api/v1/write: \(problem)")
        }
    }

    /// The remote-write URL: the flag, else the profile's.
    func remoteWriteURL(_ plan: RunPlan) -> String? { remoteWrite ?? plan.profile?.remoteWrite }
}

/// What runs beside a run and reports into its summary: the remote writer and the target's scrapes.
final class RunExports {
    private let writer: RemoteWriter?
    private let observer: TargetObserver?
    private let observerEvents = EventLog()

    /// Events raised on the observer's thread, read once it has stopped.
    final class EventLog: Sendable {
        let events = Mutex<[RunSummary.Event]>([])
    }

    init(flags: PrometheusFlags, plan: RunPlan, feed: LiveFeed, log: @escaping @Sendable (String) -> Void) {
        if let url = flags.remoteWriteURL(plan) {
            let writer = RemoteWriter(.init(url: url), sample: { LiveSeries.current(feed)?.flatMap(\.series) }) { message in
                log(message)
                feed.event(.init(at: isoTimestamp(), kind: "remote_write", detail: ["message": .string(message)]))
            }
            writer.start()
            self.writer = writer
        } else {
            writer = nil
        }
        let urls = (plan.profile?.observe?.prometheus ?? []) + flags.observeURLs
        if urls.isEmpty {
            observer = nil
        } else {
            let metrics = flags.observeMetricNames.isEmpty ? plan.profile?.observe?.metrics ?? [] : flags.observeMetricNames
            let events = observerEvents
            let observer = TargetObserver(.init(urls: Array(NSOrderedSet(array: urls)) as? [String] ?? urls, metrics: metrics)) { kind, detail in
                let event = RunSummary.Event(at: isoTimestamp(), kind: kind, detail: detail.mapValues { .string($0) })
                events.events.withLock { $0.append(event) }
                feed.event(event)
                log(kind == "observe_failed" ? "scraping \(detail["url"] ?? "") failed (\(detail["error"] ?? "")); the run goes on" : "scraping \(detail["url"] ?? "") works again")
            }
            feed.targetMetrics { observer.series }
            observer.start()
            self.observer = observer
        }
    }

    /// Flushes what is left and puts the counts and the run's configuration in the summary (and the stored one).
    func finish(_ summary: inout RunSummary, db: String, plan: RunPlan, seed: UInt64, workers: Int) {
        summary.configuration = .init(alvVersion: Alv.version, seed: String(seed), workers: workers, vectors: plan.steps.map { step in
            let v = step.vector
            let load: String
            switch v.load {
            case .open(let rate, let arrival, _): load = "\(formatNumber(rate)) req/s (\(arrival.rawValue))" + (v.forecast != nil ? ", from a forecast" : "")
            case .closed(let users): load = "\(users) virtual users"
            }
            return .init(vectorID: v.vectorID, name: v.name, load: load, durationSec: v.durationSec, rampUpTimeSec: v.rampUpTimeSec, requestTypes: v.requestTypes.map(\.name))
        })
        let store = try? MetricsStore(database: try SQLiteDatabase(path: db))
        if let observer {
            let series = observer.stop()
            let events = observerEvents.events.withLock { $0 }
            summary.events += events
            do {
                try store?.saveTargetSeries(run: summary.runID, series)
                for event in events { store?.event(run: summary.runID, kind: event.kind, detailJSON: event.detailJSON) }
                try store?.flush()
            } catch {
                printError("alv: the target's metrics could not be stored in \(db): \(error)")
            }
        }
        if let writer {
            let counts = writer.finish()
            summary.remoteWrite = .init(url: writer.configuration.url, sent: counts.sent, failed: counts.failed, dropped: counts.dropped)
        }
        if let store, let data = try? summary.jsonData() {
            try? store.updateSummary(summary.runID, summaryJSON: String(decoding: data, as: UTF8.self))
        }
    }
}

/// One series of history read from Prometheus, for a forecast.
enum PrometheusHistory {
    /// - Throws: `CLIError.badInput` when the query gives no series or more than one.
    static func series(server: String, query: String, start: Int64, end: Int64, step: Int64) throws -> TimeSeries {
        let found: [RangeQuery.Series]
        do { found = try RangeQuery(server: server, query: query, start: start, end: end, step: step).run() } catch { throw CLIError.runtime(error.description) }
        guard found.count == 1, let series = found.first else {
            throw CLIError.badInput(found.isEmpty
                ? "Prometheus at \(server) has no series for \(query) in the range asked for"
                : "\(query) gives \(found.count) series; a forecast needs one (wrap it in sum(…) or select one with labels)")
        }
        do { return try TimeSeries.regularised(series.points, step: step) } catch { throw CLIError.badInput("\(query): \(error.description)") }
    }
}

/// A Prometheus range query as flags: `--prometheus URL --query PROMQL --start T [--end T] --step S`.
struct PrometheusRangeFlags: ParsableArguments {
    @Option(help: ArgumentHelp("A Prometheus server to read the history from.", valueName: "URL"))
    var prometheus: String?

    @Option(help: ArgumentHelp("With --prometheus: the PromQL expression (for example sum(rate(http_requests_total[5m]))).", valueName: "PROMQL"))
    var query: String?

    @Option(help: ArgumentHelp("With --prometheus: the first instant (seconds since the epoch, RFC 3339, now-7d).", valueName: "T"))
    var start: String?

    @Option(help: ArgumentHelp("With --prometheus: the last instant (default now).", valueName: "T"))
    var end: String?

    @Option(help: ArgumentHelp("With --prometheus: the resolution (60, 60s, 5m, 1h).", valueName: "S"))
    var step: String?

    func validate() throws {
        if let prometheus {
            if let problem = ProfileValidator.httpURLProblem(prometheus) { throw ValidationError("--prometheus expects the server's URL such as http://127.0.0.1:9090: \(problem)") }
            guard let query, !query.isEmpty else { throw ValidationError("--prometheus needs --query PROMQL") }
            _ = try range()
        } else if query != nil || start != nil || end != nil || step != nil {
            throw ValidationError("--query, --start, --end and --step go with --prometheus")
        }
    }

    func range() throws -> (start: Int64, end: Int64, step: Int64) {
        guard let start else { throw ValidationError("--prometheus needs --start (seconds since the epoch, RFC 3339, or now-7d)") }
        guard let from = RangeQuery.parseTime(start) else { throw ValidationError("--start expects seconds since the epoch, an RFC 3339 time or now-7d, got \"\(start)\"") }
        let to: Int64
        if let end {
            guard let t = RangeQuery.parseTime(end) else { throw ValidationError("--end expects seconds since the epoch, an RFC 3339 time or now, got \"\(end)\"") }
            to = t
        } else {
            to = Int64(Date().timeIntervalSince1970)
        }
        guard let step else { throw ValidationError("--prometheus needs --step (60, 60s, 5m, 1h)") }
        guard let s = RangeQuery.parseDuration(step) else { throw ValidationError("--step expects a whole number of seconds or 30s, 5m, 1h, 1d, got \"\(step)\"") }
        guard to >= from else { throw ValidationError("--end (\(to)) is before --start (\(from))") }
        guard (to - from) / s < 10_000_000 else { throw ValidationError("--start to --end at --step \(step) is more than 10 million points") }
        return (from, to, s)
    }
}
