import ALVProtocol
import ALVTemplates
import CCurl
import Foundation
import Synchronization

/// One long-lived load engine: one thread's loop, one libcurl multi handle (so one connection cache) and a
/// pool of easy handles, hosting every unit a worker runs. Consecutive units of a run overlap at their
/// boundary (the next waits for its start while the last drains) and share the connections: a unit
/// boundary opens none. A closed-model virtual user thinking (or in flight) when its unit's window ends
/// goes on in the next unit of the same run and vector that holds its user number, instead of starting over.
public final class Engine: @unchecked Sendable {
    let multi: CurlMulti
    /// Easy handles by the options they were set up with (a run's units share one set of options); a unit
    /// learns its pool's index once, and a handle carries its own, so no request compares options.
    private var pools: [(options: EngineOptions, free: [Transfer])] = []
    private var connectionLimit = 16
    /// Units this loop hosts, in the order they arrived.
    private var units: [UnitExecutor] = []
    private var reports: [ObjectIdentifier: @Sendable (UnitExecutor.Report) -> Void] = [:]
    private let inbox = Mutex<[(UnitExecutor, @Sendable (UnitExecutor.Report) -> Void)]>([])
    private let stopping = Atomic<Bool>(false)

    /// A closed-model user between two units: when it wakes, and its state (templates, flow step, cookies).
    struct Resting {
        var wake: UInt64
        var user: VirtualUser
    }
    struct UserKey: Hashable {
        var runID: String
        var vectorIndex: Int
        var user: Int
    }
    /// Users whose unit ended while they thought, for the next unit of their run and vector.
    var resting: [UserKey: Resting] = [:]
    /// Users with a request in flight in a unit that has ended (their next unit waits for them).
    var inFlight: Set<UserKey> = []

    public init() throws(EngineError) {
        multi = try CurlMulti(maxConnections: 16)
    }

    /// Hands a unit to the engine's loop (from any thread); `onDone` gets its report on the engine's thread.
    public func submit(_ unit: UnitExecutor, onDone: @escaping @Sendable (UnitExecutor.Report) -> Void) {
        inbox.withLock { $0.append((unit, onDone)) }
        multi.wakeup()
    }

    /// Runs the loop on the calling thread until `shutdown()`; units in progress are cancelled then.
    public func serve() {
        while !stopping.load(ordering: .relaxed) { iterate() }
        for unit in units { unit.cancelNow() }
        while !units.isEmpty { iterate() }
    }

    /// Ends `serve()` (from any thread).
    public func shutdown() {
        stopping.store(true, ordering: .relaxed)
        multi.wakeup()
    }

    /// Runs one unit on the calling thread, with any others already hosted, until it is done.
    func runAlone(_ unit: UnitExecutor) -> UnitExecutor.Report {
        let result = Mutex<UnitExecutor.Report?>(nil)
        submit(unit) { report in result.withLock { $0 = report } }
        while result.withLock({ $0 }) == nil { iterate() }
        return result.withLock { $0! }
    }

    private func iterate() {
        for (unit, onDone) in inbox.withLock({ value in defer { value.removeAll() }; return value }) {
            if let late = unit.attach(to: self) {
                onDone(late)
                continue
            }
            units.append(unit)
            reports[ObjectIdentifier(unit)] = onDone
            let wanted = max(connectionLimit, units.reduce(0) { $0 + $1.connectionCap })
            if wanted > connectionLimit {
                connectionLimit = wanted
                multi.setConnectionLimit(wanted)
            }
        }
        var now = MonotonicClock.now()
        for unit in units { unit.advance(now) }
        multi.perform()
        now = MonotonicClock.now()
        multi.completions { transfer, code in transfer.load?.finish(transfer, code, now: now) }
        now = MonotonicClock.now()
        var wake = now + 1_000_000_000
        var index = 0
        while index < units.count {
            let unit = units[index]
            unit.afterCompletions(now)
            if let report = unit.report {
                units.remove(at: index)
                reports.removeValue(forKey: ObjectIdentifier(unit))?(report)
                continue
            }
            wake = min(wake, unit.wake(now))
            index += 1
        }
        if units.isEmpty && inbox.withLock({ $0.isEmpty }) { forgetRestingUsers() }
        let timeoutMs = wake <= now ? 0 : Int32(min(units.isEmpty ? 1_000 : 50, (wake - now + 999_999) / 1_000_000))
        multi.poll(timeoutMs: timeoutMs)
    }

    /// With no unit left, no later unit can take the users that rested (the run or its vector is over).
    private func forgetRestingUsers() {
        resting.removeAll()
        inFlight.removeAll()
    }

    /// Whether another unit of the same run and vector still runs up to `unit`'s start (its users come over).
    func hasPredecessor(of unit: UnitExecutor) -> Bool {
        units.contains { other in
            other !== unit && other.unit.runID == unit.unit.runID && other.vectorIndex == unit.vectorIndex && other.isRunningWindow
                && other.startNs < unit.startNs && other.endNs <= unit.startNs + 100_000_000
        }
    }

    /// The pool of handles set up with `options` (made on first use).
    func pool(for options: EngineOptions) -> Int {
        if let index = pools.firstIndex(where: { $0.options == options }) { return index }
        pools.append((options, []))
        return pools.count - 1
    }

    func takeTransfer(pool: Int) -> Transfer? {
        if let transfer = pools[pool].free.popLast() { return transfer }
        guard let transfer = try? Transfer(options: pools[pool].options) else { return nil }
        transfer.pool = pool
        return transfer
    }

    func giveBack(_ transfer: Transfer) {
        transfer.load = nil
        transfer.user = -1
        transfer.session = -1
        pools[transfer.pool].free.append(transfer)
    }
}
