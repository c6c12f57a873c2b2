import ALVModel
import ALVProtocol
import Foundation

/// The planner: once a second it sizes the worker pool from the plan's demand a lead time ahead
/// (predictive), from the rate just achieved (reactive), or not at all (fixed), and starts or retires
/// workers through the pool. Every decision that changes the target is recorded as a `scaling_decision`
/// event with its inputs and reason; dead workers are replaced at once.
public final class PoolScaler {
    public let scaling: Scaling
    public let pool: (any WorkerLauncher)?
    /// Requests per second one worker is planned at before any CPU measurement exists.
    public static let defaultCapacity = 5_000.0
    private var target: Int
    private var lastChange = Date.distantPast
    private var lastTick = Date.distantPast
    private var lastReplacement = Date.distantPast
    public private(set) var decisions: [EventDetail] = []
    /// Called each predictive tick with the demand a lead time ahead in workers: the forecast's mean and
    /// its upper bound (the dashboard draws them beside live and planned workers).
    public var onForecast: ((_ mean: Double, _ upper: Double) -> Void)?
    /// The predictive pool's under-provisioning budget (`scaling.max_under_provisioned_share`), nil when off.
    public let budget: CapacityBudget?

    public init(scaling: Scaling, pool: (any WorkerLauncher)?, initialWorkers: Int) {
        self.scaling = scaling
        self.pool = pool
        target = initialWorkers
        budget = scaling.mode == .predictive
            ? CapacityBudget(budget: scaling.maxUnderProvisionedShare, targetUtilization: scaling.targetUtilization) : nil
    }

    /// The workers wanted now.
    public var targetWorkers: Int { target }

    /// Lateness above which a second counts as saturated (the generator could not send on time).
    public static let saturatedLagMs = 10.0
    /// The lowest per-worker rate achieved in a saturated second: a ceiling on capacity learned in this run.
    private var saturatedCeiling: Double?
    /// A scale-in is being held for the next peak (recorded once per hold).
    private var holding = false

    /// Requests per second per worker the pool is sized with: the capacity model's figure times the
    /// under-provisioning budget's factor.
    public func capacity(broker: any ScalingContext) -> (value: Double, source: String) {
        let (value, source) = modelCapacity(broker: broker)
        guard let factor = budget?.factor, factor != 1 else { return (value, source) }
        return (value * factor, source + String(format: ", × %.2f for the under-provisioning budget", factor))
    }

    /// Requests per second per worker: configured, or learned from CPU per request at the target utilisation;
    /// either is capped by what workers achieved while saturated (dropped arrivals or late sends).
    public func modelCapacity(broker: any ScalingContext) -> (value: Double, source: String) {
        var (value, source): (Double, String)
        if let configured = scaling.capacityPerWorker {
            (value, source) = (configured, "configured")
        } else if let cpu = broker.cpuPerRequest, cpu > 0 {
            (value, source) = (scaling.targetUtilization / cpu, "learned from \(String(format: "%.1f", cpu * 1e6)) CPU µs per request")
        } else {
            (value, source) = (Self.defaultCapacity, "default before any measurement")
        }
        if let ceiling = saturatedCeiling, ceiling < value {
            (value, source) = (ceiling, "capped at \(Int(ceiling.rounded())) req/s per worker, achieved while saturated")
        }
        return (value, source)
    }

    /// Notes a saturated second: the rate each worker achieved then bounds what one can sustain.
    func observeSaturation(broker: any ScalingContext, workers: Int) {
        guard let s = broker.saturation, let rate = broker.lastSecondRate, rate > 0, workers > 0,
              s.droppedShare > 0.001 || s.lagMs > Self.saturatedLagMs else { return }
        // A second in which every arrival was dropped still shows a ceiling, not a capacity of 0.
        let perWorker = max(1, rate / Double(workers) * (1 - min(1, max(0, s.droppedShare))))
        guard perWorker.isFinite else { return }
        saturatedCeiling = min(saturatedCeiling ?? .infinity, perWorker)
    }

