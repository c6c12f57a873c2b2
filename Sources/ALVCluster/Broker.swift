import ALVEngine
import ALVMetrics
import ALVModel
import ALVPlanner
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

    public init(endpoints: BrokerEndpoints, curve: CurveServerKeys? = nil, unitSeconds: Double = 5, leadSeconds: Double = 0.5, suspectAfterSeconds: Double = 2.5) {
        self.endpoints = endpoints
        self.curve = curve
        self.unitSeconds = unitSeconds
        self.leadSeconds = leadSeconds
        self.suspectAfterSeconds = suspectAfterSeconds
    }
}

/// Broker failures the caller should report.
public enum BrokerError: Error, CustomStringConvertible {
    case insecureBind(String)
    case noWorkers(expected: Int, joined: Int)

    public var description: String {
        switch self {
        case .insecureBind(let host):
            return "refusing to listen on \(host) without CURVE: give --curve-secret and --allow-keys, or --insecure to accept plain TCP on a network"
        case .noWorkers(let expected, let joined):
            return "only \(joined) of \(expected) workers joined in time"
        }
    }
}

/// The ZeroMQ broker: cuts the running vector into work units, pushes them to workers, takes
/// their metrics (counting gaps, dropping and counting bad input), notices silent workers and
/// hands their load to the others, and writes everything to the metrics store.
///
/// Sockets are created and used on the thread that creates the broker.
public final class Broker: ScalingContext {
    public let configuration: BrokerConfiguration
    /// What was actually bound.
    public private(set) var endpoints: BrokerEndpoints
    private let context = ZMQContext()
    private let push: ZMQSocket
    private let sub: ZMQSocket
    private let pub: ZMQSocket
    private let zap: ZMQSocket?
    private let store: MetricsStore?
    private let log: (String) -> Void

    struct WorkerRecord {
        var id: String
        var incarnation: Int
        var host: String
        var pid: Int32
        var live = true
        var lost = false
        var left = false
        var lastSeen = Date()
        var lastSeq: UInt64 = 0
        var requests: UInt64 = 0
        var cpuSeconds: Double = 0
        var peakRSS: UInt64 = 0
        var runningUnits = 0
        var estimatedLost: Double = 0
    }

    struct UnitRecord {
        var unit: WorkUnit
        var vectorIndex: Int
        var vectorStartMs: Int64
        var issuedAt: Date
        var holder: String?
        var done = false
        var reissued = false
    }

    private var workers: [String: WorkerRecord] = [:]
    private var units: [String: UnitRecord] = [:]
    private var epoch = 0
    /// Bad or unauthenticated messages dropped, by reason.
    public private(set) var dropped: [String: Int] = [:]
    public private(set) var metricsGaps = 0
    private var currentRun: String?
    private var aggregator = RunAggregator()
    private var events: [RunSummary.Event] = []
    private var unitCounter = 0

    /// Binds the three endpoints (and the ZAP handler when CURVE is on).
    /// - Throws: `BrokerError.insecureBind` for a non-loopback address without CURVE and not `allowInsecure`; `ZMQError`.
    public init(configuration: BrokerConfiguration, store: MetricsStore?, allowInsecure: Bool = false, log: @escaping (String) -> Void = { _ in }) throws {
        self.configuration = configuration
        self.store = store
        self.log = log
        let host = configuration.endpoints.host
        if configuration.curve == nil && !BrokerEndpoints.isLoopback(host) && !allowInsecure { throw BrokerError.insecureBind(host) }
        if configuration.curve != nil {
            let zap = try ZMQSocket(context, .rep)
            try zap.bind("inproc://zeromq.zap.01")
            self.zap = zap
        } else {
            zap = nil
        }
        push = try ZMQSocket(context, .push)
        sub = try ZMQSocket(context, .sub)
        pub = try ZMQSocket(context, .pub)
        for socket in [push, sub, pub] {
            if let curve = configuration.curve { try curve.apply(to: socket) }
            try socket.set(ZMQ_MAXMSGSIZE_OPTION, int64: Int64(WireCodec.maximumPayload))
        }
        // Sized on purpose: a second of metrics from thousands of workers fits many times over; the
        // sequence numbers show any loss that still happens.
        try sub.set(ZMQ_RCVHWM_OPTION, 1_000_000)
        try push.set(ZMQ_SNDHWM_OPTION, 10_000)
        // Units go only to workers whose connection is complete.
        try push.set(ZMQ_IMMEDIATE_OPTION, 1)
        try sub.subscribe("")
        func bind(_ socket: ZMQSocket, _ port: Int) throws -> Int {
            let endpoint = try socket.bind("tcp://\(host):\(port == 0 ? "*" : String(port))")
            return Int(endpoint.split(separator: ":").last ?? "") ?? port
        }
        endpoints = BrokerEndpoints(
            host: host, workPort: try bind(push, configuration.endpoints.workPort),
            metricsPort: try bind(sub, configuration.endpoints.metricsPort), controlPort: try bind(pub, configuration.endpoints.controlPort))
    }

