import Foundation

/// The data files a vector's templates read from, each with the order it hands out rows in.
public struct TemplateData: Sendable {
    public struct Binding: Sendable {
        public var dataSet: DataSet
        public var order: DataOrder

        public init(dataSet: DataSet, order: DataOrder) {
            self.dataSet = dataSet
            self.order = order
        }
    }

    public var bindings: [Binding]
    /// The environment snapshot `env.NAME` reads from, taken once when templates are compiled.
    public var environment: [String: String]
    /// What `worker_id` renders.
    public var workerID: String
    /// The names `vars.NAME` may read, in slot order: `RenderContext.variables[slot]` holds each one's value.
    public var variables: [String] = []

    public init(bindings: [Binding] = [], environment: [String: String] = [:], workerID: String = "local") {
        self.bindings = bindings
        self.environment = environment
        self.workerID = workerID
    }

    /// The slot of variable `name`, added when new.
    public mutating func variableSlot(_ name: String) -> Int {
        if let slot = variables.firstIndex(of: name) { return slot }
        variables.append(name)
        return variables.count - 1
    }

    func slot(named name: String) -> Int? {
        bindings.firstIndex { $0.dataSet.name == name }
    }
}

/// Per virtual user state for rendering: its random source, sequence counter, clock and current data rows.
public struct RenderContext: Sendable {
    public var random: SeededGenerator
    /// The value `{{seq}}` yields next; incremented by every render that uses it.
    public var sequence: Int64
    /// Milliseconds since the Unix epoch, as `now_ms` and `now_iso` print it; the caller refreshes it.
    public var nowMs: Int64
    /// Current row per data binding; chosen by `nextIteration(data:)`.
    public private(set) var rows: [Int]
    /// Values captured by this user's flow, by slot (`TemplateData.variables`); nil until captured.
    public var variables: [[UInt8]?] = []
    /// Renders of a `vars.NAME` that held nothing (they render empty).
    public var emptyVariableRenders = 0
    private var userIndex: Int
    private var iteration: Int

    /// - Parameters:
    ///   - seed: seeds this user's random source.
    ///   - userIndex: the virtual user's number, which spreads users over data files.
    ///   - data: the vector's data bindings.
    public init(seed: UInt64, userIndex: Int = 0, data: TemplateData? = nil) {
        random = SeededGenerator(seed: seed)
        sequence = 1
        nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        self.userIndex = userIndex
        iteration = -1
        rows = Array(repeating: 0, count: data?.bindings.count ?? 0)
        if let data { nextIteration(data: data) }
    }

    /// Moves this user to its next row in every data file; call once per request (iteration).
    public mutating func nextIteration(data: TemplateData) {
        iteration += 1
        if rows.count != data.bindings.count { rows = Array(repeating: 0, count: data.bindings.count) }
        for (slot, binding) in data.bindings.enumerated() {
            let count = binding.dataSet.rows.count
            switch binding.order {
            case .sequential: rows[slot] = (userIndex &+ iteration) % count
            case .random: rows[slot] = Int(random.next(upperBound: UInt64(count)))
            case .perUser: rows[slot] = userIndex % count
            }
        }
    }
}

/// A payload, URL or header template compiled once: literal bytes and pre-escaped values, so
/// rendering only copies bytes and formats numbers.
public struct CompiledTemplate: Sendable {
    enum Segment: Sendable {
        case bytes([UInt8])
        case uuid
        case seq
        case nowISO
        case nowMs
        case randomInt(Int64, UInt64)
        case randomChoice([[UInt8]])
        /// Values of one column of one data binding, escaped, indexed by row.
        case data(slot: Int, values: [[UInt8]])
        /// A captured variable, escaped as it is rendered.
        case variable(slot: Int)
    }

    let segments: [Segment]
    public let escaping: TemplateEscaping
    /// True when the template has no expressions: the bytes never change.
    public let isConstant: Bool

    /// Compiles a parsed template.
    /// - Throws: `TemplateCompileError` when a data file or column or an environment variable is missing.
    public init(_ parsed: ParsedTemplate, escaping: TemplateEscaping, data: TemplateData) throws(TemplateCompileError) {
        var segments: [Segment] = []
        func appendBytes(_ bytes: [UInt8]) {
            if case .bytes(let previous)? = segments.last {
                segments[segments.count - 1] = .bytes(previous + bytes)
            } else {
                segments.append(.bytes(bytes))
            }
        }
        for part in parsed.parts {
            switch part {
            case .literal(let text):
                appendBytes(Array(text.utf8))
            case .expression(let expression, let offset):
                switch expression {
                case .uuid: segments.append(.uuid)
                case .seq: segments.append(.seq)
                case .nowISO: segments.append(.nowISO)
                case .nowMs: segments.append(.nowMs)
                case .randomInt(let low, let high): segments.append(.randomInt(low, UInt64(bitPattern: high &- low) &+ 1))
                case .randomChoice(let values): segments.append(.randomChoice(values.map { escaping.escaped($0) }))
                case .env(let name):
                    guard let value = data.environment[name] else {
                        throw TemplateCompileError(message: "env.\(name) was not passed to the run (--env \(name))", offset: offset)
                    }
                    appendBytes(escaping.escaped(value))
                case .workerID:
                    appendBytes(escaping.escaped(data.workerID))
                case .variable(let name):
                    guard let slot = data.variables.firstIndex(of: name) else {
                        throw TemplateCompileError(message: "vars.\(name) is captured by no step of this flow", offset: offset)
                    }
                    segments.append(.variable(slot: slot))
                case .data(let file, let column):
                    guard let slot = data.slot(named: file) else {
                        throw TemplateCompileError(message: "no data file named '\(file)'", offset: offset)
                    }
                    let dataSet = data.bindings[slot].dataSet
                    guard let columnIndex = dataSet.columns.firstIndex(of: column) else {
                        throw TemplateCompileError(
                            message: "data file '\(file)' has no column '\(column)'; its columns are \(dataSet.columns.joined(separator: ", "))",
                            offset: offset)
                    }
                    segments.append(.data(slot: slot, values: dataSet.rows.map { escaping.escaped($0[columnIndex]) }))
                }
            }
        }
        self.segments = segments
        self.escaping = escaping
        self.isConstant = segments.allSatisfy { if case .bytes = $0 { return true } else { return false } }
    }

