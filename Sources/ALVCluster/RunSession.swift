import ALVMetrics
import ALVModel
import ALVProtocol
import ALVRun
import Foundation

/// Everything that belongs to one run on the broker, made per `Broker.execute` once the run's store row
/// exists and dropped when it returns, so no error path can leave run state behind: the units, the
/// aggregate, the events, the running vector and its adaptive watch, per-worker totals, the progress clock.
final class RunSession {
    let runID: String
    let plan: RunPlan
    var scheduler: UnitScheduler
    let aggregator = RunAggregator()
    private(set) var events: [RunSummary.Event] = []
    /// When the run began: the planner's anchor before the first vector starts.
    let began = Date()
    /// The running vector, its adaptive watch and the next second to feed it.
    var watching: (index: Int, watch: VectorWatch, nextSecond: Int64)?
    var slotStarts: [Int: Date] = [:]
    var status: (() -> RunStatus)?
    /// Per worker, in this run: requests reported, CPU seconds of its units, requests estimated lost.
    var requests: [String: UInt64] = [:]
    var cpuSeconds: [String: Double] = [:]
    var estimatedLost: [String: Double] = [:]
    /// Seconds handed to `onSecond` up to here (each second once, in order).
    private var progressClock: CompletedSeconds
    /// Each complete second once, in order: the second (epoch), what runs, its merged metrics.
    let onSecond: ((Int64, RunStatus?, RequestMetrics) -> Void)?

    /// The registry's gap count when the run began: the run reports only its own.
    let gapsAtStart: Int

    init(runID: String, plan: RunPlan, scheduler: UnitScheduler, gapsAtStart: Int, onSecond: ((Int64, RunStatus?, RequestMetrics) -> Void)?, now: Date = Date()) {
        self.gapsAtStart = gapsAtStart
        self.onSecond = onSecond
        self.runID = runID
        self.plan = plan
        self.scheduler = scheduler
        progressClock = CompletedSeconds(from: Int64(now.timeIntervalSince1970))
    }

    func record(_ event: RunSummary.Event) { events.append(event) }

    /// Adds a worker's delta to the run's aggregate and totals.
    /// - Returns: false when it is not this run's.
    func add(_ metrics: WorkerMessage.Metrics, from worker: String) -> Bool {
        guard metrics.runID == runID, metrics.vectorIndex >= 0, metrics.vectorIndex < plan.steps.count else { return false }
        aggregator.add(metrics.delta, vectorIndex: metrics.vectorIndex)
        if metrics.delta.cpuSeconds.isFinite && metrics.delta.cpuSeconds >= 0 { cpuSeconds[worker, default: 0] += metrics.delta.cpuSeconds }
        var total: UInt64 = 0
        for request in metrics.delta.requestTypes.values { total = total.addingReportingOverflow(request.requestsTotal).partialValue }
        requests[worker] = (requests[worker] ?? 0).addingReportingOverflow(total).partialValue
        return true
    }

    /// Feeds complete seconds of the running vector to its adaptive watch. A second is complete a little
    /// after it ends: workers send each second's delta at its end.
    func feedWatch(now: Date) {
        guard var current = watching else { return }
        let t = now.timeIntervalSince1970
        while Double(current.nextSecond) + 1.15 <= t {
            if let metrics = aggregator.second(current.nextSecond, vectorIndex: current.index) { _ = current.watch.observe(second: current.nextSecond, metrics) }
            current.nextSecond += 1
        }
        watching = current
    }

    /// Hands `onSecond` the seconds complete at `now`; `final` also those still settling (the run is over).
    func reportSeconds(now: Date, final: Bool = false) {
        guard let onSecond, let seconds = progressClock.advance(now: final ? now.addingTimeInterval(progressClock.settle + 1) : now) else { return }
        for second in seconds where second <= Int64(now.timeIntervalSince1970) {
            if let metrics = aggregator.second(second) { onSecond(second, status?(), metrics) }
        }
    }

    /// The running vector's index and when it started.
    var runningSlot: (index: Int, start: Date)? {
        guard let watching else { return nil }
        return (watching.index, slotStarts[watching.index] ?? began)
    }
}

/// Seconds that are complete (every worker has sent them), each handed out once and in order. A second is
/// taken as complete `settle` seconds after it ends.
struct CompletedSeconds {
    private(set) var next: Int64
    let settle: Double

    init(from second: Int64, settle: Double = 1) {
        next = second
        self.settle = settle
    }

    /// The seconds completed since the last call.
    mutating func advance(now: Date) -> ClosedRange<Int64>? {
        let complete = Int64((now.timeIntervalSince1970 - settle).rounded(.down)) - 1
        guard complete >= next else { return nil }
        defer { next = complete + 1 }
        return next...complete
    }
}
