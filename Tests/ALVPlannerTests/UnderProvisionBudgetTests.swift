import ALVForecast
import ALVPlanner
import Foundation
import Testing

/// The predictive policy with an under-provisioning budget instead of a fixed level: on a series whose noise
/// is known, the share of demand left unserved lands near the budget, whether the noise is constant or grows
/// with the level (day vs night).
struct UnderProvisionBudgetTests {
    /// Hourly demand with a daily wave and Gaussian noise (seeded): constant, or proportional to the level.
    func series(steps: Int, proportional: Bool, seed: UInt64) -> [Double] {
        var state = seed
        func uniform() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Double(state >> 11) + 0.5) / Double(1 << 53)
        }
        return (0..<steps).map { t in
            let base = 1000 + 500 * sin(2 * Double.pi * Double(t) / 24)
            let normal = (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform())
            return max(0, base + normal * (proportional ? 0.08 * base : 50))
        }
    }

    @Test(arguments: [false, true])
    func theOnlineLevelSpendsItsBudget(proportional: Bool) throws {
        let demand = series(steps: 3_000, proportional: proportional, seed: proportional ? 5 : 3)
        let rule = ScalingRule(capacityPerWorker: 15, minWorkers: 1, maxWorkers: 1_000)
        let budget = 0.005
        let result = ScalingSimulation.run(demand: demand, stepSeconds: 3600, rule: rule, leadTime: 1, policy: .predictive,
                                           periods: [24], level: 80, warmup: 1_000, window: 96, refitEvery: 24, underProvisionBudget: budget)
        #expect(result.steps == 2_000)
        // Within ±30% of the budget over 2,000 scored steps.
        #expect(abs(result.underProvisionedShare - budget) <= 0.3 * budget, "\(result.underProvisionedShare * 100)% unserved against a budget of 0.5%, mean level \(result.meanLevel ?? 0)")
        // And the level it needed is what a fixed level would have to guess: it costs no more than the fixed
        // level that leaves about as much unserved.
        let fixed = ScalingSimulation.run(demand: demand, stepSeconds: 3600, rule: rule, leadTime: 1, policy: .predictive,
                                          periods: [24], level: try #require(result.meanLevel), warmup: 1_000, window: 96, refitEvery: 24)
        #expect(result.workerSeconds <= fixed.workerSeconds * 1.03, "online \(result.workerSeconds) vs fixed at its mean level \(fixed.workerSeconds)")
        print("under-provisioning budget 0.5%, \(proportional ? "proportional" : "constant") noise: \(String(format: "%.3f", result.underProvisionedShare * 100))% unserved, mean level \(String(format: "%.1f", result.meanLevel ?? 0))%, \(String(format: "%.3f", result.costVsOracle))× the oracle; fixed at that level: \(String(format: "%.3f", fixed.underProvisionedShare * 100))%, \(String(format: "%.3f", fixed.costVsOracle))×")
    }
}
