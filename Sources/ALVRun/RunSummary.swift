import ALVProtocol
import ALVMetrics
import Foundation

/// The run summary whose keys ARCHITECTURE.md fixes (`alv run --json`, the JSON report); extended
/// with bytes, intended/sent counts, scheduling lag and the generator's CPU and memory.
public struct RunSummary: Sendable, Codable, Equatable {
    public struct Latency: Sendable, Codable, Equatable {
        public var p50: Double, p90: Double, p95: Double, p99: Double, max: Double, mean: Double

        public init(_ histogram: LatencyHistogram) {
            func ms(_ us: UInt64) -> Double { (Double(us) / 1000 * 1000).rounded() / 1000 }
            p50 = ms(histogram.value(atPercentile: 50))
            p90 = ms(histogram.value(atPercentile: 90))
            p95 = ms(histogram.value(atPercentile: 95))
            p99 = ms(histogram.value(atPercentile: 99))
            max = ms(histogram.isEmpty ? 0 : histogram.maximum)
            mean = (histogram.mean / 1000 * 1000).rounded() / 1000
        }
    }

    public struct RequestTypeSummary: Sendable, Codable, Equatable {
        public var vectorID: String
        public var name: String
        public var requestsTotal: UInt64
        public var responses: [String: UInt64]
        public var errors: [String: UInt64]
        public var dropped: UInt64
        public var achievedRPS: Double
        public var latencyMs: Latency
        /// For a step that expects or captures: responses that passed its checks, and those that failed.
        public var checksPassed: UInt64?
        public var checksFailed: UInt64?
        /// Where the time of completed requests went (dns, connect, tls, ttfb, transfer).
        public var phasesMs: [String: Latency]?
        /// Requests sent with a `{{vars.NAME}}` that no capture had filled (rendered empty); nil when none.
        public var varsEmpty: UInt64?

        enum CodingKeys: String, CodingKey {
            case vectorID = "vector_id", name, requestsTotal = "requests_total", responses, errors, dropped
            case achievedRPS = "achieved_rps", latencyMs = "latency_ms", checksPassed = "checks_passed", checksFailed = "checks_failed"
            case phasesMs = "phases_ms", varsEmpty = "vars_empty"
        }
    }

    public struct VectorSummary: Sendable, Codable, Equatable {
        public var vectorID: String
        /// completed | shortened | skipped | cut | aborted
        public var status: String
        public var reason: String?
        public var startedAt: String?
        public var endedAt: String?

        public init(vectorID: String, status: String, reason: String?, startedAt: String?, endedAt: String?) {
            self.vectorID = vectorID
            self.status = status
            self.reason = reason
            self.startedAt = startedAt
            self.endedAt = endedAt
        }

        enum CodingKeys: String, CodingKey { case vectorID = "vector_id", status, reason, startedAt = "started_at", endedAt = "ended_at" }
    }

    public struct WorkerSummary: Sendable, Codable, Equatable {
        public var id: String
        public var host: String
        public var lost: Bool
        public var requestsTotal: UInt64
        public var cpuSeconds: Double
        public var peakRSSBytes: UInt64
        /// For a lost worker: requests its units would have sent between its last message and the
        /// moment the broker handed its load to others.
        public var estimatedRequestsLost: Double?
        /// The broker's clock minus the worker's, as the worker last estimated it (ms); units run in broker time.
        public var clockOffsetMs: Double?

        public init(id: String, host: String, lost: Bool, requestsTotal: UInt64, cpuSeconds: Double, peakRSSBytes: UInt64, estimatedRequestsLost: Double? = nil, clockOffsetMs: Double? = nil) {
            self.clockOffsetMs = clockOffsetMs
            self.id = id
            self.host = host
            self.lost = lost
            self.requestsTotal = requestsTotal
            self.cpuSeconds = cpuSeconds
            self.peakRSSBytes = peakRSSBytes
            self.estimatedRequestsLost = estimatedRequestsLost
        }

        enum CodingKeys: String, CodingKey {
            case id, host, lost, requestsTotal = "requests_total", cpuSeconds = "cpu_s", peakRSSBytes = "peak_rss_bytes"
            case estimatedRequestsLost = "estimated_requests_lost", clockOffsetMs = "clock_offset_ms"
        }
    }

