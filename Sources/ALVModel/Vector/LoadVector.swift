import ALVTemplates

/// A Load Vector: a mix of request types, how fast to send them, and for how long.
///
/// Field names on the wire are fixed by ARCHITECTURE.md (snake_case); build one with
/// `VectorValidator.validate`, which reports every problem in a file at once.
public struct LoadVector: Sendable, Equatable, Codable {
    public var vectorID: String
    public var name: String
    public var description: String?
    public var requestTypes: [RequestType]
    /// Seconds over which users or rate rise linearly from zero; 0 starts at full load.
    public var rampUpTimeSec: Double
    /// Seconds of load after the ramp-up.
    public var durationSec: Double
    public var load: LoadModel
    /// Pass/fail conditions for this vector.
    public var thresholds: [Threshold]
    /// Named CSV files for `{{data.NAME.COLUMN}}`; names not listed here resolve to NAME.csv beside the vector file.
    public var dataFiles: [String: DataFileSpec]
    /// A cookie jar per virtual user (per flow iteration in the open model); `"cookies": false` turns it off.
    public var cookies: Bool = true
    /// `load: {"forecast": …}`: the rate over time is a forecast of an endpoint's history.
    public var forecast: ForecastLoad?
    /// Once the forecast is resolved: per-second multipliers of the open-model rate over the vector (the
    /// forecast's mean relative to its peak) and the same for the interval's upper bound (for capacity
    /// planning). Not part of the vector's JSON.
    public var rateShape: [Double]?
    public var rateShapeUpper: [Double]?

    public init(
        vectorID: String, name: String, description: String? = nil, requestTypes: [RequestType],
        rampUpTimeSec: Double = 0, durationSec: Double, load: LoadModel,
        thresholds: [Threshold] = [], dataFiles: [String: DataFileSpec] = [:]
    ) {
        self.vectorID = vectorID
        self.name = name
        self.description = description
        self.requestTypes = requestTypes
        self.rampUpTimeSec = rampUpTimeSec
        self.durationSec = durationSec
        self.load = load
        self.thresholds = thresholds
        self.dataFiles = dataFiles
    }

    enum CodingKeys: String, CodingKey {
        case vectorID = "vector_id", name, description, requestTypes = "request_types"
        case rampUpTimeSec = "ramp_up_time_sec", durationSec = "duration_sec", load, thresholds
        case dataFiles = "data_files", cookies
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vectorID = try c.decode(String.self, forKey: .vectorID)
        name = try c.decode(String.self, forKey: .name)
        description = try c.decodeIfPresent(String.self, forKey: .description)
        requestTypes = try c.decode([RequestType].self, forKey: .requestTypes)
        rampUpTimeSec = try c.decodeIfPresent(Double.self, forKey: .rampUpTimeSec) ?? 0
        durationSec = try c.decode(Double.self, forKey: .durationSec)
        load = try c.decode(LoadModel.self, forKey: .load)
        forecast = try c.nestedContainer(keyedBy: ForecastKey.self, forKey: .load).decodeIfPresent(ForecastLoad.self, forKey: .forecast)
        thresholds = try c.decodeIfPresent(ThresholdSet.self, forKey: .thresholds)?.thresholds ?? []
        dataFiles = try c.decodeIfPresent([String: DataFileSpec].self, forKey: .dataFiles) ?? [:]
        cookies = try c.decodeIfPresent(Bool.self, forKey: .cookies) ?? true
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(vectorID, forKey: .vectorID)
        try c.encode(name, forKey: .name)
        try c.encodeIfPresent(description, forKey: .description)
        try c.encode(requestTypes, forKey: .requestTypes)
        try c.encode(rampUpTimeSec, forKey: .rampUpTimeSec)
        try c.encode(durationSec, forKey: .durationSec)
        if let forecast {
            var nested = c.nestedContainer(keyedBy: ForecastKey.self, forKey: .load)
            try nested.encode(forecast, forKey: .forecast)
            if case .open(_, let arrival, let cap) = load {
                try nested.encode(arrival, forKey: .arrival)
                try nested.encodeIfPresent(cap, forKey: .maxInFlight)
            }
        } else {
            try c.encode(load, forKey: .load)
        }
        if !thresholds.isEmpty { try c.encode(ThresholdSet(thresholds), forKey: .thresholds) }
        if !dataFiles.isEmpty { try c.encode(dataFiles, forKey: .dataFiles) }
        if !cookies { try c.encode(false, forKey: .cookies) }
    }

