import ALVCloud
import ALVCluster
import ALVDashboard
import ALVLifecycle
import ALVMetrics
import ALVModel
import ALVPlanner
import ALVProtocol
import ALVRun
import ALVStore
import Foundation

/// Where a run's workers may be started.
public struct WorkerPlacement: Sendable {
    /// `local` for this machine, SSH hosts otherwise.
    public var hosts: [HostsFile.Host]
    /// The broker address remote hosts use (the hosts file's `broker_address`).
    public var remoteBrokerHost: String?
    /// Each launched worker's stderr goes to a file here.
    public var logDirectory: String
    /// The `alv` binary local workers run.
    public var localExecutable: String
    /// Instance groups whose machines start their own workers, which enrol.
    public var groups: [HostsFile.InstanceGroup] = []

    public init(hosts: [HostsFile.Host], remoteBrokerHost: String?, logDirectory: String,
                localExecutable: String = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path, groups: [HostsFile.InstanceGroup] = []) {
        self.groups = groups
        self.hosts = hosts
        self.remoteBrokerHost = remoteBrokerHost
        self.logDirectory = logDirectory
        self.localExecutable = localExecutable
    }
}

/// Why a distributed run could not go on.
public enum DistributedRunError: Error, CustomStringConvertible {
    case noWorkers(String)

    public var description: String {
        switch self {
        case .noWorkers(let why): return why
        }
    }
}

/// A run on a broker's workers, wired once for every command that runs one (`alv run --workers N`,
/// `alv broker --run`): the live feed follows the broker (events, workers, seconds, totals for `/metrics`);
/// with a placement, a worker pool and the planner start, size and stop the workers.
public final class DistributedRun {
    public let broker: Broker
    private let feed: LiveFeed?
    private let log: (String) -> Void

    public init(broker: Broker, feed: LiveFeed?, log: @escaping (String) -> Void) {
        self.broker = broker
        self.feed = feed
        self.log = log
    }

