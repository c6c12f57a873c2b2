import ALVForecast

/// Replays a demand series through the planner, without processes: the workers in place at step t are those
/// decided at step t − lead time from the data seen up to then.
public enum ScalingSimulation {
    /// The outcome, with the keys ARCHITECTURE.md fixes for `alv plan simulate --json`.
    public struct Result: Sendable {
        public var policy: ScalingPolicy
        /// Demand above provisioned capacity / all demand.
        public var underProvisionedShare: Double
        /// Steps with demand above capacity / all steps.
        public var underProvisionedStepsShare: Double
        public var workerSeconds: Double
        public var oracleWorkerSeconds: Double
        public var costVsOracle: Double { oracleWorkerSeconds > 0 ? workerSeconds / oracleWorkerSeconds : .nan }
        /// Steps scored (after the warm-up).
        public var steps: Int
        public var decisions: Int
        /// Machine-seconds when workers come in whole machines of `workersPerInstance` (1: one per worker).
        public var instanceSeconds: Double
        public var oracleInstanceSeconds: Double
        /// The predictive policy's mean forecast level (it moves with an under-provisioning budget).
        public var meanLevel: Double?
    }

    /// Simulates `policy` on `demand` (req/s per step of `stepSeconds`).
    ///
    /// - Parameters:
    ///   - warmup: steps the planner observes before scoring starts (history a live planner would import).
    ///   - scaleInHold: steps after the lead the predictive policy looks for the next peak before a scale-in
    ///     (nil: the planner's default, none).
    public static func run(demand: [Double], stepSeconds: Double, rule: ScalingRule, leadTime: Int, policy: ScalingPolicy,
                           periods: [Int], level: Double = 95, warmup: Int, window: Int, refitEvery: Int, workersPerInstance: Int = 1, underProvisionBudget: Double? = nil,
                           scaleInHold: Int? = nil) -> Result {
        let perInstance = max(1, workersPerInstance)
        func machines(_ workers: Int) -> Double { Double((workers + perInstance - 1) / perInstance) }
        let lead = max(1, leadTime)
        let planner = Planner(policy: policy, rule: rule, leadTime: lead, periods: periods, level: level,
                              window: window, refitEvery: refitEvery, initialWorkers: rule.workers(for: demand.first ?? 0),
                              underProvisionBudget: underProvisionBudget)
        if let scaleInHold { planner.scaleInHold = max(0, scaleInHold) }
        // provisioned[t]: workers in place at step t.
        var provisioned = [Int](repeating: rule.workers(for: demand.first ?? 0), count: demand.count)
        var changes = 0
        for t in 0..<demand.count {
            let target = t + lead
            let decision = planner.observe(demand: demand[t], future: target < demand.count ? demand[target] : nil)
            if decision.workersAfter != decision.workersBefore { changes += 1 }
            if target < demand.count { provisioned[target] = decision.workersAfter }
        }
        var under = 0.0, total = 0.0, underSteps = 0, workerSteps = 0.0, oracleSteps = 0.0, instanceSteps = 0.0, oracleInstanceSteps = 0.0
        let start = min(demand.count, max(warmup, lead))
        for t in start..<demand.count {
            let capacity = Double(provisioned[t]) * rule.capacityPerWorker
            let shortfall = max(0, demand[t] - capacity)
            under += shortfall
            total += max(0, demand[t])
            if shortfall > 1e-9 { underSteps += 1 }
            workerSteps += Double(provisioned[t])
            oracleSteps += Double(rule.workers(for: demand[t]))
            instanceSteps += machines(provisioned[t])
            oracleInstanceSteps += machines(rule.workers(for: demand[t]))
        }
        let steps = demand.count - start
        return Result(policy: policy, underProvisionedShare: total > 0 ? under / total : 0,
                      underProvisionedStepsShare: steps > 0 ? Double(underSteps) / Double(steps) : 0,
                      workerSeconds: workerSteps * stepSeconds, oracleWorkerSeconds: oracleSteps * stepSeconds,
                      steps: steps, decisions: changes,
                      instanceSeconds: instanceSteps * stepSeconds, oracleInstanceSeconds: oracleInstanceSteps * stepSeconds,
                      meanLevel: planner.meanLevel)
    }
}
