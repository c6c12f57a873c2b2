import ALVMetrics

/// The compact encoding of the two messages a worker sends every second (`heartbeat`, `metrics`): what
/// the broker decodes most, about a thousand times a second at a thousand workers. Everything else stays JSON.
///
/// Layout: a first byte `0xB3` (binary, wire version 3: `0xB0 + version`, so a newer sender's payload is
/// counted as `version`; a JSON payload starts with `{`; versions 1 and 2 are still read), the kind (1
/// heartbeat, 2 metrics), then fields in a fixed order: unsigned integers as LEB128 varints, signed ones
/// zigzag-encoded, doubles as 8 little-endian bytes, strings and byte runs as a varint length then the bytes,
/// optionals as a 0/1 byte then the value. Request types are a count then (name, delta) pairs; a delta's
/// outcomes are one varint per outcome in `Outcome.allCases` order, preceded by their count (so a receiver
/// that knows more outcomes reads an older sender's); version 2 adds, after each latency histogram, the phase
/// histograms (a count, 0 or 5, then each) and the count of empty `{{vars.NAME}}` renders, and after the request types the error samples (a count, then
/// request type, outcome, optional status, message, body and count each); version 3 adds the count of late sends
/// after the empty renders. Every read is bounds-checked; a payload that ends
/// early, runs past a limit or leaves bytes over is `malformed`.
public enum BinaryWire {
    static let marker: UInt8 = 0xB3
    /// Version 2: the same without late sends.
    static let markerWithoutLate: UInt8 = 0xB2
    /// Version 1: without late sends, phases, empty renders or error samples.
    static let markerWithoutSamples: UInt8 = 0xB1
    static let heartbeatKind: UInt8 = 1
    static let metricsKind: UInt8 = 2
    /// Caps that keep a forged payload from asking for more than the payload itself could hold.
    static let maximumRequestTypes = 10_000
    static let maximumCurlErrors = 1_000
    /// Copied per request type (making one from `RequestMetrics()` would zero a whole histogram each time).
    static let emptyDelta = RequestDelta(RequestMetrics())

    /// Whether `payload` is in this encoding, of any version (by its first byte: `0xB0 + version`).
    public static func isBinary(_ payload: [UInt8]) -> Bool { payload.first.map { $0 & 0xF0 == 0xB0 } ?? false }

    /// The compact payload of a heartbeat or metrics message; nil for other kinds (they go as JSON).
    /// - Parameter version: 3 (the default); 2 and 1 write the older layouts (2: no late sends; 1: no phases,
    ///   no error samples either), as an alv of before them sends it.
    public static func encode(_ message: WorkerMessage, version: Int = 3) -> [UInt8]? {
        var out = Writer()
        let current = version >= 2
        out.bytes.append(version >= 3 ? marker : current ? markerWithoutLate : markerWithoutSamples)
        switch message.body {
        case .heartbeat(let beat):
            out.bytes.append(heartbeatKind)
            out.header(message)
            out.double(beat.cpuSeconds)
            out.unsigned(beat.rssBytes)
            out.signed(Int64(beat.runningUnits))
            out.optional(beat.sentAtMs)
            out.optional(beat.clockOffsetMs)
        case .metrics(let metrics):
            out.bytes.append(metricsKind)
            out.header(message)
            out.string(metrics.unitID)
            out.string(metrics.runID)
            out.signed(Int64(metrics.epoch))
            out.signed(Int64(metrics.vectorIndex))
            let delta = metrics.delta
            out.signed(delta.second)
            out.double(delta.cpuSeconds)
            out.unsigned(delta.rssBytes)
            out.unsigned(UInt64(delta.requestTypes.count))
            for (name, request) in delta.requestTypes {
                out.string(name)
                out.unsigned(UInt64(Outcome.allCases.count))
                for outcome in Outcome.allCases { out.unsigned(request.outcomes[outcome]) }
                for value in [request.bytesIn, request.bytesOut, request.intended, request.sent, request.completed, request.lagSumMicros, request.lagMaxMicros] {
                    out.unsigned(value)
                }
                out.run(request.latency)
                if current {
                    out.unsigned(UInt64(request.phases.count))
                    for phase in request.phases { out.run(phase) }
                    out.unsigned(request.emptyVariables)
                    if version >= 3 { out.unsigned(request.late) }
                }
                out.unsigned(UInt64(request.curlErrors.count))
                for (code, count) in request.curlErrors {
                    out.string(code)
                    out.unsigned(count)
                }
            }
            guard current else { break }
            out.unsigned(UInt64(delta.errorSamples.count))
            for sample in delta.errorSamples {
                out.string(sample.requestType)
                out.string(sample.outcome)
                out.optional(sample.status.map(Double.init))
                out.string(sample.message)
                out.string(sample.body)
                out.unsigned(sample.count)
            }
        default:
            return nil
        }
        return out.bytes
    }

