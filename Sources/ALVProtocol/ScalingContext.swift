import Foundation

/// What the planner reads and where it writes: the broker itself inside `alv run`, or the broker's
/// aggregates as `alv planner` receives them. It lives with the wire types so that neither the planner nor
/// the broker imports the other.
public protocol ScalingContext: AnyObject {
    /// The plan's demand over `[from, to]`: requests per second and virtual users at their peak.
    func plannedPeak(from: Date, to: Date) -> (rps: Double, users: Int)
    /// The plan's demand (req/s) at one instant: its mean and, for forecast-shaped vectors, the upper bound
    /// of the forecast interval (equal to the mean for demand the plan fixes).
    func plannedRate(at time: Date) -> (mean: Double, upper: Double)
    /// Requests in the last complete second.
    var lastSecondRate: Double? { get }
    /// CPU seconds per request measured by the workers.
    var cpuPerRequest: Double? { get }
    /// The last complete second's saturation signals: share of arrivals dropped (in-flight cap) and mean
    /// scheduling lag in ms. Nil before the first second.
    var saturation: (droppedShare: Double, lagMs: Double)? { get }
    /// Seconds before a window starts that the broker issues it.
    var issueLead: Double { get }
    /// Records an event in the running run.
    func record(_ kind: String, _ detail: EventDetail)
    /// A launched worker's process exited unasked: its load goes to the others now.
    func workerExited(_ id: String)
    /// Workers live now (joined and taking windows), when known: fewer than those asked for while machines boot.
    var liveWorkerCount: Int? { get }
    /// How the workers kept the plan's schedule in the last complete second, when known.
    var lastSchedule: ScheduleKept? { get }
    /// The same for an earlier complete second, while it is still known (the broker keeps every second of
    /// the run; a planner beside it knows only the last).
    func schedule(second: Int64) -> ScheduleKept?
}

extension ScalingContext {
    public var liveWorkerCount: Int? { nil }
    public var lastSchedule: ScheduleKept? { nil }
    public func schedule(second: Int64) -> ScheduleKept? { lastSchedule.flatMap { $0.second == second ? $0 : nil } }
}

/// One complete second of the plan's schedule as the workers kept it: the arrivals it intended, and those
/// under-provisioned (dropped at the in-flight cap, or sent more than `RequestMetrics.lateThresholdMicros`
/// after their intended time).
public struct ScheduleKept: Sendable, Equatable, Codable {
    /// The Unix second.
    public var second: Int64
    public var intended: UInt64
    public var missed: UInt64

    public init(second: Int64, intended: UInt64, missed: UInt64) {
        self.second = second
        self.intended = intended
        self.missed = missed
    }
}
