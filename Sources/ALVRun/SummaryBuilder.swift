import ALVMetrics
import ALVModel
import Foundation

/// Builds the run summary from merged metrics, for in-process and distributed runs alike.
public struct SummaryBuilder {
    public let plan: RunPlan
    public let aggregator: RunAggregator

    public init(plan: RunPlan, aggregator: RunAggregator) {
        self.plan = plan
        self.aggregator = aggregator
    }

    /// The summary of a finished run.
    /// - Parameters:
    ///   - loadSeconds: seconds of load per step of the plan (for rates).
    public func summary(
        runID: String, duration: Double, vectors: [RunSummary.VectorSummary], events: [RunSummary.Event], loadSeconds: [Double],
        workers: [RunSummary.WorkerSummary], metricsGaps: Int, aborted profileAborted: Bool = false
    ) -> RunSummary {
        let totals = aggregator.totals
        let overall = aggregator.overall
        let totalLoad = loadSeconds.reduce(0, +)
        let (responses, errors, dropped) = RunSummary.split(overall.outcomes)
        var types: [RunSummary.RequestTypeSummary] = []
        let checked = plan.checkedMetricNames
        var checksPassed: UInt64 = 0, checksFailed: UInt64 = 0
        for (key, metrics) in totals.sorted(by: { ($0.key.vectorIndex, $0.key.requestType) < ($1.key.vectorIndex, $1.key.requestType) }) {
            let split = RunSummary.split(metrics.outcomes)
            let seconds = loadSeconds[key.vectorIndex]
            var type = RunSummary.RequestTypeSummary(
                vectorID: plan.steps[key.vectorIndex].vector.vectorID, name: key.requestType, requestsTotal: metrics.requestsTotal,
                responses: split.responses, errors: split.errors, dropped: split.dropped,
                achievedRPS: seconds > 0 ? Double(metrics.requestsTotal - split.dropped) / seconds : 0,
                latencyMs: .init(metrics.latency))
            type.phasesMs = RunSummary.phases(metrics.phases)
            type.varsEmpty = metrics.emptyVariables > 0 ? metrics.emptyVariables : nil
            if checked[key.vectorIndex].contains(key.requestType) {
                type.checksPassed = metrics.outcomes.responses
                type.checksFailed = metrics.outcomes[.check]
                checksPassed += metrics.outcomes.responses
                checksFailed += metrics.outcomes[.check]
            }
            types.append(type)
        }
        var thresholds: [RunSummary.ThresholdResult] = []
        for (index, step) in plan.steps.enumerated() {
            for threshold in step.vector.thresholds {
                thresholds.append(ThresholdEvaluator.evaluate(threshold, totals: totals, plan: plan, vectorIndex: index, seconds: loadSeconds[index], metricsGaps: metricsGaps))
            }
        }
        for threshold in plan.profile?.thresholds ?? [] {
            thresholds.append(ThresholdEvaluator.evaluate(threshold, totals: totals, plan: plan, vectorIndex: nil, seconds: totalLoad, metricsGaps: metricsGaps))
        }
        let aborted = profileAborted || vectors.contains { $0.status == "aborted" }
        var summary = RunSummary(
            runID: runID, status: aborted ? "aborted" : "completed", target: plan.target, profileID: plan.profile?.profileID,
            durationS: (duration * 100).rounded() / 100, requestsTotal: overall.requestsTotal, responses: responses, errors: errors,
            dropped: dropped, achievedRPS: totalLoad > 0 ? (Double(overall.requestsTotal - dropped) / totalLoad * 10).rounded() / 10 : 0,
            latencyMs: .init(overall.latency), intended: overall.intended, sent: overall.sent, bytesIn: overall.bytesIn,
            bytesOut: overall.bytesOut,
            lagMs: [
                "mean": overall.sent > 0 ? (Double(overall.lagSumMicros) / Double(overall.sent) / 1000 * 1000).rounded() / 1000 : 0,
                "max": Double(overall.lagMaxMicros) / 1000,
            ],
            requestTypes: types, vectors: vectors, workers: workers, metricsGaps: metricsGaps, thresholds: thresholds, events: events)
        summary.errorSamples = aggregator.errorSamples(vectorIDs: plan.steps.map(\.vector.vectorID))
        summary.phasesMs = RunSummary.phases(overall.phases)
        summary.late = overall.late
        summary.checksPassed = checksPassed
        summary.checksFailed = checksFailed
        return summary
    }

}
