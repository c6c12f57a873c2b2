import ALVLifecycle
import ALVProtocol
import ALVEngine
import ALVMetrics
import ALVModel
import ALVStore
import Foundation
import Synchronization

/// Runs a plan in this process with the load engine (`alv run --workers 0`): the profile's
/// timeline (start time, vectors in sequence, transition delays, duration cap) with real-time
/// adjustment of the running vector.
public final class InProcessRunner {
    public let plan: RunPlan
    public let options: EngineOptions
    public let cancellation: CancellationFlag
    public let aggregator = RunAggregator()
    /// Called once per second of load with the vector and the merged second (progress output).
    public var onSecond: (@Sendable (_ status: RunStatus, _ second: MetricsDelta) -> Void)?
    /// Called with every timeline event as it happens.
    public var onEvent: (@Sendable (RunSummary.Event) -> Void)?
    /// Called with the run id once it is known, before any load.
    public var onStart: ((String) -> Void)?

    /// Where the run, its per-second samples and its events are stored (nil: nowhere).
    public let store: MetricsStore?

    public init(plan: RunPlan, options: EngineOptions, cancellation: CancellationFlag = CancellationFlag(), store: MetricsStore? = nil) {
        self.plan = plan
        self.options = options
        self.cancellation = cancellation
        self.store = store
    }

    /// Runs every step and returns the summary.
    /// - Throws: when a vector's templates or data cannot be prepared, or curl cannot start.
    public func run(seed: UInt64 = UInt64.random(in: 1...UInt64.max)) throws -> RunSummary {
        let runID = Self.makeRunID()
        // Everything that can fail before the run exists comes first: no row is left `running` by it.
        let skipped = try knownBad(in: store, plan: plan)
        try store?.beginRun(runID, target: plan.target, profileID: plan.profile?.profileID, planJSON: nil)
        do {
            return try run(runID: runID, skipped: skipped, seed: seed)
        } catch let failure as StoreWriteFailure {
            throw failure
        } catch {
            try? store?.endRun(runID, status: "failed", summaryJSON: nil)
            throw error
        }
    }

