import Foundation

/// Seasonal-trend decomposition by loess (Cleveland, Cleveland, McRae and Terpenning, 1990), the
/// non-robust form: an inner loop of cycle-subseries smoothing, a low-pass filter and trend smoothing.
public struct STL: Sendable {
    /// Season length in steps (≥ 2).
    public let period: Int
    /// Span of the cycle-subseries smoother, in seasons (odd, ≥ 7).
    public let seasonalWindow: Int
    /// Passes of the inner loop.
    public let innerIterations: Int
    /// Degree of the cycle-subseries smoother: 0 (local mean, R's default, and what a season that
    /// changes slowly wants) or 1 (local line).
    public let seasonalDegree: Int

    public init(period: Int, seasonalWindow: Int = 7, innerIterations: Int = 5, seasonalDegree: Int = 0) {
        self.period = period
        self.seasonalWindow = max(7, seasonalWindow | 1)
        self.innerIterations = max(1, innerIterations)
        self.seasonalDegree = seasonalDegree == 0 ? 0 : 1
    }

    /// Span of the trend smoother: the smallest odd integer ≥ 1.5·period / (1 − 1.5 / seasonalWindow).
    public var trendWindow: Int {
        let raw = Int((1.5 * Double(period) / (1 - 1.5 / Double(seasonalWindow))).rounded(.up))
        return raw | 1
    }

    /// Span of the low-pass smoother: the smallest odd integer ≥ period.
    public var lowPassWindow: Int { period | 1 }

    /// The seasonal and trend components of `y` (the remainder is `y − seasonal − trend`).
    public func decompose(_ y: [Double]) -> (seasonal: [Double], trend: [Double]) {
        let n = y.count, np = period
        var trend = [Double](repeating: 0, count: n)
        var seasonal = [Double](repeating: 0, count: n)
        var detrended = [Double](repeating: 0, count: n)
        var cycle = [Double](repeating: 0, count: n + 2 * np)
        for _ in 0..<innerIterations {
            for t in 0..<n { detrended[t] = y[t] - trend[t] }
            smoothSubseries(detrended, into: &cycle)
            let low = Loess.smooth(
                Loess.movingAverage(Loess.movingAverage(Loess.movingAverage(cycle, np), np), 3),
                span: lowPassWindow, jump: Loess.defaultJump(lowPassWindow))
            for t in 0..<n { seasonal[t] = cycle[np + t] - low[t] }
            var adjusted = y
            for t in 0..<n { adjusted[t] -= seasonal[t] }
            trend = Loess.smooth(adjusted, span: trendWindow, jump: Loess.defaultJump(trendWindow))
        }
        return (seasonal, trend)
    }

    /// Smooths each cycle-subseries with loess and extends it by one season at both ends.
    func smoothSubseries(_ x: [Double], into cycle: inout [Double]) {
        let n = x.count, np = period
        var sub = [Double]()
        sub.reserveCapacity(n / np + 1)
        for phase in 0..<np {
            sub.removeAll(keepingCapacity: true)
            var t = phase
            while t < n { sub.append(x[t]); t += np }
            let k = sub.count
            guard k > 0 else { continue }
            sub.withUnsafeBufferPointer { s in
                for j in -1...k {
                    let value = Loess.estimate(s, at: Double(j), span: seasonalWindow, degree: seasonalDegree) ?? (j < 0 ? s[0] : j >= k ? s[k - 1] : s[j])
                    cycle[(j + 1) * np + phase] = value
                }
            }
        }
    }
}

/// Multiple seasonal-trend decomposition (MSTL, Bandara, Hyndman and Bergmeir, 2021): STL applied to each
/// season in turn, shortest first, iterated so that each seasonal component is estimated with the others
/// removed.
public struct MSTLDecomposition: Sendable {
    public var seasonals: [(period: Int, values: [Double])]
    public var trend: [Double]
    public var remainder: [Double]

    /// Decomposes `y` with the given seasons (those of at least half the series' length are dropped).
    public init(_ y: [Double], periods: [Int], iterations: Int = 2) {
        let usable = Array(Set(periods.filter { $0 >= 2 && 2 * $0 < y.count })).sorted()
        var deseasonalised = y
        var components = usable.map { ($0, [Double](repeating: 0, count: y.count)) }
        var trend = [Double](repeating: 0, count: y.count)
        if usable.isEmpty {
            trend = Loess.smooth(y, span: min(y.count, 7) | 1, jump: 1)
        }
        for _ in 0..<(usable.isEmpty ? 0 : max(1, iterations)) {
            for (i, period) in usable.enumerated() {
                for t in y.indices { deseasonalised[t] += components[i].1[t] }
                let stl = STL(period: period, seasonalWindow: 7 + 4 * (i + 1))
                let (seasonal, stlTrend) = stl.decompose(deseasonalised)
                components[i].1 = seasonal
                trend = stlTrend
                for t in y.indices { deseasonalised[t] -= seasonal[t] }
            }
        }
        seasonals = components.map { (period: $0.0, values: $0.1) }
        self.trend = trend
        remainder = y.indices.map { deseasonalised[$0] - trend[$0] }
    }

