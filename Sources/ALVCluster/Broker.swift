import ALVLifecycle
import ALVMetrics
import ALVProtocol
import ALVRun
import ALVStore
import ALVTransport
import Foundation

/// Settings of the broker.
public struct BrokerConfiguration: Sendable {
    /// Ports 0 pick free ones (see `Broker.endpoints` for what was bound).
    public var endpoints: BrokerEndpoints
    /// Required on every non-loopback address.
    public var curve: CurveServerKeys?
    /// Length of one work unit: losing a worker loses at most this much of its share.
    public var unitSeconds: Double
    /// How long before its start a unit is sent.
    public var leadSeconds: Double
    /// Silence after which a worker is suspected, evicted and its load handed to the others.
    public var suspectAfterSeconds: Double
    /// With CURVE: where workers on instance-group machines enrol (0 picks a free port, nil: no enrol socket).
    public var enrolPort: Int?

    public init(endpoints: BrokerEndpoints, curve: CurveServerKeys? = nil, unitSeconds: Double = 5, leadSeconds: Double = 0.5, suspectAfterSeconds: Double = 2.5, enrolPort: Int? = nil) {
        self.enrolPort = enrolPort
        self.endpoints = endpoints
        self.curve = curve
        self.unitSeconds = unitSeconds
        self.leadSeconds = leadSeconds
        self.suspectAfterSeconds = suspectAfterSeconds
    }
}

/// Why a launcher refused an enrolment.
public struct EnrolmentRefused: Error, Sendable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
}

/// Broker failures the caller should report.
public enum BrokerError: Error, CustomStringConvertible {
    case insecureBind(String)
    case noWorkers(expected: Int, joined: Int)
    case store(String)

    public var description: String {
        switch self {
        case .insecureBind(let host):
            return "refusing to listen on \(host) without CURVE: give --curve-secret and --allow-keys, or --insecure to accept plain TCP on a network"
        case .noWorkers(let expected, let joined):
            return "only \(joined) of \(expected) workers joined in time"
        case .store(let why):
            return "metrics store: \(why)"
        }
    }
}

/// The ZeroMQ broker. This type is the event loop: it takes typed inputs from `BrokerSockets` and hands
/// each to the part that owns it (`WorkerRegistry` for membership, the run's `RunSession` and its
/// `UnitScheduler` for units and metrics, `RunRecorder` for the store), and runs housekeeping four times a
/// second. `Broker+Execute` drives a run's timeline; `Broker+Scaling` is what planners read.
///
/// Sockets are created and used on the thread that creates the broker.
public final class Broker {
    public let configuration: BrokerConfiguration
    /// What was actually bound.
    public var endpoints: BrokerEndpoints { sockets.endpoints }
    let sockets: BrokerSockets
    let recorder: RunRecorder?
    let log: (String) -> Void
    public internal(set) var registry = WorkerRegistry()
    /// The running run; nil between runs.
    var session: RunSession?
    var epoch = 0
    /// Bad, stale or unauthenticated messages dropped, by reason.
    public internal(set) var dropped: [String: Int] = [:]
    /// Messages (and refused handshakes) taken off the sockets since the broker started, good or bad.
    public internal(set) var inputs = 0
    /// `dropped` as the last run's `messages_refused` event counted it.
    var droppedReported: [String: Int] = [:]
    var lastHousekeeping = Date.distantPast
    var lastAggregate = Date.distantPast

    /// Called with every event as it happens.
    public var onEvent: (@Sendable (RunSummary.Event) -> Void)?
    /// Called with the worker table once a second (live dashboard).
    public var onWorkers: (([RunSummary.WorkerSummary]) -> Void)?
    /// Called with the run id once its store row exists, before any unit is sent.
    public var onStart: ((String) -> Void)?
    /// Called from housekeeping (four times a second) on the broker's thread: the planner's clock.
    public var onTick: ((Date) -> Void)?
    /// Called when a worker says hello (joins or rejoins), with the time: launchers measure lead time from it.
    public var onWorkerHello: ((String, Date) -> Void)?
    /// Decides an enrolment whose token is good: the worker id (launcher, machine and slot checked by the
    /// launcher that owns the group), or why not.
    public var onEnrol: ((EnrolRequest) -> Result<String, EnrolmentRefused>)?
    /// Refusals already recorded (launcher, machine, reason), so a worker retrying every few seconds is one event.
    var enrolRefusals: [String: Date] = [:]
    /// Events while no run is going, recorded at the start of the next one.
    var eventsBeforeRun: [RunSummary.Event] = []

