/// What happened to one request type over some window: outcomes, bytes, intended / sent /
/// completed counts, scheduling lag and the latency histogram (µs from the *intended* send time).
///
/// Values merge exactly: adding two windows gives the metrics of their union.
public struct RequestMetrics: Sendable, Equatable {
    public var outcomes = OutcomeCounts()
    public var bytesIn: UInt64 = 0
    public var bytesOut: UInt64 = 0
    /// Requests whose intended send time fell in the window.
    public var intended: UInt64 = 0
    /// Requests handed to the network in the window.
    public var sent: UInt64 = 0
    /// Requests that ended (any outcome but dropped) in the window.
    public var completed: UInt64 = 0
    /// Sum and maximum of (actual send − intended send), µs.
    public var lagSumMicros: UInt64 = 0
    public var lagMaxMicros: UInt64 = 0
    /// Latency of completed requests (responses and errors), µs from the intended send time.
    public var latency = LatencyHistogram()
    /// Transport failures classified `other`, by curl error code.
    public var curlErrors: [Int32: UInt64] = [:]
    /// Where the time of completed requests went, one histogram per `Phase` (empty until one is recorded).
    public var phases: [LatencyHistogram] = []
    /// Requests that rendered a `{{vars.NAME}}` no capture had filled (it rendered empty).
    public var emptyVariables: UInt64 = 0
    /// Requests sent more than `lateThresholdMicros` after their intended time: the generator could not keep
    /// the plan's schedule (with `dropped`, what the planner counts as under-provisioned).
    public var late: UInt64 = 0
    /// Scheduling lag above which a send counts as late, µs (the engine launches due requests in 1 ms batches,
    /// so a healthy generator stays far below it).
    public static let lateThresholdMicros: UInt64 = 10_000

    public init() {}

    /// Records one request's phases (µs, in `Phase` order).
    @inline(__always)
    public mutating func recordPhases(_ values: (UInt64, UInt64, UInt64, UInt64, UInt64)) {
        if phases.isEmpty { phases = Array(repeating: LatencyHistogram(), count: Phase.allCases.count) }
        phases[0].record(values.0)
        phases[1].record(values.1)
        phases[2].record(values.2)
        phases[3].record(values.3)
        phases[4].record(values.4)
    }

    /// Requests that ended in the window in any way, dropped included.
    public var requestsTotal: UInt64 { outcomes.total }

    public mutating func merge(_ other: RequestMetrics) {
        outcomes.add(other.outcomes)
        bytesIn &+= other.bytesIn
        bytesOut &+= other.bytesOut
        intended &+= other.intended
        sent &+= other.sent
        completed &+= other.completed
        lagSumMicros &+= other.lagSumMicros
        lagMaxMicros = max(lagMaxMicros, other.lagMaxMicros)
        latency.merge(other.latency)
        curlErrors.merge(other.curlErrors, uniquingKeysWith: +)
        emptyVariables &+= other.emptyVariables
        late &+= other.late
        if !other.phases.isEmpty {
            if phases.isEmpty { phases = other.phases } else { for i in phases.indices { phases[i].merge(other.phases[i]) } }
        }
    }

    public mutating func reset() {
        outcomes.reset()
        bytesIn = 0
        bytesOut = 0
        intended = 0
        sent = 0
        completed = 0
        lagSumMicros = 0
        lagMaxMicros = 0
        latency.reset()
        curlErrors.removeAll(keepingCapacity: true)
        emptyVariables = 0
        late = 0
        for i in phases.indices where !phases[i].isEmpty { phases[i].reset() }
    }

    public var isEmpty: Bool { requestsTotal == 0 && intended == 0 && sent == 0 }
}

/// `RequestMetrics` in wire form: the histogram in its sparse encoding.
public struct RequestDelta: Sendable, Equatable, Codable {
    public var outcomes: OutcomeCounts
    public var bytesIn: UInt64
    public var bytesOut: UInt64
    public var intended: UInt64
    public var sent: UInt64
    public var completed: UInt64
    public var lagSumMicros: UInt64
    public var lagMaxMicros: UInt64
    /// `SparseHistogram` bytes (base64 in JSON).
    public var latency: [UInt8]
    public var curlErrors: [String: UInt64]
    /// One `SparseHistogram` per `Phase`, or none.
    public var phases: [[UInt8]]
    public var emptyVariables: UInt64
    /// Sends later than `RequestMetrics.lateThresholdMicros` (absent from older senders: 0).
    public var late: UInt64

