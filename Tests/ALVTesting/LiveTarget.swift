import ALVTarget
import Foundation

/// The built-in target on a free loopback port, stopped when released, pass or fail.
public final class LiveTarget {
    public let server: TargetServer

    public init(_ configuration: TargetConfiguration = TargetConfiguration(), threads: Int = 1) throws {
        server = try TargetServer(host: "127.0.0.1", port: 0, configuration: configuration, threads: threads)
    }

    deinit {
        server.stop()
    }

    public var url: String { server.url }
    public var stats: TargetStats { server.stats }
}
