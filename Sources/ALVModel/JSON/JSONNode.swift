/// A position in a JSON text, 1-based, counted in Unicode scalars per line.
public struct JSONPosition: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "\(line):\(column)" }
}

/// A parsed JSON value that remembers where it stood in the source text, so every
/// validation message can name a line and column as well as a JSON path.
public struct JSONNode: Sendable, Equatable {
    /// One member of an object, in source order (duplicates kept, so they can be reported).
    public struct Member: Sendable, Equatable {
        public var key: String
        public var keyPosition: JSONPosition
        public var value: JSONNode
    }

    public indirect enum Value: Sendable, Equatable {
        case null
        case bool(Bool)
        /// The number and whether its literal had no fraction or exponent.
        case number(Double, isInteger: Bool)
        case string(String)
        case array([JSONNode])
        case object([Member])
    }

    public var value: Value
    public var position: JSONPosition

    public init(_ value: Value, at position: JSONPosition) {
        self.value = value
        self.position = position
    }

    /// The JSON type name used in messages ("found a string").
    public var typeName: String {
        switch value {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number(_, let isInteger): return isInteger ? "an integer" : "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// What a message says it found: `the string "300"`, `the number -1`, `an array of 2 items`.
    public var found: String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number: return "the number \(preview)"
        case .string: return "the string \(preview)"
        case .array(let a): return "an array of \(a.count) item\(a.count == 1 ? "" : "s")"
        case .object(let m): return "an object with \(m.count) key\(m.count == 1 ? "" : "s")"
        }
    }

    /// A short rendering of the value for messages: strings quoted, containers summarised.
    public var preview: String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let d, let isInteger):
            return isInteger && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case .string(let s):
            let short = s.count > 40 ? String(s.prefix(37)) + "..." : s
            return "\"\(short)\""
        case .array(let a): return "an array of \(a.count)"
        case .object(let m): return "an object with \(m.count) keys"
        }
    }

    public var stringValue: String? {
        if case .string(let s) = value { return s }
        return nil
    }

    public var numberValue: Double? {
        if case .number(let d, _) = value { return d }
        return nil
    }

    public var members: [Member]? {
        if case .object(let m) = value { return m }
        return nil
    }

    public var elements: [JSONNode]? {
        if case .array(let a) = value { return a }
        return nil
    }

    /// The first member with this key, if the node is an object.
    public subscript(key: String) -> JSONNode? {
        members?.first { $0.key == key }?.value
    }

    /// The value as a plain Foundation-free tree (for re-encoding).
    public var plain: Any? {
        switch value {
        case .null: return nil
        case .bool(let b): return b
        case .number(let d, let isInteger): return isInteger && abs(d) < 9e15 ? Int(d) : d
        case .string(let s): return s
        case .array(let a): return a.map { $0.plain }
        case .object(let m): return Dictionary(m.map { ($0.key, $0.value.plain) }, uniquingKeysWith: { a, _ in a })
        }
    }
}
