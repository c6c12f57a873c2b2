import ALVTemplates

/// One problem found in an input file: where it is and what was expected.
public struct Diagnostic: Sendable, Equatable, CustomStringConvertible, Codable {
    public enum Severity: String, Sendable, Codable {
        case error
        /// Does not stop the file from being used (for example an environment variable unset here).
        case warning
    }

    public var severity: Severity
    /// The file as the user named it, or nil for input that did not come from a file.
    public var file: String?
    /// The JSON path, such as `request_types[1].think_time_ms.min`; `$` for the whole document.
    public var path: String
    public var line: Int?
    public var column: Int?
    public var message: String

    public init(_ severity: Severity = .error, file: String?, path: String, position: JSONPosition?, message: String) {
        self.severity = severity
        self.file = file
        self.path = path
        self.line = position?.line
        self.column = position?.column
        self.message = message
    }

    /// `config/vectors/x.json:12:5: error: request_types[1].think_time_ms.min: expected …`
    public var description: String {
        var location = file ?? "<input>"
        if let line { location += ":\(line)" }
        if let column { location += ":\(column)" }
        return "\(location): \(severity.rawValue): \(path): \(message)"
    }
}

extension Array where Element == Diagnostic {
    public var errors: [Diagnostic] { filter { $0.severity == .error } }
    public var hasErrors: Bool { contains { $0.severity == .error } }
}

/// The outcome of validating one document: the model when it is valid, and every diagnostic.
public struct Validated<Model: Sendable>: Sendable {
    public var model: Model?
    public var diagnostics: [Diagnostic]
    /// The parsed JSON tree (nil when the text was not JSON).
    public var document: JSONNode?
}

/// Collects diagnostics for one file while a reader walks its JSON tree.
///
/// The `read…` helpers check one value each and return nil after recording what was wrong, so
/// validation goes on and reports every problem at once.
struct DiagnosticSink {
    let file: String?
    var diagnostics: [Diagnostic] = []

    /// Parses a document; malformed JSON becomes one located diagnostic and nil.
    mutating func parse(_ bytes: [UInt8]) -> JSONNode? {
        do {
            return try JSONReader.parse(bytes)
        } catch {
            diagnostics.append(Diagnostic(file: file, path: "$", position: error.position, message: "malformed JSON: \(error.message)"))
            return nil
        }
    }

    mutating func error(_ path: JSONPath, _ node: JSONNode?, _ message: String) {
        diagnostics.append(Diagnostic(.error, file: file, path: path.description, position: node?.position, message: message))
    }

    mutating func warning(_ path: JSONPath, _ node: JSONNode?, _ message: String) {
        diagnostics.append(Diagnostic(.warning, file: file, path: path.description, position: node?.position, message: message))
    }

    /// Checks that `node` is an object with only `allowed` keys, every `required` key, and no key twice.
    /// - Returns: the members by key, or nil when the node is not an object.
    mutating func object(
        _ node: JSONNode, at path: JSONPath, allowed: [String], required: [String], what: String
    ) -> [String: JSONNode]? {
        guard let members = node.members else {
            error(path, node, "expected \(what) (a JSON object), found \(node.found)")
            return nil
        }
        var byKey: [String: JSONNode] = [:]
        for member in members {
            let memberPath = path.appending(member.key)
            if byKey[member.key] != nil {
                diagnostics.append(Diagnostic(
                    file: file, path: memberPath.description, position: member.keyPosition,
                    message: "key \"\(member.key)\" appears more than once; keep one"))
                continue
            }
            byKey[member.key] = member.value
            if !allowed.contains(member.key) {
                let hint = closestName(to: member.key, among: allowed).map { " (did you mean \"\($0)\"?)" } ?? ""
                diagnostics.append(Diagnostic(
                    file: file, path: memberPath.description, position: member.keyPosition,
                    message: "unknown field \"\(member.key)\"\(hint); expected one of \(allowed.filter { $0 != "$schema" }.joined(separator: ", "))"))
            }
        }
        for key in required where byKey[key] == nil {
            error(path.appending(key), node, "missing required field \"\(key)\" in \(what)")
        }
        return byKey
    }

