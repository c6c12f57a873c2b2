import Foundation
import Testing
@testable import ALVForecast

/// `auto`'s calibrated intervals cover what they say on series whose noise is known: 84 rolling origins a
/// day apart, each forecasting the next day (24 steps) from the fortnight before it, 2,016 steps in all.
@Suite struct CoverageTests {
    static let season = 24
    static let origins = 84
    static let window = 14 * 24

    /// Hourly demand with a daily cycle; the noise's standard deviation at each hour of the day.
    static func series(seed: UInt64, sd: (Int) -> Double) -> [Double] {
        var noise = Noise(seed: seed)
        return (0..<(window + origins * season)).map { t in
            let phase = Double(t % season) / Double(season)
            return 200 + 60 * sin(2 * Double.pi * phase) + sd(t % season) * noise.normal()
        }
    }

    struct Coverage {
        var inside80 = 0, inside95 = 0, count = 0
        var share80: Double { Double(inside80) / Double(max(1, count)) }
        var share95: Double { Double(inside95) / Double(max(1, count)) }
        var text: String { String(format: "80%%: %.3f, 95%%: %.3f over %d steps", share80, share95, count) }
    }

    /// Coverage over all steps, and over the steps whose hour `split` says (true, false).
    static func coverage(_ y: [Double], method: IntervalMethod = .standard, split: (Int) -> Bool) throws -> (all: Coverage, yes: Coverage, no: Coverage) {
        var all = Coverage(), yes = Coverage(), no = Coverage()
        for k in 0..<origins {
            let origin = window + k * season
            var auto = AutoForecaster(periods: [season], budget: AutoForecaster.defaultBudget)
            auto.intervalMethod = method
            let f = try auto.forecast(Array(y[(origin - window)..<origin]), horizon: season)
            let i80 = f.interval(level: 80), i95 = f.interval(level: 95)
            for h in 0..<season {
                let actual = y[origin + h]
                let in80 = actual >= i80.lower[h] && actual <= i80.upper[h] ? 1 : 0
                let in95 = actual >= i95.lower[h] && actual <= i95.upper[h] ? 1 : 0
                for index in [0, split((origin + h) % season) ? 1 : 2] {
                    func add(_ c: inout Coverage) { c.inside80 += in80; c.inside95 += in95; c.count += 1 }
                    switch index { case 0: add(&all); case 1: add(&yes); default: add(&no) }
                }
            }
        }
        return (all, yes, no)
    }

    static func day(_ hour: Int) -> Bool { (8..<20).contains(hour) }

    @Test func constantNoiseIsCoveredAsNominal() throws {
        let y = Self.series(seed: 11) { _ in 8 }
        let (all, _, _) = try Self.coverage(y, split: Self.day)
        print("constant noise: \(all.text)")
        #expect(all.count == 2_016)
        #expect(abs(all.share80 - 0.80) <= 0.03, "\(all.text)")
        #expect(abs(all.share95 - 0.95) <= 0.03, "\(all.text)")
    }

    /// Noise five times larger by day than by night: the default's pooled coverage is nominal (its width is
    /// one for the whole day, so the day is under-covered and the night over-covered); `model-phase` covers
    /// each half as nominal too.
    @Test func dayAndNightNoiseAreCoveredAsNominal() throws {
        let y = Self.series(seed: 12) { Self.day($0) ? 10 : 2 }
        let (all, day, night) = try Self.coverage(y, split: Self.day)
        print("day-night noise, \(IntervalMethod.standard.rawValue): \(all.text); by day \(day.text); by night \(night.text)")
        #expect(abs(all.share80 - 0.80) <= 0.03, "\(all.text)")
        #expect(abs(all.share95 - 0.95) <= 0.03, "\(all.text)")
        #expect(day.share80 < night.share80)

        let phased = try Self.coverage(y, method: .modelPhase, split: Self.day)
        print("day-night noise, model-phase: \(phased.all.text); by day \(phased.yes.text); by night \(phased.no.text)")
        #expect(abs(phased.all.share80 - 0.80) <= 0.03, "\(phased.all.text)")
        #expect(abs(phased.all.share95 - 0.95) <= 0.03, "\(phased.all.text)")
        for half in [phased.yes, phased.no] {
            #expect(abs(half.share80 - 0.80) <= 0.06, "by day \(phased.yes.text); by night \(phased.no.text)")
            #expect(abs(half.share95 - 0.95) <= 0.04, "by day \(phased.yes.text); by night \(phased.no.text)")
        }
    }
}
