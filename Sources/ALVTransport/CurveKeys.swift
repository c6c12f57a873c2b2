/// CURVE settings of a worker: the broker's public key and the worker's own pair.
public struct CurveClientKeys: Sendable, Equatable {
    public var serverPublicKey: String
    public var keys: CurveKeyPair

    public init(serverPublicKey: String, keys: CurveKeyPair) {
        self.serverPublicKey = serverPublicKey
        self.keys = keys
    }

    public func apply(to socket: ZMQSocket) throws(ZMQError) {
        try socket.set(ZMQ_CURVE_SERVERKEY_OPTION, string: serverPublicKey)
        try socket.set(ZMQ_CURVE_PUBLICKEY_OPTION, string: keys.publicKey)
        try socket.set(ZMQ_CURVE_SECRETKEY_OPTION, string: keys.secretKey)
    }
}

/// CURVE settings of the broker: its key pair, the worker public keys it accepts, and the planner keys
/// (which may also send planner messages and start workers that share them).
public struct CurveServerKeys: Sendable, Equatable {
    public var keys: CurveKeyPair
    public var allowedClients: Set<String>
    public var plannerClients: Set<String>

    public init(keys: CurveKeyPair, allowedClients: Set<String>, plannerClients: Set<String> = []) {
        self.keys = keys
        self.allowedClients = allowedClients
        self.plannerClients = plannerClients
    }

    public func apply(to socket: ZMQSocket) throws(ZMQError) {
        try socket.set(ZMQ_CURVE_SERVER_OPTION, 1)
        try socket.set(ZMQ_CURVE_SECRETKEY_OPTION, string: keys.secretKey)
        try socket.set(ZMQ_ZAP_DOMAIN_OPTION, string: "alv")
    }
}

/// The line a launcher writes first on an `alv worker --keys-on-stdin`'s stdin.
public enum KeysLine {
    public static func render(_ keys: CurveClientKeys) -> String {
        "alv-keys server=\(keys.serverPublicKey) public=\(keys.keys.publicKey) secret=\(keys.keys.secretKey)\n"
    }

    /// - Returns: the keys, or nil when `line` is not a keys line with three well-formed keys whose public
    ///   key belongs to the secret one.
    public static func parse(_ line: String) -> CurveClientKeys? {
        let fields = line.split(whereSeparator: \.isWhitespace)
        guard fields.first == "alv-keys", fields.count == 4 else { return nil }
        var values: [String: String] = [:]
        for field in fields.dropFirst() {
            let parts = field.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            values[String(parts[0])] = String(parts[1])
        }
        guard let server = values["server"], let publicKey = values["public"], let secret = values["secret"],
              [server, publicKey, secret].allSatisfy(CurveKeyPair.isValidKey),
              (try? CurveKeyPair.publicKey(ofSecret: secret)) == publicKey else { return nil }
        return CurveClientKeys(serverPublicKey: server, keys: CurveKeyPair(publicKey: publicKey, secretKey: secret))
    }
}

// libzmq option numbers (zmq.h), named here to keep the call sites readable.
public let ZMQ_CURVE_SERVER_OPTION: Int32 = 47
public let ZMQ_CURVE_PUBLICKEY_OPTION: Int32 = 48
public let ZMQ_CURVE_SECRETKEY_OPTION: Int32 = 49
public let ZMQ_CURVE_SERVERKEY_OPTION: Int32 = 50
public let ZMQ_ZAP_DOMAIN_OPTION: Int32 = 55
public let ZMQ_SNDHWM_OPTION: Int32 = 23
public let ZMQ_RCVHWM_OPTION: Int32 = 24
public let ZMQ_MAXMSGSIZE_OPTION: Int32 = 22
public let ZMQ_IMMEDIATE_OPTION: Int32 = 39
