import Foundation

/// What an endpoint's history says: its seasons, its trend, when it peaks, and (beside latency and target CPU
/// series of past runs) the capacity curve, i.e. how p95 and CPU grew with the rate, and the rate at which they
/// crossed their limits.
public struct HistoryAnalysis: Sendable {
    public struct Season: Sendable, Equatable {
        public var steps: Int
        public var seconds: Int64
    }

    public struct Trend: Sendable, Equatable {
        /// Change of the level per day, in the series' unit, and relative to its mean.
        public var perDay: Double
        public var relativePerDay: Double
    }

    /// One band of rates and what latency and CPU were while the rate was in it.
    public struct CapacityBin: Sendable, Equatable {
        public var rateFrom: Double, rateTo: Double
        public var meanRate: Double
        public var samples: Int
        public var p95Ms: Double?
        public var cpuCores: Double?
    }

    public struct Crossing: Sendable, Equatable {
        public var limit: Double
        /// The lowest rate band whose median crossed the limit (its lower edge), nil when none did.
        public var atRate: Double?
        /// The highest rate seen while it stayed under the limit.
        public var highestRateUnder: Double?
    }

    public var points: Int
    public var step: Int64
    public var mean: Double
    public var peak: Double
    public var seasons: [Season]
    public var trend: Trend?
    /// Hour of the day (UTC, 0–23) and day of the week (0 = Monday) with the highest mean; nil for history
    /// shorter than two days (or one week).
    public var peakHourUTC: Int?
    public var peakWeekday: Int?
    public var capacity: [CapacityBin] = []
    public var latencyCrossing: Crossing?
    public var cpuCrossing: Crossing?

    public static let weekdays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

    /// - Parameters:
    ///   - latency: p95 in ms at the rate's timestamps (or some of them), for the capacity curve.
    ///   - cpu: the target's CPU in cores busy, likewise.
    ///   - p95Limit: default twice the p95 seen at the lowest fifth of rates.
    /// - Parameter points: the rate history, (seconds since the epoch, value); seasons, trend and peaks come
    ///   from it when it regularises onto a step (gaps of at most half the steps), the capacity curve in any case.
    public static func analyze(
        _ points: [(Int64, Double)], latency: [(Int64, Double)] = [], cpu: [(Int64, Double)] = [], p95Limit: Double? = nil, cpuLimit: Double? = nil,
        bins: Int = 10
    ) -> HistoryAnalysis {
        let raw = points.map(\.1)
        var result = HistoryAnalysis(
            points: points.count, step: 0, mean: raw.isEmpty ? 0 : raw.reduce(0, +) / Double(raw.count), peak: raw.max() ?? 0, seasons: [])
        if let series = try? TimeSeries.regularised(points, maxGapShare: 0.5) { result.calendar(series) }
        result.capacityCurve(points, latency: latency, cpu: cpu, p95Limit: p95Limit, cpuLimit: cpuLimit, bins: bins)
        return result
    }

    mutating func calendar(_ series: TimeSeries) {
        let values = series.values
        let mean = values.reduce(0, +) / Double(max(1, values.count))
        step = series.step
        seasons = Seasonality.detect(series).map { Season(steps: $0, seconds: Int64($0) * series.step) }
        var result = self
        defer { self = result }
        // Trend: least squares slope over time.
        if values.count >= 3 {
            let n = Double(values.count)
            let xs = values.indices.map { Double($0) }
            let mx = (n - 1) / 2
            var sxy = 0.0, sxx = 0.0
            for i in values.indices {
                sxy += (xs[i] - mx) * (values[i] - mean)
                sxx += (xs[i] - mx) * (xs[i] - mx)
            }
            let perStep = sxx > 0 ? sxy / sxx : 0
            let perDay = perStep * 86_400 / Double(series.step)
            result.trend = Trend(perDay: perDay, relativePerDay: mean != 0 ? perDay / abs(mean) : 0)
        }
        let span = Int64(values.count) * series.step
        if span >= 2 * 86_400 {
            var sums = [Double](repeating: 0, count: 24), counts = [Int](repeating: 0, count: 24)
            var daySums = [Double](repeating: 0, count: 7), dayCounts = [Int](repeating: 0, count: 7)
            for i in values.indices {
                let t = series.timestamp(at: i)
                let hour = Int(((t % 86_400) + 86_400) % 86_400 / 3_600)
                sums[hour] += values[i]
                counts[hour] += 1
                // 1970-01-01 was a Thursday (index 3 with Monday = 0).
                let day = Int((((t / 86_400) % 7) + 7 + 3) % 7)
                daySums[day] += values[i]
                dayCounts[day] += 1
            }
            result.peakHourUTC = (0..<24).filter { counts[$0] > 0 }.max { sums[$0] / Double(counts[$0]) < sums[$1] / Double(counts[$1]) }
            if span >= 14 * 86_400 {
                result.peakWeekday = (0..<7).filter { dayCounts[$0] > 0 }.max { daySums[$0] / Double(dayCounts[$0]) < daySums[$1] / Double(dayCounts[$1]) }
            }
        }
    }

