/// How substituted values are escaped for the place they land in.
public enum TemplateEscaping: String, Sendable, CaseIterable {
    /// Inside a JSON string: `"`, `\` and control characters are escaped.
    case json
    /// XML text or attribute value: `&`, `<`, `>`, `"`, `'` become entities; other control characters are dropped.
    case xml
    /// A URL: everything but RFC 3986 unreserved characters is percent-encoded.
    case url
    /// An HTTP header value: CR and LF become spaces, so a value cannot start a new header.
    case header
    /// Raw bytes (plain-text bodies).
    case none

    /// Picks the escaping for a body from its Content-Type header, or, without one, from its first character.
    public static func forBody(contentType: String?, template: String) -> TemplateEscaping {
        if let type = contentType?.lowercased() {
            if type.contains("json") { return .json }
            if type.contains("xml") { return .xml }
            if type.contains("x-www-form-urlencoded") { return .url }
            return .none
        }
        switch template.unicodeScalars.first(where: { !$0.properties.isWhitespace }) {
        case "{", "[": return .json
        case "<": return .xml
        default: return .none
        }
    }

    /// Appends `value` escaped for this context.
    public func append<S: Sequence<UInt8>>(_ value: S, to out: inout [UInt8]) {
        switch self {
        case .none:
            out.append(contentsOf: value)
        case .header:
            for b in value { out.append(b == 0x0D || b == 0x0A ? 0x20 : b) }
        case .json:
            for b in value {
                switch b {
                case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
                case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                case 0..<0x20:
                    out.append(contentsOf: Array("\\u00".utf8))
                    out.append(Self.hexDigits[Int(b >> 4)])
                    out.append(Self.hexDigits[Int(b & 0xF)])
                default: out.append(b)
                }
            }
        case .xml:
            for b in value {
                switch b {
                case UInt8(ascii: "&"): out.append(contentsOf: Array("&amp;".utf8))
                case UInt8(ascii: "<"): out.append(contentsOf: Array("&lt;".utf8))
                case UInt8(ascii: ">"): out.append(contentsOf: Array("&gt;".utf8))
                case UInt8(ascii: "\""): out.append(contentsOf: Array("&quot;".utf8))
                case UInt8(ascii: "'"): out.append(contentsOf: Array("&apos;".utf8))
                case 0x09, 0x0A, 0x0D: out.append(contentsOf: Array("&#\(b);".utf8))
                case 0..<0x20: break  // not allowed in XML 1.0 at all
                default: out.append(b)
                }
            }
        case .url:
            for b in value {
                switch b {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                    UInt8(ascii: "_"), UInt8(ascii: "~"):
                    out.append(b)
                default:
                    out.append(UInt8(ascii: "%"))
                    out.append(Self.hexDigits[Int(b >> 4)])
                    out.append(Self.hexDigits[Int(b & 0xF)])
                }
            }
        }
    }

    /// `value` escaped for this context, as bytes.
    public func escaped(_ value: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count)
        append(value.utf8, to: &out)
        return out
    }

    static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)
}