    enum CodingKeys: String, CodingKey {
        case outcomes, bytesIn = "bytes_in", bytesOut = "bytes_out", intended, sent, completed
        case lagSumMicros = "lag_sum_us", lagMaxMicros = "lag_max_us", latency, curlErrors = "curl_errors", phases
        case emptyVariables = "vars_empty", late
    }

    public init(_ metrics: RequestMetrics) {
        outcomes = metrics.outcomes
        bytesIn = metrics.bytesIn
        bytesOut = metrics.bytesOut
        intended = metrics.intended
        sent = metrics.sent
        completed = metrics.completed
        lagSumMicros = metrics.lagSumMicros
        lagMaxMicros = metrics.lagMaxMicros
        latency = SparseHistogram.encode(metrics.latency)
        curlErrors = Dictionary(uniqueKeysWithValues: metrics.curlErrors.map { (String($0.key), $0.value) })
        phases = metrics.phases.allSatisfy(\.isEmpty) ? [] : metrics.phases.map(SparseHistogram.encode)
        emptyVariables = metrics.emptyVariables
        late = metrics.late
    }

    /// Back to mergeable metrics.
    /// - Throws: `SparseHistogramError` when the histogram bytes are bad.
    /// - Parameter phases: decode the phase histograms too (only run totals need them).
    public func metrics(phases withPhases: Bool = true) throws(SparseHistogramError) -> RequestMetrics {
        var m = RequestMetrics()
        m.outcomes = outcomes
        m.bytesIn = bytesIn
        m.bytesOut = bytesOut
        m.intended = intended
        m.sent = sent
        m.completed = completed
        m.lagSumMicros = lagSumMicros
        m.lagMaxMicros = lagMaxMicros
        m.late = late
        m.latency = try SparseHistogram.decode(latency)
        for (key, value) in curlErrors { if let code = Int32(key) { m.curlErrors[code] = value } }
        m.emptyVariables = emptyVariables
        if withPhases && phases.count == Phase.allCases.count { m.phases = try phases.map { bytes throws(SparseHistogramError) in try SparseHistogram.decode(bytes) } }
        return m
    }

    /// Adds this delta to `metrics`, merging the histogram straight from its sparse bytes.
    /// - Parameter phases: merge the phase histograms too (run totals do; per-second views, which only need
    ///   rates and latency, leave them out: six dense histograms a second would cost a megabyte each).
    /// - Throws: `SparseHistogramError` (leaving `metrics` unchanged) when the histogram bytes are bad.
    public func merge(into metrics: inout RequestMetrics, phases withPhases: Bool = true) throws(SparseHistogramError) {
        // Every histogram is checked before anything changes, so a bad delta leaves `metrics` as it was; then
        // they are added in place (the dense histograms are never copied).
        let latencyCounters = try SparseHistogram.parse(latency)
        if withPhases && phases.count == Phase.allCases.count {
            let phaseCounters = try phases.map { bytes throws(SparseHistogramError) in try SparseHistogram.parse(bytes) }
            if metrics.phases.isEmpty { metrics.phases = Array(repeating: LatencyHistogram(), count: Phase.allCases.count) }
            for (i, counters) in phaseCounters.enumerated() { counters.add(to: &metrics.phases[i]) }
        }
        latencyCounters.add(to: &metrics.latency)
        metrics.outcomes.add(outcomes)
        metrics.bytesIn &+= bytesIn
        metrics.bytesOut &+= bytesOut
        metrics.intended &+= intended
        metrics.late &+= late
        metrics.sent &+= sent
        metrics.completed &+= completed
        metrics.lagSumMicros &+= lagSumMicros
        metrics.lagMaxMicros = max(metrics.lagMaxMicros, lagMaxMicros)
        metrics.emptyVariables &+= emptyVariables
        for (key, value) in curlErrors { if let code = Int32(key) { metrics.curlErrors[code, default: 0] += value } }
    }