    /// The enrol port bound, 0 when there is none.
    public var enrolPort: Int { sockets.enrolPort }

    /// Binds the three endpoints (and the ZAP handler when CURVE is on).
    /// - Throws: `BrokerError.insecureBind` for a non-loopback address without CURVE and not `allowInsecure`; `ZMQError`.
    public init(configuration: BrokerConfiguration, store: MetricsStore?, allowInsecure: Bool = false, log: @escaping (String) -> Void = { _ in }) throws {
        let host = configuration.endpoints.host
        if configuration.curve == nil && !BrokerEndpoints.isLoopback(host) && !allowInsecure { throw BrokerError.insecureBind(host) }
        self.configuration = configuration
        self.log = log
        recorder = store.map { RunRecorder(store: $0, log: log) }
        sockets = try BrokerSockets(endpoints: configuration.endpoints, curve: configuration.curve, enrolPort: configuration.enrolPort)
    }

    /// Workers that take new windows now.
    public var liveWorkers: [String] { registry.live }

    /// The id of the run in progress, nil between runs (what the broker advertises to planners).
    public var runningRunID: String? { session?.runID }

    /// Sequence gaps counted since the broker started.
    public var metricsGaps: Int { registry.gaps }

    /// Processes messages until `count` workers are live or `timeout` passes.
    /// - Returns: the number of live workers.
    @discardableResult
    public func waitForWorkers(_ count: Int, timeout: Double, cancellation: CancellationFlag) -> Int {
        let deadline = Date().addingTimeInterval(timeout.isFinite ? max(0, min(timeout, 1e9)) : 0)
        while liveWorkers.count < count && Date() < deadline && !cancellation.isCancelled {
            pump(until: min(deadline, Date().addingTimeInterval(0.05)))
        }
        return liveWorkers.count
    }

    /// Processes messages until `cancellation` is set (a broker with nothing to run).
    public func serve(until cancellation: CancellationFlag) {
        while !cancellation.isCancelled { pump(until: Date().addingTimeInterval(0.2)) }
    }

    /// Tells every worker to finish and exit.
    public func retireAll() {
        sockets.send(ControlMessage(kind: .retire, epoch: epoch))
        pump(until: Date().addingTimeInterval(0.3))
    }

    /// Asks one worker to leave (scale-in): it gets no new windows, finishes or hands back its units, and exits.
    public func retire(worker id: String) {
        guard registry.move(id, to: .retiring) else { return }
        sockets.send(ControlMessage(kind: .retire, worker: id, epoch: epoch))
    }

    /// Admits a CURVE public key for worker `id` alone, from the first address it connects from
    /// (the per-worker keys of a run's launcher). Without CURVE it does nothing.
    public func admit(publicKey: String, as id: String) { sockets.admit(publicKey, as: id) }

    /// Forgets a key given to `admit` (its worker is gone).
    public func revoke(publicKey: String) { sockets.revoke(publicKey) }

    /// The launcher saw this worker's process exit: no need to wait for its silence.
    public func workerExited(_ id: String) { markLost(id, now: Date()) }

    // MARK: The event loop

    /// Handles incoming messages and housekeeping until `deadline`.
    func pump(until deadline: Date) {
        repeat {
            let timeout = max(0, min(50, Int(deadline.timeIntervalSinceNow * 1000)))
            sockets.poll(timeoutMs: timeout) { handle($0) }
            session?.feedWatch(now: Date())
            if Date().timeIntervalSince(lastHousekeeping) >= 0.25 {
                housekeeping()
                lastHousekeeping = Date()
            }
        } while Date() < deadline
    }

    func handle(_ input: BrokerInput) {
        inputs &+= 1
        switch input {
        case .dropped(let reason):
            dropped[reason, default: 0] += 1
        case .planner(let request):
            switch request.kind {
            case .retire: if let worker = request.worker { retire(worker: worker) }
            case .event: if let kind = request.event { event(kind, request.detail ?? [:]) }
            }
        case .worker(let message):
            handle(message, now: Date())
        case .enrol(let peer, let request, let userID):
            enrol(request, peer: peer, userID: userID)
        }
    }

