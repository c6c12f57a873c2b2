import ALVTemplates

/// One request of a flow: a request type with `steps` runs them in order, per virtual user (closed model)
/// or per arrival (open model), with the type's think time between them.
public struct FlowStep: Sendable, Equatable, Codable {
    public var name: String
    public var method: String
    public var url: String
    public var headers: [String: String]
    public var payloadTemplate: String?
    public var timeoutMs: Double?
    public var expect: Expectation?
    /// Variable name → where to capture it from (`json:$.token`, `header:Location`, `cookie:sid`, `regex:id=(\d+)`).
    public var capture: [String: Capture]

    public init(
        name: String, method: String = "GET", url: String, headers: [String: String] = [:], payloadTemplate: String? = nil,
        timeoutMs: Double? = nil, expect: Expectation? = nil, capture: [String: Capture] = [:]
    ) {
        self.name = name
        self.method = method
        self.url = url
        self.headers = headers
        self.payloadTemplate = payloadTemplate
        self.timeoutMs = timeoutMs
        self.expect = expect
        self.capture = capture
    }

    enum CodingKeys: String, CodingKey {
        case name, method, url, headers, payloadTemplate = "payload_template", timeoutMs = "timeout_ms", expect, capture
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        method = try c.decodeIfPresent(String.self, forKey: .method) ?? "GET"
        url = try c.decode(String.self, forKey: .url)
        headers = try c.decodeIfPresent([String: String].self, forKey: .headers) ?? [:]
        payloadTemplate = try c.decodeIfPresent(String.self, forKey: .payloadTemplate)
        timeoutMs = try c.decodeIfPresent(Double.self, forKey: .timeoutMs)
        expect = try c.decodeIfPresent(Expectation.self, forKey: .expect)
        capture = try c.decodeIfPresent([String: Capture].self, forKey: .capture) ?? [:]
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(method, forKey: .method)
        try c.encode(url, forKey: .url)
        if !headers.isEmpty { try c.encode(headers, forKey: .headers) }
        try c.encodeIfPresent(payloadTemplate, forKey: .payloadTemplate)
        try c.encodeIfPresent(timeoutMs, forKey: .timeoutMs)
        try c.encodeIfPresent(expect, forKey: .expect)
        if !capture.isEmpty { try c.encode(capture, forKey: .capture) }
    }

    /// Whether the step's responses are checked: it expects something or captures something.
    public var isChecked: Bool { expect != nil || !capture.isEmpty }

    /// The Content-Type header, matched case-insensitively.
    public var contentType: String? {
        headers.first { $0.key.lowercased() == "content-type" }?.value
    }
}

/// What a response must be for its request to pass: any condition that fails counts the request as failed
/// with outcome `check`.
public struct Expectation: Sendable, Equatable, Codable {
    /// Allowed status codes; nil allows any.
    public var status: [Int]?
    public var bodyContains: String?
    /// JSONPath (`$.a.b[0]`) → `exists`, or the value the node must equal.
    public var json: [String: JSONExpectation]
    /// Most milliseconds from sending the request to its whole response.
    public var maxMs: Double?

    public init(status: [Int]? = nil, bodyContains: String? = nil, json: [String: JSONExpectation] = [:], maxMs: Double? = nil) {
        self.status = status
        self.bodyContains = bodyContains
        self.json = json
        self.maxMs = maxMs
    }

    enum CodingKeys: String, CodingKey { case status, bodyContains = "body_contains", json, maxMs = "max_ms" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        status = try c.decodeIfPresent([Int].self, forKey: .status)
        bodyContains = try c.decodeIfPresent(String.self, forKey: .bodyContains)
        json = try c.decodeIfPresent([String: JSONExpectation].self, forKey: .json) ?? [:]
        maxMs = try c.decodeIfPresent(Double.self, forKey: .maxMs)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(status, forKey: .status)
        try c.encodeIfPresent(bodyContains, forKey: .bodyContains)
        if !json.isEmpty { try c.encode(json, forKey: .json) }
        try c.encodeIfPresent(maxMs, forKey: .maxMs)
    }

    /// Whether the body must be kept to check it.
    public var needsBody: Bool { bodyContains != nil || !json.isEmpty }
}

/// `"exists"`, or a JSON value (kept as its compact text) that the node must equal.
public enum JSONExpectation: Sendable, Equatable, Codable {
    case exists
    case equals(JSONValue)

    public init(from decoder: any Decoder) throws {
        let value = try JSONValue(from: decoder)
        self = value == .string("exists") ? .exists : .equals(value)
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .exists: try JSONValue.string("exists").encode(to: encoder)
        case .equals(let value): try value.encode(to: encoder)
        }
    }
}

