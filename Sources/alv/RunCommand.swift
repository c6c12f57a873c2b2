import ALVCluster
import ALVPlanner
import ALVDashboard
import ALVDistributed
import ALVLifecycle
import ALVProtocol
import ALVEngine
import ALVForecast
import ALVMetrics
import ALVModel
import ALVRun
import ALVStore
import ALVTransport
import ALVTemplates
import ArgumentParser
import Foundation

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a Load Vector or an ALV profile against a target and print the summary.",
        discussion: """
            VECTOR_OR_PROFILE is a JSON file or an id in the repository (--db). Exit 0 when every threshold \
            passed, 1 when one failed or the run was aborted, 2 for bad input, 3 for runtime failures.
            --workers N starts a broker and N local worker processes (default: one per core) and stores the \
            run's metrics in --db; --workers 0 runs the load engine in this process.
            """)

    @Argument(help: ArgumentHelp("A vector or profile file, or a repository id.", valueName: "VECTOR_OR_PROFILE"))
    var input: String

    @Option(help: ArgumentHelp("Base URL that relative request URLs resolve against.", valueName: "URL"))
    var target: String

    @Option(help: ArgumentHelp("Local worker processes, or auto (one per core); 0 runs the engine in-process.", valueName: "N|auto"))
    var workers: String = "auto"

    @OptionGroup var engine: EngineFlags

    @OptionGroup var env: EnvFlags

    @Flag(help: "Do not verify TLS certificates (self-signed lab targets).")
    var insecure = false

    @Option(help: "Seed for every random choice (default: random); equal seeds replay the same choices.")
    var seed: UInt64?

    @Flag(help: "Print the summary as one JSON object on stdout; progress goes to stderr.")
    var json = false

    @Option(help: ArgumentHelp("Write reports (HTML, JSON, JUnit, CSV) to this directory.", valueName: "DIR"))
    var report: String?

    @OptionGroup(title: "The live dashboard")
    var dashboard: DashboardFlags

    @Option(help: ArgumentHelp("Hosts file for remote workers.", valueName: "FILE"))
    var hosts: String?

    @Option(help: ArgumentHelp("Address the broker binds (default: the hosts file's broker_address when it is an address, every interface when it is a name, else 127.0.0.1).", valueName: "HOST"))
    var listen: String?

    @Option(name: .customLong("unit-sec"), help: "Distributed runs: length of one work unit in seconds.")
    var unitSeconds: Double = 5

    @OptionGroup(title: "Prometheus")
    var prometheus: PrometheusFlags

    @OptionGroup var store: StoreOptions

    var workerCount: Int? {
        if workers == "auto" { return ProcessInfo.processInfo.activeProcessorCount }
        return Int(workers).flatMap { $0 >= 0 && $0 <= 256 ? $0 : nil }
    }

    func validate() throws {
        try FlagChecks.targetURL(target)
        guard workerCount != nil else { throw ValidationError("--workers expects a number or auto, got \"\(workers)\"") }
        try FlagChecks.seconds(unitSeconds, flag: "--unit-sec", in: 0.5...3_600)
    }

    func run() throws {
        let plan = try RunInputResolver(store: store).plan(for: input, target: target, env: try env.values())
        let options = try engine.options(verifyTLS: !insecure)
        let supervisor = Supervisor { printError("\nalv: \($0)") }
        let cancellation = supervisor.stop

        let progress = ProgressPrinter(interactive: isatty(STDERR_FILENO) == 1)
        let seed = self.seed ?? UInt64.random(in: 1...UInt64.max)
        let feed = LiveFeed()
        if let server = try dashboard.start(feed: feed, db: store.db) { supervisor.start(server) }
        defer { supervisor.shutdown() }
        feed.begin(runID: nil)
        let exports = RunExports(flags: prometheus, plan: plan, feed: feed) { printError("alv: \($0)") }
        var summary: RunSummary
        let count = workerCount ?? 0
        let reserve = SummaryReserve(db: store.db)
        do {
        if count == 0 {
            let metricsStore: MetricsStore
            do {
                metricsStore = try MetricsStore(database: try SQLiteDatabase(path: store.db))
            } catch {
                throw CLIError.runtime("--db \(store.db): \(error)")
            }
            let runner = InProcessRunner(plan: plan, options: options, cancellation: cancellation, store: metricsStore)
            feed.breakdown(DistributedRun.breakdown(runner.aggregator, plan: plan))
            feed.errorSamples(DistributedRun.errorSamples(runner.aggregator, plan: plan))
            feed.thresholds(DistributedRun.thresholds(runner.aggregator, plan: plan))
            runner.onEvent = { feed.event($0) }
            runner.onStart = { feed.named($0) }
            let host = ProcessInfo.processInfo.hostName
            let demand = PlannedDemand(plan: plan)
            feed.workers([.init(id: "local", host: host, lost: false, requestsTotal: 0, cpuSeconds: 0, peakRSSBytes: 0)])
            runner.onSecond = { status, delta in
                var merged = RequestMetrics()
                for request in delta.requestTypes.values { try? request.merge(into: &merged, phases: false) }
                progress.second(label: status.description, metrics: merged, cpuSeconds: delta.cpuSeconds)
                feed.second(delta.second, merged, status: status.description, planned: demand.demand(at: Date(), status: status))
                feed.workers([.init(id: "local", host: host, lost: false, requestsTotal: feed.requestsTotal, cpuSeconds: 0, peakRSSBytes: delta.rssBytes)])
            }
            printError("alv: running \(plan.profile.map { "profile \($0.profileID)" } ?? "vector \(plan.steps[0].vector.vectorID)") against \(plan.target) in-process")
            do {
                summary = try runner.run(seed: seed)
            } catch let failure as StoreWriteFailure {
                throw failure
            } catch {
                throw CLIError.runtime("the run could not start: \(error)")
            }
        } else {
            // The dashboard stays up until the command ends (the supervisor's shutdown, deferred above).
            summary = try runDistributed(plan, workers: count, options: options, seed: seed, cancellation: supervisor.stop, progress: progress, feed: feed)
        }
        } catch let failure as StoreWriteFailure {
            progress.finish()
            feed.end(failure.summary)
            try exitAfterStoreFailure(failure, db: store.db, json: json, reserve: reserve)
        }
        reserve.release()
        progress.finish()
        feed.end(summary)
        exports.finish(&summary, db: store.db, plan: plan, seed: seed, workers: count)
        if let report {
            let paths = try writeReports(run: summary.runID, db: store.db, directory: report)
            printError("reports: " + paths.joined(separator: ", "))
        }
        try printSummary(summary, json: json)
    }

    /// A broker in this process and `count` local worker processes over loopback TCP.
    private func runDistributed(_ plan: RunPlan, workers count: Int, options: EngineOptions, seed: UInt64, cancellation: CancellationFlag, progress: ProgressPrinter, feed: LiveFeed) throws -> RunSummary {
        let metricsStore: MetricsStore
        do {
            metricsStore = try MetricsStore(database: try SQLiteDatabase(path: store.db))
        } catch {
            throw CLIError.runtime("--db \(store.db): \(error)")
        }
        // Where workers run: the hosts file, or this machine.
        var placement = WorkerPlacement(
            hosts: [HostsFile.Host(host: "local", maxWorkers: max(count, plan.profile?.scaling?.maxWorkers ?? 0))], remoteBrokerHost: nil,
            logDirectory: (store.db as NSString).deletingLastPathComponent + "/logs")
        var brokerKey: CurveKeyPair?
        var ports = HostsFile.BrokerPorts?.none
        if let hosts {
            let result = HostsFileValidator.validateFile(atPath: hosts)
            guard let file = result.model else { throw CLIError.badInput(result.diagnostics.map(\.description).joined(separator: "\n")) }
            placement.hosts = file.hosts
            placement.groups = file.groups
            placement.remoteBrokerHost = file.brokerAddress
            ports = file.brokerPorts
            if let key = file.brokerKey { brokerKey = try KeyFiles.keyPair(HostsFileValidator.resolve(key, relativeTo: hosts)) }
        }
        // ZeroMQ binds an address or an interface, not a name.
        let bind = listen ?? placement.remoteBrokerHost.map { NetworkAddress.isLiteral($0) ? $0 : "0.0.0.0" } ?? "127.0.0.1"
        // CURVE always, loopback too (any local user can reach a loopback port): a key pair for this run (or
        // the hosts file's broker_key, which instance groups were given) and one for each worker it starts,
        // handed over its stdin.
        let curve: CurveServerKeys
        do { curve = CurveServerKeys(keys: try brokerKey ?? CurveKeyPair.generate(), allowedClients: []) } catch { throw CLIError.runtime("broker: \(error)") }
        let broker: Broker
        do {
            broker = try Broker(
                configuration: BrokerConfiguration(
                    endpoints: BrokerEndpoints(host: bind, workPort: ports?.work ?? 0, metricsPort: ports?.metrics ?? 0, controlPort: ports?.control ?? 0),
                    curve: curve, unitSeconds: unitSeconds, enrolPort: placement.groups.isEmpty ? nil : ports?.enrol),
                store: metricsStore, log: { printError("alv broker: \($0)") })
        } catch let error as ZMQError {
            let origin = listen == nil && placement.remoteBrokerHost != nil ? " (the hosts file's broker_address; --listen chooses another)" : ""
            throw CLIError.runtime("broker: cannot listen on \(bind)\(origin): \(error)")
        } catch {
            throw CLIError.runtime("broker: \(error)")
        }
        ChildProcess.adoptOrphans()
        let run = DistributedRun(broker: broker, feed: feed) { printError("alv: \($0)") }
        do {
            return try run.run(plan, workers: count, placement: placement, store: metricsStore, options: options, seed: seed, cancellation: cancellation) { _, status, metrics in
                progress.second(label: status?.description ?? "between vectors", metrics: metrics, cpuSeconds: nil)
            }
        } catch let error as DistributedRunError {
            throw CLIError.runtime(error.description)
        } catch let error as BrokerError {
            throw CLIError.runtime(error.description)
        }
    }
}