    public struct ThresholdResult: Sendable, Codable, Equatable {
        public var name: String
        public var expression: String
        public var value: Double
        public var passed: Bool
        /// The vector it applies to, or nil for the whole run.
        public var vectorID: String?

        enum CodingKeys: String, CodingKey { case name, expression, value, passed, vectorID = "vector_id" }
    }

    public struct Event: Sendable, Codable, Equatable {
        public var at: String
        public var kind: String
        public var detail: EventDetail

        public init(at: String, kind: String, detail: EventDetail) {
            self.at = at
            self.kind = kind
            self.detail = detail
        }
    }

    public var runID: String
    /// completed | aborted | failed
    public var status: String
    public var target: String
    public var profileID: String?
    public var durationS: Double
    public var requestsTotal: UInt64
    public var responses: [String: UInt64]
    public var errors: [String: UInt64]
    public var dropped: UInt64
    public var achievedRPS: Double
    public var latencyMs: Latency
    public var intended: UInt64
    public var sent: UInt64
    public var bytesIn: UInt64
    public var bytesOut: UInt64
    public var lagMs: [String: Double]
    public var requestTypes: [RequestTypeSummary]
    public var vectors: [VectorSummary]
    public var workers: [WorkerSummary]
    public var metricsGaps: Int
    public var thresholds: [ThresholdResult]
    public var events: [Event]
    /// Requests sent more than 10 ms after their intended time (the generator fell behind its schedule).
    public var late: UInt64 = 0
    /// Responses of checked steps that passed and that failed their checks, over the run.
    public var checksPassed: UInt64 = 0
    public var checksFailed: UInt64 = 0
    /// The first distinct failures of each request type, most frequent first.
    public var errorSamples: [ErrorSampleSummary] = []
    /// Where the time of completed requests went, over the run.
    public var phasesMs: [String: Latency]?
    /// Samples sent to a Prometheus remote-write endpoint, refused by it, and dropped (queue full or the final
    /// flush out of time); nil without `--remote-write`.
    public var remoteWrite: RemoteWriteCounts?
    /// What ran: alv's version, the seed, where, and each vector's load (for the report's configuration block).
    public var configuration: Configuration?
    /// A predictive pool's under-provisioning budget and what it cost; nil for fixed and reactive pools and
    /// when the budget is off.
    public var scaling: ScalingOutcome?

    /// What `scaling.max_under_provisioned_share` led to: the share of the plan's arrivals the pool left
    /// under-provisioned (dropped at the in-flight cap or sent more than 10 ms late), how hard each worker ended
    /// up being planned, and the worker-seconds paid for against those the demand needed at the capacity model.
    public struct ScalingOutcome: Sendable, Codable, Equatable {
        public var mode: String
        public var maxUnderProvisionedShare: Double
        public var underProvisionedShare: Double
        public var intended: UInt64
        public var underProvisioned: UInt64
        /// The planned capacity per worker over the capacity model's: at the end, and its range over the run.
        public var capacityFactor: Double
        public var capacityFactorMin: Double
        public var capacityFactorMax: Double
        public var workerSeconds: Double
        public var neededWorkerSeconds: Double
        public var costVsNeeded: Double?
        /// Complete seconds the planner learned from.
        public var seconds: Int

        public init(mode: String, maxUnderProvisionedShare: Double, underProvisionedShare: Double, intended: UInt64, underProvisioned: UInt64,
                    capacityFactor: Double, capacityFactorMin: Double, capacityFactorMax: Double, workerSeconds: Double,
                    neededWorkerSeconds: Double, costVsNeeded: Double?, seconds: Int) {
            self.mode = mode
            self.maxUnderProvisionedShare = maxUnderProvisionedShare
            self.underProvisionedShare = underProvisionedShare
            self.intended = intended
            self.underProvisioned = underProvisioned
            self.capacityFactor = capacityFactor
            self.capacityFactorMin = capacityFactorMin
            self.capacityFactorMax = capacityFactorMax
            self.workerSeconds = workerSeconds
            self.neededWorkerSeconds = neededWorkerSeconds
            self.costVsNeeded = costVsNeeded
            self.seconds = seconds
        }

