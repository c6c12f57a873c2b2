import ALVLifecycle
import ALVProtocol
import ALVModel
import Foundation
import Testing
@testable import ALVPlanner

/// A broker as the scaler sees it, scripted: planned demand by time, the last second's rate and signals,
/// and the events it records.
final class ScriptedContext: ScalingContext {
    var demand: (Date) -> Double = { _ in 0 }
    var lastSecondRate: Double?
    var cpuPerRequest: Double?
    var saturation: (droppedShare: Double, lagMs: Double)?
    var issueLead = 0.5
    var lastSchedule: ScheduleKept?
    /// Earlier seconds' schedules, as the broker keeps them.
    var history: [Int64: ScheduleKept] = [:]
    var events: [(String, EventDetail)] = []

    func plannedPeak(from: Date, to: Date) -> (rps: Double, users: Int) {
        var peak = 0.0
        var t = from
        while t <= to { peak = max(peak, demand(t)); t = t.addingTimeInterval(0.25) }
        return (peak, 0)
    }

    func plannedRate(at time: Date) -> (mean: Double, upper: Double) { (demand(time), demand(time)) }
    func record(_ kind: String, _ detail: EventDetail) { events.append((kind, detail)) }
    func schedule(second: Int64) -> ScheduleKept? { lastSchedule?.second == second ? lastSchedule : history[second] }
    func workerExited(_ id: String) { events.append(("exited", ["worker": .string(id)])) }
    var decisions: [EventDetail] { events.filter { $0.0 == "scaling_decision" }.map(\.1) }
}

@Suite struct PoolScalerTests {
    let start = Date(timeIntervalSince1970: 1_000_000)

    @Test func predictiveActsALeadTimeAheadWithHysteresisAndCoolDown() {
        let context = ScriptedContext()
        // 2,000 req/s, 8,000 from t = 20 s, 2,000 again from t = 30 s.
        context.demand = { t in
            let s = t.timeIntervalSince(self.start)
            return s >= 20 && s < 30 ? 8000 : 2000
        }
        let scaling = Scaling(mode: .predictive, minWorkers: 1, maxWorkers: 8, cooldownSec: 5, capacityPerWorker: 2500, marginSec: 1)
        let scaler = PoolScaler(scaling: scaling, pool: nil, initialWorkers: 1)
        var forecasts: [Double] = []
        scaler.onForecast = { mean, _ in forecasts.append(mean) }
        var outAt: Double?, inAt: Double?
        for second in 0..<45 {
            context.lastSecondRate = context.demand(start.addingTimeInterval(Double(second) - 1))
            scaler.tick(broker: context, now: start.addingTimeInterval(Double(second)))
            if outAt == nil && scaler.targetWorkers == 4 { outAt = Double(second) }
            if outAt != nil && inAt == nil && scaler.targetWorkers == 1 { inAt = Double(second) }
        }
        // Lead 1 s (no pool) + margin 1 + tick 1 + issue lead 0.5: the step is seen 3.5 s ahead.
        #expect(outAt == 17, "scaled out at \(String(describing: outAt))")
        #expect(inAt != nil && inAt! >= 30, "scaled in after the step ended: \(String(describing: inAt))")
        #expect(context.decisions.first?["reason"]?.description.contains("above scale_out_threshold") == true)
        #expect(context.decisions.first?["workers_before"] == 1 && context.decisions.first?["acted"] == false)
        #expect(context.decisions.last?["reason"]?.description.contains("below scale_in_threshold") == true)
        #expect(forecasts.contains(8000 / 2500.0))
        // 2,000 req/s on one worker is 0.56 predicted utilisation: between the thresholds, so no change.
        #expect(context.decisions.count == 2, "\(context.decisions)")
    }

    /// 8,000 req/s with a 5 s dip to 2,000 (t = 20–25 s), then 2,000 from t = 40 s; 2,500 req/s per worker.
    func dip(hold: Double?) -> (targets: [Int], context: ScriptedContext) {
        let context = ScriptedContext()
        context.demand = { t in
            let s = t.timeIntervalSince(self.start)
            return (s >= 20 && s < 25) || s >= 40 ? 2000 : 8000
        }
        let scaling = Scaling(mode: .predictive, minWorkers: 1, maxWorkers: 8, cooldownSec: 0, capacityPerWorker: 2500, marginSec: 1,
                              scaleInHoldSec: hold)
        let scaler = PoolScaler(scaling: scaling, pool: nil, initialWorkers: 4)
        var targets: [Int] = []
        for second in 0..<50 {
            context.lastSecondRate = context.demand(start.addingTimeInterval(Double(second) - 1))
            scaler.tick(broker: context, now: start.addingTimeInterval(Double(second)))
            targets.append(scaler.targetWorkers)
        }
        return (targets, context)
    }

