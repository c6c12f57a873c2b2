import Foundation

/// Exponential smoothing in state-space form (Hyndman et al., 2008): additive or multiplicative error,
/// no / additive / damped trend, no / additive / multiplicative season. Smoothing parameters are fitted by
/// maximum likelihood (Nelder–Mead on a transform that keeps 0 < β < α < 1, 0 < γ < 1 − α and
/// 0.8 ≤ φ ≤ 0.98); initial states come from a classical decomposition of the first seasons. With no
/// specification the model is chosen by AICc among the admissible ones.
public struct ETS: Forecaster {
    /// One ETS model form.
    public struct Specification: Hashable, Sendable, CustomStringConvertible {
        public enum Error: String, Sendable { case additive = "A", multiplicative = "M" }
        public enum Trend: String, Sendable { case none = "N", additive = "A", damped = "Ad" }
        public enum Season: String, Sendable { case none = "N", additive = "A", multiplicative = "M" }
        public var error: Error
        public var trend: Trend
        public var season: Season

        public init(error: Error, trend: Trend, season: Season) {
            self.error = error
            self.trend = trend
            self.season = season
        }

        public var description: String { "ETS(\(error.rawValue),\(trend.rawValue),\(season.rawValue))" }

        /// Parses `ANN`, `AAdA`, `MAM`, … (the letters of error, trend and season).
        public init?(code: String) {
            var rest = Substring(code.uppercased())
            guard let e = rest.first.flatMap({ Error(rawValue: String($0)) }) else { return nil }
            rest = rest.dropFirst()
            let trend: Trend
            if rest.hasPrefix("AD") { trend = .damped; rest = rest.dropFirst(2) }
            else if let t = rest.first.flatMap({ Trend(rawValue: String($0)) }) { trend = t; rest = rest.dropFirst() }
            else { return nil }
            guard rest.count == 1, let s = Season(rawValue: String(rest)) else { return nil }
            self.init(error: e, trend: trend, season: s)
        }
    }

    /// The season length; 1 means non-seasonal.
    public let period: Int
    /// A fixed form, or nil to choose by AICc.
    public let specification: Specification?
    /// Whether seasonal forms are considered in automatic selection.
    public let allowSeasonal: Bool
    public var name: String { "ets" }

    public init(period: Int = 1, specification: Specification? = nil, allowSeasonal: Bool = true) {
        self.period = max(1, period)
        self.specification = specification
        self.allowSeasonal = allowSeasonal
    }

    /// A fitted model: parameters, final states and fit statistics.
    public struct Fit: Sendable {
        public var specification: Specification
        public var period: Int
        public var alpha: Double, beta: Double, gamma: Double, phi: Double
        public var level: Double, slope: Double
        /// Seasonal states by phase (index = time mod period).
        public var seasonal: [Double]
        /// Innovation standard deviation (relative for multiplicative error).
        public var sigma: Double
        public var logLikelihood: Double
        public var aicc: Double
        public var n: Int
    }

    /// The forms automatic selection tries for `y`.
    public func candidates(for y: [Double]) -> [Specification] {
        if let specification { return [specification] }
        let positive = y.allSatisfy { $0 > 0 }
        let seasonal = allowSeasonal && period > 1 && y.count >= 2 * period + 2
        var result: [Specification] = []
        for error in positive ? [Specification.Error.additive, .multiplicative] : [.additive] {
            for trend in [Specification.Trend.none, .additive, .damped] {
                var seasons: [Specification.Season] = [.none]
                if seasonal { seasons.append(.additive); if positive && error == .multiplicative { seasons.append(.multiplicative) } }
                for season in seasons { result.append(Specification(error: error, trend: trend, season: season)) }
            }
        }
        return result
    }

    /// Fits every candidate and returns the one with the lowest AICc.
    public func fit(_ y: [Double]) throws(ForecastError) -> Fit {
        guard y.count >= 4 else { throw .badInput("exponential smoothing needs at least 4 values, found \(y.count)") }
        var best: Fit?
        for spec in candidates(for: y) {
            if let fit = ETS.fit(y, spec: spec, period: spec.season == .none ? 1 : period), fit.aicc.isFinite,
               best.map({ fit.aicc < $0.aicc }) ?? true {
                best = fit
            }
        }
        guard let best else { throw .badInput("no exponential smoothing model could be fitted to \(y.count) values") }
        return best
    }

    public func forecast(_ y: [Double], horizon: Int) throws(ForecastError) -> Forecast {
        let fit = try fit(y)
        return ETS.forecast(fit, horizon: horizon)
    }

