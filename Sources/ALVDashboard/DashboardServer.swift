import ALVPrometheus
import ALVProtocol
import ALVMetrics
import ALVReport
import ALVModel
import ALVStore
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The live dashboard, HTTP API and Prometheus endpoint, on SwiftNIO.
///
/// `GET /` the live page (Server-Sent Events from `/events`, charts drawn by the reports' SVG code,
/// no script from anywhere else); `GET /runs/ID` a stored run's HTML report; `GET /api/status`,
/// `/api/runs`, `/api/runs/ID` (the JSON report); `GET /metrics` Prometheus text.
/// Every path but the page itself (which holds no data) needs the token as `Authorization: Bearer`, on
/// loopback too: any local user can reach 127.0.0.1.
public final class DashboardServer: Sendable {
    public let feed: LiveFeed
    public let port: Int
    public let host: String
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let store: StoreAccess

    /// - Parameters:
    ///   - database: the SQLite file runs are read from.
    ///   - token: required on every request but `GET /`, as `Authorization: Bearer TOKEN`.
    ///   - dataDirectory: the one directory whose files a posted vector's data files may name, by relative
    ///     path (default: `data/` beside the database).
    ///   - launcher: where `POST /api/runs` starts runs (`alv serve`); nil refuses them.
    public init(host: String, port: Int, database: String, token: String, feed: LiveFeed, dataDirectory: String? = nil, launcher: RunLauncher? = nil) throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let bound = BoundPort()
        let data = dataDirectory ?? ((database as NSString).deletingLastPathComponent.isEmpty ? "data" : (database as NSString).deletingLastPathComponent + "/data")
        let store = StoreAccess(database: database)
        let context = DashboardContext(
            feed: feed, store: store, token: token, host: host, port: bound,
            dataDirectory: URL(fileURLWithPath: data).standardizedFileURL.path, launcher: launcher)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // What one client may have waiting to be sent: an event stream that cannot keep up skips ticks.
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 128 << 10, high: 512 << 10))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(DashboardHandler(context: context))
                }
            }
        do {
            channel = try bootstrap.bind(host: host, port: port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            store.shutdown()
            throw error
        }
        self.store = store
        self.group = group
        self.feed = feed
        self.host = host
        self.port = channel.localAddress?.port ?? port
        bound.value.store(self.port, ordering: .relaxed)
    }

    public var url: String { "http://\(host):\(port)/" }

    public func stop() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
        store.shutdown()
    }
}

/// The port actually bound, known once the listening socket exists (before any connection).
final class BoundPort: Sendable {
    let value = Atomic<Int>(0)
}

/// Open connections, against a cap: a client that opens a thousand and sends half a request each must not
/// take the dashboard (or the run's file descriptors) with it.
final class ConnectionCount: Sendable {
    let open = Atomic<Int>(0)
    static let maximum = 256
    /// A request must arrive whole within this many seconds of the connection or of its first byte.
    static let requestSeconds: Int64 = 10
    /// A connection with no request in flight (and no event stream) is closed after this many seconds.
    static let idleSeconds: Int64 = 30
}

struct DashboardContext: Sendable {
    let feed: LiveFeed
    let store: StoreAccess
    let token: String
    /// The address the dashboard was bound to.
    let host: String
    let port: BoundPort
    /// Posted vectors' data files are read from here only (relative paths, links not leaving it).
    let dataDirectory: String
    let launcher: RunLauncher?
    let connections = ConnectionCount()

    /// Host headers a request may carry: the bound address and port, and for loopback its other names. A
    /// page on another site that rebinds its own name to 127.0.0.1 sends its own name and is refused. Bound
    /// to every interface, any name goes (the token still guards it).
    func allows(hostHeader: String?) -> Bool {
        guard let header = hostHeader?.lowercased(), !header.isEmpty else { return false }
        if host == "0.0.0.0" || host == "::" { return true }
        let port = self.port.value.load(ordering: .relaxed)
        var names = [host.lowercased()]
        if NetworkAddress.isLoopback(host) { names += ["localhost", "127.0.0.1", "[::1]"] }
        if host.contains(":") && !host.hasPrefix("[") { names.append("[\(host.lowercased())]") }
        return names.contains { header == "\($0):\(port)" || (port == 80 && header == $0) }
    }