    /// Requests that ended in the delta's second, dropped included.
    public var requestsTotal: UInt64 { outcomes.total }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        outcomes = try c.decode(OutcomeCounts.self, forKey: .outcomes)
        bytesIn = try c.decode(UInt64.self, forKey: .bytesIn)
        bytesOut = try c.decode(UInt64.self, forKey: .bytesOut)
        intended = try c.decode(UInt64.self, forKey: .intended)
        sent = try c.decode(UInt64.self, forKey: .sent)
        completed = try c.decode(UInt64.self, forKey: .completed)
        lagSumMicros = try c.decode(UInt64.self, forKey: .lagSumMicros)
        lagMaxMicros = try c.decode(UInt64.self, forKey: .lagMaxMicros)
        let text = try c.decode(String.self, forKey: .latency)
        guard let bytes = Base64.decode(text) else {
            throw DecodingError.dataCorruptedError(forKey: .latency, in: c, debugDescription: "latency is not base64")
        }
        latency = bytes
        curlErrors = try c.decodeIfPresent([String: UInt64].self, forKey: .curlErrors) ?? [:]
        phases = try (c.decodeIfPresent([String].self, forKey: .phases) ?? []).map { text in
            guard let bytes = Base64.decode(text) else {
                throw DecodingError.dataCorruptedError(forKey: .phases, in: c, debugDescription: "phases are not base64")
            }
            return bytes
        }
        emptyVariables = try c.decodeIfPresent(UInt64.self, forKey: .emptyVariables) ?? 0
        late = try c.decodeIfPresent(UInt64.self, forKey: .late) ?? 0
        guard phases.isEmpty || phases.count == Phase.allCases.count else {
            throw DecodingError.dataCorruptedError(forKey: .phases, in: c, debugDescription: "expected \(Phase.allCases.count) phase histograms, found \(phases.count)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(outcomes, forKey: .outcomes)
        try c.encode(bytesIn, forKey: .bytesIn)
        try c.encode(bytesOut, forKey: .bytesOut)
        try c.encode(intended, forKey: .intended)
        try c.encode(sent, forKey: .sent)
        try c.encode(completed, forKey: .completed)
        try c.encode(lagSumMicros, forKey: .lagSumMicros)
        try c.encode(lagMaxMicros, forKey: .lagMaxMicros)
        try c.encode(Base64.encode(latency), forKey: .latency)
        if !curlErrors.isEmpty { try c.encode(curlErrors, forKey: .curlErrors) }
        if !phases.isEmpty { try c.encode(phases.map(Base64.encode), forKey: .phases) }
        if emptyVariables > 0 { try c.encode(emptyVariables, forKey: .emptyVariables) }
        if late > 0 { try c.encode(late, forKey: .late) }
    }
}

/// One second of one load generator's work: per request type deltas plus the process's CPU and memory.
public struct MetricsDelta: Sendable, Equatable, Codable {
    /// Unix second the delta covers.
    public var second: Int64
    public var requestTypes: [String: RequestDelta]
    /// CPU seconds the process used in this second (user + system).
    public var cpuSeconds: Double
    public var rssBytes: UInt64
    /// Failures first seen (or seen again) in this second, distinct, at most `ErrorSample.perRequestType` per type.
    public var errorSamples: [ErrorSample]

    public init(second: Int64, requestTypes: [String: RequestDelta], cpuSeconds: Double, rssBytes: UInt64, errorSamples: [ErrorSample] = []) {
        self.second = second
        self.requestTypes = requestTypes
        self.cpuSeconds = cpuSeconds
        self.rssBytes = rssBytes
        self.errorSamples = errorSamples
    }

