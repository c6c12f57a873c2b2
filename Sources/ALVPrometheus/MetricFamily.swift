/// Series of one metric name with its help and type, as the text exposition groups them.
public struct MetricFamily: Sendable {
    public enum Kind: String, Sendable { case counter, gauge, histogram }

    public var name: String
    public var help: String
    public var kind: Kind
    public var series: [PromSeries]

    public init(name: String, help: String, kind: Kind, series: [PromSeries] = []) {
        self.name = name
        self.help = help
        self.kind = kind
        self.series = series
    }

    /// A histogram's `_bucket` (cumulative, `le` in seconds, then `+Inf`), `_sum` (in seconds) and `_count`
    /// series for one label set. `cumulative` answers the counts at or below each bound and the sum, both in the
    /// histogram's own unit, `unitsPerSecond` of them a second.
    public mutating func appendHistogram(
        labels: [(String, String)], bounds: [Double], unitsPerSecond: Double, total: UInt64,
        cumulative: ([UInt64]) -> (counts: [UInt64], sum: Double)
    ) {
        let (counts, sum) = cumulative(bounds.map { UInt64($0 * unitsPerSecond) })
        for (bound, count) in zip(bounds, counts) {
            series.append(.init(name: name + "_bucket", labels: labels + [("le", Exposition.number(bound))], value: Double(count)))
        }
        series.append(.init(name: name + "_bucket", labels: labels + [("le", "+Inf")], value: Double(total)))
        series.append(.init(name: name + "_sum", labels: labels, value: sum / unitsPerSecond))
        series.append(.init(name: name + "_count", labels: labels, value: Double(total)))
    }
}

/// The Prometheus text exposition format (0.0.4) of metric families.
public enum Exposition {
    public static func render(_ families: [MetricFamily]) -> String {
        var lines: [String] = []
        for family in families where !family.series.isEmpty {
            lines.append("# HELP \(family.name) \(family.help)")
            lines.append("# TYPE \(family.name) \(family.kind.rawValue)")
            for s in family.series {
                let labels = s.labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
                lines.append("\(s.name)\(labels.isEmpty ? "" : "{\(labels)}") \(number(s.value))")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// Integers without a fraction, the rest as Swift prints a Double; NaN and infinities as Prometheus spells them.
    public static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 9.0e15 { return String(Int64(v)) }
        return "\(v)"
    }
}
