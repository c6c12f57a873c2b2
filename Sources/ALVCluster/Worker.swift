import ALVEngine
import ALVLifecycle
import ALVMetrics
import ALVProtocol
import ALVTransport
import Foundation
import Synchronization

/// Settings of a stateless worker.
public struct WorkerConfiguration: Sendable {
    public var broker: BrokerEndpoints
    /// Defaults to `HOST-PID`.
    public var id: String
    public var curve: CurveClientKeys?
    public var engine: EngineOptions
    public var heartbeatSeconds: Double
    /// The one directory whose files units may name without bringing them (`--data-dir`); nil: none. Units
    /// come over the network, so a worker never reads a path a unit chose anywhere else.
    public var dataDirectory: String?

    public init(
        broker: BrokerEndpoints, id: String? = nil, curve: CurveClientKeys? = nil, engine: EngineOptions = EngineOptions(),
        heartbeatSeconds: Double = 1, dataDirectory: String? = nil
    ) {
        self.dataDirectory = dataDirectory
        self.broker = broker
        self.id = id ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        self.curve = curve
        self.engine = engine
        self.heartbeatSeconds = heartbeatSeconds
    }
}

/// A stateless worker: takes work units from the broker, runs each with the load engine on a thread
/// of its own, and publishes per-second metrics, heartbeats and unit outcomes.
///
/// It holds nothing a replacement would need. It waits until the broker's subscription has reached
/// its publisher (XPUB) before saying anything, numbers every message, and leaves on a retire
/// message, on `stop`, or when evicted (it then drops its units and rejoins as a new incarnation).
/// Each message carries the incarnation it was created under; what an evicted incarnation still had
/// queued is dropped here, and would be dropped by the broker.
// @unchecked Sendable: every stored property but `shared` (itself Sendable) is used only by the thread that
// calls `run`.
public final class Worker: Service, @unchecked Sendable {
    public var name: String { "worker" }
    /// How long a closing worker keeps its last metrics and goodbye for delivery.
    public static let lingerMs: Int32 = 2_000
    /// Messages of an older incarnation dropped before publishing.
    public private(set) var staleDropped = 0
    public let configuration: WorkerConfiguration
    private let context = ZMQContext()
    private var incarnation = 0
    private var seq: UInt64 = 0
    private var epoch = 0
    private var clock = ClockOffsetEstimator()
    private let shared = WorkerShared()
    private var log: (String) -> Void
    private var engine: Engine?

    public init(configuration: WorkerConfiguration, log: @escaping (String) -> Void = { _ in }) {
        self.configuration = configuration
        self.log = log
    }