        /// One line for people: the share missed against the budget, the factor, and the worker-seconds (the human
        /// summary and the HTML report both say it so).
        public var sentence: String {
            "\(formatNumber(underProvisionedShare * 100))% of \(intended) arrivals dropped or sent late (budget \(formatNumber(maxUnderProvisionedShare * 100))%); "
                + "workers planned at \(String(format: "%.2f", capacityFactor))× the capacity model (\(String(format: "%.2f", capacityFactorMin))–\(String(format: "%.2f", capacityFactorMax))); "
                + "\(formatNumber(workerSeconds)) worker-seconds"
                + (costVsNeeded.map { ", \(String(format: "%.2f", $0))× the \(formatNumber(neededWorkerSeconds)) the demand needed" } ?? "")
        }

        enum CodingKeys: String, CodingKey {
            case mode, maxUnderProvisionedShare = "max_under_provisioned_share", underProvisionedShare = "under_provisioned_share"
            case intended, underProvisioned = "under_provisioned", capacityFactor = "capacity_factor"
            case capacityFactorMin = "capacity_factor_min", capacityFactorMax = "capacity_factor_max", workerSeconds = "worker_seconds"
            case neededWorkerSeconds = "needed_worker_seconds", costVsNeeded = "cost_vs_needed", seconds
        }
    }

    public struct Configuration: Sendable, Codable, Equatable {
        public var alvVersion: String
        /// As a string: a 64-bit seed does not survive JSON readers that hold numbers in doubles.
        public var seed: String
        public var workers: Int
        public var vectors: [VectorConfiguration]
        public init(alvVersion: String, seed: String, workers: Int, vectors: [VectorConfiguration]) {
            self.alvVersion = alvVersion
            self.seed = seed
            self.workers = workers
            self.vectors = vectors
        }
        enum CodingKeys: String, CodingKey { case alvVersion = "alv_version", seed, workers, vectors }
    }

    public struct VectorConfiguration: Sendable, Codable, Equatable {
        public var vectorID: String
        public var name: String
        public var load: String
        public var durationSec: Double
        public var rampUpTimeSec: Double
        public var requestTypes: [String]
        public init(vectorID: String, name: String, load: String, durationSec: Double, rampUpTimeSec: Double, requestTypes: [String]) {
            self.vectorID = vectorID
            self.name = name
            self.load = load
            self.durationSec = durationSec
            self.rampUpTimeSec = rampUpTimeSec
            self.requestTypes = requestTypes
        }
        enum CodingKeys: String, CodingKey { case vectorID = "vector_id", name, load, durationSec = "duration_sec", rampUpTimeSec = "ramp_up_time_sec", requestTypes = "request_types" }
    }

    public struct RemoteWriteCounts: Sendable, Codable, Equatable {
        public var url: String
        public var sent: Int
        public var failed: Int
        public var dropped: Int
        public init(url: String, sent: Int, failed: Int, dropped: Int) {
            self.url = url
            self.sent = sent
            self.failed = failed
            self.dropped = dropped
        }
    }

    /// Phase percentiles by phase key, or nil when no phase was recorded.
    public static func phases(_ histograms: [LatencyHistogram]) -> [String: Latency]? {
        guard histograms.count == Phase.allCases.count, histograms.contains(where: { !$0.isEmpty }) else { return nil }
        return Dictionary(uniqueKeysWithValues: Phase.allCases.map { ($0.key, Latency(histograms[$0.rawValue])) })
    }

    public struct ErrorSampleSummary: Sendable, Codable, Equatable {
        public var vectorID: String
        public var sample: ErrorSample

        public init(vectorID: String, sample: ErrorSample) {
            self.vectorID = vectorID
            self.sample = sample
        }

        enum CodingKeys: String, CodingKey { case vectorID = "vector_id" }

