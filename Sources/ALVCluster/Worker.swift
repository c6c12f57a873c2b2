import ALVEngine
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

    public init(broker: BrokerEndpoints, id: String? = nil, curve: CurveClientKeys? = nil, engine: EngineOptions = EngineOptions(), heartbeatSeconds: Double = 1) {
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
public final class Worker {
    public let configuration: WorkerConfiguration
    private let context = ZMQContext()
    private var incarnation = 0
    private var seq: UInt64 = 0
    private var epoch = 0
    private let shared = WorkerShared()
    private var log: (String) -> Void

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
        try pull.set(ZMQ_RCVHWM_OPTION, 1000)
        try pull.set(ZMQ_MAXMSGSIZE_OPTION, int64: Int64(WireCodec.maximumPayload))
        try control.set(ZMQ_MAXMSGSIZE_OPTION, int64: 1 << 20)
        try control.subscribe("ctl")
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
        // Only take work once the broker can hear us.
        try pull.connect(configuration.broker.work)
        try publish(hello(), on: publisher)
        log("connected as \(configuration.id)")

        var nextHeartbeat = Date().addingTimeInterval(configuration.heartbeatSeconds)
        var retired = false
        var draining = false
        while !stop.isCancelled && !retired {
            let ready = ZMQPoller.readable([pull, control, publisher], timeoutMs: 20)
            if ready[0] && !draining {
                while let frames = try pull.receive(dontWait: true) { accept(frames) }
            }
            if ready[1] {
                while let frames = try control.receive(dontWait: true) {
                    guard let (_, message) = try? WireCodec.decode(frames, topics: ["ctl"], as: ControlMessage.self) else { continue }
                    if handle(message, publisher: publisher) && !draining {
                        // Retired: take no new work (the broker's PUSH stops routing here once we disconnect),
                        // finish the units in hand, then leave.
                        draining = true
                        try? pull.disconnect(configuration.broker.work)
                        log("retired: finishing \(shared.running.withLock { $0.count }) unit(s) before leaving")
                    }
                }
            }
            if draining && shared.running.withLock({ $0.isEmpty }) { retired = true }
            if ready[2] { while (try publisher.receive(dontWait: true)) != nil {} }
            for message in shared.outbox.withLock({ pending in defer { pending.removeAll() }; return pending }) {
                try publish(message, on: publisher)
            }
            if Date() >= nextHeartbeat {
                try publish(heartbeat(), on: publisher)
                nextHeartbeat = Date().addingTimeInterval(configuration.heartbeatSeconds)
            }
        }
        cancelAll()
        // Let unit threads report their end, then say goodbye.
        let deadline = Date().addingTimeInterval(2)
        while shared.running.withLock({ !$0.isEmpty }) && Date() < deadline { usleep(10_000) }
        for message in shared.outbox.withLock({ pending in defer { pending.removeAll() }; return pending }) { try? publish(message, on: publisher) }
        try? publish(WorkerMessage(kind: .bye, worker: configuration.id, incarnation: incarnation, seq: 0), on: publisher)
        usleep(100_000)  // linger is 0: give the last frames a moment on the wire
    }

    private func accept(_ frames: [[UInt8]]) {
        guard let (_, message) = try? WireCodec.decode(frames, topics: ["unit"], as: UnitMessage.self) else { return }
        let unit = message.unit
        guard unit.epoch >= epoch else { return }
        var template = WorkerMessage(kind: .unitDone, worker: configuration.id, incarnation: incarnation, seq: 0)
        template.unitID = unit.unitID
        template.runID = unit.runID
        let accepted = template
        let flag = CancellationFlag()
        let executor: UnitExecutor
        let id = configuration.id, incarnation = self.incarnation, vectorIndex = message.vectorIndex
        let shared = self.shared
        do {
            executor = try UnitExecutor(unit: unit, options: message.options ?? configuration.engine, cancellation: flag) { delta in
                var m = WorkerMessage(kind: .metrics, worker: id, incarnation: incarnation, seq: 0)
                m.unitID = unit.unitID
                m.runID = unit.runID
                m.epoch = unit.epoch
                m.vectorIndex = vectorIndex
                m.delta = delta
                shared.outbox.withLock { $0.append(m) }
            }
        } catch {
            log("unit \(unit.unitID) cannot run: \(error)")
            var failed = accepted
            failed.cancelled = true
            failed.requestsTotal = 0
            shared.outbox.withLock { $0.append(failed) }
            return
        }
        shared.running.withLock { $0[unit.unitID] = RunningUnit(flag: flag, runID: unit.runID, vectorIndex: vectorIndex) }
        var acceptedNow = accepted
        acceptedNow.kind = .accepted
        shared.outbox.withLock { $0.append(acceptedNow) }
        let box = ExecutorBox(executor)
        let thread = Thread {
            let report = box.executor.run()
            var done = accepted
            done.requestsTotal = report.requestsTotal
            done.late = report.late
            done.cancelled = report.cancelled
            done.cpuSeconds = report.cpuSeconds
            shared.outbox.withLock { $0.append(done) }
            shared.running.withLock { $0[unit.unitID] = nil }
        }
        thread.name = "alv-unit"
        thread.start()
    }

    /// - Returns: true when the worker must exit.
    private func handle(_ message: ControlMessage, publisher: ZMQSocket) -> Bool {
        switch message.kind {
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

    private func publish(_ message: WorkerMessage, on socket: ZMQSocket) throws {
        var numbered = message
        numbered.incarnation = incarnation
        seq += 1
        numbered.seq = seq
        try socket.send(try WireCodec.encode(topic: message.kind.rawValue, numbered))
    }

    private func hello() -> WorkerMessage {
        var m = WorkerMessage(kind: .hello, worker: configuration.id, incarnation: incarnation, seq: 0)
        m.host = ProcessInfo.processInfo.hostName
        m.pid = getpid()
        return m
    }

    private func heartbeat() -> WorkerMessage {
        var m = WorkerMessage(kind: .heartbeat, worker: configuration.id, incarnation: incarnation, seq: 0)
        m.cpuSeconds = ProcessStats.cpuSeconds()
        m.rssBytes = ProcessStats.residentBytes()
        m.runningUnits = shared.running.withLock { $0.count }
        return m
    }
}

/// Hands an executor to the one thread that runs it; nothing else touches it afterwards.
final class ExecutorBox: @unchecked Sendable {
    let executor: UnitExecutor
    init(_ executor: UnitExecutor) { self.executor = executor }
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
