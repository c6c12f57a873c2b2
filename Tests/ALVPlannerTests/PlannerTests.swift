import Foundation
import Testing
@testable import ALVForecast
@testable import ALVPlanner

/// Hourly demand with a daily and weekly cycle and noise (deterministic).
func demand(weeks: Int, seed: UInt64 = 3) -> [Double] {
    var state = seed
    func uniform() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return (Double(state >> 11) + 0.5) / Double(1 << 53)
    }
    return (0..<(weeks * 168)).map { t in
        let daily = 1 + 0.8 * sin(2 * Double.pi * Double(t % 24 - 8) / 24)
        let weekly = (t / 24) % 7 >= 5 ? 0.5 : 1.0
        return 1000 * daily * weekly * (0.9 + 0.2 * uniform())
    }
}

@Suite struct PlannerTests {
    @Test func ruleRoundsUpAndClamps() {
        let rule = ScalingRule(capacityPerWorker: 100, minWorkers: 2, maxWorkers: 10)
        #expect(rule.workers(for: 0) == 2)
        #expect(rule.workers(for: 300) == 3)
        #expect(rule.workers(for: 301) == 4)
        #expect(rule.workers(for: 5_000) == 10)
    }

    @Test func scaleInIsHeldThroughADipTheForecastSeesEnding() {
        // 30 days: 1,000 req/s, 4,000 from 08:00 to 19:00 except a three-hour dip from 12:00; 100 req/s per
        // worker, lead 1. Deciding at 11:00 for 12:00, a hold of 3 steps sees the peak back at 15:00.
        let y = (0..<(30 * 24)).map { t -> Double in
            let hour = t % 24
            return (8..<19).contains(hour) && !(12..<15).contains(hour) ? 4000 : 1000
        }
        let rule = ScalingRule(capacityPerWorker: 100)
        func run(hold: Int?) -> ScalingSimulation.Result {
            ScalingSimulation.run(demand: y, stepSeconds: 3600, rule: rule, leadTime: 1, policy: .predictive, periods: [24],
                                  level: 80, warmup: 7 * 24, window: 7 * 24, refitEvery: 24, scaleInHold: hold)
        }
        let none = run(hold: 0), held = run(hold: 3)
        print("three-hour dip: no hold \(none.decisions) changes, \(none.workerSeconds / 3600) worker-hours; hold \(held.decisions) changes, \(held.workerSeconds / 3600)")
        // Without a hold the pool shrinks for the dip and grows back: two more changes a day.
        #expect(Double(held.decisions) <= 0.7 * Double(none.decisions), "\(held.decisions) vs \(none.decisions)")
        #expect(held.underProvisionedShare <= none.underProvisionedShare + 1e-9)
        // The dip's 90 worker-hours a day (of ~480) are what the hold costs.
        #expect(held.workerSeconds > none.workerSeconds && held.workerSeconds <= none.workerSeconds * 1.25)
    }

    @Test func reactiveLagsByExactlyTheLeadTime() {
        // 100 req/s for 50 steps, then 500: with capacity 100 and a lead of 3, reactive is short for 3 steps.
        let y = [Double](repeating: 100, count: 50) + [Double](repeating: 500, count: 50)
        let rule = ScalingRule(capacityPerWorker: 100)
        let reactive = ScalingSimulation.run(demand: y, stepSeconds: 1, rule: rule, leadTime: 3, policy: .reactive,
                                             periods: [], warmup: 0, window: 50, refitEvery: 10)
        // The first lead-time steps are not scored: no decision could have provisioned them.
        #expect(reactive.steps == 97)
        #expect(reactive.underProvisionedStepsShare == 3.0 / 97)
        #expect(abs(reactive.underProvisionedShare - 3.0 * 400 / (47 * 100 + 50 * 500)) < 1e-12)
        let oracle = ScalingSimulation.run(demand: y, stepSeconds: 1, rule: rule, leadTime: 3, policy: .oracle,
                                           periods: [], warmup: 0, window: 50, refitEvery: 10)
        #expect(oracle.underProvisionedShare == 0 && oracle.costVsOracle == 1)
        #expect(oracle.workerSeconds == 47 * 1 + 50 * 5)
    }

    @Test func predictiveProvisionsAheadOfASeasonalRise() {
        let y = demand(weeks: 8)
        let rule = ScalingRule(capacityPerWorker: (y.max() ?? 1) / 100)
        func simulate(_ policy: ScalingPolicy) -> ScalingSimulation.Result {
            ScalingSimulation.run(demand: y, stepSeconds: 3600, rule: rule, leadTime: 1, policy: policy,
                                  periods: [24, 168], level: 80, warmup: 4 * 168, window: 4 * 168, refitEvery: 24)
        }
        let predictive = simulate(.predictive), reactive = simulate(.reactive)
        #expect(reactive.underProvisionedShare > 0.02, "the daily rise outruns reactive scaling: \(reactive.underProvisionedShare)")
        #expect(predictive.underProvisionedShare < reactive.underProvisionedShare / 5,
                "predictive \(predictive.underProvisionedShare) vs reactive \(reactive.underProvisionedShare)")
        #expect(predictive.costVsOracle < 1.25, "cost \(predictive.costVsOracle)")
        #expect(predictive.steps == 4 * 168)
    }

    @Test func decisionsCarryTheirReasonAndCoolDownHoldsScaleIn() {
        let planner = Planner(policy: .reactive, rule: ScalingRule(capacityPerWorker: 10, scaleInCooldown: 3), leadTime: 2)
        var decision = planner.observe(demand: 95)
        #expect(decision.workersBefore == 1 && decision.workersAfter == 10 && decision.forStep == 2)
        #expect(decision.reason.contains("observed 95"))
        decision = planner.observe(demand: 10)
        #expect(decision.workersAfter == 10 && decision.reason.contains("cool-down"))
        planner.observe(demand: 10)
        decision = planner.observe(demand: 10)
        #expect(decision.workersAfter == 1, "after the cool-down the pool shrinks")

        let predictive = Planner(policy: .predictive, rule: ScalingRule(capacityPerWorker: 10), leadTime: 1, periods: [24], window: 96, refitEvery: 24)
        for value in demand(weeks: 1).prefix(120) { decision = predictive.observe(demand: value / 10) }
        #expect(decision.forecastMean != nil && decision.forecastUpper! >= decision.forecastMean!)
        #expect(decision.reason.contains("forecast") || decision.reason.contains("above the forecast"), "\(decision.reason)")
    }

    @Test func onlineForecasterLearnsAnExactCycleAndBoundsItsErrors() throws {
        let cycle: [Double] = (0..<24).map { 100 + 50 * sin(2 * Double.pi * Double($0) / 24) }
        let f = OnlineForecaster(periods: [24], window: 96, refitEvery: 24, lead: 2, level: 90)
        var worst = 0.0
        for t in 0..<(24 * 8) {
            f.observe(cycle[t % 24])
            if t >= 24 * 4, let p = f.predict() {
                worst = max(worst, abs(p.mean - cycle[(t + 2) % 24]))
                #expect(p.upper >= p.mean)
            }
        }
        #expect(worst < 1, "an exact cycle is forecast to within 1%: worst error \(worst)")
    }
}
