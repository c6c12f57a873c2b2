import ALVCluster
import ALVLifecycle
import ALVModel
import ALVPlanner
import Foundation

/// `alv planner`: sizes a remote broker's worker pool from its aggregates, as the planner inside `alv run`
/// does. A service: runs until stopped, then stops the workers it started.
///
/// It starts `min_workers` while the broker has no run yet (so a `broker --run` waiting for workers can
/// begin), follows each run's policy, and once a run it followed has ended (the broker retires its workers)
/// it starts nothing more until a new run is announced. While the broker is silent it only reaps; a broker
/// heard again after silence is a new one, and gets `min_workers` again.
public final class PlannerBesideBroker: Service, @unchecked Sendable {
    // @unchecked Sendable: the client, pool and scaler are used only by the thread that calls `run`.
    public var name: String { "planner" }

    /// Flags that override the running profile's `scaling`.
    public struct Overrides: Sendable {
        public var mode: Scaling.Mode?
        public var capacity: Double?
        public var minWorkers: Int?
        public var maxWorkers: Int?
        public var forecastOnly = false
        public init(mode: Scaling.Mode? = nil, capacity: Double? = nil, minWorkers: Int? = nil, maxWorkers: Int? = nil, forecastOnly: Bool = false) {
            self.mode = mode
            self.capacity = capacity
            self.minWorkers = minWorkers
            self.maxWorkers = maxWorkers
            self.forecastOnly = forecastOnly
        }
    }

    /// What the planner is doing.
    public enum Phase: Equatable, Sendable {
        /// No aggregate from the broker yet, or none for `brokerSilentAfter` seconds.
        case waitingForBroker
        /// The broker is there and has no run: `min_workers` are kept for the next one.
        case beforeRun
        case following(runID: String)
        /// The run it followed ended: nothing is started until another run begins.
        case afterRun(runID: String)
    }

    public let client: PlannerClient
    public let pool: WorkerPool
    private let overrides: Overrides
    private let log: (String) -> Void
    private let deadline: Date?
    public private(set) var phase = Phase.waitingForBroker
    private var scaler: PoolScaler?
    private var policyKey = ""
    private var seen: Set<String> = []
    private var phaseSince = Date()
    private var brokerWasSilent = false
    static let brokerSilentAfter = 5.0

    public init(client: PlannerClient, pool: WorkerPool, overrides: Overrides, duration: Double?, log: @escaping (String) -> Void) {
        self.client = client
        self.pool = pool
        self.overrides = overrides
        self.log = log
        deadline = duration.map { Date().addingTimeInterval($0) }
        pool.retire = { [client] in client.retire(worker: $0) }
    }

    public func run(stop: CancellationFlag) throws {
        defer {
            log("stopping \(pool.active.count) workers")
            pool.stopAll()
        }
        try client.run(stop: { stop.isCancelled || self.deadline.map { Date() >= $0 } ?? false }) { client in tick(client) }
    }

    private func tick(_ client: PlannerClient) {
        let now = Date()
        let latest = client.latest
        let silent = latest.map { now.timeIntervalSince1970 - $0.at > Self.brokerSilentAfter } ?? true
        let next: Phase
        if silent {
            // A run followed and then silence: its broker is gone (`broker --run` exits after its run).
            switch phase {
            case .following(let id), .afterRun(let id): next = .afterRun(runID: id)
            default: next = .waitingForBroker
            }
            brokerWasSilent = true
        } else if let id = latest?.runID {
            next = .following(runID: id)
        } else {
            switch phase {
            case .following(let id): next = .afterRun(runID: id)
            // Heard again after silence: a new broker, waiting for workers.
            case .afterRun(let id): next = brokerWasSilent ? .beforeRun : .afterRun(runID: id)
            default: next = .beforeRun
            }
        }
        if !silent { brokerWasSilent = false }
        if next != phase {
            log("\(next.description)")
            phase = next
            phaseSince = now
        }
        for id in latest?.liveWorkers ?? [] where !seen.contains(id) {
            seen.insert(id)
            pool.hello(worker: id, at: now)
        }
        switch phase {
        case .waitingForBroker, .afterRun:
            // Reap what exits; start nothing. A worker the broker's retirement missed (it joined as the run
            // ended) has nothing to do: stopped after a grace.
            for event in pool.checkHosts(now: now) where event.kind != "worker_left" { client.record(event.kind, event.detail) }
            if case .afterRun = phase, now.timeIntervalSince(phaseSince) > 5, !pool.active.isEmpty {
                log("stopping \(pool.active.count) worker(s) still running after the run")
                pool.stopAll(grace: 1)
            }
        case .beforeRun, .following:
            var scaling = latest?.scaling ?? Scaling(mode: .predictive)
            if let mode = overrides.mode { scaling.mode = mode }
            if let capacity = overrides.capacity { scaling.capacityPerWorker = capacity }
            if let minWorkers = overrides.minWorkers { scaling.minWorkers = minWorkers }
            if let maxWorkers = overrides.maxWorkers { scaling.maxWorkers = maxWorkers }
            if overrides.forecastOnly { scaling.forecastOnly = true }
            let key = "\(scaling)"
            if scaler == nil || key != policyKey {
                // A new run may bring another policy: keep the pool, resize from here.
                scaler = PoolScaler(scaling: scaling, pool: pool, initialWorkers: max(scaling.minWorkers, pool.active.count))
                policyKey = key
                if pool.active.count < scaling.minWorkers && !scaling.forecastOnly {
                    for event in pool.scale(to: scaling.minWorkers) { client.record(event.kind, event.detail) }
                }
            }
            scaler?.tick(broker: client)
        }
    }
}

extension PlannerBesideBroker.Phase: CustomStringConvertible {
    public var description: String {
        switch self {
        case .waitingForBroker: return "waiting for the broker's aggregates"
        case .beforeRun: return "broker has no run: keeping min_workers ready"
        case .following(let id): return "following run \(id)"
        case .afterRun(let id): return "run \(id) ended: starting no workers until the next run"
        }
    }
}