/// A JSON scalar, array or object, as expectations compare it.
public indirect enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n): try c.encode(n)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// The value of a parsed JSON node.
    public init(_ node: JSONNode) {
        switch node.value {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .number(let n, _): self = .number(n)
        case .string(let s): self = .string(s)
        case .array(let elements): self = .array(elements.map(JSONValue.init))
        case .object(let members): self = .object(Dictionary(members.map { ($0.key, JSONValue($0.value)) }, uniquingKeysWith: { a, _ in a }))
        }
    }

    /// What a capture of this value stores: a string as it is, anything else as compact JSON.
    public var capturedText: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .string(let s): return s
        case .array(let a): return "[" + a.map(\.jsonText).joined(separator: ",") + "]"
        case .object(let o): return "{" + o.sorted { $0.key < $1.key }.map { "\(JSONValue.string($0.key).jsonText):\($0.value.jsonText)" }.joined(separator: ",") + "}"
        }
    }

    public var jsonText: String {
        if case .string(let s) = self { return "\"" + String(decoding: TemplateEscaping.json.escaped(s), as: UTF8.self) + "\"" }
        return capturedText
    }
}

/// Where a capture reads its value from.
public enum Capture: Sendable, Equatable, Codable {
    case json(String)
    case header(String)
    case cookie(String)
    case regex(String)

    public static let kinds = ["json", "header", "cookie", "regex"]

    /// Parses `KIND:ARGUMENT`. - Returns: nil and a message naming what was expected.
    public static func parse(_ text: String) -> (Capture?, String?) {
        guard let colon = text.firstIndex(of: ":") else {
            return (nil, "expected KIND:ARGUMENT with KIND one of \(kinds.joined(separator: ", ")) (\"json:$.token\", \"header:Location\", \"cookie:sid\", \"regex:id=(\\\\d+)\"), found \"\(text)\"")
        }
        let kind = String(text[..<colon]), argument = String(text[text.index(after: colon)...])
        guard !argument.isEmpty else { return (nil, "\(kind): needs an argument after ':'") }
        switch kind {
        case "json":
            if let problem = JSONPathQuery.problem(in: argument) { return (nil, "json:\(argument): \(problem)") }
            return (.json(argument), nil)
        case "header": return (.header(argument), nil)
        case "cookie": return (.cookie(argument), nil)
        case "regex":
            do {
                let regex = try Regex(argument)
                _ = regex
            } catch {
                return (nil, "regex:\(argument): not a valid regular expression (\(error))")
            }
            return (.regex(argument), nil)
        default:
            let hint = kinds.first { $0.lowercased() == kind.lowercased() }.map { " (did you mean \"\($0)\"?)" } ?? ""
            return (nil, "unknown capture kind \"\(kind)\"\(hint); expected one of \(kinds.joined(separator: ", "))")
        }
    }

    public var text: String {
        switch self {
        case .json(let a): return "json:" + a
        case .header(let a): return "header:" + a
        case .cookie(let a): return "cookie:" + a
        case .regex(let a): return "regex:" + a
        }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        let (capture, problem) = Capture.parse(text)
        guard let capture else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: problem ?? "bad capture"))
        }
        self = capture
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }

    public var needsBody: Bool {
        switch self {
        case .json, .regex: return true
        case .header, .cookie: return false
        }
    }
}

/// A JSONPath of the forms expectations and captures use: `$`, then `.name`, `['name']` or `[index]` steps.
public struct JSONPathQuery: Sendable, Equatable {
    public enum Step: Sendable, Equatable {
        case member(String)
        case index(Int)
    }

    public let steps: [Step]
    /// The path as written.
    public let text: String

    public init?(_ text: String) {
        guard let steps = Self.parse(text).steps else { return nil }
        self.steps = steps
        self.text = text
    }

    /// Why `text` is not a JSONPath this evaluator reads; nil when it is.
    public static func problem(in text: String) -> String? { parse(text).problem }

    static func parse(_ text: String) -> (steps: [Step]?, problem: String?) {
        let chars = Array(text)
        guard chars.first == "$" else { return (nil, "expected a JSONPath starting with '$' (\"$.token\", \"$.items[0].id\")") }
        var steps: [Step] = []
        var i = 1
        while i < chars.count {
            if chars[i] == "." {
                var j = i + 1
                while j < chars.count, chars[j] != ".", chars[j] != "[" { j += 1 }
                let name = String(chars[(i + 1)..<j])
                guard !name.isEmpty else { return (nil, "empty member name at character \(i + 1)") }
                guard name != "*" else { return (nil, "wildcards are not supported; name one member or index") }
                steps.append(.member(name))
                i = j
            } else if chars[i] == "[" {
                guard let close = chars[i...].firstIndex(of: "]") else { return (nil, "'[' at character \(i + 1) is never closed") }
                let inner = String(chars[(i + 1)..<close])
                if let index = Int(inner), index >= 0 {
                    steps.append(.index(index))
                } else if inner.count >= 2, let q = inner.first, q == "'" || q == "\"", inner.last == q {
                    steps.append(.member(String(inner.dropFirst().dropLast())))
                } else {
                    return (nil, "expected [INDEX] or ['name'] at character \(i + 1), found [\(inner)]")
                }
                i = close + 1
            } else {
                return (nil, "unexpected '\(chars[i])' at character \(i + 1); steps are .name, ['name'] or [index]")
            }
        }
        return (steps, nil)
    }

    /// The node the path names in `root`, or nil when there is none.
    public func select(in root: JSONNode) -> JSONNode? {
        var node = root
        for step in steps {
            switch step {
            case .member(let name):
                guard let next = node[name] else { return nil }
                node = next
            case .index(let index):
                guard let elements = node.elements, index < elements.count else { return nil }
                node = elements[index]
            }
        }
        return node
    }
}