    enum CodingKeys: String, CodingKey {
        case second, requestTypes = "request_types", cpuSeconds = "cpu_s", rssBytes = "rss_bytes", errorSamples = "error_samples"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        second = try c.decode(Int64.self, forKey: .second)
        requestTypes = try c.decode([String: RequestDelta].self, forKey: .requestTypes)
        cpuSeconds = try c.decode(Double.self, forKey: .cpuSeconds)
        rssBytes = try c.decode(UInt64.self, forKey: .rssBytes)
        errorSamples = try c.decodeIfPresent([ErrorSample].self, forKey: .errorSamples) ?? []
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(second, forKey: .second)
        try c.encode(requestTypes, forKey: .requestTypes)
        try c.encode(cpuSeconds, forKey: .cpuSeconds)
        try c.encode(rssBytes, forKey: .rssBytes)
        if !errorSamples.isEmpty { try c.encode(errorSamples, forKey: .errorSamples) }
    }
}

extension MetricsDelta {
    /// More than this in one second from one worker (requests, or a histogram's counts) is forged or broken:
    /// 2^40, a thousand times what any generator sends, and far below where sums could wrap.
    public static let plausibleCount: UInt64 = 1 << 40
    static let plausibleBytes: UInt64 = 1 << 56

    /// Why this delta cannot have come from a working engine, naming the field; nil when it can.
    public var implausibility: String? {
        guard second > -100_000_000_000 && second < 100_000_000_000 else { return "second \(second) is not a Unix second" }
        guard cpuSeconds.isFinite && cpuSeconds >= 0 && cpuSeconds < 1_000_000 else { return "cpu_s \(cpuSeconds) is not a CPU time" }
        for (name, d) in requestTypes {
            let at = "request_types.\(name)"
            for (outcome, value) in zip(Outcome.allCases, d.outcomes.values) where value > Self.plausibleCount {
                return "\(at).outcomes.\(outcome.key) \(value) is above \(Self.plausibleCount)"
            }
            for (field, value) in [("intended", d.intended), ("sent", d.sent), ("completed", d.completed), ("vars_empty", d.emptyVariables), ("late", d.late)] where value > Self.plausibleCount {
                return "\(at).\(field) \(value) is above \(Self.plausibleCount)"
            }
            for (field, value) in [("bytes_in", d.bytesIn), ("bytes_out", d.bytesOut), ("lag_sum_us", d.lagSumMicros), ("lag_max_us", d.lagMaxMicros)] where value > Self.plausibleBytes {
                return "\(at).\(field) \(value) is above \(Self.plausibleBytes)"
            }
            for (code, value) in d.curlErrors where value > Self.plausibleCount { return "\(at).curl_errors.\(code) \(value) is above \(Self.plausibleCount)" }
        }
        if errorSamples.count > requestTypes.count * ErrorSample.perRequestType + ErrorSample.perRequestType {
            return "error_samples: \(errorSamples.count) samples for \(requestTypes.count) request types"
        }
        for sample in errorSamples where sample.count > Self.plausibleCount || sample.message.utf8.count > ErrorSample.messageLimit || sample.body.utf8.count > ErrorSample.bodyLimit {
            return "error_samples: a sample of \(sample.requestType) is out of bounds"
        }
        return nil
    }
}

/// Minimal base64 (RFC 4648) so the metrics codec needs no Foundation.
enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let reverse: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 2 < bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 4 * 3)
        var i = 0
        while i < chars.count {
            var n: UInt32 = 0
            var padding = 0
            for j in 0..<4 {
                let c = chars[i + j]
                if c == UInt8(ascii: "=") && i + 4 == chars.count && j >= 2 {
                    padding += 1
                    n <<= 6
                    continue
                }
                guard padding == 0 else { return nil }
                let v = reverse[Int(c)]
                guard v != 0xFF else { return nil }
                n = n << 6 | UInt32(v)
            }
            out.append(UInt8(n >> 16 & 0xFF))
            if padding < 2 { out.append(UInt8(n >> 8 & 0xFF)) }
            if padding < 1 { out.append(UInt8(n & 0xFF)) }
            i += 4
        }
        return out
    }
}

/// Where a request's time went, from libcurl's timers: resolving the name, connecting, the TLS handshake
/// (0 on a reused connection, and without TLS), waiting for the first byte after sending, and receiving the rest.
public enum Phase: Int, CaseIterable, Sendable {
    case dns, connect, tls, ttfb, transfer

    public var key: String {
        switch self {
        case .dns: return "dns"
        case .connect: return "connect"
        case .tls: return "tls"
        case .ttfb: return "ttfb"
        case .transfer: return "transfer"
        }
    }
}