    /// Feeds the budget every complete second since the last it learned from (ticks come about once a second,
    /// so one may have passed two); at most 10 back, so a stalled tick does not replay a minute at once.
    private func learn(_ budget: CapacityBudget, broker: any ScalingContext, workers: Int) {
        guard let latest = broker.lastSchedule else { return }
        let first = max(budget.learnedThrough.map { $0 &+ 1 } ?? latest.second, latest.second - 9)
        guard first <= latest.second else { return }
        let capacity = modelCapacity(broker: broker).value
        for second in first...latest.second {
            guard let schedule = second == latest.second ? latest : broker.schedule(second: second),
                  let change = budget.observe(schedule, workers: workers, capacity: capacity, minWorkers: scaling.minWorkers) else { continue }
            let direction = change.missedShare > budget.budget ? "above" : "within"
            broker.record("capacity_factor", [
                "from": .number(change.from, places: 3), "to": .number(change.to, places: 3),
                "missed_share": .number(change.missedShare, places: 5), "intended": .int(Int(clamping: change.intended)),
                "max_under_provisioned_share": .number(budget.budget, places: 5),
                "reason": .string(String(format: "%.3f%%", change.missedShare * 100) + " of \(change.intended) arrivals dropped or sent late since the last change, \(direction) the budget of "
                                  + String(format: "%.3f%%: each worker planned at %.2f× the capacity model", budget.budget * 100, change.to)),
            ])
        }
    }

    /// Workers for a demand, clamped to the policy's bounds and the hosts' slots.
    func workers(rps: Double, users: Int, capacity: Double) -> Int {
        let forRate = capacity > 0 ? wholeWorkers(rps / capacity) : (rps > 0 ? scaling.maxWorkers : 0)
        let forUsers = scaling.usersPerWorker > 0 ? wholeWorkers(Double(users) / Double(scaling.usersPerWorker)) : 0
        return min(scaling.maxWorkers, max(scaling.minWorkers, forRate, forUsers, 0))
    }

