import Foundation

/// What the planner sizes: workers it can start and stop, how many it may have, and how far ahead it must
/// decide. A `WorkerPool` (processes here and over SSH) and a `WorkerFleet` (that pool and instance groups).
public protocol WorkerLauncher: AnyObject {
    /// Workers started or asked for and not being stopped.
    var activeCount: Int { get }
    /// The most workers the launchers that are up can run.
    var capacity: Int { get }
    /// Seconds from a decision to the workers it asks for saying hello.
    var leadTime: Double { get }
    func scale(to target: Int, now: Date) -> [PoolEvent]
    /// What happened since the last call (exits, provider errors, terminations).
    func checkHosts(now: Date) -> [PoolEvent]
}

extension WorkerPool: WorkerLauncher {
    public var activeCount: Int { active.count }
}

/// Process hosts first, then instance groups in the hosts file's order: a target is filled from the pool
/// (cheap and fast), the rest from the groups that are up; scale-in therefore gives back group instances
/// first. A group whose provider fails keeps what it has and gets nothing more until it answers again.
public final class WorkerFleet: WorkerLauncher {
    public let pool: WorkerPool
    public let groups: [InstanceGroup]

    public init(pool: WorkerPool, groups: [InstanceGroup]) {
        self.pool = pool
        self.groups = groups
    }

    public var activeCount: Int { pool.active.count + groups.reduce(0) { $0 + $1.plannedWorkers } }

    public var capacity: Int { pool.capacity + groups.reduce(0) { $0 + ($1.isUp ? $1.capacity : $1.plannedWorkers) } }

    public var leadTime: Double {
        // The slowest launcher that can still add workers (1 s when none can).
        let leads = (pool.capacity > 0 ? [pool.leadTime] : []) + groups.filter { $0.isUp && $0.capacity > 0 }.map(\.currentLeadTime)
        return leads.max() ?? 1
    }

    public func scale(to target: Int, now: Date = Date()) -> [PoolEvent] {
        var remaining = max(0, target)
        for group in groups where !group.isUp { remaining -= group.plannedWorkers }
        let local = min(max(0, remaining), pool.capacity)
        remaining -= local
        var events = pool.scale(to: local, now: now)
        for group in groups where group.isUp {
            let share = min(max(0, remaining), group.capacity)
            remaining -= share
            events += group.scale(toWorkers: share, now: now)
        }
        return events
    }

    public func checkHosts(now: Date = Date()) -> [PoolEvent] {
        pool.checkHosts(now: now) + groups.flatMap { $0.drainEvents() }
    }

    public func hello(worker id: String, at time: Date) {
        if let group = groups.first(where: { $0.owns(worker: id) }) { group.hello(worker: id, at: time) } else { pool.hello(worker: id, at: time) }
    }

    /// Enrols a worker of a group's machine. - Returns: its worker id, or why not.
    public func enrol(launcher: String, instance: String, slot: Int) -> Result<String, EnrolRefusal> {
        guard let group = groups.first(where: { $0.name == launcher }) else { return .failure(EnrolRefusal("no instance group named \(launcher)")) }
        return group.enrol(instance: instance, slot: slot)
    }

    /// Lead times to keep for the next run: the pool's hosts, and each group as `group:NAME`.
    public var measuredLeadTimes: [String: (seconds: Double, samples: Int)] {
        var result = pool.measuredLeadTimes
        for group in groups { if let m = group.measuredLeadTime { result["group:" + group.name] = m } }
        return result
    }

    public func seedLeadTimes(_ known: [String: (seconds: Double, samples: Int)]) {
        pool.seedLeadTimes(known)
        for group in groups { if let k = known["group:" + group.name] { group.seedLeadTime(seconds: k.seconds, samples: k.samples) } }
    }

    /// Stops the pool's workers and returns the groups to the size the run found them at.
    public func stopAll() -> [PoolEvent] {
        pool.stopAll()
        return groups.flatMap { $0.finish() }
    }
}
