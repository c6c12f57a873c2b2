import ALVEngine
import ALVMetrics
import Foundation

/// Version of every payload on the wire; receivers drop (and count) other versions.
public let wireVersion = 1

/// Work channel (broker PUSH → worker PULL), topic `unit`.
public struct UnitMessage: Sendable, Codable, Equatable {
    public var v: Int
    public var unit: WorkUnit
    /// The vector's position in the run's sequence, echoed back with metrics.
    public var vectorIndex: Int
    /// The run's HTTP settings; nil leaves the worker's own.
    public var options: EngineOptions?

    public init(unit: WorkUnit, vectorIndex: Int, options: EngineOptions?) {
        v = wireVersion
        self.unit = unit
        self.vectorIndex = vectorIndex
        self.options = options
    }

    enum CodingKeys: String, CodingKey { case v, unit, vectorIndex = "vector_index", options }
}

/// Metrics channel (worker XPUB → broker SUB): everything a worker says, in one envelope.
///
/// `seq` counts every message a worker incarnation publishes, so the broker can count gaps.
public struct WorkerMessage: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// First message of an incarnation: who and where.
        case hello
        /// Once a second: alive, with CPU, memory and running units.
        case heartbeat
        /// A unit was received and will run (the broker learns who holds which unit).
        case accepted
        /// One second of one unit's metrics.
        case metrics
        /// A unit ended (or was dropped because it arrived after its deadline).
        case unitDone = "unit_done"
        /// The worker is leaving (retired, SIGTERM or stdin closed).
        case bye
    }

    public var v: Int
    public var kind: Kind
    public var worker: String
    /// Bumped each time the worker rejoins after eviction; older incarnations are ignored.
    public var incarnation: Int
    public var seq: UInt64
    public var host: String?
    public var pid: Int32?
    public var cpuSeconds: Double?
    public var rssBytes: UInt64?
    public var runningUnits: Int?
    public var unitID: String?
    public var runID: String?
    public var epoch: Int?
    public var vectorIndex: Int?
    public var delta: MetricsDelta?
    public var requestsTotal: UInt64?
    public var late: Bool?
    public var cancelled: Bool?

    public init(kind: Kind, worker: String, incarnation: Int, seq: UInt64) {
        v = wireVersion
        self.kind = kind
        self.worker = worker
        self.incarnation = incarnation
        self.seq = seq
    }

    enum CodingKeys: String, CodingKey {
        case v, kind, worker, incarnation, seq, host, pid, cpuSeconds = "cpu_s", rssBytes = "rss_bytes"
        case runningUnits = "running_units", unitID = "unit_id", runID = "run_id", epoch, vectorIndex = "vector_index", delta
        case requestsTotal = "requests_total", late, cancelled
    }
}

/// Control channel (broker PUB → worker SUB), topic `ctl`.
public struct ControlMessage: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// The named worker must stop its units and rejoin as a new incarnation.
        case evict
        /// The named worker (or every worker, when `worker` is nil) exits.
        case retire
        /// Every unit of the run stops now (the run ended or was aborted).
        case stopRun = "stop_run"
    }

    public var v: Int
    public var kind: Kind
    public var worker: String?
    public var runID: String?
    /// With `stop_run`: only units of this vector of the run (control and work travel on different
    /// sockets, so a stop must not catch units of the next vector that overtook it).
    public var vectorIndex: Int?
    public var epoch: Int

    public init(kind: Kind, worker: String? = nil, runID: String? = nil, vectorIndex: Int? = nil, epoch: Int) {
        v = wireVersion
        self.kind = kind
        self.worker = worker
        self.runID = runID
        self.vectorIndex = vectorIndex
        self.epoch = epoch
    }

    enum CodingKeys: String, CodingKey { case v, kind, worker, runID = "run_id", vectorIndex = "vector_index", epoch }
}
