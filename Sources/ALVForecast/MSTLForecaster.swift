/// Multiple-seasonality forecasts: MSTL removes each season (daily and weekly in request rates), every
/// seasonal component continues as its last cycle, and the seasonally adjusted series (trend + remainder)
/// is forecast by a non-seasonal model (exponential smoothing or ARIMA), which also gives the spread.
public struct MSTLForecaster: Forecaster {
    /// The model for the seasonally adjusted series.
    public enum AdjustedModel: String, Sendable {
        case ets, arima
    }

    public let periods: [Int]
    public let adjustedModel: AdjustedModel
    public var name: String { "mstl" }

    public init(periods: [Int], adjustedModel: AdjustedModel = .ets) {
        self.periods = periods
        self.adjustedModel = adjustedModel
    }

    public func forecast(_ y: [Double], horizon: Int) throws(ForecastError) -> Forecast {
        let usable = periods.filter { $0 >= 2 && 2 * $0 < y.count }
        guard !usable.isEmpty else {
            throw .badInput("MSTL needs more than two seasons of history: the shortest season \(periods.min() ?? 0) needs more than \(2 * (periods.min() ?? 0)) values, found \(y.count)")
        }
        let decomposition = MSTLDecomposition(y, periods: usable)
        let adjusted = decomposition.deseasonalised
        var result: Forecast
        switch adjustedModel {
        case .ets: result = try ETS(period: 1, allowSeasonal: false).forecast(adjusted, horizon: horizon)
        case .arima: result = try ARIMA(period: 1).forecast(adjusted, horizon: horizon)
        }
        let n = y.count
        for (period, values) in decomposition.seasonals {
            for h in 0..<horizon { result.mean[h] += values[n - period + h % period] }
        }
        result.model = "MSTL(\(decomposition.seasonals.map { String($0.period) }.joined(separator: ",")))+\(result.model)"
        return result
    }
}