    /// Whether `origin` (the Origin header of a state-changing request) is this dashboard itself.
    func allows(origin: String?) -> Bool {
        guard let origin else { return true }  // not a browser (curl, scripts)
        guard origin.hasPrefix("http://") else { return false }
        return allows(hostHeader: String(origin.dropFirst("http://".count)))
    }
}

/// Compares two secrets in time that depends only on their lengths.
func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    guard x.count == y.count else { return false }
    var difference: UInt8 = 0
    for i in x.indices { difference |= x[i] ^ y[i] }
    return difference == 0
}

final class DashboardHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let context: DashboardContext
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var ticker: RepeatedTask?
    /// Closes the connection when a request does not arrive whole in time, or when it sits idle.
    private var deadline: Scheduled<Void>?
    private var counted = false
    /// Request bodies above this are refused (vectors and profiles are small).
    static let maximumBody = 1 << 20

    init(context: DashboardContext) {
        self.context = context
    }

    func channelActive(context ctx: ChannelHandlerContext) {
        let open = context.connections.open.wrappingAdd(1, ordering: .relaxed).newValue
        counted = true
        if open > ConnectionCount.maximum {
            ctx.close(promise: nil)
            return
        }
        closeUnlessDone(ctx, within: ConnectionCount.requestSeconds)
        ctx.fireChannelActive()
    }

    private func closeUnlessDone(_ ctx: ChannelHandlerContext, within seconds: Int64) {
        deadline?.cancel()
        let channel = ctx.channel
        deadline = ctx.eventLoop.scheduleTask(in: .seconds(seconds)) { channel.close(promise: nil) }
    }

    func channelRead(context ctx: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
            closeUnlessDone(ctx, within: ConnectionCount.requestSeconds)
        case .body(let chunk):
            if body.count <= Self.maximumBody { body += chunk.readableBytesView.prefix(Self.maximumBody + 1 - body.count) }
        case .end:
            deadline?.cancel()
            if let head { route(ctx, head) }
            head = nil
            body = []
            // An event stream lives as long as its client; any other connection may wait for its next request.
            if ticker == nil { closeUnlessDone(ctx, within: ConnectionCount.idleSeconds) }
        }
    }

    func channelInactive(context ctx: ChannelHandlerContext) {
        ticker?.cancel()
        deadline?.cancel()
        if counted {
            context.connections.open.wrappingSubtract(1, ordering: .relaxed)
            counted = false
        }
        ctx.fireChannelInactive()
    }

    private func route(_ ctx: ChannelHandlerContext, _ head: HTTPRequestHead) {
        let parts = head.uri.split(separator: "?", maxSplits: 1)
        let path = String(parts.first ?? "/")
        let query = parts.count > 1 ? String(parts[1]) : ""
        guard context.allows(hostHeader: head.headers.first(name: "host")) else {
            return send(ctx, head, 421, "text/plain", "this dashboard answers to \(context.host):\(context.port.value.load(ordering: .relaxed)) only (Host header)\n")
        }
        // The page holds no data (it fetches everything with the token it reads from its own URL's fragment).
        if !(path == "/" && head.method == .GET) {
            // The token as a header, or as the session cookie `POST /session` set (HttpOnly, SameSite=Strict: a
            // page on another site never sends it) so that plain links and forms work.
            let given = head.headers.first(name: "authorization").flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
                ?? Self.sessionCookie(head.headers)
            guard let given, constantTimeEqual(given, context.token) else {
                return send(ctx, head, 401, "text/plain", "this dashboard needs its token as Authorization: Bearer TOKEN (printed with its URL as #token=…, or the first line of --dashboard-token-file)\n")
            }
        }
        if head.method != .GET && head.method != .HEAD {
            // A page on another site may POST here (a "simple" request needs no preflight): only this
            // dashboard's own pages, or clients that send no Origin, and only JSON.
            guard context.allows(origin: head.headers.first(name: "origin")) else {
                return send(ctx, head, 403, "text/plain", "cross-origin requests are refused (Origin \(head.headers.first(name: "origin") ?? ""))\n")
            }
            guard head.headers.first(name: "content-type")?.lowercased().hasPrefix("application/json") == true else {
                return send(ctx, head, 415, "text/plain", "POST bodies must be Content-Type: application/json\n")
            }
        }
        if head.method == .POST && path == "/session" {
            var headers = HTTPHeaders()
            headers.add(name: "Set-Cookie", value: "alv_session=\(context.token); Path=/; Max-Age=43200; HttpOnly; SameSite=Strict")
            return send(ctx, head, 204, "text/plain", "", extraHeaders: headers)
        }
        if head.method == .POST && (path == "/api/runs" || path == "/api/runs/stop") {
            return launch(ctx, head, stop: path == "/api/runs/stop")
        }
        if head.method == .POST && (path == "/api/vectors" || path == "/api/profiles") {
            return addDocument(ctx, head, kind: path == "/api/vectors" ? .vector : .profile)
        }
        guard head.method == .GET else { return send(ctx, head, 405, "text/plain", "GET, or POST to /api/vectors and /api/profiles\n") }
        if path == "/api/vectors" || path == "/api/profiles" || path.hasPrefix("/api/vectors/") || path.hasPrefix("/api/profiles/") {
            return readDocuments(ctx, head, path: path)
        }
        if path.hasPrefix("/api/runs/") && path.hasSuffix("/series") {
            let id = String(path.dropFirst("/api/runs/".count).dropLast("/series".count))
            let parameters = ServePages.parameters(query)
            let step = parameters["step"].flatMap(Int64.init) ?? 1
            let from = parameters["from"].flatMap(Int64.init), to = parameters["to"].flatMap(Int64.init)
            guard step >= 1 && step <= 86_400 else {
                return send(ctx, head, 400, "application/json", Self.json(["error": "step expects whole seconds from 1 to 86400"]))
            }
            return withStore(ctx, head) { store in
                guard try store.run(id == "latest" ? (try store.runIDs(limit: 1).first ?? id) : id) != nil else { throw ReportError.notFound(id, known: try store.runIDs(limit: 5)) }
                let runID = id == "latest" ? try store.runIDs(limit: 1).first ?? id : id
                return ("application/json", Self.json(try Self.series(store, run: runID, step: step, from: from, to: to)))
            }
        }
        if path.hasPrefix("/api/runs/") && path.hasSuffix("/events") {
            let id = String(path.dropFirst("/api/runs/".count).dropLast("/events".count))
            return withStore(ctx, head) { store in
                let report = try RunReport.load(run: id, from: store)
                let events = report.summary.events.map { ["at": $0.at, "kind": $0.kind, "detail": $0.detail.mapValues(\.jsonObject)] as [String: Any] }
                return ("application/json", Self.json(["run_id": report.summary.runID, "events": events]))
            }
        }
        switch path {
        case "/":
            // With a valid session cookie the page comes with its first frame; without, it holds no data.
            let session = Self.sessionCookie(head.headers).map { constantTimeEqual($0, context.token) } ?? false
            send(ctx, head, 200, "text/html; charset=utf-8", session ? DashboardPage.withFirstFrame(context.feed.tick().payload) : DashboardPage.html)
        case "/runs":
            let parameters = ServePages.parameters(query)
            let launching = context.launcher != nil
            answer(ctx, head) { access in
                let repository = try access.repository()
                let documents = launching ? try repository.latest(.profile).map { "profile \($0.id)" } + repository.latest(.vector).map { "vector \($0.id)" } : nil
                return (200, "text/html; charset=utf-8", try ServePages.runs(try access.store(), query: parameters, startable: documents))
            }
        case "/repository":
            answer(ctx, head) { (200, "text/html; charset=utf-8", try RepositoryPages.list(try $0.repository())) }
        case _ where path.hasPrefix("/repository/vector/") || path.hasPrefix("/repository/profile/"):
            let kind: DocumentKind = path.hasPrefix("/repository/vector/") ? .vector : .profile
            let id = String(path.dropFirst("/repository/\(kind.rawValue)/".count))
            let parameters = ServePages.parameters(query)
            answer(ctx, head) { access in
                guard let page = try RepositoryPages.document(try access.repository(), kind: kind, id: id, query: parameters) else {
                    return (404, "text/plain", "no \(kind.rawValue) \"\(id)\"\n")
                }
                return (200, "text/html; charset=utf-8", page)
            }
        case "/compare":
            let parameters = ServePages.parameters(query)
            guard let a = parameters["a"], let b = parameters["b"], !a.isEmpty, !b.isEmpty else {
                return send(ctx, head, 400, "text/plain", "compare needs ?a=RUN&b=BASELINE\n")
            }
            withStore(ctx, head) { store in
                let (run, baseline) = (try RunReport.load(run: a, from: store), try RunReport.load(run: b, from: store))
                return ("text/html; charset=utf-8", ComparisonReport.html(RunComparison(run: run, baseline: baseline), run: run, baseline: baseline))
            }
        case "/events": startEvents(ctx, head, once: query.split(separator: "&").contains("once=1"))
        case "/metrics": send(ctx, head, 200, "text/plain; version=0.0.4", LiveSeries.render(context.feed))
        case "/api/status": send(ctx, head, 200, "application/json", statusJSON())
        case "/api/runs":
            withStore(ctx, head) { store in
                let ids = try store.runIDs(limit: 100)
                let runs = try ids.compactMap { try store.run($0) }.map { ["run_id": $0.runID, "started_at": $0.startedAt, "ended_at": $0.endedAt ?? NSNull(), "status": $0.status, "target": $0.target ?? NSNull(), "profile_id": $0.profileID ?? NSNull()] as [String: Any] }
                return ("application/json", Self.json(["runs": runs]))
            }
        default:
            if path.hasPrefix("/api/runs/") {
                let id = String(path.dropFirst("/api/runs/".count))
                withStore(ctx, head) { ("application/json", try ReportFormat.json.render(try RunReport.load(run: id, from: $0))) }
            } else if path.hasPrefix("/runs/") {
                let id = String(path.dropFirst("/runs/".count))
                withStore(ctx, head) { ("text/html; charset=utf-8", try ReportFormat.html.render(try RunReport.load(run: id, from: $0))) }
            } else {
                send(ctx, head, 404, "text/plain", "not found\n")
            }
        }
    }

    /// A run's series in buckets of `step` seconds within [from, to): counts summed, latency histograms merged
    /// exactly (so a bucket's percentiles are true percentiles), all request types together.
    static func series(_ store: MetricsStore, run: String, step: Int64, from: Int64?, to: Int64?) throws -> [String: Any] {
        var buckets: [Int64: RequestMetrics] = [:]
        try store.series(run: run) { point in
            if let from, point.second < from { return }
            if let to, point.second >= to { return }
            let bucket = point.second - ((point.second % step) + step) % step
            buckets[bucket, default: RequestMetrics()].merge(point.metrics)
        }
        let points: [[String: Any]] = buckets.keys.sorted().map { second in
            let m = buckets[second]!
            let failed = m.outcomes[.status4xx] + m.outcomes[.status5xx] + m.outcomes.errors
            let p = m.latency.values(atPercentiles: [50, 90, 95, 99]).map { Double($0) / 1000 }
            return ["second": second, "requests": m.requestsTotal, "rate": Double(m.requestsTotal) / Double(step), "failed": failed,
                    "p50_ms": p[0], "p90_ms": p[1], "p95_ms": p[2], "p99_ms": p[3], "max_ms": Double(m.latency.value(atPercentile: 100)) / 1000]
        }
        return ["run_id": run, "step_sec": step, "points": points]
    }

    /// Answers from the store, on the store's own thread (`StoreAccess`); the answer is sent from the event loop.
    private func withStore(_ ctx: ChannelHandlerContext, _ head: HTTPRequestHead, _ body: @escaping @Sendable (MetricsStore) throws -> (String, String)) {
        answer(ctx, head) { access in
            do {
                let (type, text) = try body(try access.store())
                return (200, type, text)
            } catch let error as ReportError {
                return (404, "application/json", Self.json(["error": error.description]))
            }
        }
    }

    /// Runs `body` on the store's thread and sends its (status, content type, body); an error it throws is a 500.
    private func answer(_ ctx: ChannelHandlerContext, _ head: HTTPRequestHead, _ body: @escaping @Sendable (StoreAccess) throws -> (Int, String, String)) {
        let bound = NIOLoopBound((self, ctx), eventLoop: ctx.eventLoop)
        context.store.run(on: ctx.eventLoop, body).whenComplete { result in
            let (handler, ctx) = bound.value
            switch result {
            case .success(let (status, type, text)): handler.send(ctx, head, status, type, text)
            case .failure(let error): handler.send(ctx, head, 500, "application/json", Self.json(["error": "\(error)"]))
            }
        }
    }

    /// GET /api/vectors, /api/vectors/ID, /api/profiles, /api/profiles/ID: the repository.
    private func readDocuments(_ ctx: ChannelHandlerContext, _ head: HTTPRequestHead, path: String) {
        let kind: DocumentKind = path.hasPrefix("/api/vectors") ? .vector : .profile
        let prefix = kind == .vector ? "/api/vectors" : "/api/profiles"
        let id = path.count > prefix.count + 1 ? String(path.dropFirst(prefix.count + 1)) : nil
        answer(ctx, head) { access in
            let repository = try access.repository()
            if let id {
                guard let stored = try repository.document(kind, id: id, version: nil) else {
                    return (404, "application/json", Self.json(["error": "no \(kind.rawValue) \"\(id)\""]))
                }
                let document = (try? JSONSerialization.jsonObject(with: Data(stored.json.utf8))) ?? NSNull()
                return (200, "application/json", Self.json(["id": stored.id, "version": stored.version, "created_at": stored.createdAt, "document": document]))
            }
            let list = try repository.latest(kind).map { ["id": $0.id, "version": $0.version, "name": $0.name, "created_at": $0.createdAt] as [String: Any] }
            return (200, "application/json", Self.json(["\(kind.rawValue)s": list]))
        }
    }

    /// POST /api/runs `{"input": "VECTOR_OR_PROFILE_ID", "target": "URL"}` starts a child `alv run` on this store
    /// (`alv serve` only); POST /api/runs/stop stops it.
    private func launch(_ ctx: ChannelHandlerContext, _ head: HTTPRequestHead, stop: Bool) {
        guard let launcher = context.launcher else { return send(ctx, head, 404, "application/json", Self.json(["error": "runs start from alv serve only"])) }
        if stop {
            return launcher.stop() ? send(ctx, head, 202, "application/json", Self.json(["stopping": true]))
                : send(ctx, head, 409, "application/json", Self.json(["error": "no run started here is going"]))
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let input = object["input"] as? String, let target = object["target"] as? String, !input.isEmpty else {
            return send(ctx, head, 400, "application/json", Self.json(["error": "expected {\"input\": \"VECTOR_OR_PROFILE_ID\", \"target\": \"URL\"}"]))
        }
        answer(ctx, head) { access in
            let repository = try access.repository()
            guard try repository.document(.vector, id: input, version: nil) != nil || repository.document(.profile, id: input, version: nil) != nil else {
                return (422, "application/json", Self.json(["error": "no vector or profile \"\(input)\" in the repository"]))
            }
            do throws(RunLauncher.Failure) {
                let running = try launcher.start(input: input, target: target)
                return (201, "application/json", Self.json(["pid": running.pid, "input": running.input, "target": running.target, "log": running.log]))
            } catch {
                return (error.isBusy ? 409 : 422, "application/json", Self.json(["error": error.description]))
            }
        }
    }

    /// POST /api/vectors or /api/profiles: validated, then stored as a new version (422 with every problem otherwise).
    private func addDocument(_ ctx: ChannelHandlerContext, _ head: HTTPRequestHead, kind: DocumentKind) {
        guard body.count <= Self.maximumBody else { return send(ctx, head, 413, "application/json", Self.json(["error": "body larger than 1 MiB"])) }
        let body = self.body, dataDirectory = context.dataDirectory
        answer(ctx, head) { access in
            let repository = try access.repository()
            let outcome = kind == .vector
                ? try repository.addVector(body, file: "POST /api/vectors", baseDirectory: dataDirectory, reading: .confined)
                : try repository.addProfile(body, file: "POST /api/profiles")
            switch outcome {
            case .added(let id, let version), .unchanged(let id, let version):
                return (201, "application/json", Self.json(["id": id, "version": version]))
            case .invalid(let diagnostics):
                let problems = diagnostics.map { ["severity": $0.severity.rawValue, "path": $0.path, "line": $0.line ?? NSNull(), "column": $0.column ?? NSNull(), "message": $0.message] as [String: Any] }
                return (422, "application/json", Self.json(["error": "invalid \(kind.rawValue)", "diagnostics": problems]))
            }
        }
    }

    private func statusJSON() -> String {
        let s = context.feed.snapshot
        let last = s.points.last
        return Self.json([
            "run_id": s.runID ?? NSNull(), "status": s.status, "running": s.running, "requests_total": s.totals.total,
            "last_second": last.map { ["requests": $0.requests, "failed": $0.failed, "p99_ms": $0.p99] as [String: Any] } ?? NSNull(),
        ])
    }

    /// Server-Sent Events: a `tick` when the run changes (looked at twice a second) with status and charts;
    /// `end` when the run is over. With `once`, a single tick then `end`: a snapshot (headless browsers wait
    /// for streams to end). The tick is rendered once for every client (`LiveFeed.tick`); a client whose
    /// connection cannot take more (over the write buffer's high mark) skips ticks and gets the newest when it
    /// drains, so nothing piles up for it; one that takes nothing for `stalledSeconds` is closed.
    private func startEvents(_ ctx: ChannelHandlerContext, _ head: HTTPRequestHead, once: Bool) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/event-stream")
        headers.add(name: "Cache-Control", value: "no-cache")
        ctx.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
        ctx.flush()
        let feed = context.feed
        let bound = NIOLoopBound((self, ctx), eventLoop: ctx.eventLoop)
        var lastVersion = -1
        var stalledSince: NIODeadline?
        ticker = ctx.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(500)) { task in
            let (handler, ctx) = bound.value
            guard ctx.channel.isWritable else {
                let since = stalledSince ?? .now()
                stalledSince = since
                if NIODeadline.now() - since > .seconds(Self.stalledSeconds) {
                    task.cancel()
                    ctx.close(promise: nil)
                }
                return
            }
            stalledSince = nil
            let tick = feed.tick()
            guard tick.version != lastVersion else { return }
            lastVersion = tick.version
            handler.writeEvent(ctx, name: "tick", data: tick.payload)
            if once || tick.final {
                handler.writeEvent(ctx, name: "end", data: "{}")
                task.cancel()
                let channel = ctx.channel
                ctx.writeAndFlush(handler.wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }

    /// An event stream that has taken nothing for this long is closed.
    static let stalledSeconds: Int64 = 30

    private func writeEvent(_ ctx: ChannelHandlerContext, name: String, data: String) {
        var buffer = ctx.channel.allocator.buffer(capacity: data.utf8.count + 32)
        buffer.writeString("event: \(name)\ndata: \(data)\n\n")
        ctx.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
    }

    /// The `alv_session` cookie's value, if the request has one.
    static func sessionCookie(_ headers: HTTPHeaders) -> String? {
        for header in headers[canonicalForm: "cookie"] {
            for part in header.split(separator: ";") {
                let pair = part.trimmingCharacters(in: .whitespaces)
                if pair.hasPrefix("alv_session=") { return String(pair.dropFirst("alv_session=".count)) }
            }
        }
        return nil
    }

    private func send(_ ctx: ChannelHandlerContext, _ head: HTTPRequestHead, _ status: Int, _ type: String, _ body: String, extraHeaders: HTTPHeaders = HTTPHeaders()) {
        var headers = extraHeaders
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        if !head.isKeepAlive { headers.add(name: "Connection", value: "close") }
        ctx.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: HTTPResponseStatus(statusCode: status), headers: headers))), promise: nil)
        var buffer = ctx.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        ctx.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        ctx.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    static func json(_ object: Any) -> String { jsonText(object) }
}

