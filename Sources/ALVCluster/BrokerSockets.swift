import ALVProtocol
import ALVTransport
import Foundation

/// What arrived on the broker's metrics endpoint, decoded.
enum BrokerInput {
    case worker(WorkerMessage)
    case planner(PlannerMessage)
    /// An enrolment on the enrol socket: the peer's routing id, the request, the connection's User-Id.
    case enrol(peer: [UInt8], EnrolRequest, userID: String)
    /// A message that was dropped, with the counter it goes to.
    case dropped(String)
}

/// The broker's ZeroMQ endpoints and nothing else: work (PUSH), metrics (SUB), control (PUB) and, with
/// CURVE, the ZAP handler. Turns frames into typed inputs and typed outputs into frames. Created and used on
/// the broker's thread.
final class BrokerSockets {
    private let context: ZMQContext
    private let push: ZMQSocket
    private let sub: ZMQSocket
    private let pub: ZMQSocket
    /// With CURVE and an enrol port: a ROUTER where any key may ask to be admitted (ZAP domain `enrol`).
    private let enrolSocket: ZMQSocket?
    /// The enrol port bound (0 when none).
    let enrolPort: Int
    private let zap: ZAPAuthenticator?
    /// With CURVE: PAIR sockets reading each endpoint's failed handshakes (plain-TCP peers).
    private var monitors: [ZMQSocket] = []
    /// Worker ids bound to the fleet and planner keys that spoke as them first.
    private var identities = WorkerIdentities()
    /// What was bound (ports 0 resolved).
    let endpoints: BrokerEndpoints

    static let plannerTopic = Array("planner".utf8)

    init(endpoints requested: BrokerEndpoints, curve: CurveServerKeys?, enrolPort: Int? = nil) throws(ZMQError) {
        let context = ZMQContext()
        self.context = context
        zap = try curve.map { keys throws(ZMQError) in
            try ZAPAuthenticator(context: context, allowedClients: keys.allowedClients, plannerClients: keys.plannerClients)
        }
        push = try ZMQSocket(context, .push)
        sub = try ZMQSocket(context, .sub)
        pub = try ZMQSocket(context, .pub)
        for socket in [push, sub, pub] {
            if let curve { try curve.apply(to: socket) }
            try socket.set(ZMQ_MAXMSGSIZE_OPTION, int64: Int64(WireCodec.maximumPayload))
        }
        // Sized on purpose: a second of metrics from thousands of workers fits many times over; the
        // sequence numbers show any loss that still happens.
        try sub.set(ZMQ_RCVHWM_OPTION, 1_000_000)
        try push.set(ZMQ_SNDHWM_OPTION, 10_000)
        // Units go only to workers whose connection is complete.
        try push.set(ZMQ_IMMEDIATE_OPTION, 1)
        // A retire or stop sent just before the broker exits still reaches the workers.
        try pub.setLinger(ms: 500)
        try sub.subscribe("")
        if curve != nil {
            for (index, socket) in [push, sub, pub].enumerated() {
                let endpoint = "inproc://alv-handshakes-\(index)"
                try socket.monitor(endpoint, events: ZMQSocket.handshakeFailureEvents)
                let reader = try ZMQSocket(context, .pair)
                try reader.connect(endpoint)
                monitors.append(reader)
            }
        }
        let host = requested.host
        func bind(_ socket: ZMQSocket, _ port: Int) throws(ZMQError) -> Int {
            let endpoint = try socket.bind("tcp://\(host):\(port == 0 ? "*" : String(port))")
            return Int(endpoint.split(separator: ":").last ?? "") ?? port
        }
        endpoints = BrokerEndpoints(
            host: host, workPort: try bind(push, requested.workPort), metricsPort: try bind(sub, requested.metricsPort),
            controlPort: try bind(pub, requested.controlPort))
        if let curve, let enrolPort {
            let router = try ZMQSocket(context, .router)
            try curve.apply(to: router)
            try router.set(ZMQ_ZAP_DOMAIN_OPTION, string: "enrol")
            try router.set(ZMQ_MAXMSGSIZE_OPTION, int64: Int64(EnrolRequest.maximumBytes))
            try router.setLinger(ms: 200)
            self.enrolPort = try bind(router, enrolPort)
            enrolSocket = router
        } else {
            self.enrolPort = 0
            enrolSocket = nil
        }
    }

    /// Answers an enrolment.
    func reply(to peer: [UInt8], _ answer: EnrolReply) {
        guard let enrolSocket, let body = try? JSONEncoder().encode(answer) else { return }
        _ = try? enrolSocket.send([peer, Array(body)], dontWait: true)
    }

