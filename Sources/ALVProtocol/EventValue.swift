import Foundation

/// One value in an event's `detail`: kept as the type it is, so a JSON reader sees `"index": 0`, not `"0"`.
public enum EventValue: Sendable, Equatable, Hashable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }

    /// A measured number, rounded to `places` decimals; not finite values become strings ("inf", "nan"),
    /// which JSON cannot carry as numbers.
    public static func number(_ value: Double, places: Int = 3) -> EventValue {
        guard value.isFinite else { return .string(String(value)) }
        let scale = pow(10, Double(max(0, min(places, 9))))
        let rounded = (value * scale).rounded() / scale
        if rounded == rounded.rounded(), abs(rounded) < 1e15 { return .int(Int(rounded)) }
        return .double(rounded)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(Bool.self) { self = .bool(v) }
        else if let v = try? c.decode(Int.self) { self = .int(v) }
        else if let v = try? c.decode(Double.self) { self = .double(v) }
        else { self = .string(try c.decode(String.self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let v): try c.encode(v)
        case .int(let v): try c.encode(v)
        case .double(let v): try c.encode(v)
        case .bool(let v): try c.encode(v)
        }
    }

    /// As text, for logs and the live timeline.
    public var description: String {
        switch self {
        case .string(let v): return v
        case .int(let v): return String(v)
        case .double(let v): return String(v)
        case .bool(let v): return String(v)
        }
    }

    /// The value for `JSONSerialization` (a String, Int, Double or Bool).
    public var jsonObject: Any {
        switch self {
        case .string(let v): return v
        case .int(let v): return v
        case .double(let v): return v.isFinite ? v : String(v)
        case .bool(let v): return v
        }
    }

    public var string: String? { if case .string(let v) = self { return v } else { return nil } }
    /// An integer, also from a whole double.
    public var int: Int? {
        switch self {
        case .int(let v): return v
        case .double(let v) where v == v.rounded() && abs(v) < 1e15: return Int(v)
        default: return nil
        }
    }
    public var double: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .double(let v): return v
        default: return nil
        }
    }
}

/// An event's `detail`: named values.
public typealias EventDetail = [String: EventValue]