/// HTTP settings of the engine, for `alv run` and `alv broker --run`.
struct EngineFlags: ParsableArguments {
    @Option(help: ArgumentHelp("HTTP version: 1.1, 2 (TLS with ALPN) or h2c (clear text, prior knowledge).", valueName: "VERSION"))
    var http: String = "1.1"

    @Option(help: "Open model: connections at most (more arrivals wait for one).")
    var connections: Int = 256

    @Option(name: .customLong("timeout-ms"), help: "Default total time per request when a request type sets none.")
    var timeoutMs: Int = 30_000

    @Option(name: .customLong("cacert"), help: ArgumentHelp("CA certificates (PEM) that verify the target, instead of the system's.", valueName: "FILE"))
    var caCert: String?

    @Option(name: .customLong("cert"), help: ArgumentHelp("Client certificate (PEM; may hold its key too) for targets that ask for one.", valueName: "FILE"))
    var clientCert: String?

    @Option(name: .customLong("key"), help: ArgumentHelp("The client certificate's private key (PEM), unless --cert holds it.", valueName: "FILE"))
    var clientKey: String?

    @Option(name: .customLong("resolve"), help: ArgumentHelp("Send requests for HOST:PORT to ADDRESS, as curl's --resolve (repeat for more).", valueName: "HOST:PORT:ADDRESS"))
    var resolve: [String] = []

