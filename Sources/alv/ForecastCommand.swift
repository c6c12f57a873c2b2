import ALVForecast
import ArgumentParser
import Foundation

struct ForecastCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forecast",
        abstract: "Forecast a demand series (timestamp,value CSV) with prediction intervals.",
        discussion: """
        Timestamps are epoch seconds or YYYY-MM-DD HH:MM:SS, strictly increasing; gaps of up to 20% of the steps are \
        filled by interpolation and reported. Seasons default to a day and a week (in steps) when the data show them.
        Models: auto (rolling-origin backtest chooses among the others and calibrates the intervals), snaive, \
        window (3-season average), ets, arima, mstl, prophet.
        CSV output: timestamp,mean,lo80,hi80,lo95,hi95 (one lo/hi pair per level). JSON adds the model, its \
        parameters and fit statistics.
        """)

    @Option(help: ArgumentHelp("The history: timestamp,value CSV.", valueName: "CSV"))
    var input: String?

    @OptionGroup(title: "Or the history from Prometheus (one series)")
    var source: PrometheusRangeFlags

    @Option(help: "Steps to forecast (default: one day of steps, or the shortest season).")
    var horizon: Int?

    @Option(help: ArgumentHelp("Seasonal periods in steps, comma-separated (default: detected).", valueName: "N[,N]"))
    var season: String?

    @Option(help: "auto, snaive, window, ets, arima, mstl or prophet.")
    var model: String = "auto"

    @Option(help: ArgumentHelp("Interval levels in percent, comma-separated.", valueName: "L[,L]"))
    var level: String = "80,95"

    @Option(help: "csv or json.")
    var format: String = "csv"

    @Option(help: ArgumentHelp("The value column, by header name or 1-based index (default: the second).", valueName: "NAME"))
    var column: String?

    @Option(help: ArgumentHelp("With auto: seconds the fit may take; candidates that would not fit in it are left out (0: no limit).", valueName: "SECONDS"))
    var budget: Double = AutoForecaster.defaultBudget ?? 0

    @Option(help: ArgumentHelp("With auto: how the intervals are calibrated from backtest errors: \(IntervalMethod.allCases.map(\.rawValue).joined(separator: ", ")) (default: \(IntervalMethod.standard.rawValue); model-phase gives night and day their own width where the errors differ).", valueName: "METHOD"))
    var intervals: String = IntervalMethod.standard.rawValue

    static let models = ["auto", "snaive", "window", "ets", "arima", "mstl", "prophet"]

    func validate() throws {
        guard (input == nil) != (source.prometheus == nil) else { throw ValidationError("give the history as --input CSV or as --prometheus URL --query PROMQL (one of them)") }
        guard Self.models.contains(model) else {
            throw ValidationError("--model expects one of \(Self.models.joined(separator: ", ")), got \"\(model)\"")
        }
        guard ["csv", "json"].contains(format) else { throw ValidationError("--format expects csv or json, got \"\(format)\"") }
        if let horizon, horizon < 1 || horizon > 100_000 {
            throw ValidationError("--horizon expects 1…100000 steps, got \(horizon)")
        }
        _ = try levels()
        _ = try seasons()
        guard IntervalMethod(rawValue: intervals) != nil else {
            throw ValidationError("--intervals expects one of \(IntervalMethod.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(intervals)\"")
        }
        guard budget >= 0 && budget <= 86_400 else { throw ValidationError("--budget expects 0 (no limit) to 86400 seconds, got \(budget)") }
    }

    func levels() throws -> [Double] {
        let values = level.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0.map { $0 > 0 && $0 < 100 } ?? false }) else {
            throw ValidationError("--level expects percentages between 0 and 100 such as 80,95, got \"\(level)\"")
        }
        return values.compactMap { $0 }
    }

    func seasons() throws -> [Int]? { try season.map(parseSeasons) }

    func run() throws {
        let series: TimeSeries
        let input: String
        if let file = self.input {
            input = file
            do { series = try SeriesCSV.read(path: file, column: column) } catch { throw CLIError.badInput(error.description) }
        } else {
            let (start, end, step) = try source.range()
            input = source.query ?? "the query"
            series = try PrometheusHistory.series(server: source.prometheus ?? "", query: input, start: start, end: end, step: step)
        }
        let periods = try seasons() ?? Seasonality.detect(series)
        let n = series.values.count
        if let longest = periods.last, n < 2 * longest {
            throw CLIError.badInput("\(input): \(n) values are too little history for a season of \(longest) steps; at least \(2 * longest) (two full seasons) are needed")
        }
        let daySteps = 86_400 % series.step == 0 ? Int(86_400 / series.step) : 0
        let steps = horizon ?? (daySteps >= 1 && daySteps <= 10_000 ? daySteps : periods.first ?? 24)
        let levels = try levels()
        guard let forecaster = ForecasterCatalog.make(model, periods: periods, levels: levels, budget: budget > 0 ? budget : nil,
                                                           intervals: IntervalMethod(rawValue: intervals) ?? .standard) else {
            throw CLIError.badInput("\(input): --model \(model) needs a season; none was detected, pass --season N")
        }
        let started = DispatchTime.now().uptimeNanoseconds
        var forecast: Forecast
        do { forecast = try forecaster.forecast(series.values, horizon: steps) } catch {
            throw CLIError.badInput("\(input): \(error.description)")
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        if series.values.allSatisfy({ $0 >= 0 }) { forecast.nonNegative = true }
        let intervals = levels.map { forecast.interval(level: $0) }
        let labels = levels.map { $0 == $0.rounded() ? String(Int($0)) : String($0) }
        let point = forecast.point
        let last = n - 1
        if format == "csv" {
            var out = "timestamp,mean" + labels.map { ",lo\($0),hi\($0)" }.joined() + "\n"
            for h in 0..<steps {
                out += series.timestampFormat.format(series.timestamp(at: last + 1 + h)) + "," + number(point[h])
                for interval in intervals { out += "," + number(interval.lower[h]) + "," + number(interval.upper[h]) }
                out += "\n"
            }
            FileHandle.standardOutput.write(Data(out.utf8))
        } else {
            var rows: [[String: Any]] = []
            for h in 0..<steps {
                var row: [String: Any] = ["timestamp": series.timestampFormat.format(series.timestamp(at: last + 1 + h)), "mean": point[h]]
                for (label, interval) in zip(labels, intervals) {
                    row["lo\(label)"] = interval.lower[h]
                    row["hi\(label)"] = interval.upper[h]
                }
                rows.append(row)
            }
            var document: [String: Any] = [
                "input": input,
                "method": model,
                "model": forecast.model,
                "seasons": periods,
                "horizon": steps,
                "levels": levels,
                "series": ["start": series.timestampFormat.format(series.start), "step_sec": series.step,
                           "length": n, "filled_steps": series.filledSteps],
                "parameters": forecast.parameters.filter { $0.value.isFinite },
                "statistics": forecast.statistics.filter { $0.value.isFinite },
                "interval_scale": Dictionary(uniqueKeysWithValues: forecast.intervalScale.map { (String(Int($0.key)), $0.value) }),
                "seconds": seconds,
                "forecast": rows,
            ]
            if model == "auto" {
                document["chosen"] = forecast.chosen
                document["budget_sec"] = budget > 0 ? budget : NSNull()
                document["candidates"] = forecast.candidates.map { c -> [String: Any] in
                    var o: [String: Any] = ["name": c.name, "status": c.status, "seconds": c.seconds]
                    if let mae = c.meanAbsoluteError, mae.isFinite { o["backtest_mae"] = mae }
                    if let reason = c.reason { o["reason"] = reason }
                    return o
                }
            }
            let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        }
        if series.filledSteps > 0 {
            printError("\(input): \(series.filledSteps) missing steps were filled by linear interpolation")
        }
    }

    func number(_ value: Double) -> String {
        let rounded = (value * 1000).rounded() / 1000
        return rounded == rounded.rounded() && abs(rounded) < 1e15 ? String(Int64(rounded)) : String(rounded)
    }
}

/// `--season 24,168`: seasonal periods in steps, shortest first (a period of 1 means none).
func parseSeasons(_ text: String) throws -> [Int] {
    let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !values.isEmpty, values.allSatisfy({ $0.map { $0 >= 1 && $0 <= 1_000_000 } ?? false }) else {
        throw ValidationError("--season expects whole numbers of steps from 1 to 1000000 such as 24,168, got \"\(text)\"")
    }
    return values.compactMap { $0 }.filter { $0 > 1 }.sorted()
}
