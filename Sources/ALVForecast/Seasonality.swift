/// Finds the seasonal periods of a series: the calendar cycles its step allows (a day and a week, in steps),
/// kept when the series' autocorrelation at that lag shows them, else the strongest autocorrelation peak.
public enum Seasonality {
    /// The minimum autocorrelation at a candidate lag for it to count as a season.
    public static let threshold = 0.3

    /// Detected periods in steps, shortest first (empty for a series with no visible season).
    public static func detect(_ series: TimeSeries) -> [Int] {
        let y = series.values
        let n = y.count
        var calendar: [Int] = []
        for seconds: Int64 in [86_400, 7 * 86_400] where seconds % series.step == 0 {
            let lag = Int(seconds / series.step)
            if lag >= 2 && 2 * lag < n { calendar.append(lag) }
        }
        guard n >= 8 else { return [] }
        let maxLag = min(n / 2, max(calendar.max() ?? 0, min(n / 2, 400)))
        let acf = Stats.autocorrelation(y, maxLag: maxLag)
        let found = calendar.filter { acf[$0] >= threshold }
        if !found.isEmpty { return found }
        // No calendar cycle: the highest local maximum of the ACF after it first turns negative.
        guard let firstNegative = acf.indices.dropFirst().first(where: { acf[$0] < 0 }) else { return [] }
        var best = 0
        for lag in max(2, firstNegative)..<maxLag where acf[lag] > acf[lag - 1] && acf[lag] >= acf[lag + 1] {
            if best == 0 || acf[lag] > acf[best] { best = lag }
        }
        return best > 0 && acf[best] >= threshold ? [best] : []
    }
}