    func validate() throws {
        guard EngineOptions.HTTPVersion(rawValue: http) != nil else { throw ValidationError("--http expects 1.1, 2 or h2c, got \"\(http)\"") }
        guard (1...1_000_000).contains(connections) else { throw ValidationError("--connections must be 1–1000000, got \(connections)") }
        guard (1...86_400_000).contains(timeoutMs) else { throw ValidationError("--timeout-ms must be 1–86400000 (a day), got \(timeoutMs)") }
        if clientKey != nil && clientCert == nil { throw ValidationError("--key needs --cert (the certificate the key belongs to)") }
        for entry in resolve {
            if let problem = EngineOptions.resolveProblem(entry) { throw ValidationError("--resolve: \(problem)") }
        }
    }

    /// - Parameter verifyTLS: from the command's own flag (`--insecure` on `alv run`, where `alv broker`'s
    ///   `--insecure` means plain TCP on a network).
    /// - Throws: bad input naming the flag and file when a certificate file cannot be read or is not PEM.
    func options(verifyTLS: Bool) throws -> EngineOptions {
        var options = EngineOptions(httpVersion: EngineOptions.HTTPVersion(rawValue: http) ?? .http1, verifyTLS: verifyTLS, requestTimeoutMs: timeoutMs, connections: connections)
        func pem(_ path: String?, flag: String, kind: String) throws -> String? {
            guard let path else { return nil }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CLIError.badInput("\(flag) \(path): \(FileManager.default.fileExists(atPath: path) ? "cannot read the file (permissions?)" : "no such file")")
            }
            let text = String(decoding: data, as: UTF8.self)
            guard data.count <= EngineOptions.maximumPEMBytes, text.contains("-----BEGIN ") else {
                throw CLIError.badInput("\(flag) \(path): expected \(kind) in PEM form (a block starting \"-----BEGIN\"), at most 1 MiB")
            }
            return text
        }
        options.caPEM = try pem(caCert, flag: "--cacert", kind: "CA certificates")
        options.clientCertPEM = try pem(clientCert, flag: "--cert", kind: "a certificate")
        options.clientKeyPEM = try pem(clientKey, flag: "--key", kind: "a private key")
        options.resolve = resolve.isEmpty ? nil : resolve
        return options
    }
}