    /// Called on the broker's thread; acts at most once a second.
    public func tick(broker: any ScalingContext, now: Date = Date()) {
        if let pool {
            let events = pool.checkHosts(now: now)
            for event in events where event.kind != "worker_left" {
                broker.record(event.kind, event.detail)
                if event.kind == "worker_exited", let id = event.detail["worker"]?.string { broker.workerExited(id) }
            }
            // Workers the broker retired are not replaced: the next decision sizes the pool afresh.
            let left = events.filter { $0.kind == "worker_left" }.count
            if left > 0 { target = max(0, target - left) }
            // Workers that died are replaced at once, on whichever host has room.
            if !scaling.forecastOnly && pool.activeCount < target && now.timeIntervalSince(lastReplacement) >= 0.5 {
                lastReplacement = now
                let missing = target - pool.activeCount
                let events = pool.scale(to: target, now: now)
                if events.contains(where: { $0.kind == "worker_started" }) {
                    broker.record("workers_replaced", ["missing": .string(String(missing)), "target": .string(String(target))])
                }
                for event in events { broker.record(event.kind, event.detail) }
            }
        }
        guard now.timeIntervalSince(lastTick) >= 1, scaling.mode != .fixed else { return }
        lastTick = now
        // The rate was carried by the workers live now, not by those still booting on a group's machines.
        let live = max(1, broker.liveWorkerCount ?? pool?.activeCount ?? target)
        observeSaturation(broker: broker, workers: live)
        if let budget { learn(budget, broker: broker, workers: live) }
        let (capacity, source) = capacity(broker: broker)
        let lead = (pool?.leadTime ?? 1) + scaling.marginSec
        let current = max(1, pool?.activeCount ?? target)
        var wanted: Int
        var reason: String
        var detail: EventDetail = [:]
        let observed = broker.lastSecondRate ?? 0
        let reactive = workers(rps: observed, users: 0, capacity: capacity)
        switch scaling.mode {
        case .fixed:
            return
        case .reactive:
            let utilisation = observed / (Double(current) * capacity)
            detail["observed_rps"] = .number(observed, places: 0)
            detail["utilization"] = .number(utilisation, places: 2)
            if utilisation > scaling.scaleOutThreshold {
                wanted = max(target, reactive)
                reason = "observed utilisation \(String(format: "%.2f", utilisation)) above scale_out_threshold \(scaling.scaleOutThreshold)"
            } else if utilisation < scaling.scaleInThreshold {
                wanted = reactive
                reason = "observed utilisation \(String(format: "%.2f", utilisation)) below scale_in_threshold \(scaling.scaleInThreshold)"
            } else {
                return
            }
        case .predictive:
            // Workers decided now must be live before the broker issues the window that needs them: look ahead
            // by the lead time and margin, plus one planner tick and the broker's issue lead.
            let horizon = lead + 1 + broker.issueLead
            let peak = broker.plannedPeak(from: now, to: now.addingTimeInterval(horizon))
            let ahead = broker.plannedRate(at: now.addingTimeInterval(horizon))
            onForecast?(ahead.mean / capacity, ahead.upper / capacity)
            let planned = workers(rps: peak.rps, users: peak.users, capacity: capacity)
            // Per-worker CPU utilisation the planned demand would cause on the pool as it is (capacity is the
            // rate at target_utilization): the triggers compare it with the thresholds, with hysteresis between.
            let load = max(peak.rps / capacity, Double(peak.users) / Double(scaling.usersPerWorker))
            let predictedUtilisation = scaling.targetUtilization * load / Double(current)
            detail["demand_forecast_rps"] = .number(peak.rps, places: 0)
            if peak.users > 0 { detail["demand_forecast_users"] = .int(peak.users) }
            detail["observed_rps"] = .number(observed, places: 0)
            detail["predicted_utilization"] = .number(predictedUtilisation, places: 2)
            let window = "within the next \(String(format: "%.1f", horizon)) s (lead time + margin + tick + issue lead)"
            if predictedUtilisation > scaling.scaleOutThreshold {
                wanted = max(planned, reactive)
                reason = "planned \(Int(peak.rps.rounded())) req/s \(window) puts \(current) worker(s) at \(String(format: "%.2f", predictedUtilisation)) utilisation, above scale_out_threshold \(scaling.scaleOutThreshold): needs \(wanted)"
            } else if predictedUtilisation < scaling.scaleInThreshold && max(planned, reactive) < target {
                wanted = max(planned, reactive)
                reason = "planned \(Int(peak.rps.rounded())) req/s \(window) leaves \(current) worker(s) at \(String(format: "%.2f", predictedUtilisation)) utilisation, below scale_in_threshold \(scaling.scaleInThreshold): \(wanted) suffice"
                // The next peak: workers the plan needs again soon after the look-ahead are kept.
                let hold = scaling.scaleInHoldSec ?? lead
                if hold > 0 {
                    let next = broker.plannedPeak(from: now.addingTimeInterval(horizon), to: now.addingTimeInterval(horizon + hold))
                    let needed = min(target, workers(rps: next.rps, users: next.users, capacity: capacity))
                    if needed == target {
                        if !holding {
                            holding = true
                            broker.record("scale_in_held", ["workers": .int(target), "next_peak_rps": .number(next.rps, places: 0),
                                                            "hold_sec": .number(hold, places: 1),
                                                            "reason": .string("planned \(Int(next.rps.rounded())) req/s within \(String(format: "%.1f", hold)) s after the look-ahead needs \(needed) worker(s)")])
                        }
                        return
                    }
                    if needed > wanted {
                        wanted = needed
                        reason += "; \(needed) kept: planned \(Int(next.rps.rounded())) req/s within \(String(format: "%.1f", hold)) s after needs them"
                    }
                }
            } else if reactive > target {
                wanted = reactive
                reason = "observed \(Int(observed.rounded())) req/s needs \(reactive) worker(s), more than planned"
            } else {
                return
            }
        }
        wanted = min(scaling.maxWorkers, max(scaling.minWorkers, wanted))
        if let pool { wanted = min(wanted, max(scaling.minWorkers, pool.capacity)) }
        if wanted < target && now.timeIntervalSince(lastChange) < scaling.cooldownSec {
            return  // scale-in waits for the cool-down
        }
        guard wanted != target else { return }
        holding = false
        detail["mode"] = .string(scaling.mode.rawValue)
        detail["workers_before"] = .int(target)
        detail["workers_after"] = .int(wanted)
        detail["capacity_per_worker"] = .number(capacity, places: 0)
        detail["capacity_source"] = .string(source)
        if let budget { detail["capacity_factor"] = .number(budget.factor, places: 3) }
        detail["lead_time_s"] = .number(lead, places: 2)
        detail["reason"] = .string(reason)
        detail["acted"] = .bool(!(scaling.forecastOnly || pool == nil))
        target = wanted
        lastChange = now
        decisions.append(detail)
        broker.record("scaling_decision", detail)
        if !scaling.forecastOnly, let pool {
            for event in pool.scale(to: wanted, now: now) { broker.record(event.kind, event.detail) }
        }
    }
}