    /// Workers that are live now.
    public var liveWorkers: [String] { workers.values.filter { $0.live && !retiring.contains($0.id) }.map(\.id).sorted() }

    /// Processes messages until `count` workers are live or `timeout` passes.
    /// - Returns: the number of live workers.
    @discardableResult
    public func waitForWorkers(_ count: Int, timeout: Double, cancellation: CancellationFlag) -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        while liveWorkers.count < count && Date() < deadline && !cancellation.isCancelled {
            pump(until: min(deadline, Date().addingTimeInterval(0.05)))
        }
        return liveWorkers.count
    }

    /// Processes messages until `cancellation` is set (a broker with nothing to run).
    public func serve(until cancellation: CancellationFlag) {
        while !cancellation.isCancelled { pump(until: Date().addingTimeInterval(0.2)) }
    }

    /// Tells every worker to exit.
    public func retireAll() {
        sendControl(ControlMessage(kind: .retire, epoch: epoch))
        pump(until: Date().addingTimeInterval(0.3))
    }

    // MARK: Running a plan

    /// Executes `plan` on the connected workers and returns the summary.
    public func execute(
        _ plan: RunPlan, options: EngineOptions?, seed: UInt64, cancellation: CancellationFlag,
        onSecond: ((RunStatus?, RequestMetrics) -> Void)? = nil
    ) throws -> RunSummary {
        let runID = InProcessRunner.makeRunID()
        currentRun = runID
        currentPlan = plan
        runAnchor = Date()
        aggregator = RunAggregator()
        events = []
        units = [:]
        for id in workers.keys { workers[id]!.requests = 0 }
        let planJSON = try? String(decoding: JSONEncoder().encode(plan.steps.map(\.vector)), as: UTF8.self)
        try store?.beginRun(runID, target: plan.target, profileID: plan.profile?.profileID, planJSON: planJSON)
        onStart?(runID)
        event("run_started", ["run_id": runID, "workers": String(liveWorkers.count)])
        progress = onSecond
        progressSecond = Int64(Date().timeIntervalSince1970) - 1

        let unitLength = configuration.unitSeconds
        let lead = configuration.leadSeconds
        var timeline = ProfileTimeline(plan: plan, knownBad: try knownBad(in: store, plan: plan))
        timeline.observer = onEvent
        timeline.waitForStart(cancellation: cancellation) { seconds in
            self.pump(until: Date().addingTimeInterval(max(0, min(seconds - lead, 0.05))))
        }
        while let slot = timeline.next(now: Date(), cancelled: cancellation.isCancelled, lead: lead) {
            let step = plan.steps[slot.index]
            let startMs = Int64(slot.start.timeIntervalSince1970 * 1000)
            let endMs = Int64(slot.end.timeIntervalSince1970 * 1000)
            let watch = VectorWatch(adjustment: plan.profile?.adjustment)
            watching = (slot.index, watch, Int64(slot.start.timeIntervalSince1970))
            slotStarts[slot.index] = slot.start.timeIntervalSince1970
            currentStatus = { RunStatus(plan: plan, slot: slot) }
            timeline.started(slot)
            var windowStart = startMs
            func stopped() -> Bool { cancellation.isCancelled || watch.decision != nil }
            while windowStart < endMs && !stopped() {
                let issueAt = Date(timeIntervalSince1970: Double(windowStart) / 1000 - lead)
                while Date() < issueAt && !stopped() { pump(until: min(issueAt, Date().addingTimeInterval(0.05))) }
                if stopped() { break }
                let windowEnd = min(endMs, windowStart + Int64(unitLength * 1000))
                issue(step: step, vectorIndex: slot.index, vectorStartMs: startMs, from: windowStart, to: windowEnd, runID: runID, options: options, seed: seed)
                windowStart = windowEnd
            }
            // Move on a lead before the end, so the next vector's first window is issued in time and starts
            // exactly when this one ends (plus the profile's transition delay).
            let handover = slot.end.addingTimeInterval(-lead)
            while Date() < handover && !stopped() { pump(until: min(handover, Date().addingTimeInterval(0.05))) }
            let ended = stopped() ? Date() : slot.end
            watching = nil
            if stopped() {
                // Units of this vector (including any already sent for its next window) stop now.
                sendControl(ControlMessage(kind: .stopRun, runID: runID, vectorIndex: slot.index, epoch: epoch))
                for id in units.keys where units[id]!.vectorIndex == slot.index && !units[id]!.done { units[id]!.reissued = true }
            }
            if let decision = watch.decision {
                timeline.finish(slot, at: ended, outcome: .adjusted(decision))
            } else if cancellation.isCancelled {
                timeline.finish(slot, at: ended, outcome: .interrupted)
            } else {
                timeline.finish(slot, at: ended, outcome: .ran)
            }
        }
        for e in timeline.events { store?.event(run: runID, kind: e.kind, detail: e.detail) }
        events += timeline.events
        let vectors = timeline.vectors
        let loadSeconds = timeline.loadSeconds
        let runStart = Date().addingTimeInterval(-timeline.elapsed)
        if cancellation.isCancelled { sendControl(ControlMessage(kind: .stopRun, runID: runID, epoch: epoch)) }

        // Wait for every unit's last metrics (units drain up to the engine's drain time).
        let drainDeadline = Date().addingTimeInterval((options?.drainSec ?? 5) + 3)
        while units.values.contains(where: { !$0.done && !$0.reissued && $0.holder.map { workers[$0]?.live ?? false } ?? false }) && Date() < drainDeadline {
            pump(until: min(drainDeadline, Date().addingTimeInterval(0.05)))
        }
        pump(until: Date().addingTimeInterval(0.2))
        sendControl(ControlMessage(kind: .stopRun, runID: runID, epoch: epoch))
        event("run_ended", ["run_id": runID])

        let workerSummaries = workers.values.sorted { $0.id < $1.id }.map {
            RunSummary.WorkerSummary(
                id: $0.id, host: $0.host, lost: $0.lost, requestsTotal: $0.requests, cpuSeconds: ($0.cpuSeconds * 1000).rounded() / 1000,
                peakRSSBytes: $0.peakRSS, estimatedRequestsLost: $0.lost ? $0.estimatedLost.rounded() : nil)
        }
        let summary = SummaryBuilder(plan: plan, aggregator: aggregator).summary(
            runID: runID, duration: Date().timeIntervalSince(runStart), vectors: vectors, events: events.sorted { $0.at < $1.at }, loadSeconds: loadSeconds,
            workers: workerSummaries, metricsGaps: metricsGaps + aggregator.badDeltas, aborted: timeline.aborted)
        try? store?.endRun(runID, status: summary.status, summaryJSON: try? String(decoding: summary.jsonData(), as: UTF8.self))
        currentRun = nil
        currentPlan = nil
        runAnchor = nil
        progress = nil
        currentStatus = nil
        return summary
    }

    private var progress: ((RunStatus?, RequestMetrics) -> Void)?
    /// Called with every event as it happens, and with the worker table once a second (live dashboard).
    public var onEvent: (@Sendable (RunSummary.Event) -> Void)?
    public var onWorkers: (([RunSummary.WorkerSummary]) -> Void)?
    /// Called with the run id once it is known, before any unit is sent.
    public var onStart: ((String) -> Void)?
    private var currentStatus: (() -> RunStatus)?
    /// The running vector, its adaptive watch and the next second to feed it.
    private var watching: (index: Int, watch: VectorWatch, nextSecond: Int64)?
    private var progressSecond: Int64 = 0

    /// Splits one window of a vector over the live workers and pushes the units.
    private func issue(
        step: RunPlan.Step, vectorIndex: Int, vectorStartMs: Int64, from: Int64, to: Int64, runID: String, options: EngineOptions?, seed: UInt64,
        share: Double = 1, among: [String]? = nil
    ) {
        let live = among ?? liveWorkers
        guard !live.isEmpty else {
            event("window_unassigned", ["vector_id": step.vector.vectorID, "from": Self.timestamp(ms: from), "reason": "no live workers"])
            return
        }
        let vector = step.vector
        let ramp = vector.rampUpTimeSec
        let offset = Double(from - vectorStartMs) / 1000
        let rampFrom = ramp > 0 ? min(1, offset / ramp) : 1
        let rampLeft = max(0, ramp - offset)
        let parts = live.count
        for part in 0..<parts {
            let load: LoadModel
            var firstUser = 0
            switch vector.load {
            case .open(let rate, let arrival, let cap):
                load = .open(targetRPS: rate * share / Double(parts), arrival: arrival, maxInFlight: cap.map { max(1, $0 / parts) })
            case .closed(let users):
                let total = Int((Double(users) * share).rounded())
                let count = total / parts + (part < total % parts ? 1 : 0)
                firstUser = part * (total / parts) + min(part, total % parts)
                if count == 0 { continue }
                load = .closed(virtualUsers: count)
            }
            unitCounter += 1
            let unit = WorkUnit(
                runID: runID, unitID: "\(runID)-u\(unitCounter)", epoch: epoch, vector: vector, dataDirectory: step.dataDirectory,
                baseURL: planTarget, load: load, startMs: from, rampUpSec: rampLeft, rampFrom: rampFrom, durationSec: Double(to - from) / 1000,
                deadlineMs: from + 1000, seed: seed &+ UInt64(unitCounter) &* 0x9E37_79B9_7F4A_7C15, firstUserIndex: firstUser,
                rateShape: vector.rateShape.map { Self.slice($0, fromSecond: offset, seconds: Double(to - from) / 1000) })
            guard let frames = try? WireCodec.encode(topic: "unit", UnitMessage(unit: unit, vectorIndex: vectorIndex, options: options)) else { continue }
            do {
                if try push.send(frames, dontWait: true) {
                    units[unit.unitID] = UnitRecord(unit: unit, vectorIndex: vectorIndex, vectorStartMs: vectorStartMs, issuedAt: Date())
                } else {
                    event("unit_not_sent", ["unit_id": unit.unitID, "reason": "no worker ready (send queue full)"])
                }
            } catch {
                event("unit_not_sent", ["unit_id": unit.unitID, "reason": "\(error)"])
            }
        }
    }

    /// The target of the running plan (units carry it as their base URL).
    public var planTarget = ""

    /// The part of a vector's per-second rate shape that a unit starting `fromSecond` into it covers. A start
    /// inside a second takes that second's factor for its remainder.
    static func slice(_ shape: [Double], fromSecond offset: Double, seconds: Double) -> [Double] {
        guard !shape.isEmpty else { return shape }
        var result: [Double] = []
        var t = 0.0
        while t < seconds {
            let k = min(shape.count - 1, max(0, Int(offset + t)))
            result.append(shape[k])
            t += 1
        }
        return result.isEmpty ? [shape[min(shape.count - 1, max(0, Int(offset)))]] : result
    }

    // MARK: Scaling

    /// Called from housekeeping (four times a second) on the broker's thread: the planner's clock.
    public var onTick: ((Date) -> Void)?
    /// Called when a worker says hello (joins or rejoins), with the time: launchers measure lead time from it.
    public var onWorkerHello: ((String, Date) -> Void)?
    /// Workers asked to leave by scale-in.
    private var retiring: Set<String> = []

    /// Asks one worker to leave: it gets no new windows, stops its units (their remainder goes to the
    /// others) and exits.
    public func retire(worker id: String) {
        guard workers[id] != nil else { return }
        retiring.insert(id)
        workers[id]!.live = false
        sendControl(ControlMessage(kind: .retire, worker: id, epoch: epoch))
    }

    /// The running vector's index and the time it started.
    public var runningSlot: (index: Int, start: Date)? {
        guard let watching else { return nil }
        return (watching.index, Date(timeIntervalSince1970: Double(slotStarts[watching.index] ?? 0)))
    }
    private var slotStarts: [Int: Double] = [:]

    /// Requests per second achieved in the last complete second, nil before the first.
    public var lastSecondRate: Double? {
        let second = Int64(Date().timeIntervalSince1970) - 2
        return aggregator.second(second).map { Double($0.requestsTotal) }
    }

    /// The last complete second's dropped share and mean scheduling lag.
    public var saturation: (droppedShare: Double, lagMs: Double)? {
        let second = Int64(Date().timeIntervalSince1970) - 2
        guard let m = aggregator.second(second), m.intended > 0 else { return nil }
        let lag = m.sent > 0 ? Double(m.lagSumMicros) / Double(m.sent) / 1000 : 0
        return (Double(m.outcomes[.dropped]) / Double(m.intended), lag)
    }

    /// CPU seconds per request over the run so far, from the workers' own reports; nil before any.
    public var cpuPerRequest: Double? {
        let requests = workers.values.reduce(UInt64(0)) { $0 + $1.requests }
        let cpu = workers.values.reduce(0.0) { $0 + $1.cpuSeconds }
        return requests >= 1000 && cpu > 0 ? cpu / Double(requests) : nil
    }

    private var lastAggregate = Date.distantPast
    private var currentPlan: RunPlan?

    /// The running plan's demand over `[from, to]` (rps and users), zero between runs.
    public func plannedPeak(from: Date, to: Date) -> (rps: Double, users: Int) {
        guard let plan = currentPlan else { return (0, 0) }
        let anchor = runningSlot ?? (0, runAnchor ?? from)
        return PlannedDemand(plan: plan).peak(from: from, to: to, anchorIndex: anchor.index, anchorStart: anchor.start)
    }
    private var runAnchor: Date?

    public func plannedRate(at time: Date) -> (mean: Double, upper: Double) {
        guard let plan = currentPlan else { return (0, 0) }
        let anchor = runningSlot ?? (0, runAnchor ?? time)
        let demand = PlannedDemand(plan: plan)
        return (demand.demand(at: time, anchorIndex: anchor.index, anchorStart: anchor.start, upper: false).rps,
                demand.demand(at: time, anchorIndex: anchor.index, anchorStart: anchor.start, upper: true).rps)
    }

    /// Tells planners (topic `agg` on the control channel) what they need, once a second.
    private func publishAggregate(_ now: Date) {
        var rates: [Double] = [], users: [Int] = []
        if currentPlan != nil {
            for k in 0..<30 {
                let peak = plannedPeak(from: now.addingTimeInterval(Double(k)), to: now.addingTimeInterval(Double(k + 1)))
                rates.append(peak.rps)
                users.append(peak.users)
            }
        }
        let aggregate = BrokerAggregate(
            at: now.timeIntervalSince1970, runID: currentRun, observedRPS: currentRun == nil ? nil : lastSecondRate,
            cpuPerRequest: cpuPerRequest, droppedShare: saturation?.droppedShare, lagMs: saturation?.lagMs, liveWorkers: liveWorkers, demandAhead: rates, usersAhead: users,
            scaling: currentPlan?.profile?.scaling, issueLead: configuration.leadSeconds)
        if let frames = try? WireCodec.encode(topic: "agg", aggregate) { _ = try? pub.send(frames, dontWait: true) }
    }

    /// Records an event of the running run (scaling decisions, launcher news).
    public func record(_ kind: String, _ detail: [String: String]) { event(kind, detail) }

    /// The running run's totals (thread-safe), for the dashboard's `/metrics`.
    public var runAggregator: RunAggregator { aggregator }

    /// Takes a worker out of the run and hands its units' remainder to the others: after silence, or at once
    /// when its launcher saw the process exit.
    private func markLost(_ id: String, now: Date) {
        guard let record = workers[id], record.live else { return }
        workers[id]!.live = false
        workers[id]!.lost = true
        epoch += 1
        // Stop it for good if it is only slow: it rejoins as a new incarnation.
        sendControl(ControlMessage(kind: .evict, worker: id, epoch: epoch))
        let lost = rebalance(from: id, lastSeen: record.lastSeen)
        workers[id]!.estimatedLost += lost.requests
        event("worker_lost", ["worker": id, "silent_for_s": String(format: "%.1f", now.timeIntervalSince(record.lastSeen)), "units_reassigned": String(lost.units), "estimated_requests_lost": String(Int(lost.requests))])
        log("worker \(id) lost: \(lost.units) unit(s) handed to \(liveWorkers.count) others")
    }

    /// The launcher saw this worker's process exit: no need to wait for its silence.
    public func workerExited(_ id: String) { markLost(id, now: Date()) }

    /// Seconds before a window starts that it is issued.
    public var issueLead: Double { configuration.leadSeconds }

    // MARK: Message pump

    private var lastHousekeeping = Date.distantPast

    /// Handles incoming messages and housekeeping until `deadline`.
    func pump(until deadline: Date) {
        repeat {
            let timeout = max(0, min(50, Int(deadline.timeIntervalSinceNow * 1000)))
            var sockets = [sub]
            if let zap { sockets.append(zap) }
            let ready = ZMQPoller.readable(sockets, timeoutMs: timeout)
            if ready[0] {
                var handled = 0
                while handled < 10_000, let frames = try? sub.receive(dontWait: true) {
                    receive(frames)
                    handled += 1
                }
            }
            if sockets.count > 1 && ready[1] { authenticate() }
            feedWatch()
            if Date().timeIntervalSince(lastHousekeeping) >= 0.25 {
                housekeeping()
                lastHousekeeping = Date()
            }
        } while Date() < deadline
    }

    static let workerTopics: Set<String> = Set(WorkerMessage.Kind.allCases.map(\.rawValue))
    static let plannerTopic = Array("planner".utf8)

    private func receive(_ frames: [[UInt8]]) {
        if frames.first == Self.plannerTopic {
            guard let (_, request) = try? WireCodec.decode(frames, topics: ["planner"], as: PlannerMessage.self) else {
                dropped["planner", default: 0] += 1
                return
            }
            switch request.kind {
            case .retire: if let worker = request.worker { retire(worker: worker) }
            case .event: if let kind = request.event { event(kind, request.detail ?? [:]) }
            }
            return
        }
        let message: WorkerMessage
        do {
            (_, message) = try WireCodec.decode(frames, topics: Self.workerTopics, as: WorkerMessage.self)
        } catch {
            dropped[error.counterKey, default: 0] += 1
            return
        }
        let now = Date()
        if message.kind == .hello {
            if let known = workers[message.worker], known.incarnation > message.incarnation {
                dropped["stale", default: 0] += 1
                return
            }
            let rejoined = workers[message.worker] != nil
            var record = workers[message.worker] ?? WorkerRecord(id: message.worker, incarnation: message.incarnation, host: message.host ?? "?", pid: message.pid ?? 0)
            record.incarnation = message.incarnation
            record.host = message.host ?? record.host
            record.pid = message.pid ?? record.pid
            record.live = true
            record.left = false
            record.lastSeen = now
            record.lastSeq = message.seq
            workers[message.worker] = record
            event(rejoined ? "worker_rejoined" : "worker_joined", ["worker": message.worker, "host": record.host, "incarnation": String(message.incarnation)])
            onWorkerHello?(message.worker, now)
            return
        }
        guard var record = workers[message.worker], record.incarnation == message.incarnation else {
            dropped["stale", default: 0] += 1
            return
        }
        if message.seq > record.lastSeq + 1 { metricsGaps += Int(message.seq - record.lastSeq - 1) }
        record.lastSeq = max(record.lastSeq, message.seq)
        record.lastSeen = now
        if !record.live && !record.lost && !record.left && !retiring.contains(record.id) { record.live = true }
        switch message.kind {
        case .heartbeat:
            record.runningUnits = message.runningUnits ?? 0
            record.peakRSS = max(record.peakRSS, message.rssBytes ?? 0)
            if let run = currentRun {
                store?.appendWorker(run: run, second: Int64(now.timeIntervalSince1970), worker: record.id, cpuSeconds: message.cpuSeconds ?? 0, rssBytes: message.rssBytes ?? 0, runningUnits: record.runningUnits)
            }
        case .accepted:
            if let id = message.unitID, units[id] != nil { units[id]!.holder = message.worker }
        case .metrics:
            guard let run = currentRun, message.runID == run, let delta = message.delta, let vectorIndex = message.vectorIndex else {
                dropped["other_run", default: 0] += 1
                break
            }
            if let id = message.unitID, units[id]?.holder == nil { units[id]?.holder = message.worker }
            aggregator.add(delta, vectorIndex: vectorIndex)
            record.cpuSeconds += delta.cpuSeconds
            for (name, requestDelta) in delta.requestTypes {
                record.requests += requestDelta.requestsTotal
                store?.append(run: run, second: delta.second, vectorIndex: vectorIndex, requestType: name, worker: record.id, delta: requestDelta)
            }
        case .unitDone:
            if let id = message.unitID, let unit = units[id] {
                let endMs = unit.unit.startMs + Int64(unit.unit.durationSec * 1000)
                if message.cancelled == true && retiring.contains(message.worker) && !unit.reissued
                    && Double(endMs) / 1000 > now.timeIntervalSince1970 + 0.1 {
                    // Stopped by scale-in, not by the broker: the rest of the unit goes to the others.
                    workers[message.worker] = record
                    reissue(id, lastSeen: now)
                    record = workers[message.worker] ?? record
                } else {
                    units[id]!.done = true
                }
                if message.late == true { event("unit_late", ["unit_id": id, "worker": message.worker]) }
            }
        case .bye:
            record.live = false
            record.left = true
            workers[message.worker] = record
            let handed = rebalance(from: record.id, lastSeen: now)
            retiring.remove(record.id)
            event("worker_left", ["worker": record.id, "units_reassigned": String(handed.units)])
        case .hello:
            break
        }
        workers[message.worker] = record
    }

    /// Suspects silent workers, hands their load to the others, flushes the store and reports progress.
    private func housekeeping() {
        let now = Date()
        for (id, record) in workers where record.live && now.timeIntervalSince(record.lastSeen) > configuration.suspectAfterSeconds {
            markLost(id, now: now)
        }
        // A unit that nobody took (pushed to a peer that was already gone) is reissued too.
        let unclaimed = units.filter { !$0.value.done && !$0.value.reissued && $0.value.holder == nil && now.timeIntervalSince($0.value.issuedAt) > configuration.leadSeconds + 2 }
        for (id, _) in unclaimed { _ = reissue(id, lastSeen: units[id]!.issuedAt) }
        try? store?.flush()
        onTick?(now)
        if now.timeIntervalSince(lastAggregate) >= 1 {
            lastAggregate = now
            publishAggregate(now)
        }
        onWorkers?(workers.values.sorted { $0.id < $1.id }.map {
            RunSummary.WorkerSummary(id: $0.id, host: $0.host, lost: $0.lost, requestsTotal: $0.requests, cpuSeconds: $0.cpuSeconds, peakRSSBytes: $0.peakRSS)
        })
        if let progress, currentRun != nil {
            let complete = Int64(now.timeIntervalSince1970) - 2
            while progressSecond < complete {
                progressSecond += 1
                if let metrics = aggregator.second(progressSecond) { progress(currentStatus?(), metrics) }
            }
        }
    }

    /// Feeds complete seconds of the running vector to its adaptive watch. A second is complete a
    /// little after it ends: workers send each second's delta at its end.
    private func feedWatch() {
        guard var current = watching else { return }
        let now = Date().timeIntervalSince1970
        while Double(current.nextSecond) + 1.15 <= now {
            if let metrics = aggregator.second(current.nextSecond, vectorIndex: current.index) { _ = current.watch.observe(second: current.nextSecond, metrics) }
            current.nextSecond += 1
        }
        watching = current
    }

    private func rebalance(from worker: String, lastSeen: Date) -> (units: Int, requests: Double) {
        var count = 0
        var requests = 0.0
        for (id, record) in units where record.holder == worker && !record.done && !record.reissued {
            requests += reissue(id, lastSeen: lastSeen)
            count += 1
        }
        return (count, requests)
    }

    /// Reissues what is left of a unit to the live workers.
    /// - Returns: an estimate of the requests lost between `lastSeen` and the reissued start.
    @discardableResult
    private func reissue(_ id: String, lastSeen: Date) -> Double {
        guard let record = units[id] else { return 0 }
        units[id]!.reissued = true
        let unit = record.unit
        let endMs = unit.startMs + Int64(unit.durationSec * 1000)
        let startMs = max(unit.startMs, Int64((Date().timeIntervalSince1970 + configuration.leadSeconds) * 1000))
        let lostFromMs = max(unit.startMs, Int64(lastSeen.timeIntervalSince1970 * 1000))
        let lostSeconds = Double(min(endMs, startMs) - lostFromMs) / 1000
        var perSecond = 0.0
        switch unit.load {
        case .open(let rate, _, _): perSecond = rate
        case .closed(let users):
            let think = record.unit.vector.requestTypes.map { ($0.thinkTimeMs?.meanMs ?? 0) * $0.frequency / 100 }.reduce(0, +)
            perSecond = Double(users) / max(0.001, think / 1000 + 0.001)
        }
        guard startMs < endMs, !liveWorkers.isEmpty, let run = currentRun else { return max(0, lostSeconds) * perSecond }
        // The unit's share of the vector, split again over the live workers.
        let share: Double
        switch (unit.load, record.unit.vector.load) {
        case (.open(let part, _, _), .open(let whole, _, _)): share = part / whole
        case (.closed(let part), .closed(let whole)): share = Double(part) / Double(whole)
        default: share = 1
        }
        let step = RunPlan.Step(vector: record.unit.vector, dataDirectory: record.unit.dataDirectory)
        issue(step: step, vectorIndex: record.vectorIndex, vectorStartMs: record.vectorStartMs, from: startMs, to: endMs, runID: run, options: nil, seed: unit.seed &+ 1, share: share)
        event("unit_reassigned", ["unit_id": id, "from": Self.timestamp(ms: startMs)])
        return max(0, lostSeconds) * perSecond
    }

    private func sendControl(_ message: ControlMessage) {
        guard let frames = try? WireCodec.encode(topic: "ctl", message) else { return }
        _ = try? pub.send(frames, dontWait: true)
    }

    /// ZAP: admits CURVE clients whose public key is on the allow-list.
    private func authenticate() {
        guard let zap, let curve = configuration.curve else { return }
        while let frames = try? zap.receive(dontWait: true) {
            guard frames.count >= 7 else {
                dropped["zap", default: 0] += 1
                continue
            }
            let key = CurveKeyPair.z85(frames[6])
            let allowed = key.map { curve.allowedClients.contains($0) } ?? false
            if !allowed { dropped["unauthenticated", default: 0] += 1 }
            let reply: [[UInt8]] = [
                Array("1.0".utf8), frames[1], Array((allowed ? "200" : "400").utf8), Array((allowed ? "OK" : "key not allowed").utf8),
                Array((key ?? "").utf8), [],
            ]
            _ = try? zap.send(reply)
        }
    }

    private func event(_ kind: String, _ detail: [String: String]) {
        let event = RunSummary.Event(at: Self.timestamp(ms: Int64(Date().timeIntervalSince1970 * 1000)), kind: kind, detail: detail)
        events.append(event)
        onEvent?(event)
        if let run = currentRun { store?.event(run: run, kind: kind, detail: detail) }
    }

    static func timestamp(ms: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }
}
