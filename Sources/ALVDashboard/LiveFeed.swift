import ALVProtocol
import ALVMetrics
import ALVReport
import ALVRun
import Foundation
import Synchronization

/// What the dashboard shows of the run in progress: fed once a second by the runner or broker,
/// read by HTTP handlers on other threads.
public final class LiveFeed: Sendable {
    struct Point: Sendable {
        var second: Int64
        var requests: UInt64
        var failed: UInt64
        var p50: Double, p95: Double, p99: Double
        /// Workers live, and the planner's target (nil without a planner).
        var workers: Int = 0
        var planned: Int?
        /// Demand a lead time ahead, in workers: the forecast's mean and upper bound.
        var forecast: Double?
        var forecastUpper: Double?
        /// Requests ended this second by "vector/request type" (from the breakdown's running totals).
        var byType: [String: UInt64] = [:]
        /// What the plan asks for in this second (nil when the caller does not know).
        var plannedRPS: Double?
        var plannedUsers: Int?
    }

    /// Running totals by vector and request type, for `/metrics`.
    public typealias Breakdown = @Sendable () -> [(vector: String, requestType: String, metrics: RequestMetrics)]
    /// The run's thresholds as they stand.
    public typealias Thresholds = @Sendable () -> [RunSummary.ThresholdResult]
    /// The target's side scraped so far (`--observe`).
    public typealias Targets = @Sendable () -> [TargetSeries]
    /// The run's error samples so far (the runner's or broker's aggregator).
    public typealias Samples = @Sendable () -> [RunSummary.ErrorSampleSummary]

    struct State: Sendable {
        var runID: String?
        var status: String = "idle"
        var running = false
        var points: [Point] = []
        var totals = OutcomeCounts()
        var latency = LatencyHistogram()
        var finished: String?
        var version = 0
        var events: [RunSummary.Event] = []
        var workers: [RunSummary.WorkerSummary] = []
        var planned: Int?
        var forecast: (mean: Double, upper: Double)?
        var breakdown: Breakdown?
        var sampler: Samples?
        var targets: Targets?
        var thresholdProvider: Thresholds?
        var thresholds: [RunSummary.ThresholdResult] = []
        var samples: [RunSummary.ErrorSampleSummary] = []
        var lastTotals: [String: UInt64] = [:]
        /// Requests handed to the network and ended so far: the difference is in flight.
        var sent: UInt64 = 0
        var completed: UInt64 = 0
        /// The breakdown as read at the last second (for the per-type table).
        var types: [(vector: String, requestType: String, metrics: RequestMetrics)] = []
    }

    private let state = Mutex(State())
    /// The last tick rendered, shared by every event stream until the state's version moves on.
    private let rendered = Mutex<Tick?>(nil)

    /// One `tick` event's data: the status, the charts, outcomes, events and workers.
    struct Tick: Sendable {
        var version: Int
        var payload: String
        /// The run is over: the stream ends after this tick.
        var final: Bool
    }

    public init() {}

    /// Names the run once its id is known.
    public func named(_ runID: String) {
        state.withLock {
            $0.runID = runID
            $0.version += 1
        }
    }

    public func begin(runID: String?) {
        state.withLock {
            let (breakdown, sampler, targets, thresholdProvider) = ($0.breakdown, $0.sampler, $0.targets, $0.thresholdProvider)
            $0 = State()
            $0.breakdown = breakdown
            $0.sampler = sampler
            $0.targets = targets
            $0.thresholdProvider = thresholdProvider
            $0.runID = runID
            $0.running = true
            $0.status = "starting"
            $0.version += 1
        }
    }

    /// One second of the run, all request types merged.
    public func second(_ second: Int64, _ metrics: RequestMetrics, status: String?, planned: (rps: Double, users: Int)? = nil) {
        let failed = metrics.outcomes[.status4xx] + metrics.outcomes[.status5xx] + metrics.outcomes.errors
        var point = Point(
            second: second, requests: metrics.requestsTotal, failed: failed, p50: Double(metrics.latency.value(atPercentile: 50)) / 1000,
            p95: Double(metrics.latency.value(atPercentile: 95)) / 1000, p99: Double(metrics.latency.value(atPercentile: 99)) / 1000)
        point.plannedRPS = planned?.rps
        point.plannedUsers = planned?.users
        let (provider, sampler, judge) = state.withLock { ($0.breakdown, $0.sampler, $0.thresholdProvider) }
        let rows = provider?() ?? []
        let samples = sampler?() ?? []
        let thresholds = judge?() ?? []
        state.withLock {
            $0.samples = samples
            $0.thresholds = thresholds
            for row in rows {
                let key = "\(row.vector)/\(row.requestType)"
                let total = row.metrics.requestsTotal
                point.byType[key] = total &- min(total, $0.lastTotals[key] ?? 0)
                $0.lastTotals[key] = total
            }
            // With a breakdown, "all" is the sum of the types (one source, read at one instant), so the lines add up.
            if !rows.isEmpty { point.requests = point.byType.values.reduce(0, &+) }
            $0.types = rows
            point.workers = $0.workers.filter { !$0.lost }.count
            point.planned = $0.planned
            point.forecast = $0.forecast?.mean
            point.forecastUpper = $0.forecast?.upper
            $0.points.append(point)
            if $0.points.count > 600 { $0.points.removeFirst($0.points.count - 600) }
            $0.totals.add(metrics.outcomes)
            $0.sent &+= metrics.sent
            $0.completed &+= metrics.completed
            $0.latency.merge(metrics.latency)
            if let status { $0.status = status }
            $0.version += 1
        }
    }