/// `--env NAME[=VALUE]`, for `alv run` and `alv broker --run`: the only values `{{env.NAME}}` reads.
/// Workers never read their own environment, and a vector from the repository reads only what is passed here.
struct EnvFlags: ParsableArguments {
    @Option(name: .customLong("env"), help: ArgumentHelp("A value for {{env.NAME}}: NAME takes this process's value of NAME, NAME=VALUE gives one (repeat for more).", valueName: "NAME[=VALUE]"))
    var pairs: [String] = []

    func validate() throws { _ = try values() }

    /// Name → value. - Throws: `ValidationError` naming a bad or unset `--env`.
    func values(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [String: String] {
        var values: [String: String] = [:]
        for pair in pairs {
            let name = pair.firstIndex(of: "=").map { String(pair[..<$0]) } ?? pair
            guard let first = name.unicodeScalars.first, first == "_" || ("A"..."Z").contains(first) || ("a"..."z").contains(first),
                  name.unicodeScalars.allSatisfy({ $0 == "_" || ("A"..."Z").contains($0) || ("a"..."z").contains($0) || ("0"..."9").contains($0) })
            else { throw ValidationError("--env expects NAME or NAME=VALUE with NAME of letters, digits and _, got \"\(pair)\"") }
            if let equals = pair.firstIndex(of: "=") {
                values[name] = String(pair[pair.index(after: equals)...])
            } else if let value = environment[name] {
                values[name] = value
            } else {
                throw ValidationError("--env \(name): \(name) is not set in this environment; export it or pass --env \(name)=VALUE")
            }
        }
        return values
    }
}

/// Turns `VECTOR_OR_PROFILE` into a plan: a file (vector or profile, told apart by its id field) or a repository id.
struct RunInputResolver {
    let store: StoreOptions

