import ALVTemplates

/// A pass/fail condition on a run's result, written as k6 users expect: `"http_errors": "rate<0.01"`.
public struct Threshold: Sendable, Equatable {
    /// The metrics a threshold may name, and the aggregations each accepts (empty: the plain value).
    public static let metrics: [String: [Aggregation]] = [
        "http_errors": [.rate, .count],
        "dropped": [.rate, .count],
        "latency_p50_ms": [.value],
        "latency_p90_ms": [.value],
        "latency_p95_ms": [.value],
        "latency_p99_ms": [.value],
        "latency_max_ms": [.value],
        "achieved_rps": [.value],
        "requests_total": [.value],
        "metrics_gaps": [.value],
    ]

    public enum Aggregation: String, Sendable, Equatable {
        case value = ""
        case rate
        case count
    }

    public enum Comparison: String, Sendable, Equatable, CaseIterable {
        case lessOrEqual = "<="
        case greaterOrEqual = ">="
        case less = "<"
        case greater = ">"
        case equal = "=="

        public func holds(_ lhs: Double, _ rhs: Double) -> Bool {
            switch self {
            case .less: return lhs < rhs
            case .lessOrEqual: return lhs <= rhs
            case .greater: return lhs > rhs
            case .greaterOrEqual: return lhs >= rhs
            case .equal: return lhs == rhs
            }
        }
    }

    public var metric: String
    public var aggregation: Aggregation
    public var comparison: Comparison
    public var bound: Double
    /// The expression as written.
    public var expression: String

    /// Parses `rate<0.01`, `count<=10`, `<300`.
    /// - Returns: nil with `problem` set when the expression does not fit the metric.
    public static func parse(metric: String, expression: String) -> (Threshold?, problem: String?) {
        guard let allowed = metrics[metric] else {
            let hint = closestMetric(metric).map { " (did you mean \"\($0)\"?)" } ?? ""
            return (nil, "unknown metric \"\(metric)\"\(hint); expected one of \(metrics.keys.sorted().joined(separator: ", "))")
        }
        var text = Substring(expression.filter { $0 != " " })
        var aggregation = Aggregation.value
        for candidate in [Aggregation.rate, .count] where text.hasPrefix(candidate.rawValue) {
            aggregation = candidate
            text = text.dropFirst(candidate.rawValue.count)
        }
        let forms = allowed.map { $0 == .value ? "\"<300\"" : "\"\($0.rawValue)<0.01\"" }.joined(separator: " or ")
        guard allowed.contains(aggregation) else {
            return (nil, "\(metric) takes an expression like \(forms), found \"\(expression)\"")
        }
        guard let comparison = Comparison.allCases.first(where: { text.hasPrefix($0.rawValue) }) else {
            return (nil, "expected a comparison (<, <=, >, >=, ==) in \"\(expression)\", like \(forms)")
        }
        text = text.dropFirst(comparison.rawValue.count)
        guard let bound = Double(text), bound.isFinite else {
            return (nil, "expected a number after \(comparison.rawValue) in \"\(expression)\", like \(forms)")
        }
        return (Threshold(metric: metric, aggregation: aggregation, comparison: comparison, bound: bound, expression: expression), nil)
    }

    static func closestMetric(_ name: String) -> String? {
        closestName(to: name, among: Array(metrics.keys))
    }
}

/// Thresholds keyed by metric, encoded as a JSON object of expressions.
struct ThresholdSet: Codable {
    var thresholds: [Threshold]

    init(_ thresholds: [Threshold]) { self.thresholds = thresholds }

    init(from decoder: any Decoder) throws {
        let map = try decoder.singleValueContainer().decode([String: String].self)
        thresholds = map.sorted { $0.key < $1.key }.compactMap { Threshold.parse(metric: $0.key, expression: $0.value).0 }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(Dictionary(thresholds.map { ($0.metric, $0.expression) }, uniquingKeysWith: { a, _ in a }))
    }
}
