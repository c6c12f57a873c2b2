import Foundation

/// Version of every payload on the wire; receivers drop (and count) other versions.
public let wireVersion = 1

/// Why a received message was dropped. The receiver counts these; it never crashes on input.
public enum WireError: Error, Sendable, Equatable, CustomStringConvertible {
    case wrongFrameCount(Int)
    case unexpectedTopic(String)
    case tooLarge(Int)
    case malformed(String)
    case unknownVersion(Int)
    case topicMismatch(topic: String, kind: String)

    public var description: String {
        switch self {
        case .wrongFrameCount(let n): return "expected 2 frames (topic, payload), got \(n)"
        case .unexpectedTopic(let t): return "unexpected topic \"\(t.prefix(40))\""
        case .tooLarge(let n): return "payload of \(n) bytes exceeds the limit"
        case .malformed(let why): return "malformed payload: \(why)"
        case .unknownVersion(let v): return "unknown payload version \(v)"
        case .topicMismatch(let topic, let kind): return "topic \"\(topic.prefix(40))\" carries a \(kind) message"
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
        case .topicMismatch: return "topic"
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

extension WireCodec {
    /// Topics of the metrics channel that carry worker messages.
    public static let workerTopics: Set<String> = Set(WorkerMessage.Kind.allCases.map(\.rawValue))

    /// Encodes a worker message on its kind's topic: heartbeats and metrics compactly (`BinaryWire`), the
    /// rest as JSON.
    public static func encode(_ message: WorkerMessage) throws -> [[UInt8]] {
        if let compact = BinaryWire.encode(message) { return [Array(message.kind.rawValue.utf8), compact] }
        return try encode(topic: message.kind.rawValue, message)
    }

    /// Decodes a worker message (either encoding) and checks that its topic names its kind (subscribers
    /// filter by topic).
    public static func decodeWorkerMessage(_ frames: [[UInt8]]) throws(WireError) -> WorkerMessage {
        let message: WorkerMessage
        let topic: String
        if frames.count == 2, BinaryWire.isBinary(frames[1]) {
            topic = String(decoding: frames[0], as: UTF8.self)
            guard workerTopics.contains(topic) else { throw .unexpectedTopic(topic) }
            guard frames[1].count <= maximumPayload else { throw .tooLarge(frames[1].count) }
            message = try BinaryWire.decode(frames[1])
        } else {
            (topic, message) = try decode(frames, topics: workerTopics, as: WorkerMessage.self)
        }
        guard topic == message.kind.rawValue else { throw .topicMismatch(topic: topic, kind: message.kind.rawValue) }
        return message
    }
}

/// A payload that carries the wire version in its `v` field.
public protocol VersionedMessage {
    var v: Int { get }
}

extension UnitMessage: VersionedMessage {}
extension WorkerMessage: VersionedMessage {}
extension ControlMessage: VersionedMessage {}
extension BrokerAggregate: VersionedMessage {}
extension PlannerMessage: VersionedMessage {}

private struct Versioned: Decodable { var v: Int }