    mutating func capacityCurve(_ points: [(Int64, Double)], latency: [(Int64, Double)], cpu: [(Int64, Double)], p95Limit: Double?, cpuLimit: Double?, bins: Int) {
        guard !latency.isEmpty || !cpu.isEmpty else { return }
        var result = self
        defer { self = result }
        // The capacity curve: rates joined with latency and CPU at equal timestamps, in equal-width bands.
        let rateAt = Dictionary(points, uniquingKeysWith: { a, _ in a })
        let latencyAt = Dictionary(latency, uniquingKeysWith: { a, _ in a })
        let cpuAt = Dictionary(cpu, uniquingKeysWith: { a, _ in a })
        let joined = rateAt.keys.sorted().compactMap { t -> (Double, Double?, Double?)? in
            let l = latencyAt[t], c = cpuAt[t]
            return l == nil && c == nil ? nil : (rateAt[t]!, l, c)
        }.filter { $0.0 > 0 }
        guard let low = joined.map(\.0).min(), let high = joined.map(\.0).max(), high > low else { return }
        let width = (high - low) / Double(bins)
        for b in 0..<bins {
            let from = low + Double(b) * width, to = b == bins - 1 ? high : low + Double(b + 1) * width
            let members = joined.filter { $0.0 >= from && (b == bins - 1 ? $0.0 <= to : $0.0 < to) }
            guard !members.isEmpty else { continue }
            let p95 = members.compactMap(\.1), cores = members.compactMap(\.2)
            result.capacity.append(CapacityBin(
                rateFrom: from, rateTo: to, meanRate: members.map(\.0).reduce(0, +) / Double(members.count), samples: members.count,
                p95Ms: p95.isEmpty ? nil : Stats.quantile(p95, 0.5), cpuCores: cores.isEmpty ? nil : Stats.quantile(cores, 0.5)))
        }
        func crossing(_ limit: Double, _ value: (CapacityBin) -> Double?) -> Crossing {
            let over = result.capacity.first { (value($0) ?? -.infinity) > limit }
            let cut = over?.rateFrom ?? .infinity
            let under = result.capacity.filter { bin in (value(bin) ?? .infinity) <= limit && bin.rateFrom < cut }
            return Crossing(limit: limit, atRate: over?.rateFrom, highestRateUnder: under.last?.rateTo)
        }
        if result.capacity.contains(where: { $0.p95Ms != nil }) {
            let sorted = joined.filter { $0.1 != nil }.sorted { $0.0 < $1.0 }
            let baseline = sorted.prefix(max(1, sorted.count / 5)).compactMap(\.1)
            let limit = p95Limit ?? 2 * Stats.quantile(baseline, 0.5)
            result.latencyCrossing = crossing(limit) { $0.p95Ms }
        }
        if let cpuLimit, result.capacity.contains(where: { $0.cpuCores != nil }) {
            result.cpuCrossing = crossing(cpuLimit) { $0.cpuCores }
        }
    }
}