    /// Connects and works until retired or `stop` is set. Sockets live on the calling thread.
    /// - Throws: `ZMQError` when the sockets cannot be set up.
    public func run(stop: CancellationFlag) throws {
        let pull = try ZMQSocket(context, .pull)
        let publisher = try ZMQSocket(context, .xpub)
        let control = try ZMQSocket(context, .sub)
        for socket in [pull, publisher, control] {
            if let curve = configuration.curve { try curve.apply(to: socket) }
        }
        try publisher.set(ZMQ_SNDHWM_OPTION, 100_000)
        try publisher.setLinger(ms: Self.lingerMs)
        try pull.set(ZMQ_RCVHWM_OPTION, 1000)
        try pull.set(ZMQ_MAXMSGSIZE_OPTION, int64: Int64(WireCodec.maximumPayload))
        try control.set(ZMQ_MAXMSGSIZE_OPTION, int64: 1 << 20)
        try control.subscribe("ctl")
        try control.subscribe(ControlMessage.clockTopic(configuration.id))
        try publisher.connect(configuration.broker.metrics)
        try control.connect(configuration.broker.control)

        // Say nothing until the broker's subscription has arrived, or the first messages vanish.
        log("waiting for the broker at \(configuration.broker.metrics)")
        while !stop.isCancelled {
            if ZMQPoller.readable([publisher], timeoutMs: 100)[0], let frames = try publisher.receive(dontWait: true), frames.first?.first == 1 {
                break
            }
        }
        if stop.isCancelled { return }
        // One load engine for the worker's life: its thread, its connections, every unit.
        let engine: Engine
        do { engine = try Engine() } catch { throw WorkerError.engine("\(error)") }
        self.engine = engine
        let engineThread = Thread { engine.serve() }
        engineThread.name = "alv-engine"
        engineThread.start()
        defer { engine.shutdown() }
        // Only take work once the broker can hear us, and say hello only once the work connection is up: the
        // broker sends units to complete connections only, and one sent at once after the hello would
        // otherwise find none.
        let handshakes = "inproc://alv-worker-work-\(UInt64.random(in: 0...UInt64.max))"
        try pull.monitor(handshakes, events: ZMQSocket.handshakeSucceededEvent)
        let workReady = try ZMQSocket(context, .pair)
        try workReady.connect(handshakes)
        try pull.connect(configuration.broker.work)
        let patience = Date().addingTimeInterval(5)
        while !stop.isCancelled && Date() < patience && !ZMQPoller.readable([workReady], timeoutMs: 50)[0] {}
        try publish(hello(), on: publisher)
        log("connected as \(configuration.id)")

        var nextHeartbeat = Date().addingTimeInterval(configuration.heartbeatSeconds)
        var retired = false
        var byeReason = "stopped"
        var draining = false
        while !stop.isCancelled && !retired {
            let ready = ZMQPoller.readable([pull, control, publisher], timeoutMs: 20)
            if ready[0] && !draining {
                while let frames = try pull.receive(dontWait: true) { accept(frames) }
            }
            if ready[1] {
                while let frames = try control.receive(dontWait: true) {
                    let receivedMs = Self.wallClockMs()
                    guard let (_, message) = try? WireCodec.decode(frames, topics: ["ctl", ControlMessage.clockTopic(configuration.id)], as: ControlMessage.self) else { continue }
                    if message.kind == .clock {
                        observeClock(message, receivedMs: receivedMs)
                        continue
                    }
                    if handle(message, publisher: publisher) && !draining {
                        // Retired: take no new work (the broker's PUSH stops routing here once we disconnect),
                        // finish the units in hand, then leave.
                        draining = true
                        byeReason = "retired"
                        try? pull.disconnect(configuration.broker.work)
                        log("retired: finishing \(shared.running.withLock { $0.count }) unit(s) before leaving")
                    }
                }
            }
            if draining && shared.running.withLock({ $0.isEmpty }) { retired = true }
            if ready[2] { while (try publisher.receive(dontWait: true)) != nil {} }
            try publishOutbox(on: publisher)
            if Date() >= nextHeartbeat {
                try publish(heartbeat(), on: publisher)
                nextHeartbeat = Date().addingTimeInterval(configuration.heartbeatSeconds)
            }
        }
        cancelAll()
        // Let unit threads report their end, then say goodbye.
        let deadline = Date().addingTimeInterval(2)
        while shared.running.withLock({ !$0.isEmpty }) && Date() < deadline { usleep(10_000) }
        try? publishOutbox(on: publisher)
        try? publish(message(.bye(.init(reason: byeReason))), on: publisher)
        // Closing the publisher keeps what is queued for up to `lingerMs`; the context's end waits for it.
    }

    private func publishOutbox(on publisher: ZMQSocket) throws {
        for message in shared.outbox.withLock({ pending in defer { pending.removeAll() }; return pending }) {
            guard message.incarnation == incarnation else {
                staleDropped += 1
                continue
            }
            try publish(message, on: publisher)
        }
    }

    private func message(_ body: WorkerMessage.Body) -> WorkerMessage {
        WorkerMessage(worker: configuration.id, incarnation: incarnation, body)
    }

    private func accept(_ frames: [[UInt8]]) {
        guard let (_, message) = try? WireCodec.decode(frames, topics: ["unit"], as: UnitMessage.self) else { return }
        let unit = message.unit
        guard unit.epoch >= epoch else { return }
        let id = configuration.id, incarnation = self.incarnation, vectorIndex = message.vectorIndex
        let shared = self.shared
        if let problem = unit.problem ?? message.options.problem {
            log("unit \(unit.unitID) refused: \(problem)")
            let rejected = WorkerMessage.UnitRejected(unitID: unit.unitID, runID: unit.runID, reason: "not runnable as sent: \(problem)".prefix(500).description)
            shared.outbox.withLock { $0.append(WorkerMessage(worker: id, incarnation: incarnation, .unitRejected(rejected))) }
            return
        }
        let flag = CancellationFlag()
        let executor: UnitExecutor
        do {
            executor = try UnitExecutor(
                unit: unit, options: message.options, workerID: id, localFiles: configuration.dataDirectory.map { .under($0) } ?? .none,
                vectorIndex: vectorIndex, cancellation: flag
            ) { delta in
                let metrics = WorkerMessage.Metrics(unitID: unit.unitID, runID: unit.runID, epoch: unit.epoch, vectorIndex: vectorIndex, delta: delta)
                shared.outbox.withLock { $0.append(WorkerMessage(worker: id, incarnation: incarnation, .metrics(metrics))) }
            }
        } catch {
            log("unit \(unit.unitID) cannot run: \(error)")
            let rejected = WorkerMessage.UnitRejected(unitID: unit.unitID, runID: unit.runID, reason: "\(error)".prefix(500).description)
            shared.outbox.withLock { $0.append(WorkerMessage(worker: id, incarnation: incarnation, .unitRejected(rejected))) }
            return
        }
        shared.running.withLock { $0[unit.unitID] = RunningUnit(flag: flag, runID: unit.runID, vectorIndex: vectorIndex) }
        shared.outbox.withLock { $0.append(WorkerMessage(worker: id, incarnation: incarnation, .accepted(.init(unitID: unit.unitID, runID: unit.runID)))) }
        engine?.submit(executor) { report in
            let done = WorkerMessage.UnitDone(unitID: unit.unitID, runID: unit.runID, requestsTotal: report.requestsTotal, late: report.late, cancelled: report.cancelled)
            shared.outbox.withLock { $0.append(WorkerMessage(worker: id, incarnation: incarnation, .unitDone(done))) }
            shared.running.withLock { $0[unit.unitID] = nil }
        }
    }