    /// The series with every seasonal component removed (trend + remainder).
    public var deseasonalised: [Double] { trend.indices.map { trend[$0] + remainder[$0] } }
}

/// Local linear regression with tricube weights on equally spaced points (positions 0, 1, 2, …).
enum Loess {
    /// The step between points where the smoother is evaluated exactly (linear interpolation between).
    static func defaultJump(_ span: Int) -> Int { max(1, Int((0.1 * Double(span)).rounded(.up))) }

    /// The local linear fit at `position` from the `span` nearest points of `y`, or nil when every weight is 0.
    static func estimate(_ y: UnsafeBufferPointer<Double>, at position: Double, span: Int, degree: Int = 1) -> Double? {
        let n = y.count
        var left: Int, right: Int
        if span >= n {
            left = 0; right = n - 1
        } else {
            left = Int((position - Double(span - 1) / 2).rounded(.up))
            left = min(max(0, left), n - span)
            right = left + span - 1
        }
        return fit(y, at: position, left: left, right: right, span: span, degree: degree)
    }

    @inline(__always)
    static func fit(_ y: UnsafeBufferPointer<Double>, at xs: Double, left: Int, right: Int, span: Int, degree: Int) -> Double? {
        let n = y.count
        var h = max(xs - Double(left), Double(right) - xs)
        if span > n { h += Double((span - n) / 2) }
        let upper = 0.999 * h, lower = 0.001 * h
        @inline(__always) func weight(_ j: Int) -> Double {
            let r = abs(Double(j) - xs)
            if r > upper { return 0 }
            if r <= lower { return 1 }
            let q = r / h
            let c = 1 - q * q * q
            return c * c * c
        }
        // Weighted sums in one pass: Σw, Σw·x, Σw·x², Σw·y, Σw·x·y (x centred on xs for stability).
        var sw = 0.0, swx = 0.0, swxx = 0.0, swy = 0.0, swxy = 0.0
        for j in left...right {
            let w = weight(j)
            if w == 0 { continue }
            let x = Double(j) - xs
            let v = y[j]
            sw += w; swx += w * x; swxx += w * x * x; swy += w * v; swxy += w * x * v
        }
        guard sw > 0 else { return nil }
        let meanX = swx / sw, meanY = swy / sw
        let c = swxx / sw - meanX * meanX
        if degree > 0, h > 0, c > 0, c.squareRoot() > 0.001 * Double(n - 1) {
            // The local line evaluated at xs (x = 0): meanY + slope·(0 − meanX).
            let slope = (swxy / sw - meanX * meanY) / c
            return meanY - slope * meanX
        }
        return meanY
    }

    /// Smooths `y` at every position, fitting exactly every `jump` points and interpolating between.
    static func smooth(_ y: [Double], span: Int, jump: Int) -> [Double] {
        let n = y.count
        guard n > 2 else { return y }
        var out = [Double](repeating: 0, count: n)
        y.withUnsafeBufferPointer { yp in
            let step = max(1, min(jump, n - 1))
            var points = Array(stride(from: 0, to: n, by: step))
            if points.last != n - 1 { points.append(n - 1) }
            for i in points { out[i] = estimate(yp, at: Double(i), span: span) ?? yp[i] }
            if step > 1 {
                for (a, b) in zip(points, points.dropFirst()) where b - a > 1 {
                    let slope = (out[b] - out[a]) / Double(b - a)
                    for j in (a + 1)..<b { out[j] = out[a] + slope * Double(j - a) }
                }
            }
        }
        return out
    }

    /// The moving average of `length` consecutive values (the result is `length − 1` shorter).
    static func movingAverage(_ x: [Double], _ length: Int) -> [Double] {
        guard x.count >= length, length > 0 else { return [] }
        var out = [Double](repeating: 0, count: x.count - length + 1)
        var sum = 0.0
        for i in 0..<length { sum += x[i] }
        out[0] = sum / Double(length)
        for i in 1..<out.count {
            sum += x[i + length - 1] - x[i - 1]
            out[i] = sum / Double(length)
        }
        return out
    }
}
