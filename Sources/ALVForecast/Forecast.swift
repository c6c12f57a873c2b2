/// A point forecast with the spread of its errors, from which prediction intervals are drawn.
public struct Forecast: Sendable {
    /// The model that made it, e.g. `ETS(A,Ad,N)` or `MSTL(24,168)+ETS(A,N,N)`.
    public var model: String
    /// Forecast mean per step ahead (index 0 is one step ahead).
    public var mean: [Double]
    /// Standard deviation of the forecast error per step ahead, as the model sees it.
    public var sd: [Double]
    /// The fitted parameters by name (smoothing weights, coefficients, …).
    public var parameters: [String: Double]
    /// Fit statistics by name (`aicc`, `sigma`, `n`, backtest scores, …).
    public var statistics: [String: Double]
    /// Width multipliers per interval level (in percent) learned from backtests; 1 when absent.
    public var intervalScale: [Double: Double]
    /// Whether intervals and means are clipped at zero (demand cannot be negative).
    public var nonNegative: Bool
    /// `auto` only: each candidate's outcome and the models chosen.
    public var candidates: [CandidateOutcome] = []
    public var chosen: [String] = []

    public init(model: String, mean: [Double], sd: [Double], parameters: [String: Double] = [:],
                statistics: [String: Double] = [:], intervalScale: [Double: Double] = [:], nonNegative: Bool = false) {
        self.model = model
        self.mean = mean
        self.sd = sd
        self.parameters = parameters
        self.statistics = statistics
        self.intervalScale = intervalScale
        self.nonNegative = nonNegative
    }

    /// Point forecasts, clipped at zero when `nonNegative`.
    public var point: [Double] { nonNegative ? mean.map { max(0, $0) } : mean }

    /// The central prediction interval at `level` percent (for example 80 or 95).
    public func interval(level: Double) -> (lower: [Double], upper: [Double]) {
        let z = Stats.normalQuantile(0.5 + level / 200) * (intervalScale[level] ?? scaleBetweenLevels(level))
        var lower = zip(mean, sd).map { $0 - z * $1 }
        var upper = zip(mean, sd).map { $0 + z * $1 }
        if nonNegative {
            lower = lower.map { max(0, $0) }
            upper = upper.map { max(0, $0) }
        }
        return (lower, upper)
    }

    /// For a level without a learned multiplier, interpolates between the learned ones (or 1).
    func scaleBetweenLevels(_ level: Double) -> Double {
        let known = intervalScale.sorted { $0.key < $1.key }
        guard let first = known.first, let last = known.last else { return 1 }
        if level <= first.key { return first.value }
        if level >= last.key { return last.value }
        for (a, b) in zip(known, known.dropFirst()) where level <= b.key {
            return a.value + (b.value - a.value) * (level - a.key) / (b.key - a.key)
        }
        return 1
    }
}

/// A forecasting method: fits `y` and forecasts `horizon` steps ahead.
public protocol Forecaster: Sendable {
    /// A short name: `snaive`, `window`, `ets`, `arima`, `mstl`, `prophet`, `auto`.
    var name: String { get }
    /// Fits the history `y` (regular, oldest first) and forecasts `horizon` steps.
    /// - Throws: `ForecastError.badInput` when the history is too short for the model.
    func forecast(_ y: [Double], horizon: Int) throws(ForecastError) -> Forecast
}

/// Seasonal naive: each step repeats the value one season earlier.
public struct SeasonalNaive: Forecaster {
    public let period: Int
    public var name: String { "snaive" }

    public init(period: Int) { self.period = max(1, period) }

    public func forecast(_ y: [Double], horizon: Int) throws(ForecastError) -> Forecast {
        let m = period
        guard y.count > m else { throw .badInput("seasonal naive with a season of \(m) needs more than \(m) values, found \(y.count)") }
        var squares = 0.0
        for t in m..<y.count { squares += (y[t] - y[t - m]) * (y[t] - y[t - m]) }
        let sigma = (squares / Double(y.count - m)).squareRoot()
        let n = y.count
        var mean = [Double](), sd = [Double]()
        for h in 1...max(1, horizon) {
            let cycles = (h - 1) / m + 1
            mean.append(y[n - m + (h - 1) % m])
            sd.append(sigma * Double(cycles).squareRoot())
        }
        return Forecast(model: "SeasonalNaive(\(m))", mean: Array(mean.prefix(horizon)), sd: Array(sd.prefix(horizon)),
                        statistics: ["sigma": sigma, "n": Double(n)])
    }
}

/// Seasonal window average: each step is the mean of the same phase over the last `windows` seasons.
/// On demand series with a stable weekly shape it is hard to beat and costs nothing to fit.
public struct SeasonalWindowAverage: Forecaster {
    public let period: Int
    public let windows: Int
    public var name: String { "window" }

    public init(period: Int, windows: Int = 3) {
        self.period = max(1, period)
        self.windows = max(1, windows)
    }

    public func forecast(_ y: [Double], horizon: Int) throws(ForecastError) -> Forecast {
        let m = period, n = y.count
        let k = min(windows, n / m)
        guard k >= 1 else { throw .badInput("a seasonal window average with a season of \(m) needs at least \(m) values, found \(n)") }
        func average(endingBefore end: Int, phase: Int) -> Double {
            var total = 0.0
            for j in 1...k { total += y[end - j * m + phase] }
            return total / Double(k)
        }
        // In-sample one-season-ahead errors of the same rule give the spread.
        var squares = 0.0, count = 0
        if n > k * m {
            for t in (k * m)..<n {
                var total = 0.0
                for j in 1...k { total += y[t - j * m] }
                let e = y[t] - total / Double(k)
                squares += e * e
                count += 1
            }
        }
        let sigma = count > 0 ? (squares / Double(count)).squareRoot() : Stats.variance(y).squareRoot()
        var mean = [Double](), sd = [Double]()
        for h in 1...max(1, horizon) {
            let phase = (h - 1) % m
            mean.append(average(endingBefore: n, phase: phase))
            sd.append(sigma * Double((h - 1) / m + 1).squareRoot())
        }
        return Forecast(model: "WindowAverage(\(m)x\(k))", mean: Array(mean.prefix(horizon)), sd: Array(sd.prefix(horizon)),
                        statistics: ["sigma": sigma, "n": Double(n)])
    }
}

/// Forecasters by the names the command line and vectors use.
public enum ForecasterCatalog {
    public static let names = ["auto", "snaive", "window", "ets", "arima", "mstl", "prophet"]

    /// The forecaster called `name` for a series with these seasons (shortest first); nil for an unknown
    /// name, or for a seasonal method when no season is known.
    /// - Parameter budget: seconds `auto` may spend per fit (nil: no limit).
    public static func make(_ name: String, periods: [Int], levels: [Double] = [80, 95], budget: Double? = AutoForecaster.defaultBudget,
                            intervals: IntervalMethod = .standard) -> (any Forecaster)? {
        let main = periods.first ?? 1, longest = periods.last ?? 1
        switch name {
        case "snaive": return periods.isEmpty ? nil : SeasonalNaive(period: longest)
        case "window": return periods.isEmpty ? nil : SeasonalWindowAverage(period: longest)
        case "ets": return ETS(period: main)
        case "arima": return ARIMA(period: main)
        case "mstl": return periods.isEmpty ? nil : MSTLForecaster(periods: periods)
        case "prophet": return ProphetStyle(periods: periods)
        case "auto":
            var auto = AutoForecaster(periods: periods, levels: levels, budget: budget)
            auto.intervalMethod = intervals
            return auto
        default: return nil
        }
    }
}