    private func enrol(_ request: EnrolRequest, peer: [UInt8], userID: String) {
        func refuse(_ reason: String) {
            sockets.reply(to: peer, EnrolReply(refused: reason))
            dropped["enrol_refused", default: 0] += 1
            let key = "\(request.launcher)\u{0}\(request.instance)\u{0}\(reason)"
            if enrolRefusals[key].map({ Date().timeIntervalSince($0) >= 30 }) ?? true {
                enrolRefusals[key] = Date()
                event("enrolment_refused", ["launcher": .string(request.launcher), "instance": .string(request.instance), "slot": .int(request.slot), "reason": .string(reason)])
            }
        }
        // The key to admit is the one this connection proved it holds.
        guard userID == "e:" + request.publicKey else { return refuse("the public key is not the connection's") }
        guard let secret = configuration.curve?.keys.secretKey else { return refuse("this broker does not speak CURVE") }
        if let problem = EnrolmentToken.problem(request.token, launcher: request.launcher, brokerSecretKey: secret) { return refuse(problem) }
        guard let onEnrol else { return refuse("this broker has no instance group named \(request.launcher)") }
        switch onEnrol(request) {
        case .failure(let why):
            refuse(why.reason)
        case .success(let worker):
            if let record = registry.workers[worker], record.state == .live { return refuse("worker \(worker) is already live") }
            admit(publicKey: request.publicKey, as: worker)
            sockets.reply(to: peer, EnrolReply(worker: worker))
            event("worker_enrolled", ["launcher": .string(request.launcher), "instance": .string(request.instance), "worker": .string(worker)])
        }
    }

    private func handle(_ message: WorkerMessage, now: Date) {
        if case .hello(let hello) = message.body {
            if let sent = hello.sentAtMs, sent.isFinite { sockets.sendClock(to: message.worker, echo: sent, epoch: epoch) }
            switch registry.hello(message, hello, now: now) {
            case .stale:
                dropped["stale", default: 0] += 1
            case let join:
                event(join == .joined ? "worker_joined" : "worker_rejoined", ["worker": .string(message.worker), "host": .string(hello.host), "incarnation": .int(message.incarnation)])
                onWorkerHello?(message.worker, now)
            }
            return
        }
        guard registry.admit(message, now: now) else {
            dropped["stale", default: 0] += 1
            return
        }
        let worker = message.worker
        switch message.body {
        case .hello:
            break
        case .heartbeat(let beat):
            if let sent = beat.sentAtMs, sent.isFinite { sockets.sendClock(to: worker, echo: sent, epoch: epoch) }
            registry.heartbeat(worker, beat)
            if let session {
                recorder?.workerSample(run: session.runID, second: Int64(now.timeIntervalSince1970), worker: worker, cpuSeconds: beat.cpuSeconds, rssBytes: beat.rssBytes, runningUnits: beat.runningUnits)
            }
        case .accepted(let accepted):
            session?.scheduler.held(accepted.unitID, by: worker)
        case .metrics(let metrics):
            if let why = metrics.delta.implausibility {
                dropped["implausible", default: 0] += 1
                if (dropped["implausible"] ?? 0) <= 3 { log("dropped metrics from \(worker): \(why)") }
                return
            }
            guard let session, session.add(metrics, from: worker) else {
                dropped["other_run", default: 0] += 1
                return
            }
            session.scheduler.held(metrics.unitID, by: worker)
            recorder?.samples(run: session.runID, second: metrics.delta.second, vectorIndex: metrics.vectorIndex, worker: worker, delta: metrics.delta)
        case .unitDone(let done):
            guard let session, done.runID == session.runID else { return }
            let unit = session.scheduler.units[done.unitID]
            let endMs = unit.map { $0.message.unit.startMs + Int64($0.message.unit.durationSec * 1000) } ?? 0
            if done.cancelled && registry.state(of: worker) == .retiring && session.scheduler.isOpen(done.unitID) && Double(endMs) / 1000 > now.timeIntervalSince1970 + 0.1 {
                // Stopped by scale-in, not by the broker: the rest of the unit goes to the others.
                session.scheduler.reissue(done.unitID, lastSeen: now, epoch: epoch, workers: liveWorkers, now: now)
            } else {
                session.scheduler.done(done.unitID)
            }
            if done.late { event("unit_late", ["unit_id": .string(done.unitID), "worker": .string(worker)]) }
        case .unitRejected(let rejected):
            guard let session, rejected.runID == session.runID else { return }
            event("unit_rejected", ["unit_id": .string(rejected.unitID), "worker": .string(worker), "reason": .string(rejected.reason)])
            log("worker \(worker) cannot run unit \(rejected.unitID): \(rejected.reason)")
            session.scheduler.reissue(rejected.unitID, lastSeen: now, epoch: epoch, workers: liveWorkers, refusedBy: worker, now: now)
        case .bye(let bye):
            let wasRetiring = registry.state(of: worker) == .retiring
            guard registry.move(worker, to: .left) else { return }
            let handed = handOff(from: worker, lastSeen: now)
            event("worker_left", ["worker": .string(worker), "reason": .string(bye.reason), "units_reassigned": .int(handed.units), "retired": .bool(wasRetiring)])
        }
    }

