import ALVEngine
import ALVMetrics
import ALVModel
import Foundation

/// Runs a plan in this process with the load engine (`alv run --workers 0`): vectors in sequence,
/// with the profile's start time, transition delays and duration cap.
public final class InProcessRunner {
    public let plan: RunPlan
    public let options: EngineOptions
    public let cancellation: CancellationFlag
    public let aggregator = RunAggregator()
    /// Called once per second of load with the vector and the merged second (progress output).
    public var onSecond: (@Sendable (_ vectorID: String, _ second: MetricsDelta) -> Void)?

    public init(plan: RunPlan, options: EngineOptions, cancellation: CancellationFlag = CancellationFlag()) {
        self.plan = plan
        self.options = options
        self.cancellation = cancellation
    }

    /// Runs every step and returns the summary.
    /// - Throws: when a vector's templates or data cannot be prepared, or curl cannot start.
    public func run(seed: UInt64 = UInt64.random(in: 1...UInt64.max)) throws -> RunSummary {
        let runID = Self.makeRunID()
        var events: [RunSummary.Event] = []
        var vectors: [RunSummary.VectorSummary] = []
        var loadSeconds: [Double] = Array(repeating: 0, count: plan.steps.count)
        var cpu = 0.0
        var peakRSS: UInt64 = 0
        func event(_ kind: String, _ detail: [String: String]) {
            events.append(RunSummary.Event(at: isoTimestamp(), kind: kind, detail: detail))
        }

        if case .at(let date)? = plan.profile?.startTime, date > Date() {
            event("waiting_for_start", ["start_time": isoTimestamp(date)])
            while Date() < date && !cancellation.isCancelled { usleep(UInt32(min(50_000, max(1000, date.timeIntervalSinceNow * 1e6)))) }
        }
        let runStart = Date()
        let cap = plan.profile?.durationSec ?? .infinity
        let delay = plan.profile?.transitionDelaySec ?? 0

        for (index, step) in plan.steps.enumerated() {
            let vectorID = step.vector.vectorID
            if cancellation.isCancelled {
                vectors.append(.init(vectorID: vectorID, status: "aborted", reason: "run interrupted", startedAt: nil, endedAt: nil))
                continue
            }
            if index > 0 && delay > 0 {
                let until = Date().addingTimeInterval(min(delay, max(0, cap - Date().timeIntervalSince(runStart))))
                while Date() < until && !cancellation.isCancelled { usleep(UInt32(min(50_000, max(1000, until.timeIntervalSinceNow * 1e6)))) }
            }
            let remaining = cap - Date().timeIntervalSince(runStart)
            if remaining <= 0.05 {
                vectors.append(.init(vectorID: vectorID, status: "skipped", reason: "the profile's duration_sec (\(cap) s) was reached", startedAt: nil, endedAt: nil))
                event("vector_skipped", ["vector_id": vectorID, "reason": "profile duration reached"])
                continue
            }
            let duration = min(step.vector.totalSeconds, remaining)
            let startMs = Int64(Date().timeIntervalSince1970 * 1000) + 20
            let unit = WorkUnit(
                runID: runID, unitID: "\(runID)-\(index)", vector: step.vector, dataDirectory: step.dataDirectory,
                baseURL: plan.target, load: step.vector.load, startMs: startMs, rampUpSec: min(step.vector.rampUpTimeSec, duration),
                durationSec: duration, deadlineMs: startMs + 10_000, seed: seed &+ UInt64(index))
            let started = isoTimestamp()
            event("vector_started", ["vector_id": vectorID, "index": String(index)])
            let aggregator = self.aggregator
            let onSecond = self.onSecond
            let executor = try UnitExecutor(unit: unit, options: options, cancellation: cancellation) { delta in
                aggregator.add(delta, vectorIndex: index)
                onSecond?(vectorID, delta)
            }
            let report = executor.run()
            cpu += report.cpuSeconds
            peakRSS = max(peakRSS, report.peakRSSBytes)
            loadSeconds[index] = report.cancelled ? Date().timeIntervalSince1970 - Double(startMs) / 1000 : duration
            let status: String
            var reason: String? = nil
            if report.cancelled {
                status = "aborted"
                reason = "run interrupted"
            } else if duration < step.vector.totalSeconds - 1e-6 {
                status = "cut"
                reason = "the profile's duration_sec (\(cap) s) ended the vector after \(String(format: "%.1f", duration)) s"
            } else {
                status = "completed"
            }
            vectors.append(.init(vectorID: vectorID, status: status, reason: reason, startedAt: started, endedAt: isoTimestamp()))
            event("vector_\(status == "completed" ? "completed" : status)", ["vector_id": vectorID, "requests": String(report.requestsTotal)])
        }

        let worker = RunSummary.WorkerSummary(
            id: "local", host: ProcessInfo.processInfo.hostName, lost: false, requestsTotal: aggregator.overall.requestsTotal,
            cpuSeconds: (cpu * 1000).rounded() / 1000, peakRSSBytes: peakRSS)
        return SummaryBuilder(plan: plan, aggregator: aggregator).summary(
            runID: runID, duration: Date().timeIntervalSince(runStart), vectors: vectors, events: events, loadSeconds: loadSeconds,
            workers: [worker], metricsGaps: aggregator.badDeltas)
    }

    /// `20261129-212233-4f1c`: sortable by time, unique enough per store.
    public static func makeRunID() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date()) + "-" + String(UInt16.random(in: 0...UInt16.max), radix: 16)
    }
}