/// `object` as JSON text with sorted keys ("{}" when it cannot be written).
func jsonText(_ object: Any) -> String {
    guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}" }
    return String(decoding: data, as: UTF8.self)
}

/// The live run's series for `/metrics` and remote write: counters and latency histograms by vector and
/// request type (one series with `vector="all"` before the breakdown is known), workers, and rates.
public enum LiveSeries {
    static let bounds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    /// The families as they are now; nil before the run has an id and its breakdown by request type (remote
    /// write waits for both: a `vector="all"` series sent early would stay beside the breakdown and count twice
    /// in a sum).
    public static func current(_ feed: LiveFeed) -> [MetricFamily]? {
        let s = feed.snapshot
        guard s.runID != nil, let rows = s.breakdown?(), !rows.isEmpty else { return nil }
        return families(s, rows: rows)
    }

    /// - Parameter rows: the breakdown already read (reading it merges every type's totals); nil reads it.
    static func families(_ s: LiveFeed.State, rows given: [(vector: String, requestType: String, metrics: RequestMetrics)]? = nil) -> [MetricFamily] {
        let run = s.runID ?? "none"
        var groups: [(labels: [(String, String)], outcomes: OutcomeCounts, latency: LatencyHistogram, phases: [LatencyHistogram])] = []
        if let rows = given ?? s.breakdown?(), !rows.isEmpty {
            for row in rows.sorted(by: { ($0.vector, $0.requestType) < ($1.vector, $1.requestType) }) {
                groups.append(([("run", run), ("vector", row.vector), ("request_type", row.requestType)], row.metrics.outcomes, row.metrics.latency, row.metrics.phases))
            }
        } else {
            groups.append(([("run", run), ("vector", "all"), ("request_type", "all")], s.totals, s.latency, []))
        }
        var requests = MetricFamily(name: "alv_requests_total", help: "Requests that ended, by outcome (dropped: never sent).", kind: .counter)
        var duration = MetricFamily(name: "alv_request_duration_seconds", help: "Latency from the intended send time.", kind: .histogram)
        var phases = MetricFamily(
            name: "alv_request_phase_seconds", help: "Where completed requests' time went: dns, connect, tls, ttfb (sent to first byte), transfer.",
            kind: .histogram)
        func add(_ family: inout MetricFamily, _ labels: [(String, String)], _ h: LatencyHistogram) {
            family.appendHistogram(labels: labels, bounds: bounds, unitsPerSecond: 1_000_000, total: h.totalCount) { h.cumulative(atOrBelow: $0) }
        }
        for group in groups {
            for outcome in Outcome.allCases {
                requests.series.append(.init(name: requests.name, labels: group.labels + [("outcome", outcome.key)], value: Double(group.outcomes[outcome])))
            }
            add(&duration, group.labels, group.latency)
            if group.phases.count == Phase.allCases.count {
                for phase in Phase.allCases { add(&phases, group.labels + [("phase", phase.key)], group.phases[phase.rawValue]) }
            }
        }
        let runLabel = [("run", run)]
        func gauge(_ name: String, _ help: String, _ value: Double?) -> MetricFamily {
            MetricFamily(name: name, help: help, kind: .gauge, series: value.map { [.init(name: name, labels: runLabel, value: $0)] } ?? [])
        }
        let last = s.points.last
        return [
            requests, duration, phases,
            gauge("alv_run_running", "1 while a run is in progress.", s.running ? 1 : 0),
            gauge("alv_workers", "Workers live in the run.", Double(s.workers.filter { !$0.lost }.count)),
            gauge("alv_workers_planned", "The planner's target.", s.planned.map(Double.init)),
            gauge("alv_achieved_rps", "Requests that ended in the last complete second.", last.map { Double($0.requests) }),
            gauge("alv_planned_rps", "Requests per second the plan asks for now (open-model vectors).", last?.plannedRPS),
            gauge("alv_planned_users", "Virtual users the plan asks for now (closed-model vectors).", last?.plannedUsers.map(Double.init)),
        ]
    }

    /// The text exposition of the live run.
    static func render(_ feed: LiveFeed) -> String { Exposition.render(families(feed.snapshot)) }
}
