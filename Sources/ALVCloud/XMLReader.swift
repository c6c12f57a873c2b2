/// Just enough XML for the AWS Query API's answers: elements, their text, the five named entities and
/// numeric references. Attributes, comments, processing instructions and DOCTYPEs are skipped; CDATA is text.
public struct XMLElement: Sendable, Equatable {
    public var name: String
    public var children: [XMLElement]
    public var text: String

    /// The first child element named `name`.
    public subscript(_ name: String) -> XMLElement? { children.first { $0.name == name } }

    /// Follows a path of child names: `root.at("Result", "Groups")`.
    public func at(_ names: String...) -> XMLElement? {
        var node: XMLElement? = self
        for name in names { node = node?[name] }
        return node
    }

    /// Every child named `name` (the Query API's `member` lists).
    public func all(_ name: String) -> [XMLElement] { children.filter { $0.name == name } }

    /// Parses a document. - Returns: nil when it is not well formed as far as this reader checks (tags balance).
    public static func parse(_ text: String) -> XMLElement? {
        var reader = Reader(Array(text.utf8))
        return reader.document()
    }

    private struct Reader {
        let bytes: [UInt8]
        var i = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        mutating func document() -> XMLElement? {
            var stack: [XMLElement] = [XMLElement(name: "", children: [], text: "")]
            while i < bytes.count {
                if bytes[i] != UInt8(ascii: "<") {
                    let start = i
                    while i < bytes.count && bytes[i] != UInt8(ascii: "<") { i += 1 }
                    stack[stack.count - 1].text += Self.decode(bytes[start..<i])
                    continue
                }
                if starts("<!--") { skip(past: "-->"); continue }
                if starts("<![CDATA[") {
                    i += 9
                    let start = i
                    skip(past: "]]>")
                    stack[stack.count - 1].text += String(decoding: bytes[start..<max(start, i - 3)], as: UTF8.self)
                    continue
                }
                if starts("<?") { skip(past: "?>"); continue }
                if starts("<!") { skip(past: ">"); continue }
                let closing = i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "/")
                i += closing ? 2 : 1
                let nameStart = i
                while i < bytes.count, !Self.isNameEnd(bytes[i]) { i += 1 }
                let name = String(decoding: bytes[nameStart..<i], as: UTF8.self)
                guard !name.isEmpty else { return nil }
                // Attributes are skipped, quoted values included (a '>' may sit inside one).
                var selfClosing = false
                var quote: UInt8?
                while i < bytes.count {
                    let c = bytes[i]
                    if let q = quote { if c == q { quote = nil } } else if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") { quote = c } else if c == UInt8(ascii: ">") { break }
                    i += 1
                }
                guard i < bytes.count else { return nil }
                selfClosing = bytes[i - 1] == UInt8(ascii: "/")
                i += 1
                if closing {
                    guard stack.count > 1, stack[stack.count - 1].name == name else { return nil }
                    let done = stack.removeLast()
                    stack[stack.count - 1].children.append(done)
                } else if selfClosing {
                    stack[stack.count - 1].children.append(XMLElement(name: name, children: [], text: ""))
                } else {
                    guard stack.count < 256 else { return nil }
                    stack.append(XMLElement(name: name, children: [], text: ""))
                }
            }
            guard stack.count == 1, stack[0].children.count == 1 else { return nil }
            return stack[0].children[0]
        }

        func starts(_ prefix: String) -> Bool {
            let p = Array(prefix.utf8)
            return i + p.count <= bytes.count && Array(bytes[i..<i + p.count]) == p
        }

        mutating func skip(past terminator: String) {
            let t = Array(terminator.utf8)
            while i < bytes.count {
                if i + t.count <= bytes.count && Array(bytes[i..<i + t.count]) == t { i += t.count; return }
                i += 1
            }
        }

        static func isNameEnd(_ c: UInt8) -> Bool {
            c == UInt8(ascii: " ") || c == UInt8(ascii: ">") || c == UInt8(ascii: "/") || c == 9 || c == 10 || c == 13
        }

        static func decode(_ raw: ArraySlice<UInt8>) -> String {
            let text = String(decoding: raw, as: UTF8.self)
            guard text.contains("&") else { return text }
            var out = ""
            var rest = Substring(text)
            while let amp = rest.firstIndex(of: "&") {
                out += rest[..<amp]
                guard let semi = rest[amp...].firstIndex(of: ";"), rest.distance(from: amp, to: semi) <= 10 else {
                    out += "&"
                    rest = rest[rest.index(after: amp)...]
                    continue
                }
                let entity = rest[rest.index(after: amp)..<semi]
                switch entity {
                case "amp": out += "&"
                case "lt": out += "<"
                case "gt": out += ">"
                case "quot": out += "\""
                case "apos": out += "'"
                default:
                    let number = entity.hasPrefix("#x") ? UInt32(entity.dropFirst(2), radix: 16) : entity.hasPrefix("#") ? UInt32(entity.dropFirst()) : nil
                    if let number, let scalar = Unicode.Scalar(number) { out.unicodeScalars.append(scalar) } else { out += "&" + entity + ";" }
                }
                rest = rest[rest.index(after: semi)...]
            }
            return out + rest
        }
    }
}
