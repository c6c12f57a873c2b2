import CZmq

/// A libzmq failure with errno, libzmq's message and what was being done.
public struct ZMQError: Error, Sendable, CustomStringConvertible {
    public var errno: Int32
    public var operation: String

    public var description: String { "ZeroMQ \(operation): \(String(cString: zmq_strerror(errno))) (errno \(errno))" }

    static func last(_ operation: String) -> ZMQError { ZMQError(errno: zmq_errno(), operation: operation) }
}

/// A ZeroMQ context; one per process, shared by every socket.
public final class ZMQContext: Sendable {
    // The raw pointer is only handed to libzmq, whose context is thread-safe.
    nonisolated(unsafe) let handle: UnsafeMutableRawPointer

    public init() {
        handle = zmq_ctx_new()
    }

    deinit {
        zmq_ctx_term(handle)
    }
}

/// One ZeroMQ socket, created and used on one thread, closed in `deinit`. Linger is 0 unless `setLinger`
/// bounds it: a socket whose last messages matter (a worker's metrics and goodbye) keeps them that long.
public final class ZMQSocket {
    public enum Kind: Int32 {
        case push = 8, pull = 7, pub = 1, sub = 2, xpub = 9, xsub = 10, rep = 4, req = 3, router = 6, dealer = 5, pair = 0
    }

    let handle: UnsafeMutableRawPointer
    public let kind: Kind
    let context: ZMQContext

    public init(_ context: ZMQContext, _ kind: Kind) throws(ZMQError) {
        guard let handle = zmq_socket(context.handle, kind.rawValue) else { throw .last("socket") }
        self.handle = handle
        self.kind = kind
        self.context = context
        try set(ZMQ_LINGER, 0)
    }

    deinit {
        zmq_close(handle)
    }

    /// How long messages still queued when the socket closes are kept for delivery (the context's end waits).
    public func setLinger(ms: Int32) throws(ZMQError) { try set(ZMQ_LINGER, ms) }

    public func set(_ option: Int32, _ value: Int32) throws(ZMQError) {
        var v = value
        if zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size) != 0 { throw .last("setsockopt \(option)") }
    }

    public func set(_ option: Int32, int64 value: Int64) throws(ZMQError) {
        var v = value
        if zmq_setsockopt(handle, option, &v, MemoryLayout<Int64>.size) != 0 { throw .last("setsockopt \(option)") }
    }

    public func set(_ option: Int32, bytes: [UInt8]) throws(ZMQError) {
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        if rc != 0 { throw .last("setsockopt \(option)") }
    }

    public func set(_ option: Int32, string: String) throws(ZMQError) {
        try set(option, bytes: Array(string.utf8))
    }

    /// Subscribes a SUB socket to every topic starting with `prefix`.
    public func subscribe(_ prefix: String = "") throws(ZMQError) {
        try set(ZMQ_SUBSCRIBE, string: prefix)
    }

    /// Binds, returning the endpoint actually bound (the port, when asked for `:0` or `*`).
    @discardableResult
    public func bind(_ endpoint: String) throws(ZMQError) -> String {
        if zmq_bind(handle, endpoint) != 0 { throw .last("bind \(endpoint)") }
        var buffer = [CChar](repeating: 0, count: 256)
        var size = buffer.count
        zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size)
        return cString(buffer)
    }

    /// Handshakes that failed before authentication: a peer with another security mechanism (plain TCP to a
    /// CURVE socket) or a broken greeting. ZAP refusals are counted by the ZAP handler.
    public static let handshakeFailureEvents = Int32(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)

    /// A connection's handshake completed (with CURVE: the peer also admitted this socket's key).
    public static let handshakeSucceededEvent = Int32(ZMQ_EVENT_HANDSHAKE_SUCCEEDED)

    /// Publishes this socket's `events` on `endpoint` (inproc) for a PAIR socket to read.
    public func monitor(_ endpoint: String, events: Int32) throws(ZMQError) {
        if zmq_socket_monitor(handle, endpoint, events) != 0 { throw .last("socket_monitor \(endpoint)") }
    }

    public func connect(_ endpoint: String) throws(ZMQError) {
        if zmq_connect(handle, endpoint) != 0 { throw .last("connect \(endpoint)") }
    }

    /// Disconnects from `endpoint` (a PUSH peer then stops routing messages here).
    public func disconnect(_ endpoint: String) throws(ZMQError) {
        if zmq_disconnect(handle, endpoint) != 0 { throw .last("disconnect \(endpoint)") }
    }

    /// Sends a multipart message.
    /// - Returns: false when `dontWait` is set and the message could not be queued (high-water mark).
    @discardableResult
    public func send(_ frames: [[UInt8]], dontWait: Bool = false) throws(ZMQError) -> Bool {
        for (index, frame) in frames.enumerated() {
            var flags: Int32 = dontWait ? ZMQ_DONTWAIT : 0
            if index < frames.count - 1 { flags |= ZMQ_SNDMORE }
            let rc = frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) }
            if rc < 0 {
                if zmq_errno() == EAGAIN && index == 0 { return false }
                throw .last("send")
            }
        }
        return true
    }

    /// Receives one multipart message; nil when `dontWait` is set and none is waiting.
    public func receive(dontWait: Bool = false) throws(ZMQError) -> [[UInt8]]? {
        try receiveWithUserID(dontWait: dontWait)?.frames
    }

    /// Receives one multipart message with the User-Id the ZAP handler gave its connection ("" without one).
    public func receiveWithUserID(dontWait: Bool = false) throws(ZMQError) -> (frames: [[UInt8]], userID: String)? {
        var frames: [[UInt8]] = []
        var userID = ""
        while true {
            var message = zmq_msg_t()
            zmq_msg_init(&message)
            defer { zmq_msg_close(&message) }
            let rc = zmq_msg_recv(&message, handle, dontWait ? ZMQ_DONTWAIT : 0)
            if rc < 0 {
                if zmq_errno() == EAGAIN && frames.isEmpty { return nil }
                throw .last("receive")
            }
            // The first frame a peer sent carries it; a ROUTER's routing-id frame is made here and has none.
            if userID.isEmpty, frames.count < 2, let property = zmq_msg_gets(&message, "User-Id") { userID = String(cString: property) }
            let size = zmq_msg_size(&message)
            if size > 0, let data = zmq_msg_data(&message) {
                frames.append(Array(UnsafeRawBufferPointer(start: data, count: size)))
            } else {
                frames.append([])
            }
            if zmq_msg_more(&message) == 0 { return (frames, userID) }
        }
    }
}