    /// A timeline or cluster event, as it happens.
    public func event(_ event: RunSummary.Event) {
        state.withLock {
            if event.kind == "scaling_decision", let after = event.detail["workers_after"]?.int { $0.planned = after }
            $0.events.append(event)
            if $0.events.count > 200 { $0.events.removeFirst($0.events.count - 200) }
            $0.version += 1
        }
    }

    /// Requests ended so far in this run.
    public var requestsTotal: UInt64 { state.withLock { $0.totals.total } }

    /// The planner's demand forecast a lead time ahead, in workers (mean and upper bound of its interval).
    public func forecast(mean: Double, upper: Double) {
        state.withLock { $0.forecast = (mean, upper) }
    }

    /// Where `/metrics` reads totals by vector and request type (the runner's or broker's aggregator).
    public func breakdown(_ provider: @escaping Breakdown) {
        state.withLock { $0.breakdown = provider }
    }

    /// Where the page reads the thresholds' standing.
    public func thresholds(_ provider: @escaping Thresholds) {
        state.withLock { $0.thresholdProvider = provider }
    }

    /// Where the page reads the target's scraped metrics.
    public func targetMetrics(_ provider: @escaping Targets) {
        state.withLock { $0.targets = provider }
    }

    /// Where the page reads the run's error samples.
    public func errorSamples(_ provider: @escaping Samples) {
        state.withLock { $0.sampler = provider }
    }

    /// The worker table (id, host, requests, CPU, memory, lost).
    public func workers(_ workers: [RunSummary.WorkerSummary]) {
        state.withLock { $0.workers = workers }
    }

    public func end(_ summary: RunSummary) {
        state.withLock {
            $0.running = false
            $0.status = "\(summary.status)\(summary.thresholdsPassed ? "" : ", thresholds failed")"
            $0.runID = summary.runID
            $0.finished = summary.runID
            $0.workers = summary.workers
            $0.samples = summary.errorSamples
            $0.thresholds = summary.thresholds
            $0.version += 1
        }
    }

    var snapshot: State { state.withLock { $0 } }

    /// The run whose summary the feed showed last (nil while one runs, or before any).
    public var finishedRun: String? { state.withLock { $0.finished } }