    /// Decodes a payload `encode` wrote. - Throws: `WireError.malformed` or `.unknownVersion`, never traps.
    public static func decode(_ payload: [UInt8]) throws(WireError) -> WorkerMessage {
        var input = Reader(bytes: payload)
        let first = try input.byte()
        guard first == marker || first == markerWithoutLate || first == markerWithoutSamples else { throw .unknownVersion(Int(first & 0x0F)) }
        let kind = try input.byte()
        let worker = try input.string()
        let incarnation = try input.int()
        let seq = try input.unsigned()
        let body: WorkerMessage.Body
        switch kind {
        case heartbeatKind:
            let cpu = try input.double()
            let rss = try input.unsigned()
            let running = try input.int()
            body = .heartbeat(.init(cpuSeconds: cpu, rssBytes: rss, runningUnits: running, sentAtMs: try input.optionalDouble(), clockOffsetMs: try input.optionalDouble()))
        case metricsKind:
            let unitID = try input.string(), runID = try input.string()
            let epoch = try input.int(), vectorIndex = try input.int()
            let second = try input.signed()
            let cpu = try input.double()
            let rss = try input.unsigned()
            let count = try input.count(limit: maximumRequestTypes)
            var types: [String: RequestDelta] = [:]
            for _ in 0..<count {
                let name = try input.string()
                var request = emptyDelta
                let outcomes = try input.count(limit: 64)
                for i in 0..<outcomes {
                    let value = try input.unsigned()
                    if i < Outcome.allCases.count { request.outcomes[Outcome.allCases[i]] = value }
                }
                request.bytesIn = try input.unsigned()
                request.bytesOut = try input.unsigned()
                request.intended = try input.unsigned()
                request.sent = try input.unsigned()
                request.completed = try input.unsigned()
                request.lagSumMicros = try input.unsigned()
                request.lagMaxMicros = try input.unsigned()
                request.latency = try input.run()
                if first != markerWithoutSamples {
                    let phases = try input.count(limit: 16)
                    guard phases == 0 || phases == Phase.allCases.count else { throw .malformed("\(phases) phase histograms (expected 0 or \(Phase.allCases.count))") }
                    request.phases = try (0..<phases).map { _ throws(WireError) in try input.run() }
                    request.emptyVariables = try input.unsigned()
                    if first == marker { request.late = try input.unsigned() }
                }
                let errors = try input.count(limit: maximumCurlErrors)
                for _ in 0..<errors {
                    let code = try input.string()
                    request.curlErrors[code] = try input.unsigned()
                }
                types[name] = request
            }
            var samples: [ErrorSample] = []
            if first != markerWithoutSamples {
                let count = try input.count(limit: maximumRequestTypes)
                for _ in 0..<count {
                    let type = try input.string(), outcome = try input.string()
                    let status = try input.optionalDouble()
                    guard status.map({ $0 >= 0 && $0 < 1000 && $0 == $0.rounded() }) ?? true else { throw .malformed("error sample status \(status!)") }
                    samples.append(ErrorSample(requestType: type, outcome: outcome, status: status.map { Int($0) }, message: try input.string(), body: try input.string(), count: try input.unsigned()))
                }
            }
            let delta = MetricsDelta(second: second, requestTypes: types, cpuSeconds: cpu, rssBytes: rss, errorSamples: samples)
            body = .metrics(.init(unitID: unitID, runID: runID, epoch: epoch, vectorIndex: vectorIndex, delta: delta))
        default:
            throw .malformed("binary message of unknown kind \(kind)")
        }
        guard input.atEnd else { throw .malformed("\(payload.count - input.offset) bytes after the message") }
        return WorkerMessage(worker: worker, incarnation: incarnation, seq: seq, body)
    }

