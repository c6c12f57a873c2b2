import ALVMetrics

/// Metrics channel (worker XPUB → broker SUB): everything a worker says. The topic frame is the kind.
///
/// Every message carries who sent it, the incarnation it was created under (bumped each time the worker
/// rejoins after eviction, so the broker can drop what an evicted incarnation still had queued) and a
/// sequence number counting every message the incarnation publishes (the broker counts gaps).
public struct WorkerMessage: Sendable, Equatable, Codable {
    /// What a message is about; the topic frame and the `kind` field.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case hello, heartbeat, accepted, metrics
        case unitDone = "unit_done"
        case unitRejected = "unit_rejected"
        case bye
    }

    /// First message of an incarnation: who and where.
    public struct Hello: Sendable, Equatable, Codable {
        public var host: String
        public var pid: Int32
        /// The worker's Unix time in ms when it sent this (its own clock): the broker answers with its
        /// time, and the worker learns its clock's offset.
        public var sentAtMs: Double?
        public init(host: String, pid: Int32, sentAtMs: Double? = nil) {
            self.host = host
            self.pid = pid
            self.sentAtMs = sentAtMs
        }
        enum CodingKeys: String, CodingKey { case host, pid, sentAtMs = "sent_at_ms" }
    }

    /// Once a second: alive, with the process's CPU time, memory and running units.
    public struct Heartbeat: Sendable, Equatable, Codable {
        public var cpuSeconds: Double
        public var rssBytes: UInt64
        public var runningUnits: Int
        /// As in `Hello`.
        public var sentAtMs: Double?
        /// The broker's clock minus this worker's, as the worker estimates it (nil before the first answer).
        public var clockOffsetMs: Double?
        public init(cpuSeconds: Double, rssBytes: UInt64, runningUnits: Int, sentAtMs: Double? = nil, clockOffsetMs: Double? = nil) {
            self.cpuSeconds = cpuSeconds
            self.rssBytes = rssBytes
            self.runningUnits = runningUnits
            self.sentAtMs = sentAtMs
            self.clockOffsetMs = clockOffsetMs
        }
        enum CodingKeys: String, CodingKey {
            case cpuSeconds = "cpu_s", rssBytes = "rss_bytes", runningUnits = "running_units", sentAtMs = "sent_at_ms", clockOffsetMs = "clock_offset_ms"
        }
    }

    /// A unit was received and will run: the broker learns who holds it.
    public struct Accepted: Sendable, Equatable, Codable {
        public var unitID: String
        public var runID: String
        public init(unitID: String, runID: String) {
            self.unitID = unitID
            self.runID = runID
        }
        enum CodingKeys: String, CodingKey { case unitID = "unit_id", runID = "run_id" }
    }

    /// One second of one unit's metrics.
    public struct Metrics: Sendable, Equatable, Codable {
        public var unitID: String
        public var runID: String
        public var epoch: Int
        /// The vector's position in the run's sequence, as the unit message gave it.
        public var vectorIndex: Int
        public var delta: MetricsDelta
        public init(unitID: String, runID: String, epoch: Int, vectorIndex: Int, delta: MetricsDelta) {
            self.unitID = unitID
            self.runID = runID
            self.epoch = epoch
            self.vectorIndex = vectorIndex
            self.delta = delta
        }
        enum CodingKeys: String, CodingKey { case unitID = "unit_id", runID = "run_id", epoch, vectorIndex = "vector_index", delta }
    }

    /// A unit ended: ran to its end, was stopped (`cancelled`), or arrived after its deadline (`late`).
    public struct UnitDone: Sendable, Equatable, Codable {
        public var unitID: String
        public var runID: String
        public var requestsTotal: UInt64
        public var late: Bool
        public var cancelled: Bool
        public init(unitID: String, runID: String, requestsTotal: UInt64, late: Bool, cancelled: Bool) {
            self.unitID = unitID
            self.runID = runID
            self.requestsTotal = requestsTotal
            self.late = late
            self.cancelled = cancelled
        }
        enum CodingKeys: String, CodingKey { case unitID = "unit_id", runID = "run_id", requestsTotal = "requests_total", late, cancelled }
    }

    /// A unit could not start here (its templates or data did not compile, the engine could not be set up).
    public struct UnitRejected: Sendable, Equatable, Codable {
        public var unitID: String
        public var runID: String
        public var reason: String
        public init(unitID: String, runID: String, reason: String) {
            self.unitID = unitID
            self.runID = runID
            self.reason = reason
        }
        enum CodingKeys: String, CodingKey { case unitID = "unit_id", runID = "run_id", reason }
    }

    /// The worker is leaving: retired, stopped by a signal, or its stdin closed.
    public struct Bye: Sendable, Equatable, Codable {
        public var reason: String
        public init(reason: String) { self.reason = reason }
    }

    /// What the message carries; one payload per kind.
    public enum Body: Sendable, Equatable {
        case hello(Hello)
        case heartbeat(Heartbeat)
        case accepted(Accepted)
        case metrics(Metrics)
        case unitDone(UnitDone)
        case unitRejected(UnitRejected)
        case bye(Bye)

        public var kind: Kind {
            switch self {
            case .hello: return .hello
            case .heartbeat: return .heartbeat
            case .accepted: return .accepted
            case .metrics: return .metrics
            case .unitDone: return .unitDone
            case .unitRejected: return .unitRejected
            case .bye: return .bye
            }
        }
    }

    public var v: Int
    public var worker: String
    public var incarnation: Int
    public var seq: UInt64
    public var body: Body

    public var kind: Kind { body.kind }

    /// A message numbered 0; the publishing socket's owner sets `seq`.
    public init(worker: String, incarnation: Int, seq: UInt64 = 0, _ body: Body) {
        v = wireVersion
        self.worker = worker
        self.incarnation = incarnation
        self.seq = seq
        self.body = body
    }

    enum CodingKeys: String, CodingKey { case v, kind, worker, incarnation, seq, body }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        v = try c.decode(Int.self, forKey: .v)
        worker = try c.decode(String.self, forKey: .worker)
        incarnation = try c.decode(Int.self, forKey: .incarnation)
        seq = try c.decode(UInt64.self, forKey: .seq)
        switch try c.decode(Kind.self, forKey: .kind) {
        case .hello: body = .hello(try c.decode(Hello.self, forKey: .body))
        case .heartbeat: body = .heartbeat(try c.decode(Heartbeat.self, forKey: .body))
        case .accepted: body = .accepted(try c.decode(Accepted.self, forKey: .body))
        case .metrics: body = .metrics(try c.decode(Metrics.self, forKey: .body))
        case .unitDone: body = .unitDone(try c.decode(UnitDone.self, forKey: .body))
        case .unitRejected: body = .unitRejected(try c.decode(UnitRejected.self, forKey: .body))
        case .bye: body = .bye(try c.decode(Bye.self, forKey: .body))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(v, forKey: .v)
        try c.encode(kind, forKey: .kind)
        try c.encode(worker, forKey: .worker)
        try c.encode(incarnation, forKey: .incarnation)
        try c.encode(seq, forKey: .seq)
        switch body {
        case .hello(let p): try c.encode(p, forKey: .body)
        case .heartbeat(let p): try c.encode(p, forKey: .body)
        case .accepted(let p): try c.encode(p, forKey: .body)
        case .metrics(let p): try c.encode(p, forKey: .body)
        case .unitDone(let p): try c.encode(p, forKey: .body)
        case .unitRejected(let p): try c.encode(p, forKey: .body)
        case .bye(let p): try c.encode(p, forKey: .body)
        }
    }
}
