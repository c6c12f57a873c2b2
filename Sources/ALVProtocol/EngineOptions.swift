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
        return nil
    }
}