    /// Starts workers as `placement` and the plan's scaling say, runs `plan` on them, and stops them.
    /// - Parameters:
    ///   - workers: the fixed pool size when the plan does not scale.
    ///   - store: where host lead times are read from and kept for the next run.
    /// - Throws: `DistributedRunError.noWorkers` when none joined in 20 s; what `Broker.execute` throws.
    public func run(
        _ plan: RunPlan, workers count: Int, placement: WorkerPlacement, store: MetricsStore, options: EngineOptions, seed: UInt64,
        cancellation: CancellationFlag, progress: ((Int64, RunStatus?, RequestMetrics) -> Void)? = nil
    ) throws -> RunSummary {
        let scaling = plan.profile?.scaling.flatMap { $0.mode == .fixed ? nil : $0 }
            ?? Scaling(mode: .fixed, minWorkers: count, maxWorkers: count, cooldownSec: 0)
        let e = broker.endpoints
        // Workers on this machine reach a broker bound to every interface over loopback.
        let localHost = e.host == "0.0.0.0" || e.host == "*" ? "127.0.0.1" : e.host == "::" ? "::1" : e.host
        let keys = broker.configuration.curve.map { WorkerInvocation.WorkerKeys.perWorker(serverPublicKey: $0.keys.publicKey) }
        let pool = WorkerPool(
            hosts: placement.hosts,
            command: WorkerInvocation(brokerHost: localHost, workPort: e.workPort, metricsPort: e.metricsPort, controlPort: e.controlPort, curve: keys),
            localExecutable: placement.localExecutable, logDirectory: placement.logDirectory, remoteBrokerHost: placement.remoteBrokerHost ?? localHost)
        log("broker listening on \(e.host) work \(e.workPort) metrics \(e.metricsPort) control \(e.controlPort)"
            + (broker.configuration.curve.map { " (CURVE, public key \($0.keys.publicKey); each worker gets its own key pair over its stdin)" } ?? " (plain TCP)")
            + (broker.enrolPort > 0 ? "; instance groups' workers enrol on port \(broker.enrolPort)" : ""))
        pool.admit = { [unowned broker] key, worker in broker.admit(publicKey: key, as: worker) }
        pool.revoke = { [unowned broker] key in broker.revoke(publicKey: key) }
        pool.retireGrace = broker.configuration.unitSeconds + 3
        let fleet = WorkerFleet(pool: pool, groups: placement.groups.compactMap { group(for: $0, retireGrace: pool.retireGrace) })
        // Lead times measured in earlier runs are the starting estimate; this run's are kept for the next.
        if let known = try? store.leadTimes() { fleet.seedLeadTimes(known) }
        defer {
            broker.onTick = nil  // the run is over: no more scaling while the workers leave
            broker.onEnrol = nil
            broker.retireAll()
            for event in fleet.stopAll() { log("\(event.kind): \(Self.describe(event.detail))") }
            do { try store.saveLeadTimes(fleet.measuredLeadTimes) } catch { log("cannot keep lead times in the store: \(error)") }
        }
        let initial = scaling.mode == .fixed ? count : max(1, scaling.minWorkers)
        let scaler = PoolScaler(scaling: scaling, pool: fleet, initialWorkers: initial)
        let feed = self.feed
        scaler.onForecast = { feed?.forecast(mean: $0, upper: $1) }
        pool.retire = { [unowned broker] in broker.retire(worker: $0) }
        for group in fleet.groups { group.retire = { [unowned broker] in broker.retire(worker: $0) } }
        broker.onWorkerHello = { fleet.hello(worker: $0, at: $1) }
        broker.onEnrol = { request in
            fleet.enrol(launcher: request.launcher, instance: request.instance, slot: request.slot).mapError { EnrolmentRefused($0.description) }
        }
        broker.onTick = { [unowned broker] now in scaler.tick(broker: broker, now: now) }
        for event in fleet.scale(to: initial, now: Date()) where event.kind != "worker_started" {
            log("\(event.kind): \(Self.describe(event.detail))")
        }
        let joined = broker.waitForWorkers(initial, timeout: 20, cancellation: cancellation)
        guard joined >= 1 else {
            let reasons = pool.checkHosts().filter { $0.kind == "worker_exited" }.map { "\($0.detail["host"] ?? "?"): \($0.detail["reason"] ?? "")" }
            throw DistributedRunError.noWorkers("no worker joined within 20 s\(reasons.isEmpty ? "" : " (" + reasons.joined(separator: "; ") + ")")")
        }
        if joined < initial { log("\(joined) of \(initial) workers joined within 20 s; the run goes on with them") }
        let hosts = Set(pool.active.map(\.host)).sorted().joined(separator: ", ")
        log("running \(Self.name(plan)) against \(plan.target) on \(joined) worker processes (pids \(pool.active.map { String($0.process.pid) }.joined(separator: " "))) on \(hosts), scaling \(scaling.mode.rawValue); broker work port \(e.workPort)")
        var summary = try execute(plan, options: options, seed: seed, cancellation: cancellation, progress: progress)
        if let budget = scaler.budget {
            summary.scaling = .init(
                mode: scaling.mode.rawValue, maxUnderProvisionedShare: budget.budget, underProvisionedShare: budget.missedShare,
                intended: budget.intended, underProvisioned: budget.missed, capacityFactor: budget.factor, capacityFactorMin: budget.minimum,
                capacityFactorMax: budget.maximum, workerSeconds: budget.workerSeconds, neededWorkerSeconds: budget.neededWorkerSeconds,
                costVsNeeded: budget.costVsNeeded, seconds: budget.seconds)
            do { try store.updateSummary(summary.runID, summaryJSON: String(decoding: try summary.jsonData(), as: UTF8.self)) } catch {
                log("cannot keep the scaling outcome in the store: \(error)")
            }
        }
        return summary
    }

    /// An instance group with its provider, started (described once). A group whose provider cannot be
    /// made (no credentials) is left out; one whose first call fails stays, its thread trying again.
    private func group(for spec: HostsFile.InstanceGroup, retireGrace: Double) -> InstanceGroup? {
        let provider: any InstanceProvider
        switch spec.provider {
        case .awsAutoScaling(let name, let region, let endpoint, let profile):
            do {
                provider = AutoScalingClient(group: name, region: region, endpoint: endpoint, credentials: try AWSCredentials.resolve(profile: profile))
            } catch {
                log("instance group \(spec.name) left out: \(error)")
                return nil
            }
        case .command(let scaleTo, let list, let terminate, _):
            provider = CommandProvider(name: spec.name, scaleTo: scaleTo, list: list, terminate: terminate)
        }
        let group = InstanceGroup(spec: spec, provider: provider)
        group.retireGrace = retireGrace
        do {
            try group.start()
            log("instance group \(spec.name): \(provider.label), up to \(spec.maxInstances) instances of \(spec.workersPerInstance) worker(s); lead time \(String(format: "%.0f", group.currentLeadTime)) s until measured")
        } catch {
            log("instance group \(spec.name): \(error); the run goes on with the other launchers and tries again")
        }
        return group
    }

