import ALVMetrics
import Foundation

/// A run against a baseline, per request type and for all types together: p50, p95 and p99 (the run-level
/// values from the merged histograms), error rate and throughput, each with a verdict.
///
/// The verdict: a two-sided Mann–Whitney U test over the per-second values of the two runs (per-second p50s for
/// p50, and so on; requests per second for throughput; the run's first and last seconds, which are partial,
/// left out), and for the error rate a two-proportion z-test over the counts. A change is `worse` or `better`
/// when p < `alpha` and it moves the run-level value by at least `minimumChange`; otherwise `same`.
public struct RunComparison: Sendable {
    public enum Verdict: String, Sendable { case better, worse, same }

    public struct Row: Sendable {
        public var requestType: String
        public var metric: String
        public var unit: String
        public var baseline: Double
        public var run: Double
        public var change: Double
        /// Relative to the baseline (nil when the baseline is 0).
        public var relativeChange: Double?
        public var pValue: Double?
        public var verdict: Verdict
    }

    public var run: String
    public var baseline: String
    public var rows: [Row]
    /// Request types found in one run only.
    public var onlyInRun: [String]
    public var onlyInBaseline: [String]
    public static let alpha = 0.01
    public static let minimumChange = 0.05
    public static let method = "two-sided Mann–Whitney U over per-second values (error rate: two-proportion z-test), p < 0.01 and a change of at least 5%"

    public init(run a: RunReport, baseline b: RunReport) {
        run = a.summary.runID
        baseline = b.summary.runID
        let keysA = Set(a.histograms.keys), keysB = Set(b.histograms.keys)
        onlyInRun = keysA.subtracting(keysB).sorted()
        onlyInBaseline = keysB.subtracting(keysA).sorted()
        var rows: [Row] = []
        for key in keysA.intersection(keysB).sorted(by: { ($0 == "all" ? "" : $0) < ($1 == "all" ? "" : $1) }) {
            let ha = a.histograms[key]!, hb = b.histograms[key]!
            let sa = Self.perSecond(a, key), sb = Self.perSecond(b, key)
            let pa = ha.values(atPercentiles: [50, 95, 99]).map { Double($0) / 1000 }
            let pb = hb.values(atPercentiles: [50, 95, 99]).map { Double($0) / 1000 }
            for (i, name) in ["p50", "p95", "p99"].enumerated() {
                let p = Self.mannWhitney(sa.map { $0.latency[i] }, sb.map { $0.latency[i] })
                rows.append(Self.row(key, name, "ms", baseline: pb[i], run: pa[i], p: p, higherIsWorse: true))
            }
            let (failedA, totalA) = Self.errors(a, key), (failedB, totalB) = Self.errors(b, key)
            let rateA = totalA > 0 ? Double(failedA) / Double(totalA) : 0, rateB = totalB > 0 ? Double(failedB) / Double(totalB) : 0
            var errorRow = Self.row(key, "error rate", "%", baseline: rateB * 100, run: rateA * 100, p: Self.twoProportion(failedA, totalA, failedB, totalB), higherIsWorse: true)
            // A rate that moved by less than 0.1 point is the same whatever the test says.
            if abs(errorRow.change) < 0.1 { errorRow.verdict = .same }
            rows.append(errorRow)
            let rpsA = sa.map(\.requests), rpsB = sb.map(\.requests)
            let meanA = rpsA.isEmpty ? 0 : rpsA.reduce(0, +) / Double(rpsA.count), meanB = rpsB.isEmpty ? 0 : rpsB.reduce(0, +) / Double(rpsB.count)
            rows.append(Self.row(key, "throughput", "req/s", baseline: meanB, run: meanA, p: Self.mannWhitney(rpsA, rpsB), higherIsWorse: false))
        }
        self.rows = rows
    }

    /// Rows that are worse by more than `limit` (a share: 0.1 is 10%).
    public func regressions(over limit: Double) -> [Row] {
        rows.filter { $0.verdict == .worse && abs($0.relativeChange ?? .infinity) > limit }
    }

