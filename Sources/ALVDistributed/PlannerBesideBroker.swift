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
        switch (phase, silent ? nil : latest?.runID) {
        case (_, _) where silent: next = .waitingForBroker
        case (.following(let id), nil): next = .afterRun(runID: id)
        case (.afterRun(let id), nil): next = .afterRun(runID: id)
        case (_, nil): next = .beforeRun
        case (_, let id?): next = .following(runID: id)
        }
        if next != phase {
            log("\(next.description)")
            phase = next
        }
        for id in latest?.liveWorkers ?? [] where !seen.contains(id) {
            seen.insert(id)
            pool.hello(worker: id, at: now)
        }
        switch phase {
        case .waitingForBroker, .afterRun:
            // Reap what exits; start nothing.
            for event in pool.checkHosts(now: now) where event.kind != "worker_left" { client.record(event.kind, event.detail) }
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
