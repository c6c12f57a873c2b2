import ALVModel
import Foundation

/// The load a plan asks for over time, known in advance: each vector starts when the previous one ends
/// plus the profile's transition delay, ramps linearly over its ramp-up time and holds its target.
public struct PlannedDemand: Sendable {
    public let plan: RunPlan

    public init(plan: RunPlan) { self.plan = plan }

    /// Requests per second (open-model vectors) and virtual users (closed-model vectors) planned at `time`,
    /// given that vector `index` started at `start` (later vectors follow on schedule).
    /// Forecast-shaped vectors count at their interval's upper bound unless `upper` is false (the mean).
    public func demand(at time: Date, anchorIndex index: Int, anchorStart start: Date, upper: Bool = true) -> (rps: Double, users: Int) {
        let delay = plan.profile?.transitionDelaySec ?? 0
        var begin = start
        for i in index..<plan.steps.count {
            let vector = plan.steps[i].vector
            let end = begin.addingTimeInterval(vector.durationSec)
            if time < begin { return (0, 0) }
            if time < end {
                let elapsed = time.timeIntervalSince(begin)
                let share = vector.rampUpTimeSec > 0 ? min(1, elapsed / vector.rampUpTimeSec) : 1
                switch vector.load {
                case .open(let rate, _, _): return (rate * share * vector.shapeFactor(atSecond: elapsed, upper: upper), 0)
                case .closed(let users): return (0, Int((Double(users) * share).rounded(.up)))
                }
            }
            begin = end.addingTimeInterval(delay)
        }
        return (0, 0)
    }

    /// What the plan asks for at `time` while `status` says which vector runs and how long it has left.
    public func demand(at time: Date, status: RunStatus) -> (rps: Double, users: Int) {
        let index = max(0, min(plan.steps.count - 1, status.position - 1))
        let start = time.addingTimeInterval(status.secondsLeft - plan.steps[index].vector.durationSec)
        return demand(at: time, anchorIndex: index, anchorStart: start, upper: false)
    }

    /// The most demand planned in `[from, to]`, sampled every `resolution` seconds.
    public func peak(from: Date, to: Date, anchorIndex: Int, anchorStart: Date, resolution: Double = 0.25) -> (rps: Double, users: Int) {
        var rps = 0.0, users = 0
        var t = from
        while t <= to {
            let d = demand(at: t, anchorIndex: anchorIndex, anchorStart: anchorStart)
            rps = max(rps, d.rps)
            users = max(users, d.users)
            t = t.addingTimeInterval(resolution)
        }
        return (rps, users)
    }
}
