import ALVMetrics
import ALVModel

/// Computes the value a threshold names from merged metrics and checks it.
public enum ThresholdEvaluator {
    /// Evaluates `threshold` over its scope: the request types of the vector at `vectorIndex` (nil: the whole
    /// run), narrowed by the threshold's tag.
    /// - Parameters:
    ///   - totals: metrics per vector and request type.
    ///   - seconds: load time of the scope, for `achieved_rps`.
    public static func evaluate(
        _ threshold: Threshold, totals: [RunAggregator.Key: RequestMetrics], plan: RunPlan, vectorIndex: Int?, seconds: Double, metricsGaps: Int
    ) -> RunSummary.ThresholdResult {
        let checked = plan.checkedMetricNames
        var merged = RequestMetrics()
        var checks: (passed: UInt64, failed: UInt64) = (0, 0)
        for (key, metrics) in totals where vectorIndex.map({ $0 == key.vectorIndex }) ?? true {
            guard key.vectorIndex < plan.steps.count else { continue }
            if let tag = threshold.tag, !tag.matches(requestType: key.requestType, vectorID: plan.steps[key.vectorIndex].vector.vectorID) { continue }
            merged.merge(metrics)
            if checked[key.vectorIndex].contains(key.requestType) {
                checks.passed += metrics.outcomes.responses
                checks.failed += metrics.outcomes[.check]
            }
        }
        return evaluate(threshold, metrics: merged, checks: checks, seconds: seconds, metricsGaps: metricsGaps,
                        vectorID: vectorIndex.map { plan.steps[$0].vector.vectorID })
    }

    /// - Parameters:
    ///   - metrics: merged metrics of the scope (a vector, or the whole run, narrowed by the tag).
    ///   - checks: responses of checked steps in the scope that passed and failed their checks.
    ///   - seconds: load time of the scope, for `achieved_rps`.
    public static func evaluate(
        _ threshold: Threshold, metrics: RequestMetrics, checks: (passed: UInt64, failed: UInt64) = (0, 0), seconds: Double, metricsGaps: Int, vectorID: String?
    ) -> RunSummary.ThresholdResult {
        let attempted = Double(metrics.requestsTotal)
        let sent = Double(metrics.requestsTotal - metrics.outcomes[.dropped])
        let failures = Double(metrics.outcomes[.status4xx] + metrics.outcomes[.status5xx] + metrics.outcomes.errors)
        let dropped = Double(metrics.outcomes[.dropped])
        func percentile(_ p: Double) -> Double { Double(metrics.latency.value(atPercentile: p)) / 1000 }
        let value: Double
        switch (threshold.metric, threshold.aggregation) {
        case ("http_errors", .count): value = failures
        case ("http_errors", _): value = sent > 0 ? failures / sent : 0
        case ("dropped", .count): value = dropped
        case ("dropped", _): value = attempted > 0 ? dropped / attempted : 0
        case ("latency_p50_ms", _): value = percentile(50)
        case ("latency_p90_ms", _): value = percentile(90)
        case ("latency_p95_ms", _): value = percentile(95)
        case ("latency_p99_ms", _): value = percentile(99)
        case ("latency_max_ms", _): value = metrics.latency.isEmpty ? 0 : Double(metrics.latency.maximum) / 1000
        case ("achieved_rps", _): value = seconds > 0 ? sent / seconds : 0
        case ("requests_total", _): value = attempted
        case ("metrics_gaps", _): value = Double(metricsGaps)
        // The share of checked responses that passed; 0 when nothing was checked (a threshold on checks expects some).
        case ("checks", _): value = checks.passed + checks.failed > 0 ? Double(checks.passed) / Double(checks.passed + checks.failed) : 0
        default: value = 0
        }
        return RunSummary.ThresholdResult(
            name: threshold.key, expression: threshold.expression, value: (value * 1e6).rounded() / 1e6,
            passed: value.isFinite && threshold.comparison.holds(value, threshold.bound), vectorID: vectorID)
    }
}
