import ALVMetrics
import ALVModel

/// Real-time adjustment of a running vector: watches its per-second metrics and decides when it
/// keeps failing, as the profile's `adjustment` asks.
///
/// Evaluated on every second that arrives, during ramp-up and hold: a vector fails when each of the
/// last `consecutive_windows` windows of `window_sec` seconds had an error rate above the
/// threshold (or a p99 above `p99_ms_threshold`). Errors are 5xx responses and transport failures
/// (timeouts, refused or reset connections, DNS, TLS); 4xx count too with `count_4xx`.
public struct AdaptiveController: Sendable {
    /// What the controller decided and the measurements behind it.
    public struct Decision: Sendable, Equatable {
        public var action: Adjustment.Action
        /// Error rate of each window, oldest first.
        public var windowErrorRates: [Double]
        public var windowP99Ms: [Double]
        public var reason: String
    }

    public let adjustment: Adjustment
    private var seconds: [Int64: RequestMetrics] = [:]
    private var latest: Int64?

    public init(adjustment: Adjustment) {
        self.adjustment = adjustment
    }

    /// Failures in `metrics` by the adjustment's rules, and the requests they are counted against.
    public static func failures(_ metrics: RequestMetrics, count4xx: Bool) -> (failed: UInt64, ended: UInt64) {
        let o = metrics.outcomes
        let transport = o[.timeout] + o[.connect] + o[.reset] + o[.dns] + o[.tls] + o[.other]
        let failed = o[.status5xx] + transport + (count4xx ? o[.status4xx] : 0)
        return (failed, o.responses + transport)
    }

    /// Adds one second of the vector's metrics (all request types merged) and evaluates.
    /// - Returns: a decision when the vector has failed for long enough.
    public mutating func add(second: Int64, _ metrics: RequestMetrics) -> Decision? {
        seconds[second, default: RequestMetrics()].merge(metrics)
        latest = max(latest ?? second, second)
        guard let latest else { return nil }
        let width = max(1, Int64(adjustment.windowSec.rounded()))
        let count = adjustment.consecutiveWindows
        // Forget what no window can reach any more.
        seconds = seconds.filter { $0.key > latest - width * Int64(count) - 1 }
        var rates: [Double] = [], p99s: [Double] = []
        for k in stride(from: count - 1, through: 0, by: -1) {
            let end = latest - Int64(k) * width
            var window = RequestMetrics()
            var covered = 0
            for s in (end - width + 1)...end {
                if let m = seconds[s] {
                    window.merge(m)
                    covered += 1
                }
            }
            guard covered > 0 else { return nil }
            let (failed, ended) = Self.failures(window, count4xx: adjustment.count4xx)
            let rate = ended > 0 ? Double(failed) / Double(ended) : 0
            let p99 = Double(window.latency.value(atPercentile: 99)) / 1000
            let latencyFails = adjustment.p99MsThreshold.map { p99 > $0 } ?? false
            guard ended > 0, rate > adjustment.errorRateThreshold || latencyFails else { return nil }
            rates.append(rate)
            p99s.append(p99)
        }
        let shown = rates.map { String(format: "%.1f%%", $0 * 100) }.joined(separator: ", ")
        var reason = "error rate above \(String(format: "%.1f%%", adjustment.errorRateThreshold * 100)) in \(count) consecutive \(width) s windows (\(shown))"
        if let limit = adjustment.p99MsThreshold, rates.allSatisfy({ $0 <= adjustment.errorRateThreshold }) {
            reason = "p99 above \(limit) ms in \(count) consecutive \(width) s windows (" + p99s.map { String(format: "%.1f ms", $0) }.joined(separator: ", ") + ")"
        }
        return Decision(action: adjustment.action, windowErrorRates: rates, windowP99Ms: p99s, reason: reason)
    }
}
