import ALVMetrics
import ALVModel

/// Computes the value a threshold names from merged metrics and checks it.
public enum ThresholdEvaluator {
    /// - Parameters:
    ///   - metrics: merged metrics of the scope (a vector, or the whole run).
    ///   - seconds: load time of the scope, for `achieved_rps`.
    public static func evaluate(_ threshold: Threshold, metrics: RequestMetrics, seconds: Double, metricsGaps: Int, vectorID: String?) -> RunSummary.ThresholdResult {
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
        default: value = .nan
        }
        return RunSummary.ThresholdResult(
            name: threshold.metric, expression: threshold.expression, value: (value * 1e6).rounded() / 1e6,
            passed: !value.isNaN && threshold.comparison.holds(value, threshold.bound), vectorID: vectorID)
    }
}