    /// Parses and compiles in one step.
    public init(source: String, escaping: TemplateEscaping, data: TemplateData) throws {
        try self.init(ParsedTemplate.parse(source), escaping: escaping, data: data)
    }

    /// Appends one rendering to `out`. Allocates only if `out` must grow.
    @inline(__always)
    public func render(into out: inout [UInt8], context: inout RenderContext) {
        for segment in segments {
            switch segment {
            case .bytes(let bytes):
                out.append(contentsOf: bytes)
            case .uuid:
                Self.appendUUID(&out, &context.random)
            case .seq:
                Self.appendInteger(context.sequence, to: &out)
                context.sequence &+= 1
            case .nowMs:
                Self.appendInteger(context.nowMs, to: &out)
            case .nowISO:
                Self.appendISO8601(milliseconds: context.nowMs, to: &out)
            case .randomInt(let low, let span):
                let draw = span == 0 ? context.random.next() : context.random.next(upperBound: span)
                Self.appendInteger(low &+ Int64(bitPattern: draw), to: &out)
            case .randomChoice(let values):
                out.append(contentsOf: values[Int(context.random.next(upperBound: UInt64(values.count)))])
            case .data(let slot, let values):
                out.append(contentsOf: values[context.rows[slot]])
            case .variable(let slot):
                if slot < context.variables.count, let value = context.variables[slot] {
                    escaping.append(value, to: &out)
                } else {
                    context.emptyVariableRenders += 1
                }
            }
        }
    }

    /// One rendering as a String (for tests and tools; the engine renders into reused buffers).
    public func render(context: inout RenderContext) -> String {
        var out: [UInt8] = []
        render(into: &out, context: &context)
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always)
    static func appendInteger(_ value: Int64, to out: inout [UInt8]) {
        if value == 0 {
            out.append(UInt8(ascii: "0"))
            return
        }
        var magnitude = value.magnitude
        if value < 0 { out.append(UInt8(ascii: "-")) }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var count = 0
            while magnitude > 0 {
                digits[count] = UInt8(ascii: "0") &+ UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            }
            while count > 0 {
                count -= 1
                out.append(digits[count])
            }
        }
    }

    @inline(__always)
    static func appendUUID(_ out: inout [UInt8], _ random: inout SeededGenerator) {
        let high = random.next()
        let low = random.next()
        // Version 4, variant 10xx.
        let a = (high & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000
        let b = (low & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        let hex: StaticString = "0123456789abcdef"
        hex.withUTF8Buffer { digits in
            for nibble in 0..<16 {
                if nibble == 8 || nibble == 12 { out.append(UInt8(ascii: "-")) }
                out.append(digits[Int((a >> UInt64(60 - nibble * 4)) & 0xF)])
            }
            for nibble in 0..<16 {
                if nibble == 0 || nibble == 4 { out.append(UInt8(ascii: "-")) }
                out.append(digits[Int((b >> UInt64(60 - nibble * 4)) & 0xF)])
            }
        }
    }

    /// `2026-11-29T21:11:13.123Z`, from days-since-epoch arithmetic (no formatter on the hot path).
    static func appendISO8601(milliseconds: Int64, to out: inout [UInt8]) {
        let ms = Int(((milliseconds % 1000) + 1000) % 1000)
        let seconds = (milliseconds - Int64(ms)) / 1000
        var days = Int(seconds / 86_400)
        var secondOfDay = Int(seconds % 86_400)
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ v: Int) {
            out.append(UInt8(ascii: "0") &+ UInt8(v / 10))
            out.append(UInt8(ascii: "0") &+ UInt8(v % 10))
        }
        two(year / 100)
        two(year % 100)
        out.append(UInt8(ascii: "-"))
        two(month)
        out.append(UInt8(ascii: "-"))
        two(day)
        out.append(UInt8(ascii: "T"))
        two(secondOfDay / 3600)
        out.append(UInt8(ascii: ":"))
        two(secondOfDay / 60 % 60)
        out.append(UInt8(ascii: ":"))
        two(secondOfDay % 60)
        out.append(UInt8(ascii: "."))
        out.append(UInt8(ascii: "0") &+ UInt8(ms / 100))
        two(ms % 100)
        out.append(UInt8(ascii: "Z"))
    }
}

/// A template that parsed but cannot be bound to its data or environment.
public struct TemplateCompileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var offset: Int

    public var description: String { "at character \(offset + 1): \(message)" }
}
