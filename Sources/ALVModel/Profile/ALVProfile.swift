import Foundation

/// An ALV profile: a sequence of vectors with pauses between them, real-time adjustment,
/// scaling policy and pass/fail thresholds. Field names are fixed by ARCHITECTURE.md.
public struct ALVProfile: Sendable, Equatable, Codable {
    public var profileID: String
    public var name: String
    public var description: String?
    public var startTime: StartTime
    /// Caps the whole profile, in seconds; the running vector is cut when it is reached.
    public var durationSec: Double
    /// Vector ids, resolved from the repository; one may appear more than once.
    public var vectorSequence: [String]
    public var transitionDelaySec: Double
    public var adjustment: Adjustment?
    public var scaling: Scaling?
    public var thresholds: [Threshold]
    /// A Prometheus remote-write URL the run's series go to (`--remote-write` overrides it).
    public var remoteWrite: String?
    /// Prometheus endpoints of the target's side, scraped each second during the run (`--observe` adds to it).
    public var observe: Observe?

    /// Scrape targets and which of their metrics to keep.
    public struct Observe: Sendable, Equatable, Codable {
        /// Text-exposition URLs (`http://host:9100/metrics`).
        public var prometheus: [String]
        /// Metric names to keep; empty keeps the defaults (CPU, memory, and the process's own).
        public var metrics: [String]

        public init(prometheus: [String], metrics: [String] = []) {
            self.prometheus = prometheus
            self.metrics = metrics
        }

        enum CodingKeys: String, CodingKey { case prometheus, metrics }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            prometheus = try c.decode([String].self, forKey: .prometheus)
            metrics = try c.decodeIfPresent([String].self, forKey: .metrics) ?? []
        }
    }

    public init(
        profileID: String, name: String, description: String? = nil, startTime: StartTime = .now, durationSec: Double,
        vectorSequence: [String], transitionDelaySec: Double = 0, adjustment: Adjustment? = nil, scaling: Scaling? = nil,
        thresholds: [Threshold] = [], remoteWrite: String? = nil, observe: Observe? = nil
    ) {
        self.remoteWrite = remoteWrite
        self.observe = observe
        self.profileID = profileID
        self.name = name
        self.description = description
        self.startTime = startTime
        self.durationSec = durationSec
        self.vectorSequence = vectorSequence
        self.transitionDelaySec = transitionDelaySec
        self.adjustment = adjustment
        self.scaling = scaling
        self.thresholds = thresholds
    }

    enum CodingKeys: String, CodingKey {
        case profileID = "profile_id", name, description, startTime = "start_time", durationSec = "duration_sec"
        case vectorSequence = "vector_sequence", transitionDelaySec = "transition_delay_sec", adjustment, scaling, thresholds
        case remoteWrite = "remote_write", observe
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        profileID = try c.decode(String.self, forKey: .profileID)
        name = try c.decode(String.self, forKey: .name)
        description = try c.decodeIfPresent(String.self, forKey: .description)
        startTime = try c.decodeIfPresent(StartTime.self, forKey: .startTime) ?? .now
        durationSec = try c.decode(Double.self, forKey: .durationSec)
        vectorSequence = try c.decode([String].self, forKey: .vectorSequence)
        transitionDelaySec = try c.decodeIfPresent(Double.self, forKey: .transitionDelaySec) ?? 0
        adjustment = try c.decodeIfPresent(Adjustment.self, forKey: .adjustment)
        scaling = try c.decodeIfPresent(Scaling.self, forKey: .scaling)
        thresholds = try c.decodeIfPresent(ThresholdSet.self, forKey: .thresholds)?.thresholds ?? []
        remoteWrite = try c.decodeIfPresent(String.self, forKey: .remoteWrite)
        observe = try c.decodeIfPresent(Observe.self, forKey: .observe)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(profileID, forKey: .profileID)
        try c.encode(name, forKey: .name)
        try c.encodeIfPresent(description, forKey: .description)
        try c.encode(startTime, forKey: .startTime)
        try c.encode(durationSec, forKey: .durationSec)
        try c.encode(vectorSequence, forKey: .vectorSequence)
        try c.encode(transitionDelaySec, forKey: .transitionDelaySec)
        try c.encodeIfPresent(adjustment, forKey: .adjustment)
        try c.encodeIfPresent(scaling, forKey: .scaling)
        if !thresholds.isEmpty { try c.encode(ThresholdSet(thresholds), forKey: .thresholds) }
        try c.encodeIfPresent(remoteWrite, forKey: .remoteWrite)
        try c.encodeIfPresent(observe, forKey: .observe)
    }
}

