import Foundation
import Testing
@testable import ALVForecast

/// `auto`'s time budget on the series that used to take it longest: two years of daily demand with a weekly
/// season, where ETS and ARIMA (single season ≤ 24) are candidates refitted at every backtest origin.
@Suite struct BudgetTests {
    func dailySeries() -> [Double] {
        var noise = Noise(seed: 21)
        return (0..<730).map { t in
            let weekly = (t % 7) >= 5 ? 0.7 : 1.0
            let trend = 1 + Double(t) / 2000
            return 500 * weekly * trend * (1 + 0.08 * noise.normal())
        }
    }

    @Test func autoHonoursItsTimeBudgetOnADailySeries() throws {
        let y = dailySeries()
        let budget = 0.2
        let started = DispatchTime.now().uptimeNanoseconds
        let f = try AutoForecaster(periods: [7], budget: budget).forecast(y, horizon: 7)
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        // Every candidate is accounted for, cheapest first; the chosen ones were scored.
        #expect(f.candidates.map(\.name) == ["snaive", "window", "mstl", "ets", "arima"], "\(f.candidates)")
        print("auto with a \(budget) s budget: \(String(format: "%.3f", elapsed)) s; " + f.candidates.map { "\($0.name) \($0.status) \(String(format: "%.3f", $0.seconds)) s\($0.reason.map { " (\($0))" } ?? "")" }.joined(separator: "; "))
        let scored = f.candidates.filter { $0.status == "scored" }
        #expect(!scored.isEmpty && f.chosen.allSatisfy { c in scored.contains { $0.name == c } }, "\(f.candidates) chose \(f.chosen)")
        for c in f.candidates where c.status != "scored" { #expect(c.reason?.isEmpty == false) }
        // Over the budget by at most the final fit of the chosen model(s), which is never cut: bounded here
        // by the slowest per-fit time of a scored candidate (a backtest has 14 fits), with room for a loaded machine.
        let perFit = scored.map { $0.seconds / 14 }.max() ?? 0
        #expect(elapsed <= budget + 3 * perFit + 0.1, "took \(elapsed) s with a budget of \(budget) s; \(f.candidates)")
        #expect(f.statistics["budget_sec"] == budget)
        #expect(f.mean.count == 7 && f.mean.allSatisfy(\.isFinite))
    }

    @Test func aPassedDeadlineStopsTheOptimisers() throws {
        let y = dailySeries()
        // A deadline already gone: ETS and ARIMA return at once, and nothing traps.
        let started = DispatchTime.now().uptimeNanoseconds
        for model in [ETS(period: 7), ARIMA(period: 7)] as [any Forecaster] {
            _ = FitBudget.$deadline.withValue(1) { try? model.forecast(y, horizon: 7) }
        }
        let cut = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let free = DispatchTime.now().uptimeNanoseconds
        _ = try ARIMA(period: 7).forecast(y, horizon: 7)
        let full = Double(DispatchTime.now().uptimeNanoseconds - free) / 1e9
        #expect(cut < full, "cut \(cut) s, a full ARIMA fit \(full) s")
        #expect(!FitBudget.expired, "no deadline outside withValue")
    }
}
