/// How demand becomes a number of workers.
public struct ScalingRule: Sendable, Equatable {
    /// Requests per second one worker sustains at the target utilisation.
    public var capacityPerWorker: Double
    public var minWorkers: Int
    public var maxWorkers: Int
    /// Steps after the last scale-out or scale-in before workers may be retired.
    public var scaleInCooldown: Int

    public init(capacityPerWorker: Double, minWorkers: Int = 1, maxWorkers: Int = 10_000, scaleInCooldown: Int = 0) {
        self.capacityPerWorker = capacityPerWorker
        self.minWorkers = max(0, minWorkers)
        self.maxWorkers = max(self.minWorkers, maxWorkers)
        self.scaleInCooldown = max(0, scaleInCooldown)
    }

    /// Workers needed to serve `demand` req/s, clamped.
    public func workers(for demand: Double) -> Int {
        guard demand.isFinite, capacityPerWorker > 0 else { return minWorkers }
        return min(maxWorkers, max(minWorkers, wholeWorkers(max(0, demand) / capacityPerWorker)))
    }
}

/// What the planner acts on.
public enum ScalingPolicy: String, Sendable, CaseIterable {
    /// Sizes for the forecast's upper bound at the time the workers will be ready (and never below reactive).
    case predictive
    /// Sizes for the demand last observed (what autoscalers without a forecast do).
    case reactive
    /// Perfect foresight: the demand that will happen (simulation only, the yardstick for cost).
    case oracle
    /// A fixed pool of `minWorkers`.
    case fixed
}

/// One scaling decision and why it was taken.
public struct ScalingDecision: Sendable, Equatable {
    /// Step (or second) at which it was decided.
    public var step: Int
    /// Step it provisions for: `step + leadTime`.
    public var forStep: Int
    public var observedDemand: Double
    public var forecastMean: Double?
    public var forecastUpper: Double?
    public var capacityPerWorker: Double
    public var leadTime: Int
    public var workersBefore: Int
    public var workersAfter: Int
    public var reason: String
}

/// The smallest whole number of workers that covers `x` (a demand over a capacity), never trapping: NaN and
/// negatives are 0, infinity and anything beyond 2^40 are 2^40 (a capacity of 0 asks for every worker there is).
func wholeWorkers(_ x: Double) -> Int {
    guard x > 0 else { return 0 }
    let ceiling = (x - 1e-9).rounded(.up)
    return ceiling < 1_099_511_627_776 ? Int(ceiling) : 1_099_511_627_776
}
