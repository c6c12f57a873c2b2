import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The built-in HTTP target for demos, tests and benchmarks, on SwiftNIO.
///
/// Every path answers `{"ok":true}` (after the configured latency, or with an injected error);
/// `/echo` returns the request; `POST /login`, `GET /me` and `GET /cart` are a login flow (`TargetSessions`); `GET /__stats` counts requests per method and path and per client address;
/// `GET /__bodies` returns recorded bodies. Paths under `/__` are not counted.
public final class TargetServer: Sendable {
    public let stats: TargetStats
    /// The login routes' state and counts.
    public let sessions: TargetSessions
    public let configuration: TargetConfiguration
    /// The bound port (useful when asked for port 0).
    public let port: Int
    public let host: String
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel

    /// Binds and starts serving.
    /// - Parameters:
    ///   - threads: event loop threads (default: one per core).
    /// - Throws: when the address cannot be bound.
    public init(host: String = "127.0.0.1", port: Int, configuration: TargetConfiguration, threads: Int = System.coreCount) throws {
        let stats = TargetStats(bodyLimit: configuration.recordBodies)
        let sessions = TargetSessions()
        let started = NIODeadline.now()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(TargetHandler(configuration: configuration, stats: stats, sessions: sessions, started: started))
                }
            }
        do {
            channel = try bootstrap.bind(host: host, port: port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
        self.group = group
        self.stats = stats
        self.sessions = sessions
        self.configuration = configuration
        self.host = host
        self.port = channel.localAddress?.port ?? port
    }

    public var url: String { "http://\(host):\(port)" }

    /// Stops accepting and closes every connection.
    public func stop() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    /// Blocks until the server channel closes.
    public func wait() {
        try? channel.closeFuture.wait()
    }
}

final class TargetHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let configuration: TargetConfiguration
    let stats: TargetStats
    let sessions: TargetSessions
    let started: NIODeadline
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    /// The client's IP address, read once per connection.
    private var client = "?"

    init(configuration: TargetConfiguration, stats: TargetStats, sessions: TargetSessions, started: NIODeadline) {
        self.configuration = configuration
        self.stats = stats
        self.sessions = sessions
        self.started = started
    }

    func channelActive(context: ChannelHandlerContext) {
        client = context.remoteAddress?.ipAddress ?? "?"
        stats.connected()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = nil
        case .body(var chunk):
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
        case .end:
            guard let head else { return }
            respond(context: context, head: head)
            self.head = nil
            body = nil
        }
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let uri = head.uri
        let path = uri.firstIndex(of: "?").map { String(uri[..<$0]) } ?? uri
        let method = head.method.rawValue
        let bodyText = body.map { String(buffer: $0) } ?? ""

        if path.hasPrefix("/__") {
            switch path {
            case "/__stats":
                let sessions = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(self.sessions.counts))) ?? [:]
                send(context: context, head: head, status: 200, json: Self.json(["total": stats.total, "requests": stats.counts, "clients": stats.clients, "connections": stats.connections, "sessions": sessions]))
            case "/__bodies": send(context: context, head: head, status: 200, json: Self.encode(stats.bodies))
            case "/__health": send(context: context, head: head, status: 200, json: "{\"ok\":true}")
            default: send(context: context, head: head, status: 404, json: "{\"error\":\"unknown\"}")
            }
            return
        }
        stats.count(method: method, path: path, client: client, at: Date().timeIntervalSince1970)
        if configuration.recordBodies > 0 {
            stats.record(.init(method: method, path: path, contentType: head.headers.first(name: "content-type"), body: bodyText))
        }
        let elapsed = Double((NIODeadline.now() - started).nanoseconds) / 1e9
        let stats = self.stats
        var (delayMs, status) = configuration.decide(method: method, path: path, elapsed: elapsed) { stats.routeStarted($0, elapsed: elapsed) }
        let payload: String
        var extraHeaders: [(String, String)] = []
        if status == 200, let session = sessions.respond(method: method, path: path, headers: head.headers.map { ($0.name, $0.value) }, body: bodyText) {
            (status, payload, extraHeaders) = (session.status, session.json, session.headers)
        } else if status != 200 {
            payload = "{\"error\":\"injected\",\"status\":\(status)}"
        } else if path == "/echo" || path.hasPrefix("/echo/") {
            var headers: [String: String] = [:]
            for (name, value) in head.headers { headers[name.lowercased()] = value }
            let query = uri.firstIndex(of: "?").map { String(uri[uri.index(after: $0)...]) } ?? ""
            payload = Self.json(["method": method, "path": path, "query": query, "headers": headers, "body": bodyText])
        } else {
            payload = "{\"ok\":true}"
        }
        if delayMs <= 0 {
            send(context: context, head: head, status: status, json: payload, extraHeaders: extraHeaders)
        } else {
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let status = status, extra = extraHeaders
            context.eventLoop.scheduleTask(in: .microseconds(Int64(delayMs * 1000))) {
                let (handler, context) = loopBound.value
                handler.send(context: context, head: head, status: status, json: payload, extraHeaders: extra)
            }
        }
    }

    private func send(context: ChannelHandlerContext, head: HTTPRequestHead, status: Int, json: String, extraHeaders: [(String, String)] = []) {
        guard context.channel.isActive else { return }
        var headers = HTTPHeaders()
        for (name, value) in extraHeaders { headers.add(name: name, value: value) }
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(json.utf8.count))
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let responseHead = HTTPResponseHead(version: head.version, status: HTTPResponseStatus(statusCode: status), headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: json.utf8.count)
        buffer.writeString(json)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let done = context.writeAndFlushPromise()
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        if !keepAlive {
            let channel = context.channel
            done.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    static func json(_ object: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    static func encode<T: Encodable>(_ value: T) -> String {
        guard let data = try? JSONEncoder().encode(value) else { return "[]" }
        return String(decoding: data, as: UTF8.self)
    }
}

extension ChannelHandlerContext {
    func writeAndFlushPromise() -> EventLoopPromise<Void> { eventLoop.makePromise() }
}