/// Waits on several sockets at once.
public enum ZMQPoller {
    /// - Returns: for each socket, whether it has a message to read.
    public static func readable(_ sockets: [ZMQSocket], timeoutMs: Int) -> [Bool] {
        var items = sockets.map { zmq_pollitem_t(socket: $0.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0) }
        let rc = zmq_poll(&items, Int32(items.count), timeoutMs)
        guard rc > 0 else { return Array(repeating: false, count: sockets.count) }
        return items.map { $0.revents & Int16(ZMQ_POLLIN) != 0 }
    }
}

/// CURVE key pairs in Z85 text (40 characters each).
public struct CurveKeyPair: Sendable, Equatable {
    public var publicKey: String
    public var secretKey: String

    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// A fresh key pair from libzmq.
    public static func generate() throws(ZMQError) -> CurveKeyPair {
        var publicKey = [CChar](repeating: 0, count: 41)
        var secretKey = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicKey, &secretKey) == 0 else { throw .last("curve_keypair (is libzmq built with CURVE?)") }
        return CurveKeyPair(publicKey: cString(publicKey), secretKey: cString(secretKey))
    }

    /// The public key of a Z85 secret key.
    public static func publicKey(ofSecret secret: String) throws(ZMQError) -> String {
        var publicKey = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&publicKey, secret) == 0 else { throw .last("curve_public") }
        return cString(publicKey)
    }

    /// Z85 text of a 32-byte binary key (as ZAP hands it over).
    public static func z85(_ key: [UInt8]) -> String? {
        guard key.count == 32 else { return nil }
        var text = [CChar](repeating: 0, count: 41)
        let ok = key.withUnsafeBufferPointer { zmq_z85_encode(&text, $0.baseAddress, 32) != nil }
        return ok ? cString(text) : nil
    }

    public static func isValidKey(_ text: String) -> Bool {
        text.utf8.count == 40 && text.allSatisfy { $0.isASCII && !$0.isWhitespace }
    }
}

/// The text of a NUL-terminated C buffer.
func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