/// When a profile starts: at once, or at an instant.
public enum StartTime: Sendable, Equatable, Codable {
    case now
    case at(Date)

    /// Parses `now` or an ISO 8601 instant with a time zone (fractional seconds allowed).
    public static func parse(_ text: String) -> StartTime? {
        if text == "now" { return .now }
        for options: ISO8601DateFormatter.Options in [[.withInternetDateTime], [.withInternetDateTime, .withFractionalSeconds]] {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = options
            if let date = formatter.date(from: text) { return .at(date) }
        }
        return nil
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = StartTime.parse(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "expected \"now\" or ISO 8601"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .now: try c.encode("now")
        case .at(let date):
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            try c.encode(formatter.string(from: date))
        }
    }
}

/// Real-time adjustment: what the controller does when a vector keeps failing.
public struct Adjustment: Sendable, Equatable, Codable {
    public enum Action: String, Sendable, Equatable, Codable, CaseIterable {
        /// End this vector now and go on with the next.
        case shorten
        /// End this vector and skip the next one.
        case skipNext = "skip_next"
        /// End the profile; the run fails.
        case abort
    }

    /// Error share (0–1) above which a window counts as failing.
    public var errorRateThreshold: Double
    public var windowSec: Double
    public var consecutiveWindows: Int
    public var action: Action
    /// Optional latency guard: a window whose p99 exceeds this also counts as failing.
    public var p99MsThreshold: Double?
    /// Count 4xx responses as errors (5xx, timeouts and connection errors always count).
    public var count4xx: Bool
    /// Skip up front a vector that was shortened in any of the last N runs of this profile (0: never).
    public var skipKnownBad: Int

    public init(
        errorRateThreshold: Double = 0.05, windowSec: Double = 10, consecutiveWindows: Int = 3, action: Action = .shorten,
        p99MsThreshold: Double? = nil, count4xx: Bool = false, skipKnownBad: Int = 0
    ) {
        self.errorRateThreshold = errorRateThreshold
        self.windowSec = windowSec
        self.consecutiveWindows = consecutiveWindows
        self.action = action
        self.p99MsThreshold = p99MsThreshold
        self.count4xx = count4xx
        self.skipKnownBad = skipKnownBad
    }

    enum CodingKeys: String, CodingKey {
        case errorRateThreshold = "error_rate_threshold", windowSec = "window_sec", consecutiveWindows = "consecutive_windows"
        case action, p99MsThreshold = "p99_ms_threshold", count4xx = "count_4xx", skipKnownBad = "skip_known_bad"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Adjustment()
        self.init(
            errorRateThreshold: try c.decodeIfPresent(Double.self, forKey: .errorRateThreshold) ?? d.errorRateThreshold,
            windowSec: try c.decodeIfPresent(Double.self, forKey: .windowSec) ?? d.windowSec,
            consecutiveWindows: try c.decodeIfPresent(Int.self, forKey: .consecutiveWindows) ?? d.consecutiveWindows,
            action: try c.decodeIfPresent(Action.self, forKey: .action) ?? d.action,
            p99MsThreshold: try c.decodeIfPresent(Double.self, forKey: .p99MsThreshold),
            count4xx: try c.decodeIfPresent(Bool.self, forKey: .count4xx) ?? false,
            skipKnownBad: try c.decodeIfPresent(Int.self, forKey: .skipKnownBad) ?? 0)
    }
}

/// How the planner sizes the worker pool during a profile.
public struct Scaling: Sendable, Equatable, Codable {
    public enum Mode: String, Sendable, Equatable, Codable, CaseIterable {
        case predictive, reactive, fixed
    }

