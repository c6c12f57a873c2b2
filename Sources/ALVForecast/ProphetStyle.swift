import Foundation

/// A Prophet-style additive model: a piecewise-linear trend with changepoints spread over the first 80%
/// of the history plus Fourier terms for each season, fitted by regularised least squares (a Gaussian
/// prior on the changepoint slopes, as a ridge penalty, in place of Prophet's Laplace prior and Stan).
/// For a positive series the model is fitted to the logarithm (Prophet's multiplicative mode), so that a
/// daily cycle can shrink at weekends, as request rates do.
public struct ProphetStyle: Forecaster {
    public let periods: [Int]
    /// Number of potential changepoints.
    public let changepoints: Int
    /// Prior scale of the slope changes, relative to the series' maximum (Prophet's default 0.05).
    public let changepointPriorScale: Double
    public var name: String { "prophet" }

    public init(periods: [Int], changepoints: Int = 25, changepointPriorScale: Double = 0.05) {
        self.periods = periods
        self.changepoints = changepoints
        self.changepointPriorScale = changepointPriorScale
    }

    /// Fourier order for a season: more harmonics for short, sharply peaked cycles, few for long ones.
    func order(for period: Int, shortest: Int) -> Int {
        min(period / 2, period == shortest ? 10 : 5)
    }

    public func forecast(_ y: [Double], horizon: Int) throws(ForecastError) -> Forecast {
        let n = y.count
        guard n >= 10 else { throw .badInput("the Prophet-style model needs at least 10 values, found \(n)") }
        let multiplicative = y.allSatisfy { $0 > 0 }
        let input = multiplicative ? y.map { log($0) } : y
        let scale = max(input.map { abs($0) }.max() ?? 1, 1e-9)
        let scaled = input.map { $0 / scale }
        let usable = periods.filter { $0 >= 2 && $0 < n }
        let shortest = usable.min() ?? 0
        let changes = min(changepoints, max(0, Int(0.8 * Double(n)) - 1))
        let knots = (0..<changes).map { Double(Int(Double($0 + 1) * 0.8 * Double(n - 1) / Double(changes + 1))) / Double(n - 1) }
        let seasonColumns = usable.reduce(0) { $0 + 2 * order(for: $1, shortest: shortest) }
        let columns = 2 + knots.count + seasonColumns
        func row(_ i: Int, into out: inout [Double], at base: Int) {
            let t = Double(i) / Double(n - 1)
            out[base] = 1
            out[base + 1] = t
            for (j, knot) in knots.enumerated() { out[base + 2 + j] = max(0, t - knot) }
            var c = base + 2 + knots.count
            for period in usable {
                for k in 1...order(for: period, shortest: shortest) {
                    let angle = 2 * Double.pi * Double(k) * Double(i) / Double(period)
                    out[c] = sin(angle); out[c + 1] = cos(angle)
                    c += 2
                }
            }
        }
        var x = [Double](repeating: 0, count: n * columns)
        for i in 0..<n { row(i, into: &x, at: i * columns) }
        func penalties(noise: Double) -> [Double] {
            var p = [Double](repeating: 0, count: columns)
            p[0] = 1e-9; p[1] = 1e-9
            for j in 0..<knots.count { p[2 + j] = noise / (changepointPriorScale * changepointPriorScale) }
            for j in (2 + knots.count)..<columns { p[j] = noise / 100 }
            return p
        }
        func residualVariance(_ beta: [Double]) -> Double {
            var squares = 0.0
            for i in 0..<n {
                var fitted = 0.0
                for j in 0..<columns { fitted += x[i * columns + j] * beta[j] }
                squares += (scaled[i] - fitted) * (scaled[i] - fitted)
            }
            return squares / Double(max(1, n - columns / 2))
        }
        guard let first = LeastSquares.solve(x: x, rows: n, columns: columns, y: scaled, penalty: penalties(noise: 1e-2)) else {
            throw .badInput("the Prophet-style model could not be fitted (singular design)")
        }
        let noise = max(residualVariance(first), 1e-10)
        let beta = LeastSquares.solve(x: x, rows: n, columns: columns, y: scaled, penalty: penalties(noise: noise)) ?? first
        let sigma2 = residualVariance(beta)
        // Trend uncertainty as Prophet simulates it: future slope changes at the historical rate with the
        // historical mean magnitude.
        let meanChange = knots.isEmpty ? 0 : (0..<knots.count).reduce(0.0) { $0 + abs(beta[2 + $1]) } / Double(knots.count)
        let rate = Double(knots.count) // changes per unit of (scaled) time
        var rowValues = [Double](repeating: 0, count: columns)
        var mean = [Double](), sd = [Double]()
        for h in 1...max(1, horizon) {
            row(n - 1 + h, into: &rowValues, at: 0)
            var value = 0.0
            for j in 0..<columns { value += rowValues[j] * beta[j] }
            let dt = Double(h) / Double(n - 1)
            let trendVariance = 2 * meanChange * meanChange * rate * dt * dt * dt
            let spread = (sigma2 + trendVariance).squareRoot() * scale
            if multiplicative {
                // The median of the log-normal, with its spread carried over to the original scale.
                let centre = exp(value * scale)
                mean.append(centre)
                sd.append(centre * spread)
            } else {
                mean.append(value * scale)
                sd.append(spread)
            }
        }
        return Forecast(model: "ProphetStyle(\(multiplicative ? "multiplicative" : "additive"); \(usable.map(String.init).joined(separator: ",")); \(knots.count) changepoints)",
                        mean: Array(mean.prefix(horizon)), sd: Array(sd.prefix(horizon)),
                        parameters: ["slope": beta[1] * scale, "intercept": beta[0] * scale, "changepoint_mean_abs": meanChange * scale],
                        statistics: ["sigma": sigma2.squareRoot() * scale, "n": Double(n)])
    }
}
