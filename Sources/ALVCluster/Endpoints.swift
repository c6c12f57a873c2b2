import ALVTransport

/// Where the broker listens: one host, three ports (fixed defaults 5557/5558/5559).
public struct BrokerEndpoints: Sendable, Equatable {
    public var host: String
    public var workPort: Int
    public var metricsPort: Int
    public var controlPort: Int

    public init(host: String, workPort: Int = 5557, metricsPort: Int = 5558, controlPort: Int = 5559) {
        self.host = host
        self.workPort = workPort
        self.metricsPort = metricsPort
        self.controlPort = controlPort
    }

    public var work: String { "tcp://\(host):\(workPort)" }
    public var metrics: String { "tcp://\(host):\(metricsPort)" }
    public var control: String { "tcp://\(host):\(controlPort)" }

    /// Whether `host` is a loopback address, where plain TCP is allowed.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

/// CURVE settings of a worker: the broker's public key and the worker's own pair.
public struct CurveClientKeys: Sendable, Equatable {
    public var serverPublicKey: String
    public var keys: CurveKeyPair

    public init(serverPublicKey: String, keys: CurveKeyPair) {
        self.serverPublicKey = serverPublicKey
        self.keys = keys
    }

    func apply(to socket: ZMQSocket) throws(ZMQError) {
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

    func apply(to socket: ZMQSocket) throws(ZMQError) {
        try socket.set(ZMQ_CURVE_SERVER_OPTION, 1)
        try socket.set(ZMQ_CURVE_SECRETKEY_OPTION, string: keys.secretKey)
        try socket.set(ZMQ_ZAP_DOMAIN_OPTION, string: "alv")
    }
}

// libzmq option numbers (zmq.h), named here to keep the call sites readable.
let ZMQ_CURVE_SERVER_OPTION: Int32 = 47
let ZMQ_CURVE_PUBLICKEY_OPTION: Int32 = 48
let ZMQ_CURVE_SECRETKEY_OPTION: Int32 = 49
let ZMQ_CURVE_SERVERKEY_OPTION: Int32 = 50
let ZMQ_ZAP_DOMAIN_OPTION: Int32 = 55
let ZMQ_SNDHWM_OPTION: Int32 = 23
let ZMQ_RCVHWM_OPTION: Int32 = 24
let ZMQ_MAXMSGSIZE_OPTION: Int32 = 22
let ZMQ_IMMEDIATE_OPTION: Int32 = 39