    @Test func scaleInIsHeldWhenTheNextPeakComesSoon() {
        // Look-ahead 3.5 s (lead 1 + margin 1 + tick 1 + issue lead 0.5): at t = 21 the plan and the last
        // second both say 2,000 req/s, and without a hold the pool gives three workers back for a second.
        let none = dip(hold: 0)
        #expect(none.targets[20] == 4 && none.targets[21] == 1, "\(none.targets)")
        #expect(none.targets[22] == 4 && none.targets[30] == 4, "\(none.targets)")
        #expect(none.context.events.filter { $0.0 == "scale_in_held" }.isEmpty)
        // The default hold (lead + margin, 2 s after the look-ahead) sees the peak at t = 25 and keeps them.
        let held = dip(hold: nil)
        #expect(held.targets[0...40].allSatisfy { $0 == 4 }, "\(held.targets)")
        let events = held.context.events.filter { $0.0 == "scale_in_held" }
        #expect(events.count == 1, "\(events)")
        #expect(events.first?.1["next_peak_rps"] == .number(8000, places: 0), "\(events)")
        // After the last peak the pool still shrinks, as soon as the last second shows the fall.
        #expect(held.targets[41] == 1 && held.targets.last == 1, "\(held.targets)")
        #expect(held.context.decisions.count == 1, "\(held.context.decisions)")
        #expect(none.context.decisions.count == 3, "\(none.context.decisions)")
    }

    @Test func reactiveFollowsObservedUtilisation() {
        let context = ScriptedContext()
        let scaling = Scaling(mode: .reactive, minWorkers: 1, maxWorkers: 8, cooldownSec: 0, capacityPerWorker: 1000)
        let scaler = PoolScaler(scaling: scaling, pool: nil, initialWorkers: 1)
        context.lastSecondRate = 500
        scaler.tick(broker: context, now: start)
        #expect(scaler.targetWorkers == 1)
        context.lastSecondRate = 3500
        scaler.tick(broker: context, now: start.addingTimeInterval(1))
        #expect(scaler.targetWorkers == 4)
        #expect(context.decisions.last?["reason"]?.description.contains("observed utilisation 3.50 above scale_out_threshold") == true)
    }

    @Test func capacityIsLearnedAndCappedBySaturation() {
        let context = ScriptedContext()
        let scaler = PoolScaler(scaling: Scaling(mode: .predictive, targetUtilization: 0.7), pool: nil, initialWorkers: 2)
        #expect(scaler.capacity(broker: context).value == PoolScaler.defaultCapacity)
        context.cpuPerRequest = 50e-6  // 50 µs per request: 14,000 req/s at 70%
        #expect(abs(scaler.capacity(broker: context).value - 14_000) < 1e-6)
        // Two workers achieving 6,000 req/s while arrivals were dropped: one sustains at most ~2,850.
        context.lastSecondRate = 6000
        context.saturation = (droppedShare: 0.05, lagMs: 40)
        scaler.observeSaturation(broker: context, workers: 2)
        let capped = scaler.capacity(broker: context)
        #expect(abs(capped.value - 2850) < 1e-6 && capped.source.contains("saturated"), "\(capped)")
        // A calm second does not lift the ceiling.
        context.saturation = (droppedShare: 0, lagMs: 1)
        context.lastSecondRate = 9000
        scaler.observeSaturation(broker: context, workers: 2)
        #expect(abs(scaler.capacity(broker: context).value - 2850) < 1e-6)
    }
}

/// A target that stalls: every arrival of a second is dropped. The capacity learned stays above 0 and the
/// planner sizes to its maximum instead of dividing by zero.
@Suite struct SaturatedScalingTests {
    @Test func aSecondWithEveryArrivalDroppedDoesNotTrap() {
        let start = Date(timeIntervalSince1970: 1_000_000)
        let context = ScriptedContext()
        context.demand = { _ in 4000 }
        let scaler = PoolScaler(scaling: Scaling(mode: .predictive, minWorkers: 1, maxWorkers: 6, cooldownSec: 0), pool: nil, initialWorkers: 2)
        context.lastSecondRate = 1e-9
        context.saturation = (droppedShare: 1, lagMs: 5000)
        scaler.observeSaturation(broker: context, workers: 2)
        let capacity = scaler.capacity(broker: context).value
        #expect(capacity >= 1 && capacity.isFinite, "\(capacity)")
        for second in 0..<3 { scaler.tick(broker: context, now: start.addingTimeInterval(Double(second))) }
        #expect(scaler.targetWorkers == 6)
        #expect(scaler.workers(rps: .infinity, users: 0, capacity: 0) == 6 && scaler.workers(rps: .nan, users: 0, capacity: 1) == 1)
        #expect(ScalingRule(capacityPerWorker: 1e-300).workers(for: 1e300) == 10_000)
    }
}

@Suite struct LeadTimeTests {
    @Test func measuredLeadTimesSeedTheNextPool() {
        let hosts = [ALVModel.HostsFile.Host(host: "local", maxWorkers: 2), .init(host: "lg@10.0.0.7", maxWorkers: 4)]
        let command = WorkerInvocation(brokerHost: "127.0.0.1", workPort: 1, metricsPort: 2, controlPort: 3)
        let pool = WorkerPool(hosts: hosts, command: command, localExecutable: "/bin/true", logDirectory: NSTemporaryDirectory() + "alv-lead")
        #expect(pool.leadTime == 3, "defaults: 1 s local, 3 s over SSH; the planner looks ahead by the largest")
        #expect(pool.measuredLeadTimes.isEmpty)
        pool.seedLeadTimes(["lg@10.0.0.7": (seconds: 0.8, samples: 5), "local": (seconds: 0.05, samples: 9)])
        #expect(abs(pool.leadTime - 0.8) < 1e-9)
        #expect(pool.measuredLeadTimes["local"]?.samples == 9)
    }
}
