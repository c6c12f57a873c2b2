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
        "checks": [.rate],
    ]

    /// Tags a threshold may narrow its metric with: `latency_p95_ms{request_type:buy}`.
    public static let tagKeys = ["request_type", "vector"]

    /// `{request_type:NAME}` (a request type, a flow, or one step `TYPE/STEP`) or `{vector:ID}`.
    public struct Tag: Sendable, Equatable {
        public var key: String
        public var value: String

        /// Whether a request type's metrics (named `name`, of vector `vectorID`) fall under this tag.
        public func matches(requestType name: String, vectorID: String) -> Bool {
            switch key {
            case "vector": return vectorID == value
            default: return name == value || name.hasPrefix(value + "/")
            }
        }
    }

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
    public var tag: Tag?
    public var aggregation: Aggregation
    public var comparison: Comparison
    public var bound: Double
    /// The expression as written.
    public var expression: String
    /// End the run as soon as the threshold fails (k6's `abortOnFail`), once `delayAbortEvalSec` of its scope have run.
    public var abortOnFail = false
    public var delayAbortEvalSec: Double = 0

    /// The key as written: the metric and its tag, `latency_p95_ms{request_type:buy}`.
    public var key: String { metric + (tag.map { "{\($0.key):\($0.value)}" } ?? "") }

    public init(metric: String, tag: Tag? = nil, aggregation: Aggregation, comparison: Comparison, bound: Double, expression: String) {
        self.metric = metric
        self.tag = tag
        self.aggregation = aggregation
        self.comparison = comparison
        self.bound = bound
        self.expression = expression
    }

    /// Parses `rate<0.01`, `count<=10`, `<300` for a key `METRIC` or `METRIC{TAG:VALUE}`.
    /// - Returns: nil with `problem` set when the expression does not fit the metric.
    public static func parse(metric key: String, expression: String) -> (Threshold?, problem: String?) {
        var metric = key
        var tag: Tag?
        if let open = key.firstIndex(of: "{") {
            metric = String(key[..<open])
            let inner = key[key.index(after: open)...]
            guard inner.hasSuffix("}"), let colon = inner.firstIndex(of: ":") else {
                return (nil, "expected a tag as METRIC{KEY:VALUE}, such as latency_p95_ms{request_type:buy}, found \"\(key)\"")
            }
            let tagKey = String(inner[..<colon]), value = String(inner[inner.index(after: colon)..<inner.index(before: inner.endIndex)])
            guard tagKeys.contains(tagKey) else {
                let hint = closestName(to: tagKey, among: tagKeys).map { " (did you mean \"\($0)\"?)" } ?? ""
                return (nil, "unknown tag \"\(tagKey)\"\(hint) in \"\(key)\"; tags are \(tagKeys.joined(separator: ", "))")
            }
            guard !value.isEmpty else { return (nil, "the tag \(tagKey) in \"\(key)\" needs a value") }
            tag = Tag(key: tagKey, value: value)
        }
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
        return (Threshold(metric: metric, tag: tag, aggregation: aggregation, comparison: comparison, bound: bound, expression: expression), nil)
    }

    static func closestMetric(_ name: String) -> String? {
        closestName(to: name, among: Array(metrics.keys))
    }
}

/// Thresholds keyed by metric (and tag), encoded as a JSON object of expressions, or of
/// `{"threshold": EXPRESSION, "abort_on_fail": true, "delay_abort_eval_sec": N}`.
struct ThresholdSet: Codable {
    var thresholds: [Threshold]

    init(_ thresholds: [Threshold]) { self.thresholds = thresholds }

    struct Entry: Codable {
        var threshold: String
        var abortOnFail: Bool?
        var delayAbortEvalSec: Double?

        enum CodingKeys: String, CodingKey { case threshold, abortOnFail = "abort_on_fail", delayAbortEvalSec = "delay_abort_eval_sec" }

        init(threshold: String, abortOnFail: Bool?, delayAbortEvalSec: Double?) {
            self.threshold = threshold
            self.abortOnFail = abortOnFail
            self.delayAbortEvalSec = delayAbortEvalSec
        }

        init(from decoder: any Decoder) throws {
            if let text = try? decoder.singleValueContainer().decode(String.self) {
                self.init(threshold: text, abortOnFail: nil, delayAbortEvalSec: nil)
                return
            }
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init(threshold: try c.decode(String.self, forKey: .threshold), abortOnFail: try c.decodeIfPresent(Bool.self, forKey: .abortOnFail),
                      delayAbortEvalSec: try c.decodeIfPresent(Double.self, forKey: .delayAbortEvalSec))
        }

        func encode(to encoder: any Encoder) throws {
            if abortOnFail == nil && delayAbortEvalSec == nil {
                var c = encoder.singleValueContainer()
                try c.encode(threshold)
                return
            }
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(threshold, forKey: .threshold)
            try c.encodeIfPresent(abortOnFail, forKey: .abortOnFail)
            try c.encodeIfPresent(delayAbortEvalSec, forKey: .delayAbortEvalSec)
        }
    }

    init(from decoder: any Decoder) throws {
        let map = try decoder.singleValueContainer().decode([String: Entry].self)
        thresholds = map.sorted { $0.key < $1.key }.compactMap { key, entry in
            guard var threshold = Threshold.parse(metric: key, expression: entry.threshold).0 else { return nil }
            threshold.abortOnFail = entry.abortOnFail ?? false
            threshold.delayAbortEvalSec = entry.delayAbortEvalSec ?? 0
            return threshold
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(Dictionary(thresholds.map { t in
            (t.key, Entry(threshold: t.expression, abortOnFail: t.abortOnFail ? true : nil, delayAbortEvalSec: t.abortOnFail && t.delayAbortEvalSec > 0 ? t.delayAbortEvalSec : nil))
        }, uniquingKeysWith: { a, _ in a }))
    }
}