    /// The plan for `input`, with forecast-shaped loads resolved into per-second rates.
    /// - Throws: `CLIError.badInput` when a template reads an `env.NAME` that `env` does not give.
    func plan(for input: String, target: String, env: [String: String] = [:]) throws -> RunPlan {
        var plan = try unresolvedPlan(for: input, target: target)
        plan.env = env
        for warning in Self.elsewhereWarnings(plan) { printError("alv: warning: " + warning) }
        let missing = plan.missingEnvironment
        if !missing.isEmpty {
            throw CLIError.badInput(missing.map { "vector \($0.vector): \($0.path) reads {{env.\($0.name)}}, which the run was not given; add --env \($0.name) (its value here) or --env \($0.name)=VALUE" }.joined(separator: "\n"))
        }
        guard plan.steps.contains(where: { $0.vector.forecast != nil }) else { return plan }
        var metrics: MetricsStore?
        for (i, step) in plan.steps.enumerated() where step.vector.forecast != nil {
            do {
                plan.steps[i].vector = try ForecastLoadResolver.resolve(step.vector, baseDirectory: step.dataDirectory) { endpoint in
                    if metrics == nil { metrics = try MetricsStore(database: try SQLiteDatabase(path: store.db)) }
                    let points = try metrics!.history(endpoint: endpoint)
                    return points.isEmpty ? nil : try TimeSeries.regularised(points)
                } prometheusHistory: { source in
                    let now = Int64(Date().timeIntervalSince1970)
                    return try PrometheusHistory.series(server: source.url, query: source.query, start: now - source.rangeSec, end: now, step: source.stepSec)
                }
            } catch {
                throw CLIError.badInput(error.description)
            }
            let v = plan.steps[i].vector
            printError("alv: \(v.vectorID): forecast load, peak \(Int(v.load.openRate ?? 0)) req/s over \(Int(v.durationSec)) s")
        }
        return plan
    }

    private func unresolvedPlan(for input: String, target: String) throws -> RunPlan {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory), !isDirectory.boolValue {
            let bytes = try readInput(input)
            let directory = URL(fileURLWithPath: input).deletingLastPathComponent().path
            if (try? JSONReader.parse(bytes))?["profile_id"] != nil {
                let repository = try store.openRepository()
                let result = ProfileValidator.validate(bytes, file: input, knownVectors: try repository.ids(.vector))
                guard let profile = result.model else { throw badInput(result.diagnostics) }
                return RunPlan(profile: profile, steps: try steps(for: profile, in: repository), target: target)
            }
            let result = VectorValidator.validate(bytes, file: input, baseDirectory: directory)
            guard let vector = result.model else { throw badInput(result.diagnostics) }
            result.diagnostics.forEach { printError($0.description) }
            return RunPlan(profile: nil, steps: [.init(vector: vector, dataDirectory: directory)], target: target)
        }
        let repository = try store.openRepository()
        if try repository.document(.vector, id: input, version: nil) != nil {
            let (vector, stored) = try repository.vector(id: input)
            Self.announce(stored)
            return RunPlan(profile: nil, steps: [.init(vector: vector, dataDirectory: stored.sourceDirectory)], target: target)
        }
        if try repository.document(.profile, id: input, version: nil) != nil {
            let (profile, stored) = try repository.profile(id: input)
            Self.announce(stored)
            return RunPlan(profile: profile, steps: try steps(for: profile, in: repository), target: target)
        }
        let known = try repository.ids(.vector).union(try repository.ids(.profile))
        let hint = closestName(to: input, among: Array(known)).map { " (did you mean \"\($0)\"?)" } ?? ""
        throw CLIError.badInput("\(input): no such file, and no vector or profile with that id in \(store.db)\(hint)")
    }

    private func steps(for profile: ALVProfile, in repository: Repository) throws -> [RunPlan.Step] {
        try profile.vectorSequence.map { id in
            let (vector, stored) = try repository.vector(id: id)
            Self.announce(stored)
            return RunPlan.Step(vector: vector, dataDirectory: stored.sourceDirectory)
        }
    }

