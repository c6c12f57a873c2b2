import Foundation

/// Forecast accuracy measures and the rolling-origin protocol that scripts/bench-forecast uses.
public enum Evaluation {
    /// Scores of one forecast against what happened.
    public struct Score: Sendable {
        /// Mean absolute error divided by the in-sample MAE of the seasonal naive at `scaleLag`.
        public var mase: Double
        /// Symmetric MAPE, 0…200.
        public var smape: Double
        /// Share of actual values inside the 80% and 95% intervals.
        public var coverage80: Double
        public var coverage95: Double
        /// Wall seconds spent fitting and forecasting.
        public var seconds: Double
        /// The model that made the forecast (for `auto`, the one it chose) and its 95% width multiplier.
        public var model: String = ""
        public var scale95: Double = 1
    }

    /// Mean absolute error of the seasonal naive at `lag` inside `training`.
    public static func naiveScale(_ training: ArraySlice<Double>, lag: Int) -> Double {
        let values = Array(training)
        guard values.count > lag else { return .nan }
        var total = 0.0
        for t in lag..<values.count { total += abs(values[t] - values[t - lag]) }
        return total / Double(values.count - lag)
    }

    /// Scores `forecast` (clipped at zero, as the protocol says) against `actual`.
    public static func score(_ forecast: Forecast, actual: [Double], scale: Double, seconds: Double) -> Score {
        let point = forecast.mean.map { max(0, $0) }
        let i80 = forecast.interval(level: 80), i95 = forecast.interval(level: 95)
        var absolute = 0.0, smape = 0.0, in80 = 0, in95 = 0
        for (h, a) in actual.enumerated() {
            let f = point[h]
            absolute += abs(a - f)
            let denominator = abs(a) + abs(f)
            smape += denominator > 0 ? 200 * abs(a - f) / denominator : 0
            if a >= max(0, i80.lower[h]) && a <= max(0, i80.upper[h]) { in80 += 1 }
            if a >= max(0, i95.lower[h]) && a <= max(0, i95.upper[h]) { in95 += 1 }
        }
        let n = Double(actual.count)
        return Score(mase: absolute / n / scale, smape: smape / n, coverage80: Double(in80) / n,
                     coverage95: Double(in95) / n, seconds: seconds, model: forecast.model,
                     scale95: forecast.intervalScale[95] ?? 1)
    }

    /// The origins of the shared protocol: 3, at n−h, n−h−s, n−h−2s, with s one week plus one day.
    public static func origins(count n: Int, day: Int, week: Int, number: Int = 3) -> [Int] {
        (0..<number).map { n - day - $0 * (week + day) }.reversed()
    }

    /// Runs `model` at each origin of the shared protocol on `series` (daily season `day`, weekly `week`,
    /// training window `window` values before the origin) and scores each forecast.
    public static func rollingOrigin(_ series: [Double], model: any Forecaster, day: Int, week: Int, window: Int) -> [Result<Score, ForecastError>] {
        origins(count: series.count, day: day, week: week).map { origin in
            let training = series[max(0, origin - window)..<origin]
            let actual = Array(series[origin..<min(series.count, origin + day)])
            let start = DispatchTime.now().uptimeNanoseconds
            do throws(ForecastError) {
                let forecast = try model.forecast(Array(training), horizon: actual.count)
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                return .success(score(forecast, actual: actual, scale: naiveScale(training, lag: day), seconds: seconds))
            } catch {
                return .failure(error)
            }
        }
    }
}