    /// Total seconds the vector runs: ramp-up plus hold.
    public var totalSeconds: Double { rampUpTimeSec + durationSec }

    /// Every `{{env.NAME}}` the templates read: the JSON path of the template, and the name.
    public var environmentReferences: [(path: String, name: String)] {
        var found: [(path: String, name: String)] = []
        for (i, request) in requestTypes.enumerated() {
            for (s, step) in request.flowSteps.enumerated() {
                var base = JSONPath.root.appending("request_types").appending(i)
                if request.steps != nil { base = base.appending("steps").appending(s) }
                var sources = [(base.appending("url").description, step.url)]
                if let payload = step.payloadTemplate { sources.append((base.appending("payload_template").description, payload)) }
                for (name, value) in step.headers.sorted(by: { $0.key < $1.key }) { sources.append((base.appending("headers").appending(name).description, value)) }
                for (path, source) in sources {
                    guard let parsed = try? ParsedTemplate.parse(source) else { continue }
                    for reference in parsed.environmentReferences { found.append((path, reference.name)) }
                }
            }
        }
        return found
    }

    enum ForecastKey: String, CodingKey { case forecast, arrival, maxInFlight = "max_in_flight" }

    /// The multiplier of the open-model rate `seconds` after the vector's start (1 without a shape).
    public func shapeFactor(atSecond seconds: Double, upper: Bool = false) -> Double {
        guard let shape = upper ? (rateShapeUpper ?? rateShape) : rateShape, !shape.isEmpty else { return 1 }
        return shape[min(shape.count - 1, max(0, Int(seconds)))]
    }
}

/// A load shaped by a forecast: `{"forecast": {"history": "traffic.csv", "horizon_sec": 3600, "scale": 0.01,
/// "model": "auto"}}`. `history` is a `timestamp,value` CSV (relative to the vector file) or
/// `endpoint:NAME` for history imported with `alv history import`; values are requests per second. Instead of
/// `history`, `prometheus` reads it from a Prometheus server when the run starts.
public struct ForecastLoad: Sendable, Equatable, Codable {
    public var history: String
    /// `{"url": "http://prom:9090", "query": "sum(rate(http_requests_total[5m]))", "range": "7d", "step": "5m"}`:
    /// the last `range` up to now at `step`.
    public var prometheus: PrometheusHistory?

    public struct PrometheusHistory: Sendable, Equatable, Codable {
        public var url: String
        public var query: String
        public var rangeSec: Int64
        public var stepSec: Int64
        public init(url: String, query: String, rangeSec: Int64, stepSec: Int64) {
            self.url = url
            self.query = query
            self.rangeSec = rangeSec
            self.stepSec = stepSec
        }
        enum CodingKeys: String, CodingKey { case url, query, rangeSec = "range_sec", stepSec = "step_sec" }
    }
    /// Seconds of forecast to run (at most the vector's duration is used).
    public var horizonSec: Double
    /// Multiplier applied to the forecast (a test at a fraction of production traffic).
    public var scale: Double
    /// auto, snaive, window, ets, arima, mstl or prophet.
    public var model: String
    /// Seconds of forecast per second of test: 3600 replays an hour of forecast in each second.
    public var timeScale: Double
    /// Interval level (percent) whose upper bound capacity planning sizes for.
    public var level: Double

    public init(history: String, horizonSec: Double, scale: Double = 1, model: String = "auto", timeScale: Double = 1, level: Double = 80) {
        self.history = history
        self.horizonSec = horizonSec
        self.scale = scale
        self.model = model
        self.timeScale = timeScale
        self.level = level
    }

