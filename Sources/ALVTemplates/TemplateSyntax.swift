/// One `{{ … }}` expression of a payload template, after parsing.
public enum TemplateExpression: Sendable, Equatable {
    case uuid
    case seq
    case nowISO
    case nowMs
    case randomInt(Int64, Int64)
    case randomChoice([String])
    case env(String)
    /// The id of the worker that renders ("local" in a single-process run).
    case workerID
    case data(file: String, column: String)
    /// A value an earlier step of the virtual user's flow captured (empty until one does).
    case variable(String)

    /// Names accepted in `{{ … }}`, for messages and did-you-mean suggestions.
    public static let functionNames = ["uuid", "seq", "now_iso", "now_ms", "worker_id", "random_int", "random_choice", "env.NAME", "data.FILE.COLUMN", "vars.NAME"]
}

/// A template split into literal text and expressions, with the offset of each expression.
public struct ParsedTemplate: Sendable, Equatable {
    public enum Part: Sendable, Equatable {
        case literal(String)
        case expression(TemplateExpression, offset: Int)
    }

    public var parts: [Part]

    /// Every `data.FILE.COLUMN` reference, in order of appearance.
    public var dataReferences: [(file: String, column: String, offset: Int)] {
        parts.compactMap {
            if case .expression(.data(let file, let column), let offset) = $0 { return (file, column, offset) }
            return nil
        }
    }

    /// Every `vars.NAME` reference.
    public var variableReferences: [(name: String, offset: Int)] {
        parts.compactMap {
            if case .expression(.variable(let name), let offset) = $0 { return (name, offset) }
            return nil
        }
    }

    /// Every `env.NAME` reference.
    public var environmentReferences: [(name: String, offset: Int)] {
        parts.compactMap {
            if case .expression(.env(let name), let offset) = $0 { return (name, offset) }
            return nil
        }
    }
}

/// A template that cannot be parsed: the message, and the character offset in the template.
public struct TemplateSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// 0-based offset, in characters, of the `{{` that starts the bad expression.
    public var offset: Int

    public var description: String { "at character \(offset + 1): \(message)" }
}

extension ParsedTemplate {
    /// Parses `{{ … }}` expressions; text outside them is kept verbatim.
    /// - Throws: `TemplateSyntaxError` for an unclosed `{{`, an unknown function or variable, or bad arguments.
    public static func parse(_ source: String) throws(TemplateSyntaxError) -> ParsedTemplate {
        var parts: [Part] = []
        let chars = Array(source)
        var literal = ""
        var i = 0
        while i < chars.count {
            if chars[i] == "{", i + 1 < chars.count, chars[i + 1] == "{" {
                let open = i
                var j = i + 2
                while j + 1 < chars.count, !(chars[j] == "}" && chars[j + 1] == "}") { j += 1 }
                guard j + 1 < chars.count else {
                    throw TemplateSyntaxError(message: "'{{' is never closed with '}}'", offset: open)
                }
                let body = String(chars[(i + 2)..<j]).trimmingSpaces
                let expression = try parseExpression(body, offset: open)
                if !literal.isEmpty {
                    parts.append(.literal(literal))
                    literal = ""
                }
                parts.append(.expression(expression, offset: open))
                i = j + 2
            } else {
                literal.append(chars[i])
                i += 1
            }
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        return ParsedTemplate(parts: parts)
    }

    private static func parseExpression(_ body: String, offset: Int) throws(TemplateSyntaxError) -> TemplateExpression {
        func fail(_ message: String) -> TemplateSyntaxError { TemplateSyntaxError(message: message, offset: offset) }
        if body.isEmpty { throw fail("empty expression '{{}}'; expected one of \(TemplateExpression.functionNames.joined(separator: ", "))") }

        let name: String
        var arguments: [String]? = nil
        if let paren = body.firstIndex(of: "(") {
            name = String(body[..<paren]).trimmingSpaces
            guard body.hasSuffix(")") else { throw fail("'\(body)': missing ')'") }
            let inner = String(body[body.index(after: paren)..<body.index(before: body.endIndex)])
            arguments = try splitArguments(inner, offset: offset)
        } else {
            name = body
        }

        if name.hasPrefix("env.") {
            let variable = String(name.dropFirst(4))
            guard arguments == nil, !variable.isEmpty, variable.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw fail("'\(body)': expected env.NAME with NAME made of letters, digits and '_'")
            }
            return .env(variable)
        }
        if name.hasPrefix("vars.") {
            let variable = String(name.dropFirst(5))
            guard arguments == nil, !variable.isEmpty, variable.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                throw fail("'\(body)': expected vars.NAME with NAME made of letters, digits and '_' (a variable a step captures)")
            }
            return .variable(variable)
        }
        if name.hasPrefix("data.") {
            let rest = name.dropFirst(5).split(separator: ".", omittingEmptySubsequences: false)
            guard arguments == nil, rest.count == 2, !rest[0].isEmpty, !rest[1].isEmpty else {
                throw fail("'\(body)': expected data.FILE.COLUMN (a CSV file name without .csv, then a column from its header)")
            }
            return .data(file: String(rest[0]), column: String(rest[1]))
        }