    /// Forecasts `horizon` steps from a fitted model.
    public static func forecast(_ fit: Fit, horizon: Int) -> Forecast {
        let m = fit.period
        var mean = [Double](), sd = [Double]()
        var cumulative = 0.0
        var damp = 0.0, phiPower = 1.0
        for h in 1...max(1, horizon) {
            phiPower *= fit.phi
            damp += phiPower
            let trendPart: Double
            switch fit.specification.trend {
            case .none: trendPart = fit.level
            case .additive: trendPart = fit.level + Double(h) * fit.slope
            case .damped: trendPart = fit.level + damp * fit.slope
            }
            let s = m > 1 ? fit.seasonal[(fit.n + h - 1) % m] : 0
            let value: Double
            switch fit.specification.season {
            case .none: value = trendPart
            case .additive: value = trendPart + s
            case .multiplicative: value = trendPart * s
            }
            mean.append(value)
            let scale = fit.specification.error == .additive ? fit.sigma : abs(value) * fit.sigma
            sd.append(scale * (1 + cumulative).squareRoot())
            // c_h for the next step's variance (class 1 formula; an approximation for multiplicative forms).
            var c = fit.alpha
            switch fit.specification.trend {
            case .none: break
            case .additive: c += fit.beta * Double(h)
            case .damped: c += fit.beta * damp
            }
            if fit.specification.season != .none && m > 1 && h % m == 0 { c += fit.gamma }
            cumulative += c * c
        }
        return Forecast(
            model: fit.specification.description + (m > 1 ? "[\(m)]" : ""),
            mean: Array(mean.prefix(horizon)), sd: Array(sd.prefix(horizon)),
            parameters: parameters(of: fit),
            statistics: ["aicc": fit.aicc, "log_likelihood": fit.logLikelihood, "sigma": fit.sigma, "n": Double(fit.n)])
    }

    /// The parameters the fitted form has, by name.
    static func parameters(of fit: Fit) -> [String: Double] {
        var result = ["alpha": fit.alpha, "level": fit.level]
        if fit.specification.trend != .none { result["beta"] = fit.beta; result["slope"] = fit.slope }
        if fit.specification.trend == .damped { result["phi"] = fit.phi }
        if fit.specification.season != .none { result["gamma"] = fit.gamma }
        return result
    }

    static func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
    static func logit(_ p: Double) -> Double { log(p / (1 - p)) }

    /// Maps unconstrained optimiser coordinates to (α, β, γ, φ).
    static func parameters(_ x: [Double], spec: Specification, period: Int) -> (Double, Double, Double, Double) {
        let lo = 1e-4
        var i = 0
        let alpha = lo + (1 - 2 * lo) * sigmoid(x[i]); i += 1
        var beta = 0.0, gamma = 0.0, phi = 1.0
        if spec.trend != .none { beta = alpha * sigmoid(x[i]); i += 1 }
        if spec.season != .none { gamma = (1 - alpha) * sigmoid(x[i]); i += 1 }
        if spec.trend == .damped { phi = 0.8 + 0.18 * sigmoid(x[i]) }
        return (alpha, beta, gamma, phi)
    }

    /// Initial level, slope and seasonal states from the first seasons (classical decomposition).
    static func initialStates(_ y: [Double], spec: Specification, period m: Int) -> (Double, Double, [Double]) {
        let n = y.count
        var seasonal = [Double](repeating: spec.season == .multiplicative ? 1 : 0, count: max(1, m))
        var adjusted = y
        if spec.season != .none && m > 1 {
            let cycles = min(4, n / m)
            // Centred moving average of order m (2×m when m is even) over the first cycles.
            let span = cycles * m
            var sums = [Double](repeating: 0, count: m), counts = [Double](repeating: 0, count: m)
            let half = m / 2
            for t in half..<max(half, span - half) where t + half < n {
                var average = 0.0
                if m % 2 == 0 {
                    for j in (t - half)...(t + half) {
                        let w = (j == t - half || j == t + half) ? 0.5 : 1
                        average += w * y[j]
                    }
                    average /= Double(m)
                } else {
                    for j in (t - half)...(t + half) { average += y[j] }
                    average /= Double(m)
                }
                let detrended = spec.season == .multiplicative ? y[t] / average : y[t] - average
                sums[t % m] += detrended
                counts[t % m] += 1
            }
            for p in 0..<m { seasonal[p] = counts[p] > 0 ? sums[p] / counts[p] : seasonal[p] }
            if spec.season == .multiplicative {
                let mean = Stats.mean(seasonal)
                if mean > 0 { seasonal = seasonal.map { $0 / mean } }
            } else {
                let mean = Stats.mean(seasonal)
                seasonal = seasonal.map { $0 - mean }
            }
            for t in 0..<n {
                adjusted[t] = spec.season == .multiplicative ? y[t] / seasonal[t % m] : y[t] - seasonal[t % m]
            }
        }
        let k = min(n, max(10, m > 1 ? m : 10))
        var level = adjusted[0], slope = 0.0
        if spec.trend != .none && k >= 2 {
            // Least-squares line through the first k adjusted values; the level is its value at t = -1.
            let tMean = Double(k - 1) / 2
            let yMean = Stats.mean(adjusted[0..<k])
            var sxy = 0.0, sxx = 0.0
            for t in 0..<k { sxy += (Double(t) - tMean) * (adjusted[t] - yMean); sxx += (Double(t) - tMean) * (Double(t) - tMean) }
            slope = sxx > 0 ? sxy / sxx : 0
            level = yMean - slope * (tMean + 1)
        } else {
            level = Stats.mean(adjusted[0..<min(n, max(1, m > 1 ? m : 5))])
        }
        return (level, slope, seasonal)
    }

