import Foundation
import Testing
@testable import ALVForecast

/// Deterministic pseudo-random normals for synthetic series.
struct Noise {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func uniform() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return (Double(state >> 11) + 0.5) / Double(1 << 53)
    }
    mutating func normal() -> Double {
        (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform())
    }
}

/// Hourly demand with a daily and a weekly cycle and multiplicative noise, like request rates.
func syntheticDemand(weeks: Int, seed: UInt64 = 7, noise level: Double = 0.05) -> [Double] {
    var noise = Noise(seed: seed)
    return (0..<(weeks * 168)).map { t in
        let hour = Double(t % 24), day = (t / 24) % 7
        let daily = 1 + 0.6 * sin(2 * Double.pi * (hour - 8) / 24)
        let weekly = day >= 5 ? 0.6 : 1.0
        return 1000 * daily * weekly * (1 + level * noise.normal())
    }
}

@Suite struct ModelTests {
    @Test func seasonalNaiveAndWindowAverage() throws {
        let y: [Double] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        let naive = try SeasonalNaive(period: 3).forecast(y, horizon: 5)
        #expect(naive.mean == [7, 8, 9, 7, 8])
        #expect(naive.sd[3] > naive.sd[0], "the spread grows with each season ahead")
        let window = try SeasonalWindowAverage(period: 3, windows: 2).forecast(y, horizon: 3)
        #expect(window.mean == [5.5, 6.5, 7.5])
        #expect(throws: ForecastError.self) { try SeasonalNaive(period: 12).forecast(y, horizon: 1) }
    }

    @Test func arOneByConditionalLeastSquaresMatchesTheClosedForm() throws {
        // y_t = 0.6·y_{t−1} + e_t. For AR(1) without a mean, CSS is minimised by Σ y_t y_{t−1} / Σ y²_{t−1}.
        var noise = Noise(seed: 11)
        var y = [0.0]
        for _ in 1..<3000 { y.append(0.6 * y.last! + noise.normal()) }
        var sxy = 0.0, sxx = 0.0
        for t in 1..<y.count { sxy += y[t] * y[t - 1]; sxx += y[t - 1] * y[t - 1] }
        let closedForm = sxy / sxx
        let fit = try #require(ARIMA.fit(y, order: .init(p: 1, d: 0, q: 0)))
        #expect(abs(fit.ar[0] - closedForm) < 1e-4, "\(fit.ar[0]) vs \(closedForm)")
        #expect(abs(fit.ar[0] - 0.6) < 0.05)
        #expect(abs(fit.sigma2 - 1) < 0.1)
        // Forecasts: φ·y_n, φ²·y_n; variances σ², σ²(1 + φ²).
        let forecast = ARIMA.forecast(fit, horizon: 2)
        #expect(abs(forecast.mean[0] - fit.ar[0] * y.last!) < 1e-9)
        #expect(abs(forecast.mean[1] - fit.ar[0] * fit.ar[0] * y.last!) < 1e-9)
        #expect(abs(forecast.sd[1] - (fit.sigma2 * (1 + fit.ar[0] * fit.ar[0])).squareRoot()) < 1e-9)
    }

    @Test func arimaSelectionDifferencesARandomWalk() throws {
        var noise = Noise(seed: 3)
        var y = [100.0]
        for _ in 1..<400 { y.append(y.last! + noise.normal()) }
        let fit = try ARIMA.select(y, period: 1)
        #expect(fit.order.d == 1, "\(fit.order)")
        let forecast = ARIMA.forecast(fit, horizon: 10)
        #expect(abs(forecast.mean[0] - y.last!) < 3)
        #expect(forecast.sd[9] > 2.5 * forecast.sd[0], "a random walk's spread grows like √h")
    }

    @Test func seasonalArimaOnASeasonalSeries() throws {
        var noise = Noise(seed: 5)
        let y = (0..<(12 * 20)).map { t in 50 + 10 * sin(2 * Double.pi * Double(t % 12) / 12) + noise.normal() }
        let f = try ARIMA(period: 12).forecast(y, horizon: 12)
        let truth = (0..<12).map { h in 50 + 10 * sin(2 * Double.pi * Double((y.count + h) % 12) / 12) }
        let mae = zip(f.mean, truth).map { abs($0 - $1) }.reduce(0, +) / 12
        #expect(mae < 1.5, "\(f.model) MAE \(mae)")
    }

