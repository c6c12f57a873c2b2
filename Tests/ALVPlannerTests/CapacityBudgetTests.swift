import ALVModel
import ALVProtocol
import Foundation
import Testing
@testable import ALVPlanner

/// The live planner's under-provisioning budget (`scaling.max_under_provisioned_share`) on a pool whose
/// workers' true capacity is known and noisy: what one worker sustains varies from second to second around the
/// capacity model's figure (Gaussian, 10%, seeded). The plan's demand follows a 10-minute wave. A second
/// misses the demand above what the pool sustained; the planner learns only from those counts, as it does
/// from the broker's.
struct CapacityBudgetTests {
    struct Outcome {
        var missedShare: Double
        var workerSeconds: Double
        var factor: Double
        var events: [EventDetail]
    }

    func run(budget: Double, seconds: Int = 3_000, seed: UInt64 = 11) -> Outcome {
        var state = seed
        func uniform() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Double(state >> 11) + 0.5) / Double(1 << 53)
        }
        let start = Date(timeIntervalSince1970: 1_000_000)
        let plan: (Date) -> Double = { 2_000 + 1_000 * sin(2 * Double.pi * $0.timeIntervalSince(start) / 600) }
        let context = ScriptedContext()
        context.demand = plan
        let scaling = Scaling(mode: .predictive, minWorkers: 1, maxWorkers: 200, cooldownSec: 0, capacityPerWorker: 100,
                              maxUnderProvisionedShare: budget)
        let scaler = PoolScaler(scaling: scaling, pool: nil, initialWorkers: 30)
        var intended = 0.0, missed = 0.0, workerSeconds = 0.0
        for second in 0..<seconds {
            let now = start.addingTimeInterval(Double(second))
            let workers = scaler.targetWorkers
            let demand = plan(now).rounded()
            let normal = (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform())
            let sustained = Double(workers) * 100 * max(0.1, 1 + 0.1 * normal)
            let miss = max(0, demand - sustained).rounded()
            if second >= 600 {  // the first wave is the planner's to learn on
                intended += demand
                missed += miss
                workerSeconds += Double(workers)
            }
            context.lastSecondRate = demand - miss
            context.lastSchedule = ScheduleKept(second: Int64(second), intended: UInt64(demand), missed: UInt64(miss))
            scaler.tick(broker: context, now: now.addingTimeInterval(0.999))
        }
        return Outcome(missedShare: missed / intended, workerSeconds: workerSeconds, factor: scaler.budget?.factor ?? 1,
                       events: context.events.filter { $0.0 == "capacity_factor" }.map(\.1))
    }

    @Test func theMissedShareLandsOnTheBudgetAndALargerBudgetCostsLess() throws {
        let off = run(budget: 0)
        let tight = run(budget: 0.005)
        let loose = run(budget: 0.02)
        for (budget, outcome) in [(0.005, tight), (0.02, loose)] {
            #expect(abs(outcome.missedShare - budget) <= 0.3 * budget,
                    "\(outcome.missedShare * 100)% missed against a budget of \(budget * 100)% (factor \(outcome.factor))")
            #expect(!outcome.events.isEmpty && outcome.events.allSatisfy { $0["reason"]?.description.contains("the budget of") == true })
        }
        // Without a budget the pool runs at the capacity model's figure and misses far more; the tighter budget
        // pays for its safety in worker-seconds.
        #expect(off.missedShare > 4 * 0.005, "\(off.missedShare)")
        #expect(off.factor == 1 && off.events.isEmpty)
        #expect(tight.workerSeconds > loose.workerSeconds && loose.workerSeconds > off.workerSeconds * 0.9)
        print(String(format: "live budget, capacity noise 10%%: off %.3f%% missed, %.0f worker-s; 0.5%%: %.3f%% missed, %.0f worker-s (factor %.2f); 2%%: %.3f%% missed, %.0f worker-s (factor %.2f)",
                     off.missedShare * 100, off.workerSeconds, tight.missedShare * 100, tight.workerSeconds, tight.factor,
                     loose.missedShare * 100, loose.workerSeconds, loose.factor))
    }

    @Test func aForgedOrEmptySecondMovesNothingAndASecondIsLearnedOnce() throws {
        let budget = try #require(CapacityBudget(budget: 0.005, targetUtilization: 0.7))
        #expect(CapacityBudget(budget: 0, targetUtilization: 0.7) == nil && CapacityBudget(budget: .nan, targetUtilization: 0.7) == nil)
        // More missed than intended (a forged count) is read as everything missed, once.
        budget.observe(ScheduleKept(second: 5, intended: 100, missed: .max), workers: 2, capacity: 100, minWorkers: 1)
        let after = budget.factor
        #expect(abs(after - exp(0.3 * (0.005 - 1))) < 1e-9)
        budget.observe(ScheduleKept(second: 5, intended: 100, missed: 100), workers: 2, capacity: 100, minWorkers: 1)
        budget.observe(ScheduleKept(second: 4, intended: 100, missed: 100), workers: 2, capacity: 100, minWorkers: 1)
        #expect(budget.factor == after && budget.missed == 100 && budget.intended == 100)
        // An idle second costs worker-seconds but says nothing about running hotter; nor does a capacity of NaN.
        budget.observe(ScheduleKept(second: 6, intended: 0, missed: 0), workers: 3, capacity: 100, minWorkers: 1)
        budget.observe(ScheduleKept(second: 7, intended: 10, missed: 0), workers: 3, capacity: .nan, minWorkers: 1)
        #expect(budget.factor == after && budget.workerSeconds == 8 && budget.neededWorkerSeconds == 3)
        // The factor never leaves its bounds: 1/0.7 at most.
        for s in 8..<100_000 { budget.observe(ScheduleKept(second: Int64(s), intended: 1_000, missed: 0), workers: 1, capacity: 100, minWorkers: 1) }
        #expect(abs(budget.factor - 1 / 0.7) < 1e-9)
        for s in 100_000..<100_100 { budget.observe(ScheduleKept(second: Int64(s), intended: 1_000, missed: 1_000), workers: 1, capacity: 100, minWorkers: 1) }
        #expect(budget.factor == 0.2 && budget.minimum == 0.2)
    }

    /// Ticks come about once a second, so the last complete second sometimes moves by two: the second in
    /// between is read from the broker's history, not lost; a tick after a long stall replays at most 10.
    @Test func secondsBetweenTicksAreLearnedToo() throws {
        let context = ScriptedContext()
        context.demand = { _ in 1_000 }
        let scaler = PoolScaler(scaling: Scaling(mode: .predictive, minWorkers: 1, maxWorkers: 8, capacityPerWorker: 500), pool: nil, initialWorkers: 2)
        let start = Date(timeIntervalSince1970: 1_000_000)
        for s in Int64(0)...40 { context.history[s] = ScheduleKept(second: s, intended: 1_000, missed: 0) }
        context.lastSchedule = context.history[0]
        scaler.tick(broker: context, now: start)
        context.lastSchedule = context.history[2]
        scaler.tick(broker: context, now: start.addingTimeInterval(1.3))
        let budget = try #require(scaler.budget)
        #expect(budget.seconds == 3 && budget.intended == 3_000 && budget.learnedThrough == 2)
        context.lastSchedule = context.history[40]
        scaler.tick(broker: context, now: start.addingTimeInterval(40))
        #expect(budget.seconds == 13 && budget.learnedThrough == 40, "seconds 31–40 only")
    }
}
