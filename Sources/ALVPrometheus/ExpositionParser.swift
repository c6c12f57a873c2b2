/// Reads the Prometheus text exposition format (0.0.4; OpenMetrics' `# EOF` and `_created` lines pass too):
/// `# TYPE` lines and samples `name{label="value",…} value [timestamp]`. A malformed line is skipped and
/// counted, never fatal: a scrape target is someone else's program.
public struct ExpositionParser {
    public struct Sample: Sendable, Equatable {
        public var name: String
        public var labels: [String: String]
        public var value: Double

        public init(name: String, labels: [String: String], value: Double) {
            self.name = name
            self.labels = labels
            self.value = value
        }
    }

    public private(set) var samples: [Sample] = []
    /// Metric family name → type as declared by `# TYPE`.
    public private(set) var types: [String: String] = [:]
    public private(set) var malformedLines = 0

    public init(_ text: String, keep: (String) -> Bool = { _ in true }) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
                if parts.count >= 4, parts[1] == "TYPE" { types[String(parts[2])] = String(parts[3]).trimmingSpaces }
                continue
            }
            guard let sample = Self.sample(Substring(line), keep: keep) else {
                if !line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { malformedLines += 1 }
                continue
            }
            if sample.name.isEmpty { continue }  // filtered out by `keep`
            samples.append(sample)
        }
    }

    /// The type of the family `name` belongs to (histogram and summary series carry suffixes).
    public func type(of name: String) -> String? {
        if let t = types[name] { return t }
        for suffix in ["_bucket", "_sum", "_count", "_total", "_created"] where name.hasSuffix(suffix) {
            if let t = types[String(name.dropLast(suffix.count))] { return t }
        }
        return nil
    }

    /// One sample line; a sample with an empty name when `keep` refuses its name (cheap skip).
    static func sample(_ line: Substring, keep: (String) -> Bool) -> Sample? {
        let bytes = Array(line.utf8)
        var i = 0
        func isNameByte(_ b: UInt8, first: Bool) -> Bool {
            (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || b == 0x5F || b == 0x3A || (!first && b >= 0x30 && b <= 0x39)
        }
        while i < bytes.count, isNameByte(bytes[i], first: i == 0) { i += 1 }
        guard i > 0 else { return nil }
        let name = String(decoding: bytes[0..<i], as: UTF8.self)
        guard keep(name) else { return Sample(name: "", labels: [:], value: 0) }
        var labels: [String: String] = [:]
        if i < bytes.count, bytes[i] == 0x7B {  // {
            i += 1
            while true {
                while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x2C { i += 1 }
                guard i < bytes.count else { return nil }
                if bytes[i] == 0x7D { i += 1; break }  // }
                let start = i
                while i < bytes.count, isNameByte(bytes[i], first: i == start) { i += 1 }
                guard i > start, i < bytes.count, bytes[i] == 0x3D else { return nil }  // =
                let key = String(decoding: bytes[start..<i], as: UTF8.self)
                i += 1
                guard i < bytes.count, bytes[i] == 0x22 else { return nil }  // "
                i += 1
                var value: [UInt8] = []
                var closed = false
                while i < bytes.count {
                    let b = bytes[i]
                    if b == 0x5C, i + 1 < bytes.count {  // backslash escapes
                        let next = bytes[i + 1]
                        value.append(next == 0x6E ? 0x0A : next)
                        i += 2
                        continue
                    }
                    if b == 0x22 { closed = true; i += 1; break }
                    value.append(b)
                    i += 1
                }
                guard closed, labels.count < 64 else { return nil }
                labels[key] = String(decoding: value, as: UTF8.self)
            }
        }
        guard i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 else { return nil }
        let rest = String(decoding: bytes[i...], as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
        guard let first = rest.first, let value = parseValue(first) else { return nil }
        return Sample(name: name, labels: labels, value: value)
    }

    static func parseValue(_ text: Substring) -> Double? {
        switch text {
        case "NaN": return .nan
        case "+Inf", "Inf": return .infinity
        case "-Inf": return -.infinity
        default: return Double(text)
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.last == " " || s.last == "\r" { s.removeLast() }
        return String(s)
    }
}