    /// This machine's Unix time in ms, as its own clock says (not the broker's).
    static func wallClockMs() -> Double { Date().timeIntervalSince1970 * 1000 }

    /// A clock answer: the estimate moves, and the engine schedules by the broker's time from now on.
    private func observeClock(_ answer: ControlMessage, receivedMs: Double) {
        guard answer.worker == configuration.id, let sent = answer.echoMs, let broker = answer.brokerMs else { return }
        let before = clock.offsetMs
        guard clock.add(sentMs: sent, brokerMs: broker, receivedMs: receivedMs), let offset = clock.offsetMs else { return }
        MonotonicClock.setReferenceOffset(ms: offset)
        if before == nil || abs(offset - (before ?? 0)) >= ClockOffsetEstimator.stepMs {
            log("clock: the broker's is \(Int(offset.rounded())) ms ahead of this machine's (round trip \(Int((clock.roundTripMs ?? 0).rounded())) ms); units run in broker time")
        }
    }

    /// - Returns: true when the worker must exit.
    private func handle(_ message: ControlMessage, publisher: ZMQSocket) -> Bool {
        switch message.kind {
        case .clock:
            return false
        case .retire:
            return message.worker == nil || message.worker == configuration.id
        case .stopRun:
            shared.running.withLock { units in
                for unit in units.values where message.runID == nil || (unit.runID == message.runID && (message.vectorIndex == nil || unit.vectorIndex == message.vectorIndex)) {
                    unit.flag.cancel()
                }
            }
            return false
        case .evict:
            guard message.worker == configuration.id else { return false }
            log("evicted by the broker (epoch \(message.epoch)); dropping units and rejoining")
            cancelAll()
            epoch = message.epoch
            incarnation += 1
            seq = 0
            try? publish(hello(), on: publisher)
            return false
        }
    }

    private func cancelAll() {
        shared.running.withLock { units in units.values.forEach { $0.flag.cancel() } }
    }

    /// Numbers and sends a message; its incarnation is the one it was created under.
    private func publish(_ message: WorkerMessage, on socket: ZMQSocket) throws {
        var numbered = message
        seq += 1
        numbered.seq = seq
        try socket.send(try WireCodec.encode(numbered))
    }

    private func hello() -> WorkerMessage {
        message(.hello(.init(host: ProcessInfo.processInfo.hostName, pid: getpid(), sentAtMs: Self.wallClockMs())))
    }

    private func heartbeat() -> WorkerMessage {
        message(.heartbeat(.init(
            cpuSeconds: ProcessStats.cpuSeconds(), rssBytes: ProcessStats.residentBytes(), runningUnits: shared.running.withLock { $0.count },
            sentAtMs: Self.wallClockMs(), clockOffsetMs: clock.offsetMs.map { ($0 * 10).rounded() / 10 })))
    }
}

/// A worker that cannot start its load engine.
public enum WorkerError: Error, CustomStringConvertible {
    case engine(String)

    public var description: String {
        switch self {
        case .engine(let detail): "the load engine cannot start: \(detail)"
        }
    }
}

/// State shared between the socket thread and unit threads.
final class WorkerShared: Sendable {
    /// Messages from unit threads, published by the socket thread.
    let outbox = Mutex<[WorkerMessage]>([])
    /// Running units by id: their cancellation flag, run and vector.
    let running = Mutex<[String: RunningUnit]>([:])
}

struct RunningUnit: Sendable {
    var flag: CancellationFlag
    var runID: String
    var vectorIndex: Int
}