    struct Writer {
        var bytes: [UInt8] = []

        mutating func unsigned(_ value: UInt64) {
            var rest = value
            while rest >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
                rest >>= 7
            }
            bytes.append(UInt8(rest))
        }

        mutating func signed(_ value: Int64) { unsigned(UInt64(bitPattern: (value << 1) ^ (value >> 63))) }

        mutating func double(_ value: Double) {
            var bits = value.bitPattern.littleEndian
            withUnsafeBytes(of: &bits) { bytes.append(contentsOf: $0) }
        }

        mutating func optional(_ value: Double?) {
            bytes.append(value == nil ? 0 : 1)
            if let value { double(value) }
        }

        mutating func run(_ value: [UInt8]) {
            unsigned(UInt64(value.count))
            bytes.append(contentsOf: value)
        }

        mutating func string(_ value: String) { run(Array(value.utf8)) }

        mutating func header(_ message: WorkerMessage) {
            string(message.worker)
            signed(Int64(message.incarnation))
            unsigned(message.seq)
        }
    }

    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        var atEnd: Bool { offset == bytes.count }

        mutating func byte() throws(WireError) -> UInt8 {
            guard offset < bytes.count else { throw .malformed("binary message ends early") }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func unsigned() throws(WireError) -> UInt64 {
            var value: UInt64 = 0
            for shift in stride(from: 0, to: 70, by: 7) {
                let b = try byte()
                guard shift < 63 || b <= 1 else { throw .malformed("varint beyond 64 bits") }
                value |= UInt64(b & 0x7F) << UInt64(shift)
                if b & 0x80 == 0 { return value }
            }
            throw .malformed("varint beyond 64 bits")
        }

        mutating func signed() throws(WireError) -> Int64 {
            let raw = try unsigned()
            return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
        }

        /// A signed value that must fit an `Int` (it always does on 64-bit).
        mutating func int() throws(WireError) -> Int { Int(try signed()) }

        mutating func count(limit: Int) throws(WireError) -> Int {
            let value = try unsigned()
            guard value <= UInt64(limit) else { throw .malformed("a count of \(value) beyond \(limit)") }
            return Int(value)
        }

        mutating func double() throws(WireError) -> Double {
            guard bytes.count - offset >= 8 else { throw .malformed("binary message ends early") }
            var bits: UInt64 = 0
            for i in 0..<8 { bits |= UInt64(bytes[offset + i]) << UInt64(8 * i) }
            offset += 8
            return Double(bitPattern: bits)
        }

        mutating func optionalDouble() throws(WireError) -> Double? {
            switch try byte() {
            case 0: return nil
            case 1: return try double()
            case let flag: throw .malformed("optional flag \(flag)")
            }
        }

        mutating func run() throws(WireError) -> [UInt8] {
            let length = try unsigned()
            guard length <= UInt64(bytes.count - offset) else { throw .malformed("a run of \(length) bytes past the end") }
            defer { offset += Int(length) }
            return Array(bytes[offset..<offset + Int(length)])
        }

        mutating func string() throws(WireError) -> String { String(decoding: try run(), as: UTF8.self) }
    }
}
