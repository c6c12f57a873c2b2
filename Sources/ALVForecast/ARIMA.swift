import Foundation

/// Seasonal ARIMA(p,d,q)(P,D,Q)[m] fitted by conditional sum of squares, with automatic order selection
/// (Hyndman–Khandakar): differencing chosen by a KPSS test and the seasonal strength of an STL
/// decomposition, then a stepwise search over (p, q, P, Q, constant) by AICc. AR and MA polynomials are
/// parameterised through partial autocorrelations, so every fitted model is stationary and invertible.
public struct ARIMA: Forecaster {
    /// A model order.
    public struct Order: Hashable, Sendable, CustomStringConvertible {
        public var p: Int, d: Int, q: Int
        public var P: Int, D: Int, Q: Int
        public var period: Int
        public var constant: Bool

        public init(p: Int, d: Int, q: Int, P: Int = 0, D: Int = 0, Q: Int = 0, period: Int = 1, constant: Bool = false) {
            self.p = p; self.d = d; self.q = q
            self.P = period > 1 ? P : 0; self.D = period > 1 ? D : 0; self.Q = period > 1 ? Q : 0
            self.period = period
            self.constant = constant && d + self.D <= 1
        }

        public var description: String {
            var text = "ARIMA(\(p),\(d),\(q))"
            if period > 1 && P + D + Q > 0 { text += "(\(P),\(D),\(Q))[\(period)]" }
            if constant { text += d + D == 0 ? " with mean" : " with drift" }
            return text
        }
    }

    /// A fixed order, or nil to select one.
    public let order: Order?
    /// The season used by automatic selection (1: non-seasonal).
    public let period: Int
    public var name: String { "arima" }

    public init(order: Order? = nil, period: Int = 1) {
        self.order = order
        self.period = max(1, period)
    }

    /// A fitted model.
    public struct Fit: Sendable {
        public var order: Order
        /// Expanded AR coefficients of the differenced series by lag (1-based index).
        public var ar: [Double]
        /// Expanded MA coefficients by lag.
        public var ma: [Double]
        public var mean: Double
        public var sigma2: Double
        public var aicc: Double
        public var parameters: [String: Double]
        /// The series and its one-step residuals (zero before the first fitted step).
        var y: [Double]
        var residuals: [Double]
    }

    public func forecast(_ y: [Double], horizon: Int) throws(ForecastError) -> Forecast {
        let fit: Fit
        if let order {
            guard let f = ARIMA.fit(y, order: order) else {
                throw .badInput("\(order) cannot be fitted to \(y.count) values")
            }
            fit = f
        } else {
            fit = try ARIMA.select(y, period: period)
        }
        return ARIMA.forecast(fit, horizon: horizon)
    }

    // MARK: Fitting

    /// The series differenced d times at lag 1 and D times at lag m.
    static func difference(_ y: [Double], d: Int, D: Int, period m: Int) -> [Double] {
        var w = y
        for _ in 0..<D where w.count > m { w = (m..<w.count).map { w[$0] - w[$0 - m] } }
        for _ in 0..<d where w.count > 1 { w = (1..<w.count).map { w[$0] - w[$0 - 1] } }
        return w
    }

    /// Coefficients φ₁…φₖ of a stationary polynomial 1 − Σφᵢ Bⁱ from unconstrained values (via partial
    /// autocorrelations tanh(x) and the Durbin–Levinson recursion).
    static func stationaryCoefficients(_ x: ArraySlice<Double>) -> [Double] {
        var phi: [Double] = []
        for value in x {
            let r = tanh(value)
            let previous = phi
            let k = previous.count
            phi.append(r)
            for j in 0..<k { phi[j] = previous[j] - r * previous[k - 1 - j] }
        }
        return phi
    }

