import ALVForecast

/// Decides how many workers must be running a lead time from now. Used by the scaling simulator and by
/// live runs alike: it is fed one observation per step and answers with a target and its reason.
public final class Planner {
    public let policy: ScalingPolicy
    public let rule: ScalingRule
    /// Steps from a decision until the workers it starts are ready.
    public let leadTime: Int
    public let forecaster: OnlineForecaster?
    private var current: Int
    private var lastChange = Int.min / 2
    private var step = -1
    /// With a budget: the share of demand the predictive policy may leave unserved, on average. The
    /// forecast level then moves online (adaptive conformal inference on the miss rate α = 1 − level): after
    /// each step, α += γ·(budget − shortfall/mean demand), so the long-run shortfall share approaches the budget
    /// and the level is only as high as the demand's surprises make it. Nil keeps `level` fixed.
    public let underProvisionBudget: Double?
    /// Steps after the lead over which the predictive policy looks for the next peak before giving
    /// capacity back: a scale-in is held (in part) when the forecast's upper bound needs the workers again
    /// within them. 0 (the default): no hold. The simulator does not count what a change costs (a boot,
    /// an instance's first minute), so without a hold it shows the cheapest plan; live runs hold by default
    /// (`Scaling.scaleInHoldSec`).
    public var scaleInHold = 0
    /// The learning rate γ of the level.
    /// 0.5 (chosen on synthetic series with constant and with level-proportional noise, and on the traffic
    /// series: 0.05 moved too slowly to spend the budget within a few hundred steps, 1 overshot at lead 3).
    public var levelRate = 0.5
    /// Workers decided for each step still to come.
    private var provisioned: [Int: Int] = [:]
    /// The upper bound forecast for each step still to come.
    private var upperFor: [Int: Double] = [:]
    private var demandSum = 0.0
    /// The levels used, one per predictive decision (for `plan simulate`'s report).
    public private(set) var levelSum = 0.0, levelCount = 0

    /// - Parameters:
    ///   - periods: seasons of the demand, in steps (for the predictive policy's forecaster).
    ///   - level: the forecast upper bound's level in percent.
    ///   - window: history the forecaster refits on; `refitEvery`: steps between refits.
    public init(policy: ScalingPolicy, rule: ScalingRule, leadTime: Int, periods: [Int] = [], level: Double = 80,
                window: Int = 672, refitEvery: Int = 24, initialWorkers: Int? = nil, underProvisionBudget: Double? = nil) {
        self.underProvisionBudget = underProvisionBudget.flatMap { $0.isFinite && $0 > 0 && $0 < 1 ? $0 : nil }
        self.policy = policy
        self.rule = rule
        self.leadTime = max(1, leadTime)
        forecaster = policy == .predictive
            ? OnlineForecaster(periods: periods, window: window, refitEvery: refitEvery, lead: self.leadTime, level: level)
            : nil
        current = initialWorkers ?? rule.minWorkers
    }

    /// The workers currently planned.
    public var workers: Int { current }

    /// Records demand observed at the next step and decides the workers for `leadTime` steps ahead.
    /// `future` is the demand at that step, which only the oracle may use.
    @discardableResult
    public func observe(demand: Double, future: Double? = nil) -> ScalingDecision {
        step += 1
        adaptLevel(demand: demand)
        forecaster?.observe(demand)
        let reactive = rule.workers(for: demand)
        var target: Int
        var reason: String
        var mean: Double?, upper: Double?
        switch policy {
        case .fixed:
            target = rule.minWorkers
            reason = "fixed pool"
        case .oracle:
            target = rule.workers(for: future ?? demand)
            reason = "known demand \(format(future ?? demand)) req/s"
        case .reactive:
            target = reactive
            reason = "observed \(format(demand)) req/s"
        case .predictive:
            if let prediction = forecaster?.predict() {
                mean = prediction.mean
                upper = prediction.upper
                let predicted = rule.workers(for: prediction.upper)
                // The demand just seen is a floor only when the forecast missed it: on a falling cycle it is
                // above what is coming, and a lead of several steps would pay for it at every fall.
                let covered = upperFor.removeValue(forKey: step).map { demand <= $0 } ?? false
                upperFor[step + leadTime] = prediction.upper
                if predicted >= reactive || covered {
                    target = predicted
                    reason = "forecast \(format(prediction.mean)) req/s, upper bound \(format(prediction.upper)) in \(leadTime) step(s) (\(forecaster!.modelDescription))"
                } else {
                    target = reactive
                    reason = "observed \(format(demand)) req/s above the forecast's upper bound for now: the demand seen is the floor"
                }
            } else {
                target = reactive
                reason = "no forecast yet: observed \(format(demand)) req/s"
            }
        }
        let before = current
        if target < current, policy == .predictive, scaleInHold > 0, let peak = forecaster?.peakUpper(extra: scaleInHold) {
            let needed = min(current, rule.workers(for: peak))
            if needed > target {
                reason += "; scale-in held at \(needed): the forecast's upper bound reaches \(format(peak)) req/s within \(scaleInHold) step(s) after"
                target = needed
            }
        }
        if target < current && step - lastChange < rule.scaleInCooldown {
            reason += "; scale-in held by the cool-down"
            target = current
        }
        if target != current {
            current = target
            lastChange = step
        }
        if underProvisionBudget != nil { provisioned[step + leadTime] = current }
        if let level = forecaster?.level, policy == .predictive {
            levelSum += level
            levelCount += 1
        }
        return ScalingDecision(step: step, forStep: step + leadTime, observedDemand: demand, forecastMean: mean,
                               forecastUpper: upper, capacityPerWorker: rule.capacityPerWorker, leadTime: leadTime,
                               workersBefore: before, workersAfter: current, reason: reason)
    }

    /// The level's online step, once the workers decided for this step meet its demand.
    private func adaptLevel(demand: Double) {
        guard let budget = underProvisionBudget, let forecaster, let workers = provisioned.removeValue(forKey: step) else { return }
        let value = max(0, demand.isFinite ? demand : 0)
        demandSum += value
        let meanDemand = demandSum / Double(step + 1)
        guard meanDemand > 0 else { return }
        let shortfall = max(0, value - Double(workers) * rule.capacityPerWorker)
        // Volume-weighted: a step's miss counts by its unserved requests against typical demand, capped so
        // one outage cannot swing the level by more than a few points.
        let miss = min(shortfall / meanDemand, 1)
        let alpha = 1 - forecaster.level / 100
        let next = min(0.5, max(0.001, alpha + levelRate * (budget - miss)))
        forecaster.level = 100 * (1 - next)
    }

    /// The mean forecast level the predictive policy used.
    public var meanLevel: Double? { levelCount > 0 ? levelSum / Double(levelCount) : nil }

    private func format(_ value: Double) -> String {
        value >= 100 ? String(Int(value.rounded())) : String((value * 10).rounded() / 10)
    }
}