    enum CodingKeys: String, CodingKey {
        case history, horizonSec = "horizon_sec", scale, model, timeScale = "time_scale", level, prometheus
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            history: try c.decodeIfPresent(String.self, forKey: .history) ?? "prometheus", horizonSec: try c.decode(Double.self, forKey: .horizonSec),
            scale: try c.decodeIfPresent(Double.self, forKey: .scale) ?? 1, model: try c.decodeIfPresent(String.self, forKey: .model) ?? "auto",
            timeScale: try c.decodeIfPresent(Double.self, forKey: .timeScale) ?? 1, level: try c.decodeIfPresent(Double.self, forKey: .level) ?? 80)
        prometheus = try c.decodeIfPresent(PrometheusHistory.self, forKey: .prometheus)
    }

    public static let models = ["auto", "snaive", "window", "ets", "arima", "mstl", "prophet"]
}

/// One kind of request in a vector's mix.
public struct RequestType: Sendable, Equatable, Codable {
    public static let methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

    public var name: String
    public var method: String
    /// Absolute, or relative to the run's `--target`; may hold `{{ … }}` expressions.
    public var url: String
    /// Share of requests, in percent; a vector's frequencies sum to 100.
    public var frequency: Double
    public var headers: [String: String]
    public var payloadTemplate: String?
    /// Pause after each response of a closed-model virtual user.
    public var thinkTimeMs: ThinkTime?
    /// Total time allowed for one request, connect included; nil uses the engine's default.
    public var timeoutMs: Double?
    public var expect: Expectation?
    public var capture: [String: Capture]
    /// A flow: these requests in order (then `url`, `method`, `headers`, `payload_template` and `timeout_ms`
    /// of the type itself are unused). nil for a type of one request.
    public var steps: [FlowStep]?

    public init(
        name: String, method: String = "GET", url: String, frequency: Double, headers: [String: String] = [:],
        payloadTemplate: String? = nil, thinkTimeMs: ThinkTime? = nil, timeoutMs: Double? = nil,
        expect: Expectation? = nil, capture: [String: Capture] = [:], steps: [FlowStep]? = nil
    ) {
        self.name = name
        self.method = method
        self.url = url
        self.frequency = frequency
        self.headers = headers
        self.payloadTemplate = payloadTemplate
        self.thinkTimeMs = thinkTimeMs
        self.timeoutMs = timeoutMs
        self.expect = expect
        self.capture = capture
        self.steps = steps
    }

    enum CodingKeys: String, CodingKey {
        case name, method, url, frequency, headers, payloadTemplate = "payload_template"
        case thinkTimeMs = "think_time_ms", timeoutMs = "timeout_ms", expect, capture, steps
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        frequency = try c.decode(Double.self, forKey: .frequency)
        thinkTimeMs = try c.decodeIfPresent(ThinkTime.self, forKey: .thinkTimeMs)
        steps = try c.decodeIfPresent([FlowStep].self, forKey: .steps)
        // A single request's fields are a step's, at the type's own level.
        let single = steps == nil ? try FlowStep(from: decoder) : FlowStep(name: try c.decode(String.self, forKey: .name), url: "")
        name = single.name
        method = single.method
        url = single.url
        headers = single.headers
        payloadTemplate = single.payloadTemplate
        timeoutMs = single.timeoutMs
        expect = single.expect
        capture = single.capture
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(frequency, forKey: .frequency)
        try c.encodeIfPresent(thinkTimeMs, forKey: .thinkTimeMs)
        if let steps {
            try c.encode(name, forKey: .name)
            try c.encode(steps, forKey: .steps)
        } else {
            try flowSteps[0].encode(to: encoder)
        }
    }

    /// The requests one iteration of this type sends: its steps, or itself as the one step.
    public var flowSteps: [FlowStep] {
        steps ?? [FlowStep(name: name, method: method, url: url, headers: headers, payloadTemplate: payloadTemplate, timeoutMs: timeoutMs, expect: expect, capture: capture)]
    }

    /// The name a step's metrics go under: `TYPE/STEP` in a flow, the type's own name otherwise.
    public func metricName(ofStep step: FlowStep) -> String {
        steps == nil ? name : name + "/" + step.name
    }

    /// The Content-Type header, matched case-insensitively.
    public var contentType: String? {
        headers.first { $0.key.lowercased() == "content-type" }?.value
    }