    static func describe(_ detail: EventDetail) -> String {
        detail.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    /// Waits for `count` workers started elsewhere (`alv worker`, `alv planner`, `alv cluster up`), then runs.
    /// - Throws: `DistributedRunError.noWorkers` when too few joined within `timeout`; what `Broker.execute` throws.
    public func runOnJoinedWorkers(
        _ plan: RunPlan, waitFor count: Int, timeout: Double, options: EngineOptions, seed: UInt64, cancellation: CancellationFlag,
        progress: ((Int64, RunStatus?, RequestMetrics) -> Void)? = nil
    ) throws -> RunSummary {
        let joined = broker.waitForWorkers(count, timeout: timeout, cancellation: cancellation)
        guard joined >= count else { throw DistributedRunError.noWorkers("only \(joined) of \(count) workers joined within \(String(format: "%g", timeout)) s") }
        defer { broker.retireAll() }
        return try execute(plan, options: options, seed: seed, cancellation: cancellation, progress: progress)
    }

    private func execute(
        _ plan: RunPlan, options: EngineOptions, seed: UInt64, cancellation: CancellationFlag, progress: ((Int64, RunStatus?, RequestMetrics) -> Void)?
    ) throws -> RunSummary {
        let feed = self.feed
        if let feed {
            broker.onEvent = { feed.event($0) }
            // Each run has an aggregator of its own: hand it to /metrics once it exists.
            broker.onStart = { [unowned broker] id in
                feed.named(id)
                if let aggregator = broker.runAggregator {
                    feed.breakdown(Self.breakdown(aggregator, plan: plan))
                    feed.errorSamples(Self.errorSamples(aggregator, plan: plan))
                    feed.thresholds(Self.thresholds(aggregator, plan: plan))
                }
            }
            broker.onWorkers = { feed.workers($0) }
        }
        defer {
            broker.onEvent = nil
            broker.onStart = nil
            broker.onWorkers = nil
        }
        let demand = PlannedDemand(plan: plan)
        return try broker.execute(plan, options: options, seed: seed, cancellation: cancellation) { second, status, metrics in
            progress?(second, status, metrics)
            feed?.second(second, metrics, status: status?.description, planned: status.map { demand.demand(at: Date(), status: $0) })
        }
    }

    static func name(_ plan: RunPlan) -> String {
        plan.profile.map { "profile \($0.profileID)" } ?? "vector \(plan.steps.first?.vector.vectorID ?? "?")"
    }

    /// Totals by vector and request type for `/metrics`, read from the run's aggregator.
    /// The run's error samples as the live page lists them, most frequent first.
    public static func errorSamples(_ aggregator: RunAggregator, plan: RunPlan) -> LiveFeed.Samples {
        let ids = plan.steps.map(\.vector.vectorID)
        return { aggregator.errorSamples(vectorIDs: ids) }
    }

    /// The run's thresholds evaluated over what has ended so far: each vector's once it has requests, the
    /// profile's over the whole run. `started` dates the rates.
    public static func thresholds(_ aggregator: RunAggregator, plan: RunPlan, started: Date = Date()) -> LiveFeed.Thresholds {
        return {
            let totals = aggregator.totals
            let seconds = max(1, Date().timeIntervalSince(started))
            var results: [RunSummary.ThresholdResult] = []
            for (index, step) in plan.steps.enumerated() where totals.keys.contains(where: { $0.vectorIndex == index }) {
                for threshold in step.vector.thresholds {
                    results.append(ThresholdEvaluator.evaluate(threshold, totals: totals, plan: plan, vectorIndex: index, seconds: seconds, metricsGaps: 0))
                }
            }
            if !totals.isEmpty {
                for threshold in plan.profile?.thresholds ?? [] {
                    results.append(ThresholdEvaluator.evaluate(threshold, totals: totals, plan: plan, vectorIndex: nil, seconds: seconds, metricsGaps: 0))
                }
            }
            return results
        }
    }

    public static func breakdown(_ aggregator: RunAggregator, plan: RunPlan) -> LiveFeed.Breakdown {
        let ids = plan.steps.map(\.vector.vectorID)
        return {
            var merged: [String: (String, String, RequestMetrics)] = [:]
            for (key, metrics) in aggregator.totals {
                let vector = key.vectorIndex < ids.count ? ids[key.vectorIndex] : "vector-\(key.vectorIndex)"
                let id = vector + "\u{0}" + key.requestType
                if var existing = merged[id] {
                    existing.2.merge(metrics)
                    merged[id] = existing
                } else {
                    merged[id] = (vector, key.requestType, metrics)
                }
            }
            return merged.values.map { (vector: $0.0, requestType: $0.1, metrics: $0.2) }
        }
    }
}