    /// Multiplies (1 − Σa_i B^i)(1 − Σc_j B^{jm}) and returns the expanded lag coefficients, so that
    /// w_t = Σ result[k−1]·w_{t−k} (for MA, pass negated coefficients and negate the result).
    static func expand(_ a: [Double], seasonal c: [Double], period m: Int) -> [Double] {
        let length = a.count + c.count * m
        guard length > 0 else { return [] }
        // Polynomial in B with leading 1.
        var first = [Double](repeating: 0, count: a.count + 1)
        first[0] = 1
        for (i, v) in a.enumerated() { first[i + 1] = -v }
        var second = [Double](repeating: 0, count: c.count * m + 1)
        second[0] = 1
        for (j, v) in c.enumerated() { second[(j + 1) * m] = -v }
        var product = [Double](repeating: 0, count: length + 1)
        for (i, u) in first.enumerated() where u != 0 {
            for (j, v) in second.enumerated() where v != 0 { product[i + j] += u * v }
        }
        return (1...length).map { -product[$0] }
    }

    struct Coefficients {
        var ar: [Double], ma: [Double]
        var named: [String: Double]
    }

    static func coefficients(_ x: [Double], order o: Order) -> Coefficients {
        var i = 0
        func take(_ k: Int) -> ArraySlice<Double> { defer { i += k }; return x[i..<(i + k)] }
        let ar = stationaryCoefficients(take(o.p))
        let ma = stationaryCoefficients(take(o.q)).map { -$0 }
        let sar = stationaryCoefficients(take(o.P))
        let sma = stationaryCoefficients(take(o.Q)).map { -$0 }
        var named: [String: Double] = [:]
        for (k, v) in ar.enumerated() { named["ar\(k + 1)"] = v }
        for (k, v) in ma.enumerated() { named["ma\(k + 1)"] = v }
        for (k, v) in sar.enumerated() { named["sar\(k + 1)"] = v }
        for (k, v) in sma.enumerated() { named["sma\(k + 1)"] = v }
        let fullAR = expand(ar, seasonal: sar, period: o.period)
        let fullMA = expand(ma.map { -$0 }, seasonal: sma.map { -$0 }, period: o.period).map { -$0 }
        return Coefficients(ar: fullAR, ma: fullMA, named: named)
    }

    /// Conditional sum of squares of the centred differenced series `w`, from the first step with a full
    /// AR history; residuals before it are taken as zero.
    static func conditionalSquares(_ w: [Double], mean: Double, ar: [Double], ma: [Double], residuals: inout [Double]) -> (Double, Int) {
        let n = w.count
        let start = ar.count
        guard n > start else { return (.infinity, 0) }
        let arLags = ar.enumerated().filter { $0.element != 0 }.map { ($0.offset + 1, $0.element) }
        let maLags = ma.enumerated().filter { $0.element != 0 }.map { ($0.offset + 1, $0.element) }
        var squares = 0.0
        residuals.withUnsafeMutableBufferPointer { e in
            w.withUnsafeBufferPointer { wp in
                for t in 0..<n { e[t] = 0 }
                for t in start..<n {
                    var predicted = mean
                    for (lag, a) in arLags { predicted += a * (wp[t - lag] - mean) }
                    for (lag, b) in maLags where t - lag >= 0 { predicted += b * e[t - lag] }
                    let error = wp[t] - predicted
                    e[t] = error
                    squares += error * error
                }
            }
        }
        return (squares, n - start)
    }