        public init(from decoder: any Decoder) throws {
            vectorID = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .vectorID)
            sample = try ErrorSample(from: decoder)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(vectorID, forKey: .vectorID)
            try sample.encode(to: encoder)
        }
    }

    enum CodingKeys: String, CodingKey {
        case runID = "run_id", status, target, profileID = "profile_id", durationS = "duration_s", requestsTotal = "requests_total"
        case responses, errors, dropped, achievedRPS = "achieved_rps", latencyMs = "latency_ms", intended, sent
        case bytesIn = "bytes_in", bytesOut = "bytes_out", lagMs = "lag_ms", requestTypes = "request_types", vectors, workers
        case metricsGaps = "metrics_gaps", thresholds, events, checksPassed = "checks_passed", checksFailed = "checks_failed", late
        case errorSamples = "error_samples", phasesMs = "phases_ms", remoteWrite = "remote_write", configuration, scaling
    }


    /// Requests were sent and none was answered 2xx or 3xx: the run failed whatever its thresholds say.
    public var everyRequestFailed: Bool {
        requestsTotal > dropped && (responses["2xx"] ?? 0) + (responses["3xx"] ?? 0) == 0
    }

    /// True when every threshold passed.
    public var thresholdsPassed: Bool { thresholds.allSatisfy(\.passed) }

    /// The `responses` and `errors` objects of the fixed summary from outcome counts.
    static func split(_ counts: OutcomeCounts) -> (responses: [String: UInt64], errors: [String: UInt64], dropped: UInt64) {
        var responses: [String: UInt64] = [:], errors: [String: UInt64] = [:]
        for outcome in Outcome.allCases {
            if outcome.isResponse { responses[outcome.key] = counts[outcome] }
            if outcome.isError { errors[outcome.key] = counts[outcome] }
        }
        return (responses, errors, counts[.dropped])
    }

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

extension RunSummary {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        runID = try c.decode(String.self, forKey: .runID)
        status = try c.decode(String.self, forKey: .status)
        target = try c.decode(String.self, forKey: .target)
        profileID = try c.decodeIfPresent(String.self, forKey: .profileID)
        durationS = try c.decode(Double.self, forKey: .durationS)
        requestsTotal = try c.decode(UInt64.self, forKey: .requestsTotal)
        responses = try c.decode([String: UInt64].self, forKey: .responses)
        errors = try c.decode([String: UInt64].self, forKey: .errors)
        dropped = try c.decode(UInt64.self, forKey: .dropped)
        achievedRPS = try c.decode(Double.self, forKey: .achievedRPS)
        latencyMs = try c.decode(Latency.self, forKey: .latencyMs)
        intended = try c.decode(UInt64.self, forKey: .intended)
        sent = try c.decode(UInt64.self, forKey: .sent)
        bytesIn = try c.decode(UInt64.self, forKey: .bytesIn)
        bytesOut = try c.decode(UInt64.self, forKey: .bytesOut)
        lagMs = try c.decode([String: Double].self, forKey: .lagMs)
        requestTypes = try c.decode([RequestTypeSummary].self, forKey: .requestTypes)
        vectors = try c.decode([VectorSummary].self, forKey: .vectors)
        workers = try c.decode([WorkerSummary].self, forKey: .workers)
        metricsGaps = try c.decode(Int.self, forKey: .metricsGaps)
        thresholds = try c.decode([ThresholdResult].self, forKey: .thresholds)
        events = try c.decode([Event].self, forKey: .events)
        // Summaries stored before checks existed have neither key.
        checksPassed = try c.decodeIfPresent(UInt64.self, forKey: .checksPassed) ?? 0
        checksFailed = try c.decodeIfPresent(UInt64.self, forKey: .checksFailed) ?? 0
        errorSamples = try c.decodeIfPresent([ErrorSampleSummary].self, forKey: .errorSamples) ?? []
        phasesMs = try c.decodeIfPresent([String: Latency].self, forKey: .phasesMs)
        remoteWrite = try c.decodeIfPresent(RemoteWriteCounts.self, forKey: .remoteWrite)
        configuration = try c.decodeIfPresent(Configuration.self, forKey: .configuration)
        scaling = try c.decodeIfPresent(ScalingOutcome.self, forKey: .scaling)
        late = try c.decodeIfPresent(UInt64.self, forKey: .late) ?? 0
    }
}

extension RunSummary.Event {
    /// `detail` as a JSON object (keys sorted), as the store keeps it.
    public var detailJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(detail)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// ISO 8601 with milliseconds, UTC.
public func isoTimestamp(_ date: Date = Date()) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.string(from: date)
}

/// A number for people: integers as such, others with up to three decimals (one from 100 up).
public func formatNumber(_ value: Double) -> String {
    if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
    var text = String(format: abs(value) >= 100 ? "%.1f" : "%.3f", value)
    while text.hasSuffix("0") { text.removeLast() }
    if text.hasSuffix(".") { text.removeLast() }
    return text
}
