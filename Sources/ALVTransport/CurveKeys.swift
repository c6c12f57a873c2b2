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

/// CURVE settings of the broker: its key pair and the worker public keys it accepts.
public struct CurveServerKeys: Sendable, Equatable {
    public var keys: CurveKeyPair
    public var allowedClients: Set<String>

    public init(keys: CurveKeyPair, allowedClients: Set<String>) {
        self.keys = keys
        self.allowedClients = allowedClients
    }

    public func apply(to socket: ZMQSocket) throws(ZMQError) {
        try socket.set(ZMQ_CURVE_SERVER_OPTION, 1)
        try socket.set(ZMQ_CURVE_SECRETKEY_OPTION, string: keys.secretKey)
        try socket.set(ZMQ_ZAP_DOMAIN_OPTION, string: "alv")
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