    /// Fits one order by conditional least squares; nil when too few values remain after differencing.
    public static func fit(_ y: [Double], order o: Order) -> Fit? {
        let w = difference(y, d: o.d, D: o.D, period: o.period)
        let parameterCount = o.p + o.q + o.P + o.Q
        let maxLag = o.p + o.P * o.period
        guard w.count - maxLag > parameterCount + 3 else { return nil }
        let mean = o.constant ? Stats.mean(w) : 0
        var residuals = [Double](repeating: 0, count: w.count)
        let objective = { (x: [Double]) -> Double in
            let c = coefficients(x, order: o)
            let (squares, count) = conditionalSquares(w, mean: mean, ar: c.ar, ma: c.ma, residuals: &residuals)
            return Double(count) * log(squares / Double(count))
        }
        let start = [Double](repeating: 0.1, count: parameterCount)
        let best = NelderMead.minimise(objective, start: start, step: 0.3, tolerance: 1e-7, maxEvaluations: 200 * max(1, parameterCount))
        let c = coefficients(best.point, order: o)
        let (squares, count) = conditionalSquares(w, mean: mean, ar: c.ar, ma: c.ma, residuals: &residuals)
        guard squares.isFinite, count > 0 else { return nil }
        let sigma2 = max(squares / Double(count), 1e-12)
        let k = Double(parameterCount + (o.constant ? 1 : 0) + 1)
        let nEff = Double(count)
        let minus2LogL = nEff * (log(2 * Double.pi * sigma2) + 1)
        let aicc = nEff - k - 1 > 0 ? minus2LogL + 2 * k + 2 * k * (k + 1) / (nEff - k - 1) : .infinity
        var named = c.named
        if o.constant { named[o.d + o.D == 0 ? "mean" : "drift"] = mean }
        // Residuals aligned with y: the first d + D·m values have none.
        let offset = y.count - w.count
        var aligned = [Double](repeating: 0, count: y.count)
        for t in 0..<w.count { aligned[t + offset] = residuals[t] }
        return Fit(order: o, ar: c.ar, ma: c.ma, mean: mean, sigma2: sigma2, aicc: aicc, parameters: named, y: y, residuals: aligned)
    }

    /// Forecasts from a fitted model; the variance comes from the ψ-weights of the integrated model.
    public static func forecast(_ fit: Fit, horizon: Int) -> Forecast {
        let o = fit.order
        // Integrated AR polynomial: φ(B)·(1−B)^d·(1−B^m)^D, as lag coefficients on y.
        var poly = [1.0] + fit.ar.map { -$0 }
        func multiply(_ other: [Double]) {
            var product = [Double](repeating: 0, count: poly.count + other.count - 1)
            for (i, u) in poly.enumerated() where u != 0 { for (j, v) in other.enumerated() where v != 0 { product[i + j] += u * v } }
            poly = product
        }
        for _ in 0..<o.d { multiply([1, -1]) }
        if o.D > 0 {
            var seasonal = [Double](repeating: 0, count: o.period + 1)
            seasonal[0] = 1; seasonal[o.period] = -1
            for _ in 0..<o.D { multiply(seasonal) }
        }
        let a = poly.dropFirst().map { -$0 }  // y_t = c + Σ a_k y_{t−k} + e_t + Σ b_k e_{t−k}
        let arSum = fit.ar.reduce(0, +)
        let constant = fit.mean * (1 - arSum)
        var y = fit.y
        var e = fit.residuals
        let n = y.count
        for h in 0..<max(1, horizon) {
            let t = n + h
            var value = constant
            for (k, coefficient) in a.enumerated() where t - k - 1 >= 0 { value += coefficient * y[t - k - 1] }
            for (k, coefficient) in fit.ma.enumerated() where t - k - 1 >= 0 { value += coefficient * e[t - k - 1] }
            y.append(value)
            e.append(0)
        }
        var psi = [Double](repeating: 0, count: max(1, horizon))
        psi[0] = 1
        for j in 1..<max(1, horizon) {
            var value = j - 1 < fit.ma.count ? fit.ma[j - 1] : 0
            for k in stride(from: 1, through: min(j, a.count), by: 1) { value += a[k - 1] * psi[j - k] }
            psi[j] = value
        }
        var sd = [Double](), cumulative = 0.0
        for j in 0..<max(1, horizon) {
            cumulative += psi[j] * psi[j]
            sd.append((fit.sigma2 * cumulative).squareRoot())
        }
        return Forecast(model: o.description, mean: Array(y[n..<(n + horizon)]), sd: Array(sd.prefix(horizon)),
                        parameters: fit.parameters, statistics: ["aicc": fit.aicc, "sigma": fit.sigma2.squareRoot(), "n": Double(n)])
    }

    // MARK: Order selection