    /// How substituted values in the payload are escaped.
    public var payloadEscaping: TemplateEscaping {
        TemplateEscaping.forBody(contentType: contentType, template: payloadTemplate ?? "")
    }
}

extension FlowStep {
    /// How substituted values in the payload are escaped.
    public var payloadEscaping: TemplateEscaping {
        TemplateEscaping.forBody(contentType: contentType, template: payloadTemplate ?? "")
    }
}

/// Think time: a fixed mean or a uniform range, in milliseconds.
public enum ThinkTime: Sendable, Equatable, Codable {
    case fixed(Double)
    case range(min: Double, max: Double)

    enum CodingKeys: String, CodingKey { case min, max }

    public init(from decoder: any Decoder) throws {
        if let value = try? decoder.singleValueContainer().decode(Double.self) {
            self = .fixed(value)
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self = .range(min: try c.decode(Double.self, forKey: .min), max: try c.decode(Double.self, forKey: .max))
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .fixed(let value):
            var c = encoder.singleValueContainer()
            try c.encode(value)
        case .range(let min, let max):
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(min, forKey: .min)
            try c.encode(max, forKey: .max)
        }
    }

    /// The mean pause in milliseconds.
    public var meanMs: Double {
        switch self {
        case .fixed(let v): return v
        case .range(let lo, let hi): return (lo + hi) / 2
        }
    }
}

/// How arrivals are spaced in the open model.
public enum ArrivalProcess: String, Sendable, Equatable, Codable, CaseIterable {
    /// Exponential gaps, as independent users produce.
    case poisson
    /// Equal gaps.
    case uniform
}

/// Open model (arrivals at a rate, whatever the responses do) or closed model (users that wait).
public enum LoadModel: Sendable, Equatable, Codable {
    case open(targetRPS: Double, arrival: ArrivalProcess, maxInFlight: Int?)
    case closed(virtualUsers: Int)

    /// The open model's rate; nil for the closed model.
    public var openRate: Double? {
        if case .open(let rate, _, _) = self { return rate }
        return nil
    }

    enum CodingKeys: String, CodingKey {
        case targetRPS = "target_rps", virtualUsers = "virtual_users", arrival, maxInFlight = "max_in_flight"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let users = try c.decodeIfPresent(Int.self, forKey: .virtualUsers) {
            self = .closed(virtualUsers: users)
        } else if !c.contains(.targetRPS) {
            // A forecast-shaped load: the rate is set when the forecast is resolved.
            self = .open(targetRPS: 1, arrival: try c.decodeIfPresent(ArrivalProcess.self, forKey: .arrival) ?? .poisson,
                         maxInFlight: try c.decodeIfPresent(Int.self, forKey: .maxInFlight))
        } else {
            self = .open(
                targetRPS: try c.decode(Double.self, forKey: .targetRPS),
                arrival: try c.decodeIfPresent(ArrivalProcess.self, forKey: .arrival) ?? .poisson,
                maxInFlight: try c.decodeIfPresent(Int.self, forKey: .maxInFlight))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .open(let rate, let arrival, let maxInFlight):
            try c.encode(rate, forKey: .targetRPS)
            try c.encode(arrival, forKey: .arrival)
            try c.encodeIfPresent(maxInFlight, forKey: .maxInFlight)
        case .closed(let users):
            try c.encode(users, forKey: .virtualUsers)
        }
    }
}

/// Where a named data file lives and how it hands out rows.
public struct DataFileSpec: Sendable, Equatable, Codable {
    /// Relative to the vector file's directory, or absolute.
    public var path: String
    public var order: DataOrder

    public init(path: String, order: DataOrder = .sequential) {
        self.path = path
        self.order = order
    }

    enum CodingKeys: String, CodingKey { case path, order }

    public init(from decoder: any Decoder) throws {
        if let path = try? decoder.singleValueContainer().decode(String.self) {
            self.init(path: path)
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(path: try c.decode(String.self, forKey: .path), order: try c.decodeIfPresent(DataOrder.self, forKey: .order) ?? .sequential)
    }
}
