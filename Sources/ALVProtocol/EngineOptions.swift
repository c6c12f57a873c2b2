/// HTTP settings of the load engine, carried by every work unit.
/// The defaults are what a load test wants.
public struct EngineOptions: Sendable, Equatable, Codable {
    public enum HTTPVersion: String, Sendable, Codable, CaseIterable {
        /// HTTP/1.1 over TCP or TLS.
        case http1 = "1.1"
        /// HTTP/2 over TLS (ALPN), falling back to 1.1.
        case http2 = "2"
        /// HTTP/2 over clear text, with prior knowledge (no upgrade).
        case h2c
    }

    public var httpVersion: HTTPVersion
    /// Verify TLS certificates and host names (on by default; off for self-signed lab targets).
    public var verifyTLS: Bool
    public var connectTimeoutMs: Int
    /// Default total time per request when the request type sets no `timeout_ms`.
    public var requestTimeoutMs: Int
    /// Open model: connections (and concurrent requests) at most; more arrivals wait for one.
    public var connections: Int
    /// Open model: waiting plus active requests at most, when the vector sets no `max_in_flight`;
    /// arrivals beyond it are counted as dropped.
    public var maxInFlight: Int
    public var followRedirects: Bool
    /// Seconds after the window ends during which requests in flight may still finish.
    public var drainSec: Double
    /// Certificates travel as their PEM text (so a worker on another machine needs no file): the CA bundle
    /// that verifies the target (`--cacert`), and a client certificate and key (`--cert`, `--key`).
    public var caPEM: String?
    public var clientCertPEM: String?
    public var clientKeyPEM: String?
    /// `HOST:PORT:ADDRESS` entries, as curl's `--resolve` means them.
    public var resolve: [String]?

    public init(
        httpVersion: HTTPVersion = .http1, verifyTLS: Bool = true, connectTimeoutMs: Int = 5_000,
        requestTimeoutMs: Int = 30_000, connections: Int = 256, maxInFlight: Int = 10_000, followRedirects: Bool = false,
        drainSec: Double = 5
    ) {
        self.httpVersion = httpVersion
        self.verifyTLS = verifyTLS
        self.connectTimeoutMs = connectTimeoutMs
        self.requestTimeoutMs = requestTimeoutMs
        self.connections = connections
        self.maxInFlight = maxInFlight
        self.followRedirects = followRedirects
        self.drainSec = drainSec
    }

    /// Why a worker cannot use these options (broken or forged), naming the field; nil when it can.
    public var problem: String? {
        guard (1...3_600_000).contains(connectTimeoutMs) else { return "options.connectTimeoutMs must be 1–3600000, got \(connectTimeoutMs)" }
        guard (1...86_400_000).contains(requestTimeoutMs) else { return "options.requestTimeoutMs must be 1–86400000, got \(requestTimeoutMs)" }
        guard (1...1_000_000).contains(connections) else { return "options.connections must be 1–1000000, got \(connections)" }
        guard (1...10_000_000).contains(maxInFlight) else { return "options.maxInFlight must be 1–10000000, got \(maxInFlight)" }
        guard drainSec.isFinite, drainSec >= 0, drainSec <= 3_600 else { return "options.drainSec must be 0–3600, got \(drainSec)" }
        for (name, pem) in [("caPEM", caPEM), ("clientCertPEM", clientCertPEM), ("clientKeyPEM", clientKeyPEM)] {
            guard let pem else { continue }
            guard pem.utf8.count <= Self.maximumPEMBytes, pem.contains("-----BEGIN ") else { return "options.\(name) must be PEM text of at most 1 MiB" }
        }
        if let resolve {
            guard resolve.count <= 100 else { return "options.resolve has \(resolve.count) entries, at most 100" }
            for entry in resolve where Self.resolveProblem(entry) != nil { return "options.resolve: \(Self.resolveProblem(entry)!)" }
        }
        return nil
    }

    public static let maximumPEMBytes = 1 << 20

    /// Why `entry` is not `HOST:PORT:ADDRESS[,ADDRESS…]`; nil when it is.
    public static func resolveProblem(_ entry: String) -> String? {
        let parts = entry.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard entry.utf8.count <= 300, !entry.contains("\0"), parts.count == 3, !parts[0].isEmpty, !parts[2].isEmpty,
              let port = Int(parts[1]), (1...65_535).contains(port)
        else { return "expected HOST:PORT:ADDRESS (curl's --resolve), such as api.example.test:443:127.0.0.1, found \"\(entry)\"" }
        return nil
    }
}