    /// The tick for the state as it is now, rendered at most once per version of it however many
    /// clients ask (two clients racing on a new version may both render it; either result is the same).
    func tick() -> Tick {
        let version = state.withLock { $0.version }
        if let cached = rendered.withLock({ $0 }), cached.version == version { return cached }
        let snapshot = self.snapshot
        let inFlight: UInt64 = snapshot.running ? snapshot.sent &- min(snapshot.sent, snapshot.completed) : 0
        let users: Any = snapshot.points.last?.plannedUsers ?? NSNull()
        let plannedRPS: Any = snapshot.points.last?.plannedRPS.map { formatNumber(($0 * 10).rounded() / 10) } ?? NSNull()
        let payload = jsonText([
            "run_id": snapshot.runID ?? NSNull(), "status": snapshot.status, "running": snapshot.running,
            "requests_total": snapshot.totals.total, "charts": charts(snapshot),
            "outcomes": Dictionary(uniqueKeysWithValues: Outcome.allCases.filter { snapshot.totals[$0] > 0 }.map { ($0.key, snapshot.totals[$0]) }),
            "events": snapshot.events.suffix(30).reversed().map { ["at": $0.at, "kind": $0.kind, "detail": $0.detail.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " · ")] },
            "workers": snapshot.workers.map { ["id": $0.id, "host": $0.host, "requests": $0.requestsTotal, "cpu_s": $0.cpuSeconds, "rss_mb": $0.peakRSSBytes / 1_048_576, "lost": $0.lost] as [String: Any] },
            "report": snapshot.finished.map { "/runs/\($0)" } ?? NSNull(),
            "types": Self.typeRows(snapshot),
            "in_flight": inFlight, "users": users, "planned_rps": plannedRPS,
            "thresholds": snapshot.thresholds.map { t in
                let entry: [String: Any] = ["name": "\(t.vectorID.map { "\($0): " } ?? "")\(t.name) \(t.expression)", "value": formatNumber(t.value), "passed": t.passed]
                return entry
            },
            "rates": Self.rates(snapshot),
            "error_samples": snapshot.samples.prefix(20).map {
                ["request_type": "\($0.vectorID)/\($0.sample.requestType)", "outcome": $0.sample.outcome, "status": $0.sample.status.map { String($0) } ?? "",
                 "count": $0.sample.count, "message": $0.sample.message, "body": $0.sample.body] as [String: Any]
            },
        ])
        let tick = Tick(version: snapshot.version, payload: payload, final: !snapshot.running && snapshot.finished != nil)
        rendered.withLock { if ($0?.version ?? -1) < tick.version { $0 = tick } }
        return tick
    }

    /// The per-type table: totals so far, the last second's rate, percentiles and errors.
    static func typeRows(_ s: State) -> [[String: Any]] {
        let sorted = s.types.sorted { ($0.vector, $0.requestType) < ($1.vector, $1.requestType) }
        return sorted.map { row in
            let key = "\(row.vector)/\(row.requestType)"
            let p: [String] = row.metrics.latency.values(atPercentiles: [50, 95, 99]).map { formatNumber(Double($0) / 1000) }
            let outcomes = row.metrics.outcomes
            let errors: UInt64 = outcomes[.status4xx] + outcomes[.status5xx] + outcomes.errors
            let rate: UInt64 = s.points.last?.byType[key] ?? 0
            var entry: [String: Any] = ["name": key, "requests": row.metrics.requestsTotal, "rate": rate, "errors": errors]
            entry["p50"] = p[0]
            entry["p95"] = p[1]
            entry["p99"] = p[2]
            return entry
        }
    }

    /// The last minute's rates, all and by type, as numbers (the charts draw the same).
    static func rates(_ s: State) -> [[String: Any]] {
        s.points.suffix(60).map { point in
            let entry: [String: Any] = ["second": point.second, "all": point.requests, "types": point.byType]
            return entry
        }
    }

    /// The dashboard's charts of the last ten minutes, drawn with the reports' SVG code.
    func charts(_ s: State) -> [String] {
        guard let first = s.points.first?.second else { return [] }
        func x(_ p: Point) -> Double { Double(p.second - first) }
        let types = Set(s.points.flatMap { $0.byType.keys }).sorted()
        var rates: [SVGChart.Series] = [
            .init(name: "all", points: s.points.map { (x($0), Double($0.requests)) }, color: "#2b6cb0"),
            .init(name: "failed", points: s.points.map { (x($0), Double($0.failed)) }, color: "#c53030"),
        ]
        if types.count > 1 || (types.count == 1 && s.points.contains { !$0.byType.isEmpty }) {
            for (i, type) in types.enumerated() {
                rates.append(.init(name: type, points: s.points.compactMap { p in p.byType[type].map { (x(p), Double($0)) } },
                                   color: SVGChart.palette[(i + 2) % SVGChart.palette.count]))
            }
        }
        let workerLines: [SVGChart.Series] = [
            .init(name: "live", points: s.points.map { (x($0), Double($0.workers)) }, color: "#2b6cb0"),
            .init(name: "planned", points: s.points.compactMap { p in p.planned.map { (x(p), Double($0)) } }, color: "#b7791f"),
            .init(name: "forecast", points: s.points.compactMap { p in p.forecast.map { (x(p), $0) } }, color: "#2f855a"),
            .init(name: "forecast upper", points: s.points.compactMap { p in p.forecastUpper.map { (x(p), $0) } }, color: "#9ae6b4"),
        ].filter { !$0.points.isEmpty || $0.name == "live" }
        let workersTitle = workerLines.count == 1 ? "Workers live"
            : "Workers: " + workerLines.map(\.name).joined(separator: ", ") + (workerLines.contains { $0.name.hasPrefix("forecast") } ? " (the demand forecast a lead time ahead)" : "")
        var charts = [
            SVGChart(title: "Requests per second, all and by request type", unit: "req/s", series: rates),
            SVGChart(title: "Latency from intended send time", unit: "ms", series: [
                .init(name: "p50", points: s.points.map { (x($0), $0.p50) }, color: "#2f855a"),
                .init(name: "p95", points: s.points.map { (x($0), $0.p95) }, color: "#b7791f"),
                .init(name: "p99", points: s.points.map { (x($0), $0.p99) }, color: "#c53030"),
            ]),
        ] + TargetCharts.charts(s.targets?() ?? [], start: Double(first)) + [SVGChart(title: workersTitle, unit: "workers", series: workerLines)]
        // Wall-clock time (UTC) on every time axis.
        for i in charts.indices {
            charts[i].width = 1200
            charts[i].xLabel = { x in
                let t = Int64(first) + Int64(x.rounded())
                let day = ((t % 86_400) + 86_400) % 86_400
                return String(format: "%02d:%02d:%02d", day / 3_600, day % 3_600 / 60, day % 60)
            }
        }
        return charts.map { $0.render() }
    }
}