    @Test func holtWintersRecoversExactStructure() throws {
        // y_t = 10 + 0.5t + s(t mod 4): a noiseless additive Holt-Winters series; ETS(A,A,A) continues it.
        let season: [Double] = [3, -1, -4, 2]
        let y = (0..<80).map { 10 + 0.5 * Double($0) + season[$0 % 4] }
        let spec = try #require(ETS.Specification(code: "AAA"))
        let forecast = try ETS(period: 4, specification: spec).forecast(y, horizon: 8)
        for h in 0..<8 {
            let t = 80 + h
            #expect(abs(forecast.mean[h] - (10 + 0.5 * Double(t) + season[t % 4])) < 0.05, "step \(h + 1): \(forecast.mean[h])")
        }
        #expect(ETS.Specification(code: "MAdM")?.description == "ETS(M,Ad,M)")
        #expect(ETS.Specification(code: "XYZ") == nil)
    }

    @Test func simpleExponentialSmoothingVarianceFormula() throws {
        var noise = Noise(seed: 9)
        var level = 100.0
        let y = (0..<500).map { _ -> Double in level += 0.5 * noise.normal(); return level + noise.normal() }
        let spec = try #require(ETS.Specification(code: "ANN"))
        let fit = try ETS(specification: spec).fit(y)
        let forecast = ETS.forecast(fit, horizon: 3)
        #expect(forecast.mean[0] == forecast.mean[2], "a flat forecast")
        // Var(h) = σ²(1 + (h − 1)α²)
        #expect(abs(forecast.sd[2] - fit.sigma * (1 + 2 * fit.alpha * fit.alpha).squareRoot()) < 1e-9)
        #expect(fit.alpha > 0.2 && fit.alpha < 0.9, "\(fit.alpha)")
    }

    @Test func automaticEtsPrefersTheRightForm() throws {
        // A clean trend with noise: a trended form wins on AICc.
        var noise = Noise(seed: 1)
        let y = (0..<200).map { 20 + 2 * Double($0) + noise.normal() }
        let fit = try ETS().fit(y)
        #expect(fit.specification.trend != .none, "\(fit.specification)")
        let forecast = ETS.forecast(fit, horizon: 10)
        #expect(abs(forecast.mean[9] - (20 + 2 * 209)) < 5)
    }

    @Test func mstlAndProphetStyleForecastTwoSeasons() throws {
        let y = syntheticDemand(weeks: 5)
        let history = Array(y.dropLast(24)), truth = Array(y.suffix(24))
        for model in [MSTLForecaster(periods: [24, 168]) as any Forecaster, ProphetStyle(periods: [24, 168]),
                      MSTLForecaster(periods: [24, 168], adjustedModel: .arima)] {
            let f = try model.forecast(history, horizon: 24)
            let mape = zip(f.mean, truth).map { abs($0 - $1) / $1 }.reduce(0, +) / 24
            #expect(mape < 0.12, "\(f.model): MAPE \(mape)")
            #expect(f.sd.allSatisfy { $0 > 0 })
        }
        #expect(throws: ForecastError.self) { try MSTLForecaster(periods: [168]).forecast(Array(y.prefix(200)), horizon: 24) }
    }

    @Test func autoChoosesByBacktestAndCalibrates() throws {
        // An exactly repeating week: seasonal naive has zero backtest error and must be (part of) the choice.
        let week = syntheticDemand(weeks: 1, seed: 4, noise: 0.3)
        let repeating = (0..<(4 * 168)).map { week[$0 % 168] }
        let exact = try AutoForecaster(periods: [24, 168]).forecast(repeating, horizon: 24)
        #expect(exact.model.contains("SeasonalNaive") || exact.model.contains("WindowAverage"), "\(exact.model)")
        #expect(zip(exact.mean, week.prefix(24)).allSatisfy { abs($0 - $1) < 1e-6 })

        // Noisy demand: intervals are nested and, over held-out days, cover about what they claim.
        var covered80 = 0, covered95 = 0, total = 0
        for seed in 1...6 {
            let y = syntheticDemand(weeks: 5, seed: UInt64(seed))
            let f = try AutoForecaster(periods: [24, 168]).forecast(Array(y.dropLast(24)), horizon: 24)
            let i80 = f.interval(level: 80), i95 = f.interval(level: 95)
            for (h, actual) in y.suffix(24).enumerated() {
                #expect(i95.lower[h] <= i80.lower[h] && i80.lower[h] <= f.point[h] && f.point[h] <= i80.upper[h] && i80.upper[h] <= i95.upper[h])
                if actual >= i80.lower[h] && actual <= i80.upper[h] { covered80 += 1 }
                if actual >= i95.lower[h] && actual <= i95.upper[h] { covered95 += 1 }
                total += 1
            }
            #expect(f.statistics["backtest_origins"] == 14)
            #expect(f.statistics.keys.contains { $0.hasPrefix("backtest_mae_mstl") })
        }
        let c80 = Double(covered80) / Double(total), c95 = Double(covered95) / Double(total)
        #expect(c80 > 0.65 && c80 < 0.97, "80% interval covered \(c80)")
        #expect(c95 > 0.85, "95% interval covered \(c95)")
    }
}