    mutating func string(_ node: JSONNode?, at path: JSONPath, nonEmpty: Bool = true) -> String? {
        guard let node else { return nil }
        guard let value = node.stringValue else {
            error(path, node, "expected a string, found \(node.found)")
            return nil
        }
        if nonEmpty && value.trimmingSpaces.isEmpty {
            error(path, node, "expected a non-empty string, found \"\"")
            return nil
        }
        return value
    }

    mutating func oneOf(_ node: JSONNode?, at path: JSONPath, _ choices: [String]) -> String? {
        guard let value = string(node, at: path) else { return nil }
        guard choices.contains(value) else {
            let hint = closestName(to: value, among: choices).map { " (did you mean \"\($0)\"?)" } ?? ""
            error(path, node, "expected one of \(choices.joined(separator: ", ")), found \"\(value)\"\(hint)")
            return nil
        }
        return value
    }

    /// A number within bounds; `minimumExclusive` makes zero an error for durations and rates.
    mutating func number(
        _ node: JSONNode?, at path: JSONPath, minimum: Double? = nil, minimumExclusive: Bool = false,
        maximum: Double? = nil, what: String = "a number"
    ) -> Double? {
        guard let node else { return nil }
        guard let value = node.numberValue else {
            let quoted = node.stringValue.flatMap { Double($0) } != nil ? " (remove the quotes)" : ""
            error(path, node, "expected \(what), found \(node.found)\(quoted)")
            return nil
        }
        if let minimum {
            if minimumExclusive && value <= minimum {
                error(path, node, "expected \(what) greater than \(format(minimum)), found \(node.preview)")
                return nil
            }
            if !minimumExclusive && value < minimum {
                error(path, node, "expected \(what) of at least \(format(minimum)), found \(node.preview)")
                return nil
            }
        }
        if let maximum, value > maximum {
            error(path, node, "expected \(what) of at most \(format(maximum)), found \(node.preview)")
            return nil
        }
        return value
    }

    mutating func integer(_ node: JSONNode?, at path: JSONPath, minimum: Int, maximum: Int = 1_000_000_000) -> Int? {
        guard let node else { return nil }
        guard case .number(let value, _) = node.value, value == value.rounded(), abs(value) <= 1e15 else {
            error(path, node, "expected an integer, found \(node.found)")
            return nil
        }
        guard value >= Double(minimum) else {
            error(path, node, "expected an integer of at least \(minimum), found \(node.preview)")
            return nil
        }
        guard value <= Double(maximum) else {
            error(path, node, "expected an integer of at most \(maximum), found \(node.preview)")
            return nil
        }
        return Int(value)
    }

    mutating func bool(_ node: JSONNode?, at path: JSONPath) -> Bool? {
        guard let node else { return nil }
        guard case .bool(let value) = node.value else {
            error(path, node, "expected true or false, found \(node.found)")
            return nil
        }
        return value
    }

    /// An identifier: letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64 characters.
    mutating func identifier(_ node: JSONNode?, at path: JSONPath) -> String? {
        guard let value = string(node, at: path) else { return nil }
        guard isIdentifier(value) else {
            error(path, node, "expected an id of letters, digits, '.', '_' or '-' (starting with a letter or digit, at most 64), found \"\(value)\"")
            return nil
        }
        return value
    }

    func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

/// Whether `value` can name a vector or profile.
public func isIdentifier(_ value: String) -> Bool {
    guard let first = value.unicodeScalars.first, value.unicodeScalars.count <= 64 else { return false }
    func allowed(_ s: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(s) || ("A"..."Z").contains(s) || ("0"..."9").contains(s)
    }
    return allowed(first) && value.unicodeScalars.allSatisfy { allowed($0) || $0 == "." || $0 == "_" || $0 == "-" }
}