        switch name {
        case "uuid", "seq", "now_iso", "now_ms", "worker_id":
            if let arguments, !arguments.isEmpty { throw fail("'\(name)' takes no arguments") }
            switch name {
            case "uuid": return .uuid
            case "seq": return .seq
            case "now_iso": return .nowISO
            case "worker_id": return .workerID
            default: return .nowMs
            }
        case "random_int":
            guard let arguments, arguments.count == 2 else { throw fail("random_int takes two integers: random_int(MIN,MAX)") }
            guard let low = Int64(arguments[0]), let high = Int64(arguments[1]) else {
                throw fail("random_int(\(arguments.joined(separator: ","))): both arguments must be integers")
            }
            guard low <= high else { throw fail("random_int(\(low),\(high)): MIN must not exceed MAX") }
            return .randomInt(low, high)
        case "random_choice":
            guard let arguments, !arguments.isEmpty else { throw fail("random_choice takes at least one value: random_choice(a,b,…)") }
            return .randomChoice(arguments)
        default:
            let suggestion = closestName(to: name, among: ["uuid", "seq", "now_iso", "now_ms", "worker_id", "random_int", "random_choice", "env", "data", "vars"])
                .map { " (did you mean '\($0)'?)" } ?? ""
            throw fail("unknown function or variable '\(name)'\(suggestion); expected one of \(TemplateExpression.functionNames.joined(separator: ", "))")
        }
    }

    /// Splits `a, "b,c", 'd'` into ["a", "b,c", "d"].
    private static func splitArguments(_ text: String, offset: Int) throws(TemplateSyntaxError) -> [String] {
        if text.trimmingSpaces.isEmpty { return [] }
        var result: [String] = []
        var current = ""
        var quote: Character? = nil
        var wasQuoted = false
        var escaping = false
        for ch in text {
            if let q = quote {
                // Inside quotes, a backslash takes the next character literally: "say \"hi\"".
                if escaping {
                    current.append(ch)
                    escaping = false
                } else if ch == "\\" {
                    escaping = true
                } else if ch == q {
                    quote = nil
                } else {
                    current.append(ch)
                }
            } else if ch == "\"" || ch == "'" {
                // Spaces before an opening quote separate arguments; they are not part of the value.
                if current.allSatisfy(\.isWhitespace) { current = "" }
                quote = ch
                wasQuoted = true
            } else if ch == "," {
                result.append(wasQuoted ? current : current.trimmingSpaces)
                current = ""
                wasQuoted = false
            } else if !(wasQuoted && ch == " ") {
                current.append(ch)
            }
        }
        if quote != nil { throw TemplateSyntaxError(message: "unclosed quote in arguments '\(text)'", offset: offset) }
        result.append(wasQuoted ? current : current.trimmingSpaces)
        return result
    }
}

/// The candidate closest to `name` by edit distance, when it is close enough to be a likely typo.
public func closestName(to name: String, among candidates: [String]) -> String? {
    let best = candidates.map { ($0, editDistance(name.lowercased(), $0.lowercased())) }.min { $0.1 < $1.1 }
    if let best, best.1 <= max(1, name.count / 3) { return best.0 }
    // A truncated name ("window" for "window_sec") is a likely slip too.
    let lowered = name.lowercased()
    guard lowered.count >= 3 else { return nil }
    return candidates.first { $0.lowercased().hasPrefix(lowered) }
}

/// Edit distance counting insertions, deletions, substitutions and swaps of neighbours as one
/// edit each (optimal string alignment), so "spkie" is one edit from "spike".
public func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { d[i][0] = i }
    for j in 0...b.count { d[0][j] = j }
    for i in 1...a.count {
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
            }
        }
    }
    return d[a.count][b.count]
}

extension String {
    /// The string without leading and trailing whitespace (no Foundation needed).
    public var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
