import ALVCloud
import ALVModel
import ALVProtocol
import Foundation

/// Machines from a provider (an AWS Auto Scaling group, a provider CLI), sized in whole instances of
/// `workers_per_instance` workers each. The machines start their own workers (`alv cluster user-data`), which
/// enrol with the broker as `NAME-INSTANCE-SLOT`.
///
/// Scale-out raises the provider's desired size; the time from that call to the first hello of a worker on a
/// new machine is this launcher's lead time. Scale-in chooses the machines itself (never joined first, then
/// the newest), retires their workers, and after `retireGrace` seconds terminates exactly those machines,
/// lowering the size by one each, so the provider never kills a busy machine of its own choice.
///
/// Provider calls block, so they run on a thread of the group's own; the broker's thread only reads a
/// snapshot and leaves requests (`scale`, `checkHosts`, `hello`, `enrol` are called on it).
/// `@unchecked Sendable`: the thread touches only `shared` (behind its lock) and the provider.
public final class InstanceGroup: @unchecked Sendable {
    public let spec: HostsFile.InstanceGroup
    /// Default lead time before any was measured (seconds from the resize call to a new worker's hello).
    public static let defaultLeadTime = 90.0

    final class Shared {
        /// The size alv wants (its scale-out target; scale-in lowers it by the machines it drains).
        var wanted: Int?
        /// What alv last asked the provider for (or found at start).
        var requested: Int?
        var state: GroupState?
        var events: [PoolEvent] = []
        /// Machines chosen for scale-in: when they may be terminated.
        var draining: [String: Date] = [:]
        var terminated: [String] = []
        var failingSince: Date?
        var failures = 0
        var lastFailure: (code: String, at: Date)?
        var stop = false
        var initial: Set<String> = []
        /// A worker asked to enrol from a machine the last description did not have: describe now.
        var describeSoon = false
    }

    private let provider: any InstanceProvider
    private let shared = Locked(Shared())
    private var thread: Thread?
    /// Asks the broker to retire a worker (scale-in).
    public var retire: ((String) -> Void)?
    public var retireGrace = 8.0
    /// How often the group is described (`poll_sec`; a provider's API has rate limits, a CLI is slow).
    public var pollInterval: Double

    // The broker thread's state.
    private var leadTime: Double
    private var leadSamples = 0
    /// When each instance beyond the earlier size was asked for, oldest first.
    private var asked: [Date] = []
    private var joinedInstances: Set<String> = []
    private var workers: [String: String] = [:]  // worker id → instance

    public init(spec: HostsFile.InstanceGroup, provider: any InstanceProvider) {
        self.spec = spec
        self.provider = provider
        leadTime = Self.defaultLeadTime
        switch spec.provider {
        case .awsAutoScaling: pollInterval = spec.pollSeconds ?? 5
        case .command: pollInterval = spec.pollSeconds ?? 10
        }
        provider.onRetry = { [shared] failure, attempt, delay in
            shared.withLock { $0.events.append(PoolEvent(kind: "group_retry", detail: [
                "launcher": .string(spec.name), "action": .string(failure.action), "code": .string(failure.code),
                "attempt": .int(attempt), "retry_in_s": .number(delay, places: 1)])) }
        }
    }

    public var name: String { spec.name }

    /// Describes the group once (on the calling thread), then starts the group's thread.
    /// - Throws: the provider's failure (the run goes on without this launcher; the thread keeps trying).
    public func start() throws(ProviderFailure) {
        defer {
            let thread = Thread { [weak self] in self?.loop() }
            thread.name = "alv-group-\(spec.name)"
            self.thread = thread
            thread.start()
        }
        do {
            let state = try provider.describe()
            shared.withLock { adopt(state, in: $0) }
        } catch {
            shared.withLock { note(failure: error, in: $0) }
            throw error
        }
    }

    /// Lead times measured in earlier runs.
    public func seedLeadTime(seconds: Double, samples: Int) {
        guard seconds > 0, samples > 0 else { return }
        leadTime = seconds
        leadSamples = samples
    }

    public var measuredLeadTime: (seconds: Double, samples: Int)? { leadSamples > 0 ? (leadTime, leadSamples) : nil }
    public var currentLeadTime: Double { leadTime }

    /// Workers planned on the machines asked for and not draining.
    public var plannedWorkers: Int {
        shared.withLock { s in ((s.wanted ?? s.requested ?? 0)) * spec.workersPerInstance }
    }

