import Foundation

/// Why a received message was dropped. The receiver counts these; it never crashes on input.
public enum WireError: Error, Sendable, Equatable, CustomStringConvertible {
    case wrongFrameCount(Int)
    case unexpectedTopic(String)
    case tooLarge(Int)
    case malformed(String)
    case unknownVersion(Int)

    public var description: String {
        switch self {
        case .wrongFrameCount(let n): return "expected 2 frames (topic, payload), got \(n)"
        case .unexpectedTopic(let t): return "unexpected topic \"\(t.prefix(40))\""
        case .tooLarge(let n): return "payload of \(n) bytes exceeds the limit"
        case .malformed(let why): return "malformed payload: \(why)"
        case .unknownVersion(let v): return "unknown payload version \(v)"
        }
    }

    /// A short key for counters.
    public var counterKey: String {
        switch self {
        case .wrongFrameCount: return "frames"
        case .unexpectedTopic: return "topic"
        case .tooLarge: return "too_large"
        case .malformed: return "malformed"
        case .unknownVersion: return "version"
        }
    }
}

/// Multipart messages: a topic frame, then a versioned JSON payload.
public enum WireCodec {
    /// Payloads larger than this are dropped unread (ZMQ_MAXMSGSIZE also caps them at the socket).
    public static let maximumPayload = 16 << 20

    public static func encode<T: Encodable>(topic: String, _ value: T) throws -> [[UInt8]] {
        [Array(topic.utf8), Array(try JSONEncoder().encode(value))]
    }

    /// Decodes a message on one of `topics`.
    /// - Returns: the topic and the value.
    public static func decode<T: Decodable>(_ frames: [[UInt8]], topics: Set<String>, as type: T.Type) throws(WireError) -> (String, T) {
        guard frames.count == 2 else { throw .wrongFrameCount(frames.count) }
        let topic = String(decoding: frames[0], as: UTF8.self)
        guard topics.contains(topic) else { throw .unexpectedTopic(topic) }
        guard frames[1].count <= maximumPayload else { throw .tooLarge(frames[1].count) }
        let data = Data(frames[1])
        // One decode on the normal path; only a payload that does not decode is read again, to tell a
        // newer sender ("version") from a broken one ("malformed").
        do {
            let value = try JSONDecoder().decode(T.self, from: data)
            if let versioned = value as? any VersionedMessage, versioned.v != wireVersion { throw WireError.unknownVersion(versioned.v) }
            return (topic, value)
        } catch let error as WireError {
            throw error
        } catch {
            if let versioned = try? JSONDecoder().decode(Versioned.self, from: data), versioned.v != wireVersion {
                throw .unknownVersion(versioned.v)
            }
            throw .malformed(String(describing: error).prefix(200).description)
        }
    }
}

/// A payload that carries the wire version in its `v` field.
public protocol VersionedMessage {
    var v: Int { get }
}

extension UnitMessage: VersionedMessage {}
extension WorkerMessage: VersionedMessage {}
extension ControlMessage: VersionedMessage {}

private struct Versioned: Decodable { var v: Int }
