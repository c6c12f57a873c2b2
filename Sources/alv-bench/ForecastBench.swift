import ALVForecast
import Foundation

/// Runs alv's forecasters through the shared rolling-origin protocol and prints one JSON line per
/// series, model and origin (scripts/bench-forecast merges them with the peers' lines).
func benchForecast(files: [String], models: [String]) throws {
    for file in files {
        let series = try SeriesCSV.read(path: file)
        let (day, week) = (Int(86_400 / series.step), Int(7 * 86_400 / series.step))
        let window = 4 * week
        let name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        for model in models {
            let forecaster: any Forecaster
            switch model {
            case "snaive-day": forecaster = SeasonalNaive(period: day)
            case "snaive-week": forecaster = SeasonalNaive(period: week)
            case "window": forecaster = SeasonalWindowAverage(period: week, windows: 3)
            case "ets": forecaster = ETS(period: day)
            case "arima": forecaster = ARIMA(period: day)
            case "mstl": forecaster = MSTLForecaster(periods: [day, week])
            case "mstl-arima": forecaster = MSTLForecaster(periods: [day, week], adjustedModel: .arima)
            case "prophet": forecaster = ProphetStyle(periods: [day, week])
            case "auto": forecaster = AutoForecaster(periods: [day, week], budget: AutoForecaster.defaultBudget)
            default: print("unknown model \(model)"); exit(2)
            }
            for (index, result) in Evaluation.rollingOrigin(series.values, model: forecaster, day: day, week: week, window: window).enumerated() {
                switch result {
                case .success(let s):
                    print(String(format: #"{"tool":"alv","series":"%@","model":"%@","origin":%d,"h":%d,"mase":%.5f,"smape":%.4f,"cov80":%.4f,"cov95":%.4f,"seconds":%.5f,"chosen":"%@","scale95":%.3f}"#,
                                 name, model, index, day, s.mase, s.smape, s.coverage80, s.coverage95, s.seconds, s.model, s.scale95))
                case .failure(let error):
                    print(#"{"tool":"alv","series":"\#(name)","model":"\#(model)","origin":\#(index),"error":"\#(error.description)"}"#)
                }
            }
        }
    }
}

/// Prints the MSTL decomposition of the last `window` values of a series as CSV (for comparison with
/// other implementations) and the model fitted to the seasonally adjusted series.
func benchDecompose(file: String, periods: [Int], window: Int) throws {
    let series = try SeriesCSV.read(path: file)
    let y = Array(series.values.suffix(window))
    let d = MSTLDecomposition(y, periods: periods)
    print("y,trend," + d.seasonals.map { "seasonal\($0.period)" }.joined(separator: ",") + ",remainder")
    for t in y.indices {
        print(([y[t], d.trend[t]] + d.seasonals.map { $0.values[t] } + [d.remainder[t]]).map { String($0) }.joined(separator: ","))
    }
    let fit = try ETS(period: 1, allowSeasonal: false).fit(d.deseasonalised)
    FileHandle.standardError.write(Data("\(fit.specification) alpha \(fit.alpha) beta \(fit.beta) phi \(fit.phi) sigma \(fit.sigma)\n".utf8))
}