    /// The most workers the group may run now: none while its provider fails.
    public var capacity: Int {
        shared.withLock { $0.failingSince == nil } ? spec.maxInstances * spec.workersPerInstance : 0
    }

    /// Whether the provider answered the last call.
    public var isUp: Bool { shared.withLock { $0.failingSince == nil } }

    /// Sizes the group for `workers` workers (whole instances). - Returns: what happened.
    public func scale(toWorkers workers: Int, now: Date = Date()) -> [PoolEvent] {
        let instances = min(spec.maxInstances, (max(0, workers) + spec.workersPerInstance - 1) / spec.workersPerInstance)
        var events: [PoolEvent] = []
        var toRetire: [String] = []
        shared.withLock { s in
            let current = s.wanted ?? s.requested ?? 0
            if instances > current {
                for _ in 0..<(instances - current) { asked.append(now) }
                s.wanted = instances
                events.append(PoolEvent(kind: "group_scale_out", detail: ["launcher": .string(spec.name), "instances_before": .int(current), "instances_after": .int(instances)]))
            } else if instances < current {
                // Never-joined machines first (nothing to drain), then the newest joined.
                let candidates = (s.state?.instances ?? []).filter { $0.usable && s.draining[$0.id] == nil && !s.terminated.contains($0.id) }.map(\.id)
                let idle = candidates.filter { !joinedInstances.contains($0) }
                let busy = candidates.filter { joinedInstances.contains($0) }.reversed()
                let chosen = Array((idle + busy).prefix(current - instances))
                for id in chosen {
                    let onIt = self.workers.filter { $0.value == id }.map(\.key).sorted()
                    toRetire += onIt
                    s.draining[id] = now.addingTimeInterval(onIt.isEmpty ? 0 : retireGrace)
                    events.append(PoolEvent(kind: "instance_retired", detail: ["launcher": .string(spec.name), "instance": .string(id), "workers": .string(onIt.joined(separator: ","))]))
                }
                // Machines asked for but not yet reported cannot be chosen: the size comes down for them.
                s.wanted = instances
                if asked.count > 0 { asked.removeLast(min(asked.count, current - instances - chosen.count)) }
            }
        }
        for id in toRetire { retire?(id) }
        return events
    }

    /// Events from the group's thread since the last call.
    public func drainEvents() -> [PoolEvent] {
        shared.withLock { s in
            defer { s.events.removeAll() }
            return s.events
        }
    }

    /// May `instance` run a worker in `slot`? - Returns: the worker id, or why not.
    public func enrol(instance: String, slot: Int) -> Result<String, EnrolRefusal> {
        guard (1...spec.workersPerInstance).contains(slot) else { return .failure(EnrolRefusal("slot \(slot) is not 1–\(spec.workersPerInstance)")) }
        let verdict: EnrolRefusal? = shared.withLock { s in
            guard let state = s.state else { return EnrolRefusal("the group has not been described yet") }
            guard let machine = state.instances.first(where: { $0.id == instance }) else {
                s.describeSoon = true
                return EnrolRefusal("instance \(instance) is not in the group (yet)")
            }
            guard machine.usable else { return EnrolRefusal("instance \(instance) is \(machine.state)") }
            if s.draining[instance] != nil || s.terminated.contains(instance) { return EnrolRefusal("instance \(instance) is being retired") }
            return nil
        }
        if let verdict { return .failure(verdict) }
        let id = "\(spec.name)-\(instance)-\(slot)"
        workers[id] = instance
        return .success(id)
    }

    /// A worker said hello: the first on a machine that came after a resize gives a lead-time sample.
    public func hello(worker id: String, at time: Date) {
        guard let instance = workers[id], !joinedInstances.contains(instance) else { return }
        joinedInstances.insert(instance)
        let initial = shared.withLock { $0.initial.contains(instance) }
        guard !initial, !asked.isEmpty else { return }
        let sample = time.timeIntervalSince(asked.removeFirst())
        leadTime = leadSamples == 0 ? sample : max(sample, 0.7 * leadTime + 0.3 * sample)
        leadSamples += 1
    }

    public func owns(worker id: String) -> Bool { workers[id] != nil }

    /// Machines alv started in this run (present now, absent at start) and not yet terminated.
    public var addedInstances: [String] {
        shared.withLock { s in (s.state?.instances ?? []).map(\.id).filter { !s.initial.contains($0) && !s.terminated.contains($0) } }
    }

