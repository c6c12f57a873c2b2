import Foundation

/// How the built-in target behaves: latency, errors, per-path rules and time windows.
///
/// Read from a JSON file (`alv target --config FILE`) or built from flags:
/// ```json
/// { "latency_ms": {"min": 1, "max": 5}, "error_rate": 0, "error_status": 500,
///   "routes": [ { "path": "/buy", "method": "POST",
///                 "schedule": [ {"from_sec": 5, "to_sec": 15, "error_rate": 1, "error_status": 503} ] } ],
///   "schedule": [ {"from_sec": 3, "to_sec": 4, "stall": true} ] }
/// ```
public struct TargetConfiguration: Sendable, Codable, Equatable {
    /// A latency: fixed, or uniform in a range, in milliseconds.
    public enum Latency: Sendable, Codable, Equatable {
        case fixed(Double)
        case range(Double, Double)

        enum CodingKeys: String, CodingKey { case min, max }

        public init(from decoder: any Decoder) throws {
            if let value = try? decoder.singleValueContainer().decode(Double.self) {
                self = .fixed(value)
                return
            }
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self = .range(try c.decode(Double.self, forKey: .min), try c.decode(Double.self, forKey: .max))
        }

        public func encode(to encoder: any Encoder) throws {
            switch self {
            case .fixed(let v):
                var c = encoder.singleValueContainer()
                try c.encode(v)
            case .range(let lo, let hi):
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(lo, forKey: .min)
                try c.encode(hi, forKey: .max)
            }
        }

        /// Parses `20` or `10-30`.
        public static func parse(_ text: String) -> Latency? {
            // Milliseconds 0–600000 (ten minutes): "-5" is not 5, and "inf" is not a latency.
            let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
            func ok(_ v: Double) -> Bool { v.isFinite && v >= 0 && v <= 600_000 }
            if parts.count == 1, let v = parts[0], ok(v) { return .fixed(v) }
            if parts.count == 2, let lo = parts[0], let hi = parts[1], ok(lo), ok(hi), lo <= hi { return .range(lo, hi) }
            return nil
        }

        func sampleMs() -> Double {
            switch self {
            case .fixed(let v): return v
            case .range(let lo, let hi): return Double.random(in: lo...hi)
            }
        }
    }

    /// Behaviour that applies between two offsets from the target's start.
    public struct Window: Sendable, Codable, Equatable {
        public var fromSec: Double
        public var toSec: Double
        public var latencyMs: Latency?
        public var errorRate: Double?
        public var errorStatus: Int?
        /// Hold every request arriving in the window until the window ends.
        public var stall: Bool?

        public init(fromSec: Double, toSec: Double, latencyMs: Latency? = nil, errorRate: Double? = nil, errorStatus: Int? = nil, stall: Bool? = nil) {
            self.fromSec = fromSec
            self.toSec = toSec
            self.latencyMs = latencyMs
            self.errorRate = errorRate
            self.errorStatus = errorStatus
            self.stall = stall
        }

        enum CodingKeys: String, CodingKey {
            case fromSec = "from_sec", toSec = "to_sec", latencyMs = "latency_ms", errorRate = "error_rate"
            case errorStatus = "error_status", stall
        }
    }

    /// Behaviour for requests whose path matches (exactly, or by prefix when it ends in `*`).
    public struct Route: Sendable, Codable, Equatable {
        /// What a route's schedule windows count from.
        public enum Anchor: String, Sendable, Codable {
            /// The target's start.
            case start
            /// The first request on this route ("errors from its second 3").
            case firstRequest = "first_request"
        }

        public var path: String
        public var method: String?
        public var latencyMs: Latency?
        public var errorRate: Double?
        public var errorStatus: Int?
        public var schedule: [Window]?
        public var scheduleFrom: Anchor?

        public init(path: String, method: String? = nil, latencyMs: Latency? = nil, errorRate: Double? = nil, errorStatus: Int? = nil, schedule: [Window]? = nil, scheduleFrom: Anchor? = nil) {
            self.path = path
            self.method = method
            self.latencyMs = latencyMs
            self.errorRate = errorRate
            self.errorStatus = errorStatus
            self.schedule = schedule
            self.scheduleFrom = scheduleFrom
        }

        enum CodingKeys: String, CodingKey {
            case path, method, latencyMs = "latency_ms", errorRate = "error_rate", errorStatus = "error_status", schedule
            case scheduleFrom = "schedule_from"
        }

        func matches(method: String, path: String) -> Bool {
            if let m = self.method, m != method { return false }
            if self.path.hasSuffix("*") { return path.hasPrefix(self.path.dropLast()) }
            return self.path == path
        }
    }

    public var latencyMs: Latency?
    public var errorRate: Double
    public var errorStatus: Int
    public var routes: [Route]
    public var schedule: [Window]
    /// Keep the last N request bodies for `GET /__bodies` (0: none).
    public var recordBodies: Int

    public init(latencyMs: Latency? = nil, errorRate: Double = 0, errorStatus: Int = 500, routes: [Route] = [], schedule: [Window] = [], recordBodies: Int = 0) {
        self.latencyMs = latencyMs
        self.errorRate = errorRate
        self.errorStatus = errorStatus
        self.routes = routes
        self.schedule = schedule
        self.recordBodies = recordBodies
    }

    enum CodingKeys: String, CodingKey {
        case latencyMs = "latency_ms", errorRate = "error_rate", errorStatus = "error_status", routes, schedule
        case recordBodies = "record_bodies"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        latencyMs = try c.decodeIfPresent(Latency.self, forKey: .latencyMs)
        errorRate = try c.decodeIfPresent(Double.self, forKey: .errorRate) ?? 0
        errorStatus = try c.decodeIfPresent(Int.self, forKey: .errorStatus) ?? 500
        routes = try c.decodeIfPresent([Route].self, forKey: .routes) ?? []
        schedule = try c.decodeIfPresent([Window].self, forKey: .schedule) ?? []
        recordBodies = try c.decodeIfPresent(Int.self, forKey: .recordBodies) ?? 0
    }

    /// What to do with one request `elapsed` seconds after the start.
    /// - Parameter routeStarted: elapsed time of the first request on route N (recorded on first use).
    func decide(method: String, path: String, elapsed: Double, routeStarted: (Int) -> Double = { _ in 0 }) -> (delayMs: Double, status: Int) {
        var latency = latencyMs
        var errorRate = self.errorRate
        var errorStatus = self.errorStatus
        var windows = schedule.map { ($0, 0.0) }
        if let index = routes.firstIndex(where: { $0.matches(method: method, path: path) }) {
            let route = routes[index]
            latency = route.latencyMs ?? latency
            errorRate = route.errorRate ?? errorRate
            errorStatus = route.errorStatus ?? errorStatus
            let origin = route.scheduleFrom == .firstRequest ? routeStarted(index) : 0
            windows += (route.schedule ?? []).map { ($0, origin) }
        }
        var stallUntil: Double? = nil
        for (window, origin) in windows where elapsed - origin >= window.fromSec && elapsed - origin < window.toSec {
            latency = window.latencyMs ?? latency
            errorRate = window.errorRate ?? errorRate
            errorStatus = window.errorStatus ?? errorStatus
            if window.stall == true { stallUntil = max(stallUntil ?? 0, origin + window.toSec) }
        }
        var delay = latency?.sampleMs() ?? 0
        if let stallUntil { delay += (stallUntil - elapsed) * 1000 }
        let status = errorRate > 0 && Double.random(in: 0..<1) < errorRate ? errorStatus : 200
        return (delay, status)
    }
}
