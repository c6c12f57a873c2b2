/// How one request attempt ended. Every attempt ends in exactly one outcome.
public enum Outcome: Int, CaseIterable, Sendable, Codable {
    case status2xx, status3xx, status4xx, status5xx
    /// The total or connect timeout expired.
    case timeout
    /// The connection was refused or could not be made.
    case connect
    /// The connection was reset or closed mid-exchange.
    case reset
    case dns
    case tls
    /// Any other transport failure (the curl code is kept in `RequestMetrics.curlErrors`).
    case other
    /// Still in flight when the unit's hard deadline came; cancelled and counted here.
    case cancelled
    /// Never sent: the in-flight cap was reached.
    case dropped
    /// A response came, but an expectation of its step failed or a capture found nothing (new outcomes go
    /// at the end: the binary wire and the store's columns follow this order).
    case check

    /// The key used in summaries and stored series.
    public var key: String {
        switch self {
        case .status2xx: return "2xx"
        case .status3xx: return "3xx"
        case .status4xx: return "4xx"
        case .status5xx: return "5xx"
        case .timeout: return "timeout"
        case .connect: return "connect"
        case .reset: return "reset"
        case .dns: return "dns"
        case .tls: return "tls"
        case .other: return "other"
        case .cancelled: return "cancelled"
        case .dropped: return "dropped"
        case .check: return "check"
        }
    }

    public var isResponse: Bool { rawValue <= Outcome.status5xx.rawValue }
    public var isError: Bool { !isResponse && self != .dropped }

    /// The outcome of an HTTP status code (1xx and out-of-range codes count as `other`).
    @inline(__always)
    public static func forStatus(_ status: Int) -> Outcome {
        switch status {
        case 200..<300: return .status2xx
        case 300..<400: return .status3xx
        case 400..<500: return .status4xx
        case 500..<600: return .status5xx
        default: return .other
        }
    }
}

/// Counts per outcome, indexable without hashing.
public struct OutcomeCounts: Sendable, Equatable, Codable {
    public private(set) var values: [UInt64]

    public init() { values = Array(repeating: 0, count: Outcome.allCases.count) }

    public subscript(outcome: Outcome) -> UInt64 {
        get { values[outcome.rawValue] }
        set { values[outcome.rawValue] = newValue }
    }

    public var total: UInt64 { values.reduce(0, &+) }
    public var responses: UInt64 { Outcome.allCases.filter(\.isResponse).reduce(0) { $0 &+ self[$1] } }
    public var errors: UInt64 { Outcome.allCases.filter(\.isError).reduce(0) { $0 &+ self[$1] } }

    public mutating func add(_ other: OutcomeCounts) {
        for i in values.indices { values[i] &+= other.values[i] }
    }

    public mutating func reset() {
        for i in values.indices { values[i] = 0 }
    }

    public init(from decoder: any Decoder) throws {
        let map = try decoder.singleValueContainer().decode([String: UInt64].self)
        self.init()
        for outcome in Outcome.allCases { self[outcome] = map[outcome.key] ?? 0 }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(Dictionary(uniqueKeysWithValues: Outcome.allCases.filter { self[$0] != 0 }.map { ($0.key, self[$0]) }))
    }
}
