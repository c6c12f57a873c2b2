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

    /// - Parameters:
    ///   - periods: seasons of the demand, in steps (for the predictive policy's forecaster).
    ///   - level: the forecast upper bound's level in percent.
    ///   - window: history the forecaster refits on; `refitEvery`: steps between refits.
    public init(policy: ScalingPolicy, rule: ScalingRule, leadTime: Int, periods: [Int] = [], level: Double = 80,
                window: Int = 672, refitEvery: Int = 24, initialWorkers: Int? = nil) {
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
                if predicted >= reactive {
                    target = predicted
                    reason = "forecast \(format(prediction.mean)) req/s, upper bound \(format(prediction.upper)) in \(leadTime) step(s) (\(forecaster!.modelDescription))"
                } else {
                    target = reactive
                    reason = "observed \(format(demand)) req/s above the forecast's upper bound \(format(prediction.upper))"
                }
            } else {
                target = reactive
                reason = "no forecast yet: observed \(format(demand)) req/s"
            }
        }
        let before = current
        if target < current && step - lastChange < rule.scaleInCooldown {
            reason += "; scale-in held by the cool-down"
            target = current
        }
        if target != current {
            current = target
            lastChange = step
        }
        return ScalingDecision(step: step, forStep: step + leadTime, observedDemand: demand, forecastMean: mean,
                               forecastUpper: upper, capacityPerWorker: rule.capacityPerWorker, leadTime: leadTime,
                               workersBefore: before, workersAfter: current, reason: reason)
    }

    private func format(_ value: Double) -> String {
        value >= 100 ? String(Int(value.rounded())) : String((value * 10).rounded() / 10)
    }
}