    /// Waits up to `timeoutMs` for input, then hands every message waiting (at most `limit`) to `handle`.
    func poll(timeoutMs: Int, limit: Int = 10_000, handle: (BrokerInput) -> Void) {
        var sockets = [sub]
        if let zap { sockets.append(zap.socket) }
        if let enrolSocket { sockets.append(enrolSocket) }
        sockets += monitors
        let ready = ZMQPoller.readable(sockets, timeoutMs: timeoutMs)
        if ready[0] {
            var handled = 0
            while handled < limit, let (frames, userID) = try? sub.receiveWithUserID(dontWait: true) {
                var input = Self.decode(frames, userID: userID)
                if case .worker(let message) = input, let reason = identities.refusal(worker: message.worker, userID: userID) {
                    input = .dropped(reason)
                }
                handle(input)
                handled += 1
            }
        }
        if zap != nil && ready[1], let zap {
            for reason in zap.answer() { handle(.dropped(reason)) }
        }
        if let enrolSocket, ready[zap == nil ? 1 : 2] {
            var handled = 0
            while handled < 100, let (frames, userID) = try? enrolSocket.receiveWithUserID(dontWait: true) {
                handled += 1
                guard frames.count == 2, let request = EnrolRequest.decode(frames[1]) else {
                    handle(.dropped("enrol"))
                    continue
                }
                handle(.enrol(peer: frames[0], request, userID: userID))
            }
        }
        let firstMonitor = sockets.count - monitors.count
        for (i, monitor) in monitors.enumerated() where ready[firstMonitor + i] {
            while (try? monitor.receive(dontWait: true)) != nil { handle(.dropped("handshake_failed")) }
        }
    }

    /// Admits a CURVE key for one worker id (no-op without CURVE).
    func admit(_ publicKey: String, as id: String) { zap?.admit(publicKey, as: id) }

    /// Forgets a key admitted for one worker.
    func revoke(_ publicKey: String) { zap?.revoke(publicKey) }

    /// Frames off the metrics endpoint as a typed input.
    /// - Parameter userID: the connection's ZAP User-Id (see `ZAPAuthenticator`): only a planner key (`p:`)
    ///   or a broker without CURVE ("") sends planner messages; a key admitted for one worker (`w:ID`) speaks
    ///   only as it. Which fleet key owns which id is the poll's check (`WorkerIdentities`), not this one.
    static func decode(_ frames: [[UInt8]], userID: String = "") -> BrokerInput {
        do {
            if frames.first == plannerTopic {
                if !userID.isEmpty && !userID.hasPrefix("p:") { return .dropped("impersonation") }
                return .planner(try WireCodec.decode(frames, topics: ["planner"], as: PlannerMessage.self).1)
            }
            let message = try WireCodec.decodeWorkerMessage(frames)
            if userID.hasPrefix("w:") && message.worker != userID.dropFirst(2) { return .dropped("impersonation") }
            return .worker(message)
        } catch {
            return .dropped(frames.first == plannerTopic ? "planner" : error.counterKey)
        }
    }

    /// Pushes a unit to the next worker with a complete connection.
    /// - Returns: false when no worker can take it now (send queue full).
    /// - Throws: the encoder's error or `ZMQError`.
    func send(_ unit: UnitMessage) throws -> Bool {
        try push.send(try WireCodec.encode(topic: "unit", unit), dontWait: true)
    }

    /// Publishes a control message to every worker.
    func send(_ control: ControlMessage) {
        guard let frames = try? WireCodec.encode(topic: "ctl", control) else { return }
        _ = try? pub.send(frames, dontWait: true)
    }

    /// Answers a worker's hello or heartbeat with the broker's time (only that worker subscribes to its topic).
    func sendClock(to worker: String, echo sentAtMs: Double, epoch: Int) {
        let answer = ControlMessage(kind: .clock, worker: worker, epoch: epoch, echoMs: sentAtMs, brokerMs: Date().timeIntervalSince1970 * 1000)
        guard let frames = try? WireCodec.encode(topic: ControlMessage.clockTopic(worker), answer) else { return }
        _ = try? pub.send(frames, dontWait: true)
    }

    /// Publishes the once-a-second aggregate for planners (topic `agg`).
    func publish(_ aggregate: BrokerAggregate) {
        guard let frames = try? WireCodec.encode(topic: "agg", aggregate) else { return }
        _ = try? pub.send(frames, dontWait: true)
    }
}
