/// A JSON path as users read it: `request_types[1].think_time_ms.min`.
public struct JSONPath: Sendable, Hashable, CustomStringConvertible {
    public enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    public var components: [Component]

    public init(_ components: [Component] = []) {
        self.components = components
    }

    public static let root = JSONPath()

    public func appending(_ key: String) -> JSONPath {
        JSONPath(components + [.key(key)])
    }

    public func appending(_ index: Int) -> JSONPath {
        JSONPath(components + [.index(index)])
    }

    public var description: String {
        if components.isEmpty { return "$" }
        var out = ""
        for component in components {
            switch component {
            case .index(let i):
                out += "[\(i)]"
            case .key(let k):
                if Self.isPlainKey(k) {
                    if !out.isEmpty { out += "." }
                    out += k
                } else {
                    var escaped = ""
                    for ch in k.unicodeScalars {
                        if ch == "\"" || ch == "\\" { escaped.append("\\") }
                        escaped.unicodeScalars.append(ch)
                    }
                    out += "[\"\(escaped)\"]"
                }
            }
        }
        return out
    }

    private static func isPlainKey(_ key: String) -> Bool {
        guard let first = key.unicodeScalars.first, !(("0"..."9").contains(first)) else { return false }
        return key.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-"
        }
    }
}
