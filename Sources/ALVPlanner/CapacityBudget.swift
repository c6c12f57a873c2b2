import ALVProtocol
import Foundation

/// A live pool's `scaling.max_under_provisioned_share`: how hard the planner runs each worker, moved online so
/// that the share of the plan's arrivals the workers could not keep (dropped at the in-flight cap, or sent more
/// than 10 ms late) approaches the budget, and what that cost in worker-seconds.
///
/// In a live run the demand is alv's own plan, known ahead: what is uncertain is what one worker sustains
/// against this target (the capacity model is a CPU figure at a target utilisation, and a slow target fills the
/// in-flight cap first). The planner sizes with the capacity times `factor`. After each complete second,
/// log(factor) += rate · (budget − missed share): a second that missed more than the budget lowers it (more
/// workers for the same demand); a second that missed less raises it, but only when the pool was loaded
/// (carrying at least half what it was planned for), since an idle pool says nothing about running hotter.
/// This is adaptive conformal inference on the miss rate, as `Planner.underProvisionBudget` does for the
/// simulator's forecast level: unless the factor sits at a bound, the long-run missed share approaches the budget.
public final class CapacityBudget {
    /// The share of intended arrivals that may be missed, on average (0 < budget ≤ 0.5).
    public let budget: Double
    /// The learning rate in log space: a second missing everything lowers the factor by e^−0.3 (26%); at the
    /// default budget a loaded second missing nothing raises it by 0.15%.
    public var rate = 0.3
    /// Bounds of the factor: at most 5× the workers the capacity model asks for, and no hotter than 100% CPU
    /// (the capacity model plans at the target utilisation).
    public let lowest: Double, highest: Double
    /// The factor now, and the least and most it has been.
    public private(set) var factor = 1.0
    public private(set) var minimum = 1.0, maximum = 1.0
    /// Over the seconds learned from: arrivals intended and missed, the pool's worker-seconds, and the
    /// worker-seconds the intended demand needed at the capacity model's figure (what a planner that knew each
    /// worker's true capacity and had no lead time would have paid for).
    public private(set) var intended: UInt64 = 0, missed: UInt64 = 0
    public private(set) var seconds = 0
    public private(set) var workerSeconds = 0.0, neededWorkerSeconds = 0.0
    /// The last second learned from.
    public private(set) var learnedThrough: Int64?
    /// The counts since the factor was last reported (`capacity_factor` events).
    private var reported = 1.0
    private var intendedSinceReport: UInt64 = 0, missedSinceReport: UInt64 = 0

    /// - Parameters:
    ///   - budget: the share; values outside (0, 0.5] make no budget (nil).
    ///   - targetUtilization: the CPU share the capacity model plans each worker at.
    public init?(budget: Double, targetUtilization: Double) {
        guard budget.isFinite, budget > 0, budget <= 0.5 else { return nil }
        self.budget = budget
        lowest = 0.2
        highest = targetUtilization.isFinite && targetUtilization > 0.2 ? max(1, 1 / targetUtilization) : 1
    }

    /// The share of intended arrivals missed over the seconds learned from (0 before any).
    public var missedShare: Double { intended > 0 ? Double(missed) / Double(intended) : 0 }

    /// Worker-seconds paid for over those the demand needed (nil before any need).
    public var costVsNeeded: Double? { neededWorkerSeconds > 0 ? workerSeconds / neededWorkerSeconds : nil }

    /// What happened in one step of the factor, for the run's events.
    public struct Change: Sendable, Equatable {
        public var from: Double, to: Double
        /// The missed share over the seconds since the previous change was reported.
        public var missedShare: Double
        public var intended: UInt64
    }

    /// Learns from one complete second (a second already seen is ignored).
    /// - Parameters:
    ///   - workers: workers live during it.
    ///   - capacity: requests per second one worker sustains by the capacity model (before the factor).
    ///   - minWorkers: the pool's floor, which the needed worker-seconds pay for too.
    /// - Returns: the factor's move when it has moved 5% or more since it was last reported.
    @discardableResult
    public func observe(_ schedule: ScheduleKept, workers: Int, capacity: Double, minWorkers: Int) -> Change? {
        guard schedule.second > learnedThrough ?? .min else { return nil }
        learnedThrough = schedule.second
        let missedNow = min(schedule.missed, schedule.intended)
        seconds += 1
        intended &+= schedule.intended
        missed &+= missedNow
        workerSeconds += Double(max(0, workers))
        let needed = capacity > 0 && capacity.isFinite ? wholeWorkers(Double(schedule.intended) / capacity) : 0
        neededWorkerSeconds += Double(max(minWorkers, needed))
        guard schedule.intended > 0 else { return nil }
        intendedSinceReport &+= schedule.intended
        missedSinceReport &+= missedNow
        let share = Double(missedNow) / Double(schedule.intended)
        let loaded = capacity.isFinite && Double(schedule.intended) >= 0.5 * Double(max(1, workers)) * capacity * factor
        if share > budget || loaded {
            factor = min(highest, max(lowest, factor * exp(rate * (budget - share))))
            minimum = min(minimum, factor)
            maximum = max(maximum, factor)
        }
        guard abs(factor / reported - 1) >= 0.05 else { return nil }
        let change = Change(from: reported, to: factor, missedShare: Double(missedSinceReport) / Double(max(1, intendedSinceReport)), intended: intendedSinceReport)
        reported = factor
        intendedSinceReport = 0
        missedSinceReport = 0
        return change
    }
}
