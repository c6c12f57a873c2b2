import ALVMetrics
import ALVProtocol
import ALVRun
import Foundation

/// What a planner reads from the broker: inside `alv run` directly (as its `ScalingContext`), and beside a
/// broker as the once-a-second `BrokerAggregate` on the control channel.
extension Broker: ScalingContext {
    /// The running plan's demand over `[from, to]` (rps and users), zero between runs.
    public func plannedPeak(from: Date, to: Date) -> (rps: Double, users: Int) {
        guard let session else { return (0, 0) }
        let anchor = session.runningSlot ?? (0, session.began)
        return PlannedDemand(plan: session.plan).peak(from: from, to: to, anchorIndex: anchor.index, anchorStart: anchor.start)
    }

    public func plannedRate(at time: Date) -> (mean: Double, upper: Double) {
        guard let session else { return (0, 0) }
        let anchor = session.runningSlot ?? (0, session.began)
        let demand = PlannedDemand(plan: session.plan)
        return (demand.demand(at: time, anchorIndex: anchor.index, anchorStart: anchor.start, upper: false).rps,
                demand.demand(at: time, anchorIndex: anchor.index, anchorStart: anchor.start, upper: true).rps)
    }

    /// Requests per second achieved in the last complete second, nil before the first.
    public var lastSecondRate: Double? {
        let second = Int64(Date().timeIntervalSince1970) - 2
        return session?.aggregator.second(second).map { Double($0.requestsTotal) }
    }

    /// The last complete second's dropped share and mean scheduling lag. Arrivals dropped at a vector's own
    /// `max_in_flight` are left out: that cap is the run's, split among the workers, so more workers would not
    /// send them.
    public var saturation: (droppedShare: Double, lagMs: Double)? {
        let second = Int64(Date().timeIntervalSince1970) - 2
        guard let m = provisioning(second: second), m.metrics.intended > 0 else { return nil }
        let lag = m.metrics.sent > 0 ? Double(m.metrics.lagSumMicros) / Double(m.metrics.sent) / 1000 : 0
        return (Double(m.dropped) / Double(m.metrics.intended), lag)
    }

    /// The last complete second's arrivals and those dropped (outside a vector's own cap) or sent late.
    public var lastSchedule: ScheduleKept? { schedule(second: Int64(Date().timeIntervalSince1970) - 2) }

    /// A complete second's arrivals and those dropped (outside a vector's own cap) or sent late.
    public func schedule(second: Int64) -> ScheduleKept? {
        guard second <= Int64(Date().timeIntervalSince1970) - 2, let m = provisioning(second: second) else { return nil }
        return ScheduleKept(second: second, intended: m.metrics.intended, missed: m.dropped &+ m.metrics.late)
    }

    /// One second's metrics of the whole run, and its arrivals dropped at the workers' own in-flight cap (those
    /// more workers would have sent), not at a cap the vector sets for the run.
    private func provisioning(second: Int64) -> (metrics: RequestMetrics, dropped: UInt64)? {
        guard let session, let all = session.aggregator.second(second) else { return nil }
        var capped: UInt64 = 0
        for (index, step) in session.plan.steps.enumerated() {
            guard case .open(_, _, let cap?) = step.vector.load, cap > 0 else { continue }
            capped &+= session.aggregator.second(second, vectorIndex: index)?.outcomes[.dropped] ?? 0
        }
        return (all, all.outcomes[.dropped] &- min(capped, all.outcomes[.dropped]))
    }

    /// CPU seconds per request over the run so far, from the workers' own reports; nil before any.
    public var cpuPerRequest: Double? {
        guard let session else { return nil }
        let requests = session.requests.values.reduce(0.0) { $0 + Double($1) }
        let cpu = session.cpuSeconds.values.reduce(0, +)
        return requests >= 1000 && cpu > 0 ? cpu / requests : nil
    }

    public var liveWorkerCount: Int? { liveWorkers.count }

    /// Seconds before a window starts that it is issued.
    public var issueLead: Double { configuration.leadSeconds }

    /// Records an event of the running run (scaling decisions, launcher news).
    public func record(_ kind: String, _ detail: EventDetail) { event(kind, detail) }

    /// The running run's totals, for the dashboard's `/metrics`; nil between runs.
    public var runAggregator: RunAggregator? { session?.aggregator }

    /// The running run's plan, for planners outside the broker: the next 30 seconds of demand.
    func aggregate(_ now: Date) -> BrokerAggregate {
        var rates: [Double] = [], users: [Int] = []
        if session != nil {
            for k in 0..<30 {
                let peak = plannedPeak(from: now.addingTimeInterval(Double(k)), to: now.addingTimeInterval(Double(k + 1)))
                rates.append(peak.rps)
                users.append(peak.users)
            }
        }
        let saturation = self.saturation
        return BrokerAggregate(
            at: now.timeIntervalSince1970, runID: session?.runID, observedRPS: session == nil ? nil : lastSecondRate,
            cpuPerRequest: cpuPerRequest, droppedShare: saturation?.droppedShare, lagMs: saturation?.lagMs, liveWorkers: liveWorkers,
            demandAhead: rates, usersAhead: users, scaling: session?.plan.profile?.scaling, issueLead: configuration.leadSeconds,
            schedule: lastSchedule)
    }
}
