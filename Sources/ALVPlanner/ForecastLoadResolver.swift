import ALVForecast
import ALVModel
import Foundation

/// Turns a vector whose load is `{"forecast": …}` into an open-model vector whose rate follows the
/// forecast second by second (mean × scale), with the interval's upper bound kept for capacity planning.
public enum ForecastLoadResolver {
    /// - Parameters:
    ///   - baseDirectory: where a relative history path resolves (the vector file's directory).
    ///   - endpointHistory: history imported with `alv history import`, for `endpoint:NAME`.
    /// - Throws: `ForecastError.badInput` naming the vector and the history when it cannot be read or forecast.
    public static func resolve(
        _ vector: LoadVector, baseDirectory: String?, endpointHistory: (String) throws -> TimeSeries?,
        prometheusHistory: (ForecastLoad.PrometheusHistory) throws -> TimeSeries = { _ in throw ForecastError.badInput("no Prometheus client") }
    ) throws(ForecastError) -> LoadVector {
        guard let spec = vector.forecast else { return vector }
        let context = "vector \(vector.vectorID): load.forecast"
        let series: TimeSeries
        if let source = spec.prometheus {
            do { series = try prometheusHistory(source) } catch { throw .badInput("\(context).prometheus: \(error)") }
        } else if spec.history.hasPrefix("endpoint:") {
            let name = String(spec.history.dropFirst("endpoint:".count))
            let found: TimeSeries?
            do { found = try endpointHistory(name) } catch { throw .badInput("\(context): history of endpoint \(name): \(error)") }
            guard let found else { throw .badInput("\(context): no history for endpoint \"\(name)\" in the store; import it with `alv history import CSV --endpoint \(name)`") }
            series = found
        } else {
            let path = spec.history.hasPrefix("/") || baseDirectory == nil ? spec.history : "\(baseDirectory!)/\(spec.history)"
            do { series = try SeriesCSV.read(path: path) } catch { throw .badInput("\(context).history: \(error.description)") }
        }
        let horizon = max(1, Int((spec.horizonSec / Double(series.step)).rounded(.up)))
        let periods = Seasonality.detect(series)
        guard let forecaster = ForecasterCatalog.make(spec.model, periods: periods, levels: [spec.level]) else {
            throw .badInput("\(context).model: \"\(spec.model)\" needs a season, and none was found in \(spec.history)")
        }
        let forecast: Forecast
        do { forecast = try forecaster.forecast(series.values, horizon: horizon) } catch {
            throw .badInput("\(context): cannot forecast \(spec.history): \(error.description)")
        }
        var result = forecast
        result.nonNegative = true
        let mean = result.point
        let upper = result.interval(level: spec.level).upper
        let seconds = max(1, Int(min(vector.durationSec, spec.horizonSec / spec.timeScale).rounded(.up)))
        var rates: [Double] = [], uppers: [Double] = []
        for s in 0..<seconds {
            let index = min(horizon - 1, Int((Double(s) + 0.5) * spec.timeScale / Double(series.step)))
            rates.append(mean[index] * spec.scale)
            uppers.append(max(mean[index], upper[index]) * spec.scale)
        }
        guard let peak = rates.max(), peak > 0 else {
            throw .badInput("\(context): the forecast of \(spec.history) is zero over the next \(Int(spec.horizonSec)) s; nothing to send")
        }
        var resolved = vector
        if case .open(_, let arrival, let cap) = vector.load {
            resolved.load = .open(targetRPS: peak, arrival: arrival, maxInFlight: cap)
        }
        resolved.durationSec = min(vector.durationSec, Double(seconds))
        resolved.rateShape = rates.map { $0 / peak }
        resolved.rateShapeUpper = uppers.map { $0 / peak }
        return resolved
    }
}