    /// KPSS statistic for level stationarity (Bartlett window, lag 4·(n/100)^¼).
    static func kpss(_ y: [Double]) -> Double {
        let n = y.count
        let m = Stats.mean(y)
        let e = y.map { $0 - m }
        var partial = 0.0, eta = 0.0
        for v in e { partial += v; eta += partial * partial }
        eta /= Double(n * n)
        let lags = Int(4 * pow(Double(n) / 100, 0.25))
        var s2 = e.reduce(0) { $0 + $1 * $1 } / Double(n)
        if lags > 0 {
            for l in 1...lags {
                var total = 0.0
                for t in l..<n { total += e[t] * e[t - l] }
                s2 += 2 * (1 - Double(l) / Double(lags + 1)) * total / Double(n)
            }
        }
        return s2 > 0 ? eta / s2 : 0
    }

    /// Seasonal strength max(0, 1 − Var(R) / Var(S + R)) from an STL decomposition.
    public static func seasonalStrength(_ y: [Double], period: Int) -> Double {
        guard period > 1, y.count >= 2 * period + 1 else { return 0 }
        let (seasonal, trend) = STL(period: period).decompose(y)
        let remainder = y.indices.map { y[$0] - seasonal[$0] - trend[$0] }
        let both = y.indices.map { seasonal[$0] + remainder[$0] }
        let total = Stats.variance(both)
        return total > 0 ? max(0, 1 - Stats.variance(remainder) / total) : 0
    }

    /// Chooses differencing and then the order by a stepwise AICc search.
    public static func select(_ y: [Double], period m: Int) throws(ForecastError) -> Fit {
        guard y.count >= 8 else { throw .badInput("ARIMA needs at least 8 values, found \(y.count)") }
        let seasonal = m > 1 && y.count >= 3 * m
        let D = seasonal && seasonalStrength(y, period: m) > 0.64 ? 1 : 0
        var d = 0
        var w = difference(y, d: 0, D: D, period: m)
        while d < 2, w.count > 10, kpss(w) > 0.463 {
            d += 1
            w = difference(w, d: 1, D: 0, period: m)
        }
        let period = seasonal ? m : 1
        let constant = d + D <= 1
        var fitted: [Order: Fit] = [:]
        var best: Fit?
        func consider(_ order: Order) {
            guard order.p >= 0, order.q >= 0, order.P >= 0, order.Q >= 0, order.p <= 5, order.q <= 5,
                  order.P <= 2, order.Q <= 2, fitted[order] == nil, fitted.count < 60 else { return }
            guard let fit = ARIMA.fit(y, order: order) else { return }
            fitted[order] = fit
            if best.map({ fit.aicc < $0.aicc }) ?? true { best = fit }
        }
        let s = period > 1 ? 1 : 0
        consider(Order(p: 2, d: d, q: 2, P: s, D: D, Q: s, period: period, constant: constant))
        consider(Order(p: 0, d: d, q: 0, P: 0, D: D, Q: 0, period: period, constant: constant))
        consider(Order(p: 1, d: d, q: 0, P: s, D: D, Q: 0, period: period, constant: constant))
        consider(Order(p: 0, d: d, q: 1, P: 0, D: D, Q: s, period: period, constant: constant))
        var improved = true
        while improved, !FitBudget.expired, let current = best {
            improved = false
            let o = current.order
            var neighbours: [Order] = []
            for (dp, dq) in [(-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (1, 1), (-1, 1), (1, -1)] {
                neighbours.append(Order(p: o.p + dp, d: d, q: o.q + dq, P: o.P, D: D, Q: o.Q, period: period, constant: o.constant))
            }
            if period > 1 {
                for (dP, dQ) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
                    neighbours.append(Order(p: o.p, d: d, q: o.q, P: o.P + dP, D: D, Q: o.Q + dQ, period: period, constant: o.constant))
                }
            }
            if d + D <= 1 {
                neighbours.append(Order(p: o.p, d: d, q: o.q, P: o.P, D: D, Q: o.Q, period: period, constant: !o.constant))
            }
            for candidate in neighbours {
                consider(candidate)
                if let b = best, b.order != o { improved = true; break }
            }
        }
        guard let best else { throw .badInput("no ARIMA model could be fitted to \(y.count) values") }
        return best
    }
}
