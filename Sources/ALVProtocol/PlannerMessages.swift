import ALVModel

/// Broker → planner, on the control channel (topic `agg`), once a second: what a planner outside the broker
/// needs to size the pool.
public struct BrokerAggregate: Sendable, Codable, Equatable {
    public var v: Int
    /// Epoch seconds when it was published.
    public var at: Double
    public var runID: String?
    /// Requests in the last complete second.
    public var observedRPS: Double?
    public var cpuPerRequest: Double?
    /// The last complete second's share of arrivals dropped and mean scheduling lag (ms).
    public var droppedShare: Double?
    public var lagMs: Double?
    public var liveWorkers: [String]
    /// The running plan's demand for each of the next seconds (peak within each second), from `at`.
    public var demandAhead: [Double]
    public var usersAhead: [Int]
    /// The running profile's scaling policy.
    public var scaling: Scaling?
    /// Seconds before a window starts that the broker issues it.
    public var issueLead: Double
    /// The last complete second's schedule as the workers kept it (absent from older brokers).
    public var schedule: ScheduleKept?

    public init(at: Double, runID: String?, observedRPS: Double?, cpuPerRequest: Double?, droppedShare: Double? = nil, lagMs: Double? = nil, liveWorkers: [String],
                demandAhead: [Double], usersAhead: [Int], scaling: Scaling?, issueLead: Double, schedule: ScheduleKept? = nil) {
        v = wireVersion
        self.schedule = schedule
        self.at = at
        self.runID = runID
        self.observedRPS = observedRPS
        self.cpuPerRequest = cpuPerRequest
        self.droppedShare = droppedShare
        self.lagMs = lagMs
        self.liveWorkers = liveWorkers
        self.demandAhead = demandAhead
        self.usersAhead = usersAhead
        self.scaling = scaling
        self.issueLead = issueLead
    }

    enum CodingKeys: String, CodingKey {
        case v, at, runID = "run_id", observedRPS = "observed_rps", cpuPerRequest = "cpu_per_request", droppedShare = "dropped_share", lagMs = "lag_ms", liveWorkers = "live_workers"
        case demandAhead = "demand_ahead", usersAhead = "users_ahead", scaling, issueLead = "issue_lead", schedule
    }
}

/// Planner → broker, on the metrics channel (topic `planner`): retire a worker gracefully, or record an
/// event (a scaling decision, a host going down) in the running run.
public struct PlannerMessage: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case retire, event
    }

    public var v: Int
    public var kind: Kind
    public var worker: String?
    public var event: String?
    public var detail: EventDetail?

    public init(kind: Kind, worker: String? = nil, event: String? = nil, detail: EventDetail? = nil) {
        v = wireVersion
        self.kind = kind
        self.worker = worker
        self.event = event
        self.detail = detail
    }
}
