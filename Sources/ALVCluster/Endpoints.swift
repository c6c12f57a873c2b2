import Foundation
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
    /// An address is parsed, not matched by prefix: `127.evil.example` is a name, not loopback.
    public static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" { return true }
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if inet_pton(AF_INET6, bare, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { bytes in bytes.prefix(15).allSatisfy { $0 == 0 } && bytes[15] == 1 }
        }
        return false
    }
}
