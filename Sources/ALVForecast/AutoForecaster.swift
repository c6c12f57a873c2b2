import Foundation

/// Chooses a model per series by a rolling-origin backtest on the history itself, then calibrates the
/// chosen model's prediction intervals from its backtest errors (so that an 80% interval covers about 80%
/// of what happens, whatever the model's own assumptions).
///
/// Candidates: seasonal naive and a seasonal window average on the longest season, MSTL with
/// exponential smoothing on all seasons, and, for one season of at most 24 steps, ETS and ARIMA. The
/// Prophet-style model is not a default candidate: on the shared demand series it is the weakest model
/// (geometric-mean MASE 1.7× the weekly seasonal naive's) and as a candidate it only added selection noise. The equal-weight mean of the two best candidates competes too: combining forecasts
/// is the most reliable gain in forecasting practice.
public struct AutoForecaster: Forecaster {
    public let periods: [Int]
    /// Backtest origins, one horizon apart, ending at the last value.
    public let origins: Int
    /// Interval levels (percent) to calibrate.
    public let levels: [Double]
    /// How many horizons back the chosen model is re-run for interval calibration.
    public let calibrationSpan: Int
    /// Seconds one fit may take, backtests and calibration included (nil: no limit). Candidates are tried
    /// cheapest first; one whose first backtest fit projects past the budget, or that is still fitting when
    /// it runs out, is left out, and calibration stops adding origins when it is spent.
    public let budget: Double?
    /// How the chosen model's intervals are calibrated from its backtest errors.
    public var intervalMethod: IntervalMethod = .standard
    public var name: String { "auto" }

    /// The budget `alv forecast` and the planner use unless told otherwise.
    public static let defaultBudget: Double? = 0.5

    public init(periods: [Int], origins: Int = 14, levels: [Double] = [80, 95], calibrationSpan: Int = 14, budget: Double? = nil) {
        self.budget = budget.flatMap { $0 > 0 && $0.isFinite ? $0 : nil }
        self.calibrationSpan = max(origins, calibrationSpan)
        self.periods = periods.filter { $0 >= 2 }.sorted()
        self.origins = max(1, origins)
        self.levels = levels
    }

    /// The candidate models for a history of `n` values.
    public func candidates(historyLength n: Int) -> [any Forecaster] {
        var result: [any Forecaster] = []
        let usable = periods.filter { 2 * $0 < n }
        if let longest = usable.last {
            result.append(SeasonalNaive(period: longest))
            if n >= 2 * longest { result.append(SeasonalWindowAverage(period: longest, windows: min(3, n / longest))) }
            result.append(MSTLForecaster(periods: usable))
        }
        if usable.count <= 1 {
            let season = usable.first ?? 1
            if season <= 24 {
                result.append(ETS(period: season))
                result.append(ARIMA(period: season))
            }
        }
        if result.isEmpty { result = [ETS(period: 1), ARIMA(period: 1), ProphetStyle(periods: [])] }
        return result
    }

    /// One candidate's forecasts at the backtest origins.
    struct Trial {
        var name: String
        var model: any Forecaster
        var forecasts: [Forecast]
        var meanAbsoluteError: Double
    }

    /// The most recent values `auto` fits on: four of the longest season (the training window of the
    /// benchmark protocol its figures come from), and at least two years of daily values. Older history
    /// costs time on every backtest fit and buys little for the next day.
    public var historyWindow: Int { max(4 * (periods.last ?? 1), 730) }

    public func forecast(_ history: [Double], horizon: Int) throws(ForecastError) -> Forecast {
        let (forecast, calibration, start) = try fit(history, horizon: horizon)
        guard let calibration else { return forecast }
        return calibration.apply(intervalMethod, to: forecast, start: start, levels: levels)
    }

    /// One fit, its intervals calibrated by each of `methods` (for `scripts/bench-calibration`).
    public func forecasts(_ history: [Double], horizon: Int, methods: [IntervalMethod]) throws(ForecastError) -> [IntervalMethod: Forecast] {
        let (forecast, calibration, start) = try fit(history, horizon: horizon)
        var result: [IntervalMethod: Forecast] = [:]
        for method in methods { result[method] = calibration?.apply(method, to: forecast, start: start, levels: levels) ?? forecast }
        return result
    }