    public var mode: Mode
    public var minWorkers: Int
    public var maxWorkers: Int
    /// CPU share one worker is planned to run at (0–1).
    public var targetUtilization: Double
    /// Predicted per-worker utilisation above which the planner adds workers.
    public var scaleOutThreshold: Double
    /// Predicted per-worker utilisation below which it retires workers.
    public var scaleInThreshold: Double
    /// Seconds to wait after a scaling action before scaling in.
    public var cooldownSec: Double
    /// Requests per second one worker sustains at the target utilisation; nil learns it from CPU per request.
    public var capacityPerWorker: Double?
    /// Closed-model virtual users one worker runs at most.
    public var usersPerWorker: Int
    /// Level (percent) of the forecast interval whose upper bound sizes the pool.
    public var forecastLevel: Double
    /// Seconds added to each launcher's measured lead time.
    public var marginSec: Double
    /// Plan and record decisions without starting or retiring workers.
    public var forecastOnly: Bool
    /// Seconds beyond the look-ahead over which a predictive scale-in checks the plan for the next peak:
    /// workers the plan needs again within them are kept (a dip shorter than it takes to bring a worker
    /// back is not worth giving capacity back for). Nil: the pool's lead time plus the margin; 0: no hold.
    public var scaleInHoldSec: Double?
    /// The share of the plan's arrivals a predictive pool may leave under-provisioned (dropped at the in-flight
    /// cap, or sent more than 10 ms late), on average: the planner moves how hard it runs each worker online
    /// toward it. 0 turns that off (each worker planned at `capacityPerWorker` or the learned capacity).
    public var maxUnderProvisionedShare: Double
    /// The default budget: one arrival in 200.
    public static let defaultUnderProvisionedShare = 0.005

    public init(
        mode: Mode, minWorkers: Int = 1, maxWorkers: Int = 16, targetUtilization: Double = 0.7,
        scaleOutThreshold: Double = 0.8, scaleInThreshold: Double = 0.4, cooldownSec: Double = 30,
        capacityPerWorker: Double? = nil, usersPerWorker: Int = 1000, forecastLevel: Double = 80, marginSec: Double = 1,
        forecastOnly: Bool = false, scaleInHoldSec: Double? = nil, maxUnderProvisionedShare: Double = Scaling.defaultUnderProvisionedShare
    ) {
        self.scaleInHoldSec = scaleInHoldSec
        self.maxUnderProvisionedShare = maxUnderProvisionedShare
        self.capacityPerWorker = capacityPerWorker
        self.usersPerWorker = usersPerWorker
        self.forecastLevel = forecastLevel
        self.marginSec = marginSec
        self.forecastOnly = forecastOnly
        self.mode = mode
        self.minWorkers = minWorkers
        self.maxWorkers = maxWorkers
        self.targetUtilization = targetUtilization
        self.scaleOutThreshold = scaleOutThreshold
        self.scaleInThreshold = scaleInThreshold
        self.cooldownSec = cooldownSec
    }

    enum CodingKeys: String, CodingKey {
        case mode, minWorkers = "min_workers", maxWorkers = "max_workers", targetUtilization = "target_utilization"
        case scaleOutThreshold = "scale_out_threshold", scaleInThreshold = "scale_in_threshold", cooldownSec = "cooldown_sec"
        case capacityPerWorker = "capacity_per_worker", usersPerWorker = "users_per_worker", forecastLevel = "forecast_level"
        case marginSec = "margin_sec", forecastOnly = "forecast_only", scaleInHoldSec = "scale_in_hold_sec"
        case maxUnderProvisionedShare = "max_under_provisioned_share"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Scaling(mode: .fixed)
        self.init(
            mode: try c.decode(Mode.self, forKey: .mode),
            minWorkers: try c.decodeIfPresent(Int.self, forKey: .minWorkers) ?? d.minWorkers,
            maxWorkers: try c.decodeIfPresent(Int.self, forKey: .maxWorkers) ?? d.maxWorkers,
            targetUtilization: try c.decodeIfPresent(Double.self, forKey: .targetUtilization) ?? d.targetUtilization,
            scaleOutThreshold: try c.decodeIfPresent(Double.self, forKey: .scaleOutThreshold) ?? d.scaleOutThreshold,
            scaleInThreshold: try c.decodeIfPresent(Double.self, forKey: .scaleInThreshold) ?? d.scaleInThreshold,
            cooldownSec: try c.decodeIfPresent(Double.self, forKey: .cooldownSec) ?? d.cooldownSec,
            capacityPerWorker: try c.decodeIfPresent(Double.self, forKey: .capacityPerWorker),
            usersPerWorker: try c.decodeIfPresent(Int.self, forKey: .usersPerWorker) ?? d.usersPerWorker,
            forecastLevel: try c.decodeIfPresent(Double.self, forKey: .forecastLevel) ?? d.forecastLevel,
            marginSec: try c.decodeIfPresent(Double.self, forKey: .marginSec) ?? d.marginSec,
            forecastOnly: try c.decodeIfPresent(Bool.self, forKey: .forecastOnly) ?? d.forecastOnly,
            scaleInHoldSec: try c.decodeIfPresent(Double.self, forKey: .scaleInHoldSec),
            maxUnderProvisionedShare: try c.decodeIfPresent(Double.self, forKey: .maxUnderProvisionedShare) ?? d.maxUnderProvisionedShare)
    }
}