    private func run(runID: String, skipped: Set<String>, seed: UInt64) throws -> RunSummary {
        onStart?(runID)
        var timeline = ProfileTimeline(plan: plan, knownBad: skipped)
        timeline.observer = onEvent
        timeline.event("run_started", ["run_id": .string(runID), "workers": "0"])
        let storeFailures = StoreFailures()
        timeline.waitForStart(cancellation: cancellation) { usleep(UInt32(min(50_000, max(500, $0 * 1e6)))) }
        var cpu = 0.0
        var peakRSS: UInt64 = 0

        let runStartSecond = Int64(Date().timeIntervalSince1970.rounded(.up))
        // One engine for the whole run: its connections carry over from vector to vector.
        let engine = try Engine()
        // Ends the run: cancelled by the user, or a store that has refused every write for a while.
        func stopped() -> Bool { cancellation.isCancelled || storeFailures.mustEnd }
        while let slot = timeline.next(now: Date(), cancelled: stopped()) {
            let step = plan.steps[slot.index]
            while Date() < slot.start.addingTimeInterval(-0.02) && !stopped() { usleep(UInt32(min(50_000, max(500, slot.start.timeIntervalSinceNow * 1e6 - 20_000)))) }
            if stopped() {
                timeline.finish(slot, at: Date(), outcome: .interrupted)
                continue
            }
            let startMs = Int64(slot.start.timeIntervalSince1970 * 1000)
            let duration = slot.end.timeIntervalSince(slot.start)
            let unit = WorkUnit(
                runID: runID, unitID: "\(runID)-\(slot.index)", vector: step.vector, dataDirectory: step.dataDirectory,
                baseURL: plan.target, load: step.vector.load, startMs: startMs, rampUpSec: min(step.vector.rampUpTimeSec, duration),
                durationSec: duration, deadlineMs: startMs + 10_000, seed: seed &+ UInt64(slot.index), rateShape: step.vector.rateShape,
                env: plan.env)
            timeline.started(slot)
            let vectorStop = CancellationFlag()
            let aggregator = self.aggregator
            let watch = VectorWatch(adjustment: plan.profile?.adjustment, aborts: AbortThresholds(
                plan: plan, aggregator: aggregator, vectorIndex: slot.index, vectorStart: (startMs + 999) / 1000, runStart: runStartSecond))
            let onSecond = self.onSecond
            let index = slot.index, plan = self.plan
            let store = self.store
            // The sink runs on this thread (the engine's), so the store's connection stays on one thread.
            let executor = try UnitExecutor(unit: unit, options: options, vectorIndex: slot.index, cancellation: vectorStop, alsoCancelledBy: cancellation) { delta in
                aggregator.add(delta, vectorIndex: index)
                if let store {
                    for (name, requestDelta) in delta.requestTypes {
                        store.append(run: runID, second: delta.second, vectorIndex: index, requestType: name, worker: "local", delta: requestDelta)
                    }
                    store.appendWorker(run: runID, second: delta.second, worker: "local", cpuSeconds: delta.cpuSeconds, rssBytes: delta.rssBytes, runningUnits: 1)
                    do {
                        try store.flush()
                        storeFailures.succeeded()
                    } catch {
                        storeFailures.failed(error)
                        if storeFailures.mustEnd { vectorStop.cancel() }
                    }
                }
                onSecond?(RunStatus(plan: plan, slot: slot), delta)
                if watch.observe(delta) { vectorStop.cancel() }
            }
            let report = executor.run(on: engine)
            cpu += report.cpuSeconds
            peakRSS = max(peakRSS, report.peakRSSBytes)
            let ended = Date()
            if let decision = watch.decision {
                timeline.finish(slot, at: ended, outcome: .adjusted(decision))
                if decision.action == .abort { cancellation.cancel() }
            } else if report.cancelled || storeFailures.mustEnd {
                timeline.finish(slot, at: ended, outcome: .interrupted)
            } else {
                timeline.finish(slot, at: ended, outcome: .ran)
            }
        }

        let storeFailure = storeFailures.detail
        if let storeFailure { timeline.event("store_write_failed", ["detail": .string(storeFailure), "run_ended": .bool(storeFailures.mustEnd)]) }
        timeline.event("run_ended", ["run_id": .string(runID)])
        let worker = RunSummary.WorkerSummary(
            id: "local", host: ProcessInfo.processInfo.hostName, lost: false, requestsTotal: aggregator.overall.requestsTotal,
            cpuSeconds: (cpu * 1000).rounded() / 1000, peakRSSBytes: peakRSS)
        let summary = SummaryBuilder(plan: plan, aggregator: aggregator).summary(
            runID: runID, duration: timeline.elapsed, vectors: timeline.vectors, events: timeline.events, loadSeconds: timeline.loadSeconds,
            workers: [worker], metricsGaps: aggregator.badDeltas, aborted: timeline.aborted)
        if let store {
            for e in timeline.events { store.event(run: runID, kind: e.kind, detailJSON: e.detailJSON) }
            do {
                try store.endRun(runID, status: summary.status, summaryJSON: try? String(decoding: summary.jsonData(), as: UTF8.self))
            } catch {
                throw StoreWriteFailure(summary: summary, detail: (storeFailure.map { $0 + "; " } ?? "") + "ending the run: \(error)")
            }
            // What failed stayed buffered and is written now; but a run the store ended was cut short.
            if let storeFailure, storeFailures.mustEnd { throw StoreWriteFailure(summary: summary, detail: storeFailure + "; the run was ended") }
        }
        return summary
    }

    /// `20261129-212233-4f1c`: sortable by time, unique enough per store.
    public static func makeRunID() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date()) + "-" + String(UInt16.random(in: 0...UInt16.max), radix: 16)
    }
}

/// Vectors the profile's `skip_known_bad` skips: shortened in its recent stored runs.
public func knownBad(in store: MetricsStore?, plan: RunPlan) throws -> Set<String> {
    guard let store, let profile = plan.profile, let runs = profile.adjustment?.skipKnownBad, runs > 0 else { return [] }
    return try store.shortenedVectors(profileID: profile.profileID, lastRuns: runs)
}