    /// The chosen forecast (uncalibrated), the backtest errors to calibrate it with, and the index in
    /// those errors' frame of its first step.
    func fit(_ history: [Double], horizon: Int) throws(ForecastError) -> (Forecast, IntervalCalibration?, Int) {
        let y = history.count > historyWindow ? Array(history.suffix(historyWindow)) : history
        let n = y.count
        let step = max(1, horizon)
        let shortestNeeded = (periods.first.map { 2 * $0 + 1 } ?? 10)
        let originPoints = (1...origins).map { n - $0 * step }.filter { $0 >= max(shortestNeeded, 10) }
        let candidates = candidates(historyLength: n)
        guard !originPoints.isEmpty else {
            // Too short to backtest: the first candidate that fits, uncalibrated.
            for candidate in candidates { if let f = try? candidate.forecast(y, horizon: horizon) { return (f, nil, n) } }
            throw .badInput("too little history (\(n) values) for any model")
        }
        let started = FitBudget.now()
        // Backtests get most of the budget; calibration the rest but a sliver; the final fit is never cut.
        let backtestDeadline = budget.map { started + UInt64($0 * 0.75 * 1e9) }
        let calibrationDeadline = budget.map { started + UInt64($0 * 0.95 * 1e9) }
        func seconds(since t: UInt64) -> Double { Double(FitBudget.now() - t) / 1e9 }
        var trials: [Trial] = []
        var outcomes: [CandidateOutcome] = []
        for (index, candidate) in candidates.enumerated() {
            let candidateStart = FitBudget.now()
            // The first (seasonal naive, microseconds) always runs: there must be a forecast.
            let deadline = index == 0 ? nil : backtestDeadline
            if let deadline, candidateStart >= deadline {
                outcomes.append(CandidateOutcome(name: candidate.name, status: "skipped", seconds: 0, reason: "the budget was spent"))
                continue
            }
            var forecasts: [Forecast] = []
            var absolute = 0.0, count = 0
            var failure: String?
            for (k, origin) in originPoints.enumerated() {
                let fitted = FitBudget.$deadline.withValue(deadline) { () -> Forecast? in try? candidate.forecast(Array(y[..<origin]), horizon: step) }
                if let deadline, FitBudget.now() > deadline { failure = "still fitting when the budget ran out"; break }
                guard let f = fitted else { failure = "could not be fitted"; break }
                for h in 0..<step where origin + h < n {
                    absolute += abs(y[origin + h] - max(0, f.mean[h]))
                    count += 1
                }
                forecasts.append(f)
                // The first origin has the longest history: its time bounds the others'.
                if k == 0, let deadline {
                    let projected = Double(FitBudget.now() - candidateStart) * Double(originPoints.count - 1)
                    if Double(FitBudget.now()) + projected > Double(deadline) {
                        failure = String(format: "projected %.2f s for %d backtest fits, over the budget", projected / 1e9 + seconds(since: candidateStart), originPoints.count)
                        break
                    }
                }
            }
            if let failure {
                outcomes.append(CandidateOutcome(name: candidate.name, status: failure == "could not be fitted" ? "failed" : "skipped", seconds: seconds(since: candidateStart), reason: failure))
                continue
            }
            if count == 0 { continue }
            trials.append(Trial(name: candidate.name, model: candidate, forecasts: forecasts, meanAbsoluteError: absolute / Double(count)))
            outcomes.append(CandidateOutcome(name: candidate.name, status: "scored", seconds: seconds(since: candidateStart), meanAbsoluteError: absolute / Double(count)))
        }
        guard !trials.isEmpty else { throw .badInput("no model could be fitted to \(n) values") }
        trials.sort { $0.meanAbsoluteError < $1.meanAbsoluteError }
        var statistics: [String: Double] = [:]
        for trial in trials { statistics["backtest_mae_\(trial.name)"] = trial.meanAbsoluteError }

        var chosen = [trials[0]]
        if trials.count >= 2 {
            let pair = [trials[0], trials[1]]
            let combined = zip(pair[0].forecasts, pair[1].forecasts).map { AutoForecaster.combine([$0, $1]) }
            var absolute = 0.0, count = 0
            for (origin, f) in zip(originPoints, combined) {
                for h in 0..<step where origin + h < n { absolute += abs(y[origin + h] - max(0, f.mean[h])); count += 1 }
            }
            let error = absolute / Double(max(1, count))
            statistics["backtest_mae_combination"] = error
            if error < trials[0].meanAbsoluteError { chosen = pair }
        }
        // Errors of the chosen forecast at origins the selection did not score (half a horizon after each)
        // calibrate its intervals: errors at the origins that chose the model are optimistic for it, and
        // intervals calibrated on them under-cover on held-out origins (`scripts/bench-calibration`).
        var samples: [IntervalCalibration.Sample] = []
        func collect(_ f: Forecast, origin: Int) {
            for h in 0..<min(step, f.mean.count, f.sd.count) where origin + h < n {
                samples.append(.init(step: h, target: origin + h, error: y[origin + h] - f.mean[h], modelSD: f.sd[h], mean: f.mean[h]))
            }
        }
        // Every half horizon over `calibrationSpan` horizons back, for the chosen model only.
        let scored = Set(originPoints)
        let spacing = max(1, step / 2)
        var origin = n - calibrationSpan * step
        while origin < n {
            defer { origin += spacing }
            if let calibrationDeadline, FitBudget.now() > calibrationDeadline { statistics["calibration_cut_by_budget"] = 1; break }
            guard origin >= max(shortestNeeded, 10), !scored.contains(origin) else { continue }
            let forecasts = FitBudget.$deadline.withValue(calibrationDeadline) {
                chosen.compactMap { try? $0.model.forecast(Array(y[..<origin]), horizon: step) }
            }
            // A fit the deadline cut short is not a fair error sample.
            if let calibrationDeadline, FitBudget.now() > calibrationDeadline { statistics["calibration_cut_by_budget"] = 1; break }
            guard forecasts.count == chosen.count else { continue }
            collect(forecasts.count == 1 ? forecasts[0] : AutoForecaster.combine(forecasts), origin: origin)
        }
        var finals: [Forecast] = []
        for trial in chosen { finals.append(try trial.model.forecast(y, horizon: horizon)) }
        var result = finals.count == 1 ? finals[0] : AutoForecaster.combine(finals)
        result.statistics.merge(statistics) { a, _ in a }
        result.statistics["backtest_origins"] = Double(originPoints.count)
        result.statistics["history_used"] = Double(n)
        result.parameters["candidates_tried"] = Double(trials.count)
        result.candidates = outcomes
        result.chosen = chosen.map(\.name)
        if let budget { result.statistics["budget_sec"] = budget }
        result.nonNegative = history.allSatisfy { $0 >= 0 }
        return (result, IntervalCalibration(samples: samples, horizon: step, season: periods.first { 2 * $0 < n }), n)
    }

    /// The equal-weight mean of forecasts; the spread is the mean of their spreads (errors of two good
    /// models are highly correlated, so averaging variances would understate it).
    static func combine(_ forecasts: [Forecast]) -> Forecast {
        let k = Double(forecasts.count)
        let h = forecasts.map { $0.mean.count }.min() ?? 0
        var mean = [Double](repeating: 0, count: h), sd = [Double](repeating: 0, count: h)
        for f in forecasts {
            for i in 0..<h { mean[i] += f.mean[i] / k; sd[i] += f.sd[i] / k }
        }
        var statistics: [String: Double] = [:]
        for f in forecasts { statistics.merge(f.statistics.filter { $0.key == "n" }) { a, _ in a } }
        return Forecast(model: "mean(" + forecasts.map(\.model).joined(separator: ", ") + ")", mean: mean, sd: sd,
                        statistics: statistics)
    }
}
