import ALVModel
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

    /// Whether `host` is a loopback address, where plain TCP is allowed (parsed: `NetworkAddress`).
    public static func isLoopback(_ host: String) -> Bool { NetworkAddress.isLoopback(host) }
}