/// Store writes that failed on the engine thread: counted, the last kept, reported in the run's events.
final class StoreFailures: Sendable {
    private let state = Mutex(StoreHealth())
    func failed(_ error: any Error) { state.withLock { $0.failed(error) } }
    func succeeded() { state.withLock { $0.succeeded() } }
    var mustEnd: Bool { state.withLock { $0.mustEnd } }
    var detail: String? { state.withLock { $0.detail } }
}

/// Feeds a vector's seconds to the adaptive controller from the engine thread, and checks the thresholds that
/// end the run when they fail (`abort_on_fail`).
public final class VectorWatch: Sendable {
    private let state: Mutex<(controller: AdaptiveController?, decision: AdaptiveController.Decision?)>
    private let aborts: AbortThresholds?

    public init(adjustment: Adjustment?, aborts: AbortThresholds? = nil) {
        state = Mutex((adjustment.map(AdaptiveController.init), nil))
        self.aborts = aborts?.isEmpty == false ? aborts : nil
    }

    /// - Returns: true when the vector must end now.
    func observe(_ delta: MetricsDelta) -> Bool {
        var merged = RequestMetrics()
        for request in delta.requestTypes.values { if let m = try? request.metrics(phases: false) { merged.merge(m) } }
        return observe(second: delta.second, merged)
    }

    public func observe(second: Int64, _ metrics: RequestMetrics) -> Bool {
        state.withLock { state in
            guard state.decision == nil else { return false }
            if var controller = state.controller {
                state.decision = controller.add(second: second, metrics)
                state.controller = controller
            }
            if state.decision == nil, let aborts { state.decision = aborts.breach(atSecond: second) }
            return state.decision != nil
        }
    }

    public var decision: AdaptiveController.Decision? { state.withLock { $0.decision } }
}

/// The thresholds with `abort_on_fail` that apply while one vector runs: its own (their delay counted from the
/// vector's start) and the profile's (from the run's), evaluated on the run's totals so far.
public struct AbortThresholds: Sendable {
    let plan: RunPlan
    let aggregator: RunAggregator
    let vectorIndex: Int
    let vectorStart: Int64
    let runStart: Int64
    let vectorThresholds: [Threshold]
    let profileThresholds: [Threshold]

    /// - Parameters: vectorStart, runStart: the first whole Unix second of the vector's and the run's load
    ///   (a partial first second does not count towards a delay).
    public init(plan: RunPlan, aggregator: RunAggregator, vectorIndex: Int, vectorStart: Int64, runStart: Int64) {
        self.plan = plan
        self.aggregator = aggregator
        self.vectorIndex = vectorIndex
        self.vectorStart = vectorStart
        self.runStart = runStart
        vectorThresholds = plan.steps[vectorIndex].vector.thresholds.filter(\.abortOnFail)
        profileThresholds = (plan.profile?.thresholds ?? []).filter(\.abortOnFail)
    }

    var isEmpty: Bool { vectorThresholds.isEmpty && profileThresholds.isEmpty }

    /// An abort decision when a threshold past its delay fails with the totals up to `second`.
    func breach(atSecond second: Int64) -> AdaptiveController.Decision? {
        let totals = aggregator.totals
        let scopes: [(Threshold, Int?, Int64)] = vectorThresholds.map { ($0, vectorIndex, vectorStart) } + profileThresholds.map { ($0, nil, runStart) }
        for (threshold, scope, start) in scopes {
            let elapsed = Double(second - start + 1)
            guard elapsed >= max(1, threshold.delayAbortEvalSec) else { continue }
            let result = ThresholdEvaluator.evaluate(threshold, totals: totals, plan: plan, vectorIndex: scope, seconds: elapsed, metricsGaps: aggregator.badDeltas)
            if !result.passed {
                return AdaptiveController.Decision(
                    action: .abort, windowErrorRates: [], windowP99Ms: [],
                    reason: "threshold \(threshold.key) \(threshold.expression) failed (value \(formatNumber(result.value))) with abort_on_fail")
            }
        }
        return nil
    }
}