    /// Stops the thread, then terminates the machines this run added, lowering the size for each, so the
    /// group is left as the run found it. - Returns: what happened (for the log: the run is over).
    public func finish(deadline: Date = Date().addingTimeInterval(30)) -> [PoolEvent] {
        shared.withLock { $0.stop = true }
        while let thread, !thread.isFinished, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        var events: [PoolEvent] = []
        if let state = try? provider.describe() { shared.withLock { $0.state = state } }
        for id in addedInstances where Date() < deadline {
            do {
                try provider.terminate(id)
                events.append(PoolEvent(kind: "instance_terminated", detail: ["launcher": .string(spec.name), "instance": .string(id), "reason": "the run ended"]))
            } catch {
                events.append(PoolEvent(kind: "group_error", detail: ["launcher": .string(spec.name), "action": .string(error.action), "code": .string(error.code), "message": .string(error.message)]))
            }
        }
        return drainEvents() + events
    }

    // MARK: the group's thread

    private func loop() {
        var lastDescribe = Date.distantPast
        while !shared.withLock({ $0.stop }) {
            let now = Date()
            let (wanted, requested, ready, failing, soon) = shared.withLock { s in
                (s.wanted, s.requested, s.draining.filter { $0.value <= now }.map(\.key).sorted(), s.failingSince != nil, s.describeSoon)
            }
            // Back off while the provider fails: 2, 4, … 60 s between tries. An enrolment from an unseen
            // machine asks for a description at once (at most one every half second).
            let backoff = failing ? min(60, pow(2, Double(shared.withLock { $0.failures }))) : soon ? 0.5 : pollInterval
            if now.timeIntervalSince(lastDescribe) >= backoff {
                lastDescribe = now
                shared.withLock { $0.describeSoon = false }
                do {
                    let state = try provider.describe()
                    shared.withLock { s in
                        adopt(state, in: s)
                        recovered(s)
                    }
                } catch {
                    shared.withLock { note(failure: error, in: $0) }
                }
            }
            if !failing {
                for id in ready {
                    do {
                        try provider.terminate(id)
                        shared.withLock { s in
                            s.draining.removeValue(forKey: id)
                            s.terminated.append(id)
                            s.requested = max(0, (s.requested ?? 1) - 1)
                            s.events.append(PoolEvent(kind: "instance_terminated", detail: ["launcher": .string(spec.name), "instance": .string(id)]))
                            recovered(s)
                        }
                    } catch {
                        shared.withLock { note(failure: error, in: $0) }
                    }
                }
                let draining = shared.withLock { $0.draining.count }
                if let wanted, let requested, wanted > requested || wanted + draining < requested {
                    // Out: raise the size. In: only for machines asked for and never reported (those it
                    // could choose itself are drained and terminated one by one above).
                    let size = wanted > requested ? wanted : wanted + draining
                    do {
                        try provider.setCapacity(size)
                        shared.withLock { s in
                            s.requested = size
                            s.events.append(PoolEvent(kind: "group_resized", detail: ["launcher": .string(spec.name), "from": .int(requested), "to": .int(size)]))
                            recovered(s)
                        }
                    } catch {
                        shared.withLock { note(failure: error, in: $0) }
                    }
                }
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }

    /// Takes a description; the first one also fixes the size and machines the run found.
    private func adopt(_ state: GroupState, in s: Shared) {
        s.state = state
        if s.requested == nil {
            s.requested = state.desired ?? state.instances.filter(\.usable).count
            s.initial = Set(state.instances.map(\.id))
        }
    }

    private func note(failure: ProviderFailure, in s: Shared) {
        s.failures += 1
        if s.failingSince == nil { s.failingSince = Date() }
        // Said once per code every 30 s, not on every poll.
        if s.lastFailure.map({ $0.code != failure.code || Date().timeIntervalSince($0.at) >= 30 }) ?? true {
            s.lastFailure = (failure.code, Date())
            s.events.append(PoolEvent(kind: "group_error", detail: [
                "launcher": .string(spec.name), "provider": .string(provider.label), "action": .string(failure.action),
                "code": .string(failure.code), "message": .string(String(failure.message.prefix(300)))]))
        }
    }

    private func recovered(_ s: Shared) {
        if s.failingSince != nil {
            s.events.append(PoolEvent(kind: "group_recovered", detail: ["launcher": .string(spec.name)]))
        }
        s.failingSince = nil
        s.failures = 0
        s.lastFailure = nil
    }
}

/// A value behind a lock, shareable with closures and threads (a `Mutex` cannot be captured).
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

/// Why an enrolment was refused (sent back to the worker and recorded).
public struct EnrolRefusal: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