    /// Suspects silent workers, reissues unclaimed units, flushes the store, publishes the aggregate and
    /// reports progress.
    func housekeeping() {
        let now = Date()
        for id in registry.silent(for: configuration.suspectAfterSeconds, now: now) { markLost(id, now: now) }
        if let session {
            // A unit that nobody took (pushed to a peer that was already gone) is reissued too.
            for id in session.scheduler.unclaimed(now: now, grace: configuration.leadSeconds + 2) {
                let issued = session.scheduler.units[id]?.issuedAt ?? now
                session.scheduler.reissue(id, lastSeen: issued, epoch: epoch, workers: liveWorkers, now: now)
            }
        }
        recorder?.flush()
        onTick?(now)
        if now.timeIntervalSince(lastAggregate) >= 1 {
            lastAggregate = now
            sockets.publish(aggregate(now))
        }
        if let onWorkers { onWorkers(workerTable()) }
        session?.reportSeconds(now: now)
    }

    /// Takes a worker out of the run and hands its units' remainder to the others: after silence, or at once
    /// when its launcher saw the process exit.
    func markLost(_ id: String, now: Date) {
        guard let record = registry.record(id), registry.move(id, to: .lost) else { return }
        epoch += 1
        // Stop it for good if it is only slow: it rejoins as a new incarnation.
        sockets.send(ControlMessage(kind: .evict, worker: id, epoch: epoch))
        let lost = handOff(from: id, lastSeen: record.lastSeen)
        session?.estimatedLost[id, default: 0] += lost.requests
        event("worker_lost", ["worker": .string(id), "silent_for_s": .number(now.timeIntervalSince(record.lastSeen), places: 1), "units_reassigned": .int(lost.units), "estimated_requests_lost": .number(lost.requests, places: 0)])
        log("worker \(id) lost: \(lost.units) unit(s) handed to \(liveWorkers.count) others")
    }

    /// Reissues every open unit `worker` holds to the live workers.
    private func handOff(from worker: String, lastSeen: Date) -> (units: Int, requests: Double) {
        guard let session else { return (0, 0) }
        var requests = 0.0
        let held = session.scheduler.held(by: worker)
        for id in held { requests += session.scheduler.reissue(id, lastSeen: lastSeen, epoch: epoch, workers: liveWorkers) }
        return (held.count, requests)
    }

    /// The workers of the running run (or all known, between runs), for the live table and the summary.
    func workerTable() -> [RunSummary.WorkerSummary] {
        registry.workers.values.sorted { $0.id < $1.id }.compactMap { record in
            if let session, record.state == .left || record.state == .lost,
               session.requests[record.id] == nil && session.estimatedLost[record.id] == nil { return nil }
            let lost = session.map { $0.estimatedLost[record.id] != nil } ?? (record.state == .lost)
            return RunSummary.WorkerSummary(
                id: record.id, host: record.host, lost: lost, requestsTotal: session?.requests[record.id] ?? 0,
                cpuSeconds: ((session?.cpuSeconds[record.id] ?? 0) * 1000).rounded() / 1000, peakRSSBytes: record.peakRSS,
                estimatedRequestsLost: lost ? (session?.estimatedLost[record.id] ?? 0).rounded() : nil,
                clockOffsetMs: record.clockOffsetMs.map { ($0 * 10).rounded() / 10 })
        }
    }

    /// Records an event: in the run's summary and store when a run goes on, and to `onEvent` always.
    func event(_ kind: String, _ detail: EventDetail) {
        let event = RunSummary.Event(at: isoTimestamp(), kind: kind, detail: detail)
        onEvent?(event)
        if let session {
            session.record(event)
            recorder?.event(run: session.runID, event)
        } else if eventsBeforeRun.count < 1_000 {
            // Launchers act before the run starts (the first scale-out, a provider that fails): kept for it.
            eventsBeforeRun.append(event)
        }
    }
}