    /// Runs the state equations over `y`; returns −2·log-likelihood (up to a constant), the sum of squared
    /// innovations and the final states. `record` receives one-step errors when given.
    static func filter(
        _ y: [Double], spec: Specification, period m: Int, alpha: Double, beta: Double, gamma: Double, phi: Double,
        level l0: Double, slope b0: Double, seasonal s0: [Double]
    ) -> (objective: Double, squares: Double, level: Double, slope: Double, seasonal: [Double]) {
        var l = l0, b = b0
        var s = s0
        let n = y.count
        var squares = 0.0, logScale = 0.0
        let multiplicativeError = spec.error == .multiplicative
        let trend = spec.trend, season = spec.season
        let seasonal = season != .none && m > 1
        s.withUnsafeMutableBufferPointer { sp in
            y.withUnsafeBufferPointer { yp in
                var phase = 0
                for t in 0..<n {
                    let lb: Double
                    switch trend {
                    case .none: lb = l
                    case .additive: lb = l + b
                    case .damped: lb = l + phi * b
                    }
                    let st = seasonal ? sp[phase] : 0
                    let mu: Double
                    switch season {
                    case .none: mu = lb
                    case .additive: mu = lb + st
                    case .multiplicative: mu = lb * st
                    }
                    let e = yp[t] - mu
                    if multiplicativeError {
                        guard mu > 0 else { squares = .infinity; return }
                        let r = e / mu
                        squares += r * r
                        logScale += log(mu)
                    } else {
                        squares += e * e
                    }
                    switch season {
                    case .none:
                        l = lb + alpha * e
                        if trend != .none { b = (trend == .damped ? phi * b : b) + beta * e }
                    case .additive:
                        l = lb + alpha * e
                        if trend != .none { b = (trend == .damped ? phi * b : b) + beta * e }
                        sp[phase] = st + gamma * e
                    case .multiplicative:
                        guard st > 0, lb > 0 else { squares = .infinity; return }
                        l = lb + alpha * e / st
                        if trend != .none { b = (trend == .damped ? phi * b : b) + beta * e / st }
                        sp[phase] = st + gamma * e / lb
                    }
                    if seasonal { phase += 1; if phase == m { phase = 0 } }
                }
            }
        }
        guard squares.isFinite, squares > 0 else {
            return (squares == 0 ? -.greatestFiniteMagnitude : .infinity, squares, l, b, s)
        }
        let objective = Double(n) * log(squares / Double(n)) + 2 * logScale
        return (objective, squares, l, b, s)
    }

    /// Fits one form by maximum likelihood, or nil when it cannot be fitted.
    static func fit(_ y: [Double], spec: Specification, period: Int) -> Fit? {
        let m = spec.season == .none ? 1 : period
        let (l0, b0, s0) = initialStates(y, spec: spec, period: m)
        var start = [logit(m > 1 ? 0.1 : 0.2)]
        if spec.trend != .none { start.append(logit(0.1)) }
        if spec.season != .none { start.append(logit(0.05)) }
        if spec.trend == .damped { start.append(logit((0.97 - 0.8) / 0.18)) }
        let objective = { (x: [Double]) -> Double in
            let (a, b, g, p) = parameters(x, spec: spec, period: m)
            return filter(y, spec: spec, period: m, alpha: a, beta: b, gamma: g, phi: p, level: l0, slope: b0, seasonal: s0).objective
        }
        let result = NelderMead.minimise(objective, start: start, step: 1.0, tolerance: 1e-6, maxEvaluations: 150 * start.count)
        let (alpha, beta, gamma, phi) = parameters(result.point, spec: spec, period: m)
        let final = filter(y, spec: spec, period: m, alpha: alpha, beta: beta, gamma: gamma, phi: phi, level: l0, slope: b0, seasonal: s0)
        guard final.objective.isFinite else { return nil }
        let n = Double(y.count)
        let logLikelihood = -0.5 * (final.objective + n * (1 + log(2 * Double.pi)))
        // Parameters: smoothing weights, initial states and the innovation variance.
        let k = Double(start.count + 1 + (spec.trend != .none ? 1 : 0) + (m > 1 ? m - 1 : 0) + 1)
        let aic = -2 * logLikelihood + 2 * k
        let aicc = n - k - 1 > 0 ? aic + 2 * k * (k + 1) / (n - k - 1) : .infinity
        let sigma = (final.squares / max(1, n - k)).squareRoot()
        return Fit(specification: spec, period: m, alpha: alpha, beta: beta, gamma: gamma, phi: phi,
                   level: final.level, slope: final.slope, seasonal: final.seasonal, sigma: sigma,
                   logLikelihood: logLikelihood, aicc: aicc, n: y.count)
    }
}