    /// Says which stored version runs and where it came from: a version someone else added (the dashboard's
    /// API, another user's `vector add`) does not run unseen.
    private static func announce(_ stored: StoredDocument) {
        printError("alv: \(stored.kind.rawValue) \(stored.id) version \(stored.version), added \(stored.createdAt) from \(stored.origin ?? "an unknown source")")
    }

    /// Request types whose URL is absolute and names another host than the target: their requests go
    /// there, not to `--target`.
    static func elsewhereWarnings(_ plan: RunPlan) -> [String] {
        /// "scheme://authority" of an absolute http(s) URL (templates in its path are fine), else nil.
        func origin(_ url: String) -> String? {
            let lower = url.lowercased()
            guard let scheme = ["http://", "https://"].first(where: lower.hasPrefix) else { return nil }
            let rest = lower.dropFirst(scheme.count)
            return scheme + rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        }
        let target = origin(plan.target)
        var warnings: [String] = []
        for step in plan.steps {
            for (i, type) in step.vector.requestTypes.enumerated() {
                guard let place = origin(type.url), place != target else { continue }
                warnings.append("vector \(step.vector.vectorID): request_types[\(i)].url is \(type.url), an absolute URL: its requests go to \(place), not to --target \(plan.target)")
            }
        }
        return warnings
    }

    private func badInput(_ diagnostics: [Diagnostic]) -> CLIError {
        .badInput(diagnostics.map(\.description).joined(separator: "\n"))
    }
}

/// Live progress on stderr: one rewritten line on a terminal, a plain line every 5 s otherwise.
final class ProgressPrinter: @unchecked Sendable {
    // Called only from the engine thread that runs the load; `finish` runs after it returned.
    let interactive: Bool
    private var seconds = 0
    private var wroteLine = false

    init(interactive: Bool) { self.interactive = interactive }

    func second(label: String, delta: MetricsDelta) {
        var merged = RequestMetrics()
        for request in delta.requestTypes.values { if let m = try? request.metrics(phases: false) { merged.merge(m) } }
        second(label: label, metrics: merged, cpuSeconds: delta.cpuSeconds)
    }

    func second(label: String, metrics merged: RequestMetrics, cpuSeconds: Double?) {
        seconds += 1
        let total = merged.requestsTotal
        let failures = merged.outcomes[.status5xx] + merged.outcomes[.status4xx] + merged.outcomes.errors
        let line = String(
            format: "[%4d s] %@  %6llu req/s  p50 %.1f ms  p99 %.1f ms  errors %.2f%%",
            seconds, label, total, Double(merged.latency.value(atPercentile: 50)) / 1000, Double(merged.latency.value(atPercentile: 99)) / 1000,
            total > 0 ? Double(failures) / Double(total) * 100 : 0) + (cpuSeconds.map { String(format: "  cpu %.0f%%", $0 * 100) } ?? "")
            + Self.behind(merged)
        if interactive {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
            wroteLine = true
        } else if seconds % 5 == 0 {
            printError(line)
        }
    }

    /// Arrivals the generator did not keep on schedule, when there were any: dropped at the in-flight cap, and
    /// sent more than 10 ms late (the load asked for is not the load sent).
    static func behind(_ m: RequestMetrics) -> String {
        let dropped = m.outcomes[.dropped]
        guard m.intended > 0, dropped + m.late > 0 else { return "" }
        let intended = Double(m.intended)
        return String(format: "  dropped %.1f%%  late %.1f%%", Double(dropped) / intended * 100, Double(m.late) / intended * 100)
    }

    func finish() {
        if wroteLine { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// `HOST:PORT` for --dashboard.
struct DashboardAddress {
    var host: String
    var port: Int

    init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        host = String(text[..<colon])
        self.port = port
        if host.isEmpty { return nil }
    }
}