    static func row(_ key: String, _ metric: String, _ unit: String, baseline: Double, run: Double, p: Double?, higherIsWorse: Bool) -> Row {
        let change = run - baseline
        let relative = baseline != 0 ? change / abs(baseline) : nil
        var verdict = Verdict.same
        if let p, p < alpha, abs(relative ?? .infinity) >= minimumChange, change != 0 {
            verdict = (change > 0) == higherIsWorse ? .worse : .better
        }
        return Row(requestType: key, metric: metric, unit: unit, baseline: baseline, run: run, change: change, relativeChange: relative, pValue: p, verdict: verdict)
    }

    /// Per-second values of one request type (or all): p50/p95/p99 in ms and requests, without the first and
    /// last seconds.
    static func perSecond(_ r: RunReport, _ key: String) -> [(latency: [Double], requests: Double)] {
        let values: [(latency: [Double], requests: Double)]
        if key == "all" {
            values = r.seconds.map { ([$0.p50, $0.p95, $0.p99], Double($0.requests)) }
        } else {
            values = r.series.filter { "\($0.vectorID)/\($0.requestType)" == key }.map { ([$0.p50, $0.p95, $0.p99], Double($0.requests)) }
        }
        return values.count > 2 ? Array(values.dropFirst().dropLast()) : values
    }

    static func errors(_ r: RunReport, _ key: String) -> (failed: UInt64, total: UInt64) {
        if key == "all" { return (r.seconds.reduce(0) { $0 + $1.failed }, r.seconds.reduce(0) { $0 + $1.requests }) }
        let points = r.series.filter { "\($0.vectorID)/\($0.requestType)" == key }
        return (points.reduce(0) { $0 + $1.failed }, points.reduce(0) { $0 + $1.requests })
    }

    /// Two-sided p-value of the Mann–Whitney U test (normal approximation with the tie correction); nil
    /// with fewer than 3 values on a side.
    public static func mannWhitney(_ x: [Double], _ y: [Double]) -> Double? {
        let n1 = Double(x.count), n2 = Double(y.count)
        guard x.count >= 3, y.count >= 3 else { return nil }
        let all = (x.map { ($0, 0) } + y.map { ($0, 1) }).sorted { $0.0 < $1.0 }
        var ranks = [Double](repeating: 0, count: all.count)
        var tieTerm = 0.0
        var i = 0
        while i < all.count {
            var j = i
            while j + 1 < all.count, all[j + 1].0 == all[i].0 { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for k in i...j { ranks[k] = rank }
            let t = Double(j - i + 1)
            tieTerm += t * t * t - t
            i = j + 1
        }
        let r1 = zip(all, ranks).filter { $0.0.1 == 0 }.reduce(0) { $0 + $1.1 }
        let u = r1 - n1 * (n1 + 1) / 2
        let n = n1 + n2
        let variance = n1 * n2 / 12 * ((n + 1) - tieTerm / (n * (n - 1)))
        guard variance > 0 else { return 1 }
        let z = (u - n1 * n2 / 2) / variance.squareRoot()
        return erfc(abs(z) / 2.squareRoot())
    }

    /// Two-sided p-value that two error proportions differ (pooled z-test); nil without requests.
    public static func twoProportion(_ failedA: UInt64, _ totalA: UInt64, _ failedB: UInt64, _ totalB: UInt64) -> Double? {
        guard totalA > 0, totalB > 0 else { return nil }
        let pa = Double(failedA) / Double(totalA), pb = Double(failedB) / Double(totalB)
        let pooled = Double(failedA + failedB) / Double(totalA + totalB)
        let se = (pooled * (1 - pooled) * (1 / Double(totalA) + 1 / Double(totalB))).squareRoot()
        guard se > 0 else { return pa == pb ? 1 : 0 }
        return erfc(abs(pa - pb) / se / 2.squareRoot())
    }
}
