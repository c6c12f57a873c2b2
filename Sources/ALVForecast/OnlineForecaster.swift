import Foundation

/// A demand forecaster for the planner: one value at a time, a forecast a fixed lead ahead after each.
///
/// Seasonal structure is cheap to keep and expensive to find, so the two are split: every `refitEvery`
/// observations an MSTL decomposition of the last `window` values is refitted (with an ETS model of the
/// seasonally adjusted series); between refits each observation only advances the ETS state. The upper
/// bound is the point forecast plus the `level` quantile of this forecaster's own recent errors at the same
/// lead (an online conformal bound), so it stays calibrated whatever the model gets wrong.
public final class OnlineForecaster {
    public let periods: [Int]
    public let window: Int
    public let refitEvery: Int
    /// Steps between the last observation and the forecast step.
    public let lead: Int
    /// The upper bound's level, in percent (the planner may move it: `Planner.underProvisionBudget`).
    public var level: Double
    /// Recent errors kept for the bound.
    public let errorWindow: Int

    private var history: [Double] = []
    private var observed = 0
    private var seasonal: [(period: Int, lastCycle: [Double])] = []
    private var ets: ETS.Fit?
    private var level_ = 0.0, slope = 0.0
    private var stepsSinceRefit = 0
    private var pending: [Int: Double] = [:]
    private var errors: [Double] = []

    public init(periods: [Int], window: Int, refitEvery: Int, lead: Int = 1, level: Double = 95, errorWindow: Int? = nil) {
        self.periods = periods.filter { $0 >= 2 }.sorted()
        self.window = max(window, 8)
        self.refitEvery = max(1, refitEvery)
        self.lead = max(1, lead)
        self.level = level
        self.errorWindow = errorWindow ?? max(50, 2 * (self.periods.last ?? 24))
    }

    /// The model in use, for decision records.
    public var modelDescription: String {
        guard let ets else { return "naive" }
        return seasonal.isEmpty ? ets.specification.description
            : "MSTL(\(seasonal.map { String($0.period) }.joined(separator: ",")))+\(ets.specification)"
    }

    /// Adds the next observation.
    public func observe(_ value: Double) {
        if let predicted = pending.removeValue(forKey: observed) {
            errors.append(value - predicted)
            if errors.count > errorWindow { errors.removeFirst(errors.count - errorWindow) }
        }
        history.append(value)
        if history.count > window { history.removeFirst(history.count - window) }
        observed += 1
        if ets == nil || stepsSinceRefit >= refitEvery {
            refit()  // the fit includes this observation
        } else {
            advance(value)
        }
        if let mean = point() { pending[observed - 1 + lead] = mean }
    }

    /// The forecast `lead` steps after the last observation: its mean and its upper bound at `level`.
    public func predict() -> (mean: Double, upper: Double)? {
        guard let mean = point() else { return nil }
        return (mean, max(mean, mean + margin(mean: mean)))
    }

    /// The highest upper bound over the `extra` steps after the lead (lead + 1 … lead + extra), the margin
    /// the lead's: when the next peak comes, for a planner deciding whether to give capacity back.
    public func peakUpper(extra: Int) -> Double? {
        guard extra >= 1, let peak = (1...extra).compactMap({ point(ahead: lead + $0) }).max() else { return nil }
        return max(peak, peak + margin(mean: peak))
    }

    /// The upper bound's distance above the mean: the `level` quantile of recent errors at the lead, or
    /// before there are enough of them the model's own spread.
    private func margin(mean: Double) -> Double {
        if errors.count >= 20 { return max(0, Stats.quantile(errors, level / 100)) }
        guard let ets else { return 0 }
        return Stats.normalQuantile(0.5 + level / 200) * ets.sigma * Double(lead).squareRoot()
            * (ets.specification.error == .multiplicative ? abs(mean) : 1)
    }

    private func seasonalPart(stepsAhead k: Int) -> Double {
        seasonal.reduce(0) { $0 + $1.lastCycle[k % $1.period] }
    }

    private func point() -> Double? { point(ahead: lead) }

    private func point(ahead: Int) -> Double? {
        guard let ets else { return history.last }
        var trend = level_
        switch ets.specification.trend {
        case .none: break
        case .additive: trend += Double(ahead) * slope
        case .damped:
            var damp = 0.0, power = 1.0
            for _ in 0..<ahead { power *= ets.phi; damp += power }
            trend += damp * slope
        }
        return trend + seasonalPart(stepsAhead: stepsSinceRefit + ahead - 1)
    }

    private func advance(_ value: Double) {
        guard let ets else { return }
        let adjusted = value - seasonalPart(stepsAhead: stepsSinceRefit)
        let lb: Double
        switch ets.specification.trend {
        case .none: lb = level_
        case .additive: lb = level_ + slope
        case .damped: lb = level_ + ets.phi * slope
        }
        let e = adjusted - lb
        level_ = lb + ets.alpha * e
        switch ets.specification.trend {
        case .none: break
        case .additive: slope += ets.beta * e
        case .damped: slope = ets.phi * slope + ets.beta * e
        }
        stepsSinceRefit += 1
    }

    private func refit() {
        let usable = periods.filter { 2 * $0 < history.count }
        var adjusted = history
        seasonal = []
        if !usable.isEmpty {
            let d = MSTLDecomposition(history, periods: usable)
            let n = history.count
            seasonal = d.seasonals.map { (period: $0.period, lastCycle: Array($0.values[(n - $0.period)..<n])) }
            adjusted = d.deseasonalised
        }
        guard adjusted.count >= 8, let fit = try? ETS(period: 1, allowSeasonal: false).fit(adjusted) else { return }
        ets = fit
        level_ = fit.level
        slope = fit.slope
        stepsSinceRefit = 0
    }
}
