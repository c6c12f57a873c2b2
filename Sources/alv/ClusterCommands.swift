import ALVCluster
import ALVDashboard
import ALVDistributed
import ALVLifecycle
import ALVProtocol
import ALVEngine
import ALVRun
import ALVStore
import ALVTransport
import ArgumentParser
import Foundation

/// `--broker HOST` and the three ports, shared by worker and planner.
struct BrokerAddressOptions: ParsableArguments {
    @Option(name: .customLong("work-port"), help: "The broker's work (PUSH) port.")
    var workPort: Int = 5557

    @Option(name: .customLong("metrics-port"), help: "The broker's metrics (SUB) port.")
    var metricsPort: Int = 5558

    @Option(name: .customLong("control-port"), help: "The broker's control (PUB) port.")
    var controlPort: Int = 5559

    func validate() throws {
        for (name, port) in [("--work-port", workPort), ("--metrics-port", metricsPort), ("--control-port", controlPort)] {
            guard (0...65535).contains(port) else { throw ValidationError("\(name) must be 0–65535, got \(port)") }
        }
    }

    func endpoints(host: String) -> BrokerEndpoints {
        BrokerEndpoints(host: host, workPort: workPort, metricsPort: metricsPort, controlPort: controlPort)
    }
}

/// CURVE keys of a client of the broker (`alv planner`, `alv cluster up`): read here, and handed to the
/// workers it starts over their stdin, so no key file is needed on the worker hosts.
struct CurveClientOptions: ParsableArguments {
    @Option(name: .customLong("curve-server-key"), help: ArgumentHelp("The broker's public key: a file from `alv keys generate`, or the key.", valueName: "FILE|KEY"))
    var curveServerKey: String?

    @Option(name: .customLong("curve-key"), help: ArgumentHelp("A key file from `alv keys generate` whose public key is on the broker's --planner-keys; used by this command and the workers it starts.", valueName: "FILE"))
    var curveKey: String?

    func validate() throws {
        if (curveServerKey == nil) != (curveKey == nil) { throw ValidationError("--curve-server-key and --curve-key go together") }
    }

    /// - Returns: the keys, or nil for plain TCP (loopback, or `insecure`).
    /// - Throws: bad input for a non-loopback broker without keys and without `insecure`, or an unreadable key file.
    func keys(broker: String, insecure: Bool) throws -> CurveClientKeys? {
        if let curveServerKey, let curveKey {
            return CurveClientKeys(serverPublicKey: try KeyFiles.publicKey(curveServerKey), keys: try KeyFiles.keyPair(curveKey))
        }
        if !BrokerEndpoints.isLoopback(broker) && !insecure {
            throw CLIError.badInput("--broker \(broker) is not loopback: give --curve-server-key and --curve-key, or --insecure")
        }
        return nil
    }
}

struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a stateless load worker connected to a broker.",
        discussion: """
            Exits on a retire message from the broker, on SIGTERM/SIGINT, or when its stdin (a pipe or socket, \
            as under ssh) closes. With --curve-server-key it speaks CURVE; required for a non-loopback broker. \
            With --keys-on-stdin it reads its keys from the first line of stdin (how `alv run --hosts` hands \
            each worker its own pair over ssh): `alv-keys server=KEY public=KEY secret=KEY`. With --enrol (how \
            an instance group's machine starts it, `alv cluster user-data`) it makes its own key pair and has \
            the broker admit it with the launcher's enrolment token, as worker LAUNCHER-INSTANCE-SLOT.
            """)

    @Option(help: ArgumentHelp("The broker's host.", valueName: "HOST"))
    var broker: String

    @OptionGroup var ports: BrokerAddressOptions

    @Option(help: "This worker's id (default HOST-PID).")
    var id: String?

    @Option(name: .customLong("curve-server-key"), help: ArgumentHelp("The broker's public key: a file from `alv keys generate`, or the key.", valueName: "FILE|KEY"))
    var curveServerKey: String?

    @Option(name: .customLong("curve-key"), help: ArgumentHelp("This worker's key file (public and secret) from `alv keys generate`.", valueName: "FILE"))
    var curveKey: String?

    @Flag(name: .customLong("keys-on-stdin"), help: "Read the broker's public key and this worker's key pair from the first line of stdin.")
    var keysOnStdin = false

    @Flag(name: .customLong("insecure"), help: "Allow plain TCP to a non-loopback broker.")
    var insecure = false

    @Option(help: ArgumentHelp("An enrolment file (`alv-enrol server=KEY launcher=NAME token=TOKEN`, from the user data of `alv cluster user-data`).", valueName: "FILE"))
    var enrol: String?

    @Option(name: .customLong("enrol-port"), help: "With --enrol: the broker's enrol port.")
    var enrolPort: Int = 5560

    @Option(help: ArgumentHelp("With --enrol: this machine's id as its instance group reports it.", valueName: "ID"))
    var instance: String?

    @Option(help: "With --enrol: which of the machine's worker slots this worker takes (1…workers_per_instance).")
    var slot: Int = 1

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Data files too large to travel with units (over 8 MiB) are read from here, by relative path only; without it this worker reads no file a unit names.", valueName: "DIR"))
    var dataDir: String?

    @Flag(name: .shortAndLong, help: "Log joins, units and evictions to stderr.")
    var verbose = false

    func validate() throws {
        if let dataDir {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dataDir, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--data-dir \(dataDir): no such directory")
            }
        }
        if (curveServerKey == nil) != (curveKey == nil) { throw ValidationError("--curve-server-key and --curve-key go together") }
        if keysOnStdin && curveServerKey != nil { throw ValidationError("--keys-on-stdin and --curve-server-key are two ways to give the keys: choose one") }
        if enrol != nil {
            if curveServerKey != nil || keysOnStdin || id != nil { throw ValidationError("--enrol makes this worker's keys and takes its id from the broker: leave out --curve-server-key, --curve-key, --keys-on-stdin and --id") }
            guard let instance, !instance.isEmpty else { throw ValidationError("--enrol needs --instance ID (the machine's id in its group)") }
            guard (1...256).contains(slot) else { throw ValidationError("--slot must be 1–256, got \(slot)") }
            guard (1...65535).contains(enrolPort) else { throw ValidationError("--enrol-port must be 1–65535, got \(enrolPort)") }
            return
        }
        if curveServerKey == nil && !keysOnStdin && !BrokerEndpoints.isLoopback(broker) && !insecure {
            throw ValidationError("--broker \(broker) is not loopback: give --curve-server-key and --curve-key (or --keys-on-stdin), or --insecure")
        }
    }

    func run() throws {
        var curve: CurveClientKeys? = nil
        if let curveServerKey, let curveKey {
            curve = CurveClientKeys(serverPublicKey: try KeyFiles.publicKey(curveServerKey), keys: try KeyFiles.keyPair(curveKey))
        }
        if keysOnStdin {
            let line: String
            switch Self.readLine(fd: STDIN_FILENO, timeout: 30) {
            case .line(let text): line = text
            case .ended: throw CLIError.badInput("--keys-on-stdin: stdin ended before a keys line")
            case .timedOut: throw CLIError.badInput("--keys-on-stdin: no keys line on stdin within 30 s")
            case .tooLong: throw CLIError.badInput("--keys-on-stdin: the first line of stdin is longer than 1 KiB")
            }
            guard let keys = KeysLine.parse(line) else {
                throw CLIError.badInput("--keys-on-stdin: expected the first line of stdin to be `alv-keys server=KEY public=KEY secret=KEY` with 40-character Z85 keys, the public key matching the secret")
            }
            curve = keys
        }
        let verbose = self.verbose
        let supervisor = Supervisor { line in if verbose { printError("alv worker: \(line)") } }
        watchStdin(supervisor.stop)
        var workerID = id
        if let enrol {
            guard let data = FileManager.default.contents(atPath: enrol) else { throw CLIError.badInput("--enrol \(enrol): \(FileManager.default.fileExists(atPath: enrol) ? "cannot read the file (permissions?)" : "no such file")") }
            guard let file = EnrolmentToken.parseFile(String(decoding: data.prefix(4096), as: UTF8.self)) else {
                throw CLIError.badInput("--enrol \(enrol): expected one line `alv-enrol server=KEY launcher=NAME token=TOKEN` (as `alv cluster user-data` writes it)")
            }
            let instance = self.instance ?? ""
            printError("alv worker: enrolling with \(broker):\(enrolPort) as launcher \(file.launcher), instance \(instance), slot \(slot)")
            do {
                let admission = try EnrolmentClient.enrol(
                    host: broker, port: enrolPort, serverPublicKey: file.server, launcher: file.launcher, instance: instance, slot: slot,
                    token: file.token, stop: supervisor.stop) { printError("alv worker: \($0)") }
                curve = admission.keys
                workerID = admission.worker
                printError("alv worker: admitted as \(admission.worker)")
            } catch {
                throw CLIError.runtime("worker: \(error)")
            }
        }
        let configuration = WorkerConfiguration(
            broker: ports.endpoints(host: broker), id: workerID, curve: curve,
            dataDirectory: dataDir.map { URL(fileURLWithPath: $0).standardizedFileURL.path })
        let worker = Worker(configuration: configuration) { line in if verbose { printError("alv worker: \(line)") } }
        do {
            try supervisor.run { stop in try worker.run(stop: stop) }
        } catch {
            throw CLIError.runtime("worker: \(error)")
        }
    }

    enum LineRead { case line(String), ended, timedOut, tooLong }

    /// Reads one line (at most 1 KiB) byte by byte, so nothing after it is taken from the stream.
    static func readLine(fd: Int32, timeout: Double) -> LineRead {
        var bytes: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        while bytes.count < 1024 {
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let left = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
            let polled = poll(&ready, 1, left)
            if polled < 0 && errno == EINTR { continue }
            guard polled > 0 else { return .timedOut }
            var byte: UInt8 = 0
            let n = read(fd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            guard n == 1 else { return .ended }
            if byte == UInt8(ascii: "\n") { return .line(String(decoding: bytes, as: UTF8.self)) }
            bytes.append(byte)
        }
        return .tooLong
    }

    /// A worker under ssh (stdin a pipe or socket) exits when the session ends.
    private func watchStdin(_ stop: CancellationFlag) {
        var info = stat()
        guard fstat(STDIN_FILENO, &info) == 0 else { return }
        let type = info.st_mode & S_IFMT
        guard type == S_IFIFO || type == S_IFSOCK else { return }
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 256)
            while read(STDIN_FILENO, &buffer, buffer.count) > 0 {}
            stop.cancel()
        }
        thread.start()
    }
}

struct BrokerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Run the ZeroMQ broker; with --run, execute a vector or profile on the workers that join.",
        discussion: """
            Binds work (PUSH), metrics (SUB) and control (PUB). A non-loopback --listen needs CURVE \
            (--curve-secret with --allow-keys and/or --planner-keys) or an explicit --insecure. A key on \
            --allow-keys speaks as workers, each worker id belonging to the first key that uses it; only a key \
            on --planner-keys may also scale or retire workers (the workers a planner starts share its key).
            """)

    @Option(help: ArgumentHelp("Address to bind.", valueName: "HOST"))
    var listen: String = "127.0.0.1"

    @OptionGroup var ports: BrokerAddressOptions

    @Option(name: .customLong("curve-secret"), help: ArgumentHelp("The broker's key file from `alv keys generate`.", valueName: "FILE"))
    var curveSecret: String?

    @Option(name: .customLong("allow-keys"), help: ArgumentHelp("Worker public keys: a directory of .pub files or one file.", valueName: "PATH"))
    var allowKeys: String?

    @Option(name: .customLong("planner-keys"), help: ArgumentHelp("Planner public keys (`alv planner`, `alv cluster up`): a directory of .pub files or one file.", valueName: "PATH"))
    var plannerKeys: String?

    @Flag(help: "Allow plain TCP on a non-loopback address.")
    var insecure = false

    @Option(name: .customLong("run"), help: ArgumentHelp("Run this vector or profile once enough workers joined, then exit.", valueName: "VECTOR_OR_PROFILE"))
    var runInput: String?

    @Option(help: ArgumentHelp("Target for --run.", valueName: "URL"))
    var target: String?

    @Option(name: .customLong("wait-workers"), help: "With --run: workers to wait for.")
    var waitWorkers: Int = 1

    @Option(name: .customLong("wait-timeout"), help: "With --run: seconds to wait for them.")
    var waitTimeout: Double = 600

    @Option(name: .customLong("unit-sec"), help: "Length of one work unit in seconds.")
    var unitSeconds: Double = 5

    @OptionGroup(title: "With --run: the engine's HTTP settings (every unit carries them)")
    var engine: EngineFlags

    @OptionGroup(title: "With --run: values the vectors' {{env.NAME}} read (every unit carries them)")
    var env: EnvFlags

    @Flag(name: .customLong("no-verify-tls"), help: "With --run: do not verify the target's TLS certificates.")
    var noVerifyTLS = false

    @Flag(help: "With --run: print the summary as one JSON object on stdout.")
    var json = false

    @OptionGroup(title: "With --run: Prometheus")
    var prometheus: PrometheusFlags

    @OptionGroup(title: "With --run: the live dashboard")
    var dashboard: DashboardFlags

    @OptionGroup var store: StoreOptions

    func validate() throws {
        if curveSecret != nil && allowKeys == nil && plannerKeys == nil { throw ValidationError("--curve-secret needs --allow-keys or --planner-keys (the keys it admits)") }
        if curveSecret == nil && (allowKeys != nil || plannerKeys != nil) { throw ValidationError("--allow-keys and --planner-keys need --curve-secret") }
        if runInput != nil && target == nil { throw ValidationError("--run needs --target") }
        if let target { try FlagChecks.targetURL(target) }
        try FlagChecks.seconds(unitSeconds, flag: "--unit-sec", in: 0.5...3_600)
        try FlagChecks.seconds(waitTimeout, flag: "--wait-timeout", in: 0...86_400)
        guard (1...10_000).contains(waitWorkers) else { throw ValidationError("--wait-workers expects 1 to 10000 workers, got \(waitWorkers)") }
    }

    func run() throws {
        var curve: CurveServerKeys? = nil
        if let curveSecret {
            curve = CurveServerKeys(
                keys: try KeyFiles.keyPair(curveSecret),
                allowedClients: try allowKeys.map { try KeyFiles.allowedKeys($0, flag: "--allow-keys") } ?? [],
                plannerClients: try plannerKeys.map { try KeyFiles.allowedKeys($0, flag: "--planner-keys") } ?? [])
        }
        let database: SQLiteDatabase
        do { database = try SQLiteDatabase(path: store.db) } catch { throw CLIError.badInput("--db \(store.db): \(error)") }
        let metricsStore = try MetricsStore(database: database)
        let broker: Broker
        do {
            broker = try Broker(
                configuration: BrokerConfiguration(endpoints: ports.endpoints(host: listen), curve: curve, unitSeconds: unitSeconds),
                store: metricsStore, allowInsecure: insecure, log: { printError("alv broker: \($0)") })
        } catch let error as BrokerError {
            throw CLIError.badInput(error.description)
        } catch {
            throw CLIError.runtime("broker: \(error)")
        }
        let e = broker.endpoints
        let banner = Data("alv broker listening on \(e.host) work \(e.workPort) metrics \(e.metricsPort) control \(e.controlPort)\(curve == nil ? "" : " (CURVE)")\n".utf8)
        // With --json, stdout carries the summary object alone.
        (json ? FileHandle.standardError : FileHandle.standardOutput).write(banner)
        let supervisor = Supervisor { printError("alv broker: \($0)") }
        guard let input = runInput, let target else {
            supervisor.run { stop in broker.serve(until: stop) }
            return
        }
        let plan = try RunInputResolver(store: store).plan(for: input, target: target, env: try env.values())
        let feed = LiveFeed()
        if let server = try dashboard.start(feed: feed, db: store.db) { supervisor.start(server) }
        defer { supervisor.shutdown() }
        feed.begin(runID: nil)
        let exports = RunExports(flags: prometheus, plan: plan, feed: feed) { printError("alv broker: \($0)") }
        let run = DistributedRun(broker: broker, feed: feed) { printError("alv broker: \($0)") }
        var summary: RunSummary
        let reserve = SummaryReserve(db: store.db)
        let seed = UInt64.random(in: 1...UInt64.max)
        do {
            summary = try run.runOnJoinedWorkers(plan, waitFor: waitWorkers, timeout: waitTimeout, options: try engine.options(verifyTLS: !noVerifyTLS), seed: seed, cancellation: supervisor.stop)
        } catch let error as DistributedRunError {
            throw CLIError.runtime(error.description)
        } catch let error as BrokerError {
            throw CLIError.runtime(error.description)
        } catch let failure as StoreWriteFailure {
            feed.end(failure.summary)
            try exitAfterStoreFailure(failure, db: store.db, json: json, reserve: reserve)
        }
        reserve.release()
        feed.end(summary)
        exports.finish(&summary, db: store.db, plan: plan, seed: seed, workers: waitWorkers)
        try printSummary(summary, json: json)
    }
}

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "CURVE key pairs for brokers and workers.", subcommands: [Generate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write NAME.key (public and secret, mode 600) and NAME.pub (public) into a directory.")

        @Option(help: ArgumentHelp("Directory to write into (created if missing).", valueName: "DIR"))
        var out: String

        @Option(help: "Base name of the files.")
        var name: String = "alv"

        func run() throws {
            let pair: CurveKeyPair
            do { pair = try CurveKeyPair.generate() } catch { throw CLIError.runtime("\(error)") }
            do {
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
                let secretPath = "\(out)/\(name).key", publicPath = "\(out)/\(name).pub"
                // Created 0600 from the first byte (never world-readable, not even for an instant), no symlink followed.
                let fd = open(secretPath, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw CLIError.badInput("--out \(out): cannot write \(secretPath) (\(String(cString: strerror(errno))))") }
                defer { close(fd) }
                let text = Array("public=\(pair.publicKey)\nsecret=\(pair.secretKey)\n".utf8)
                guard fchmod(fd, 0o600) == 0, text.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == text.count else {
                    throw CLIError.badInput("--out \(out): cannot write \(secretPath) (\(String(cString: strerror(errno))))")
                }
                try (pair.publicKey + "\n").write(toFile: publicPath, atomically: true, encoding: .utf8)
                print("wrote \(secretPath) (keep it secret) and \(publicPath)")
            } catch let error as CLIError {
                throw error
            } catch {
                throw CLIError.badInput("--out \(out): cannot write the key files (\(error.localizedDescription))")
            }
        }
    }
}

/// Reads the key files `alv keys generate` writes.
enum KeyFiles {
    static func keyPair(_ path: String) throws -> CurveKeyPair {
        let text = String(decoding: try readInput(path), as: UTF8.self)
        var values: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[parts[0].trimmingCharacters(in: .whitespaces)] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        guard let secret = values["secret"], CurveKeyPair.isValidKey(secret) else {
            throw CLIError.badInput("\(path): expected a key file from `alv keys generate` with a line secret=<40 characters>")
        }
        let derived = (try? CurveKeyPair.publicKey(ofSecret: secret)) ?? ""
        if let stated = values["public"], stated != derived {
            throw CLIError.badInput("\(path): the public key does not belong to the secret key")
        }
        return CurveKeyPair(publicKey: derived, secretKey: secret)
    }

    /// A public key given as the key itself, a .pub file, or a .key file.
    static func publicKey(_ value: String) throws -> String {
        if CurveKeyPair.isValidKey(value) && !FileManager.default.fileExists(atPath: value) { return value }
        let text = String(decoding: try readInput(value), as: UTF8.self)
        if text.contains("secret=") { return try keyPair(value).publicKey }
        let key = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard CurveKeyPair.isValidKey(key) else { throw CLIError.badInput("\(value): expected a 40-character Z85 public key") }
        return key
    }

    static func allowedKeys(_ path: String, flag: String) throws -> Set<String> {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw CLIError.badInput("\(flag) \(path): no such file or directory") }
        if !isDirectory.boolValue { return [try publicKey(path)] }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        let keys = try files.filter { $0.hasSuffix(".pub") }.map { try publicKey("\(path)/\($0)") }
        guard !keys.isEmpty else { throw CLIError.badInput("\(flag) \(path): no .pub files") }
        return Set(keys)
    }
}

/// Prints a summary as the run commands do.
func printSummary(_ summary: RunSummary, json: Bool) throws {
    if json {
        FileHandle.standardOutput.write(try summary.jsonData())
        FileHandle.standardOutput.write(Data("\n".utf8))
    } else {
        print(SummaryText.render(summary))
    }
    if summary.everyRequestFailed {
        let top = summary.errorSamples.first.map { "; the most frequent: " + SummaryText.describe($0) } ?? ""
        FileHandle.standardError.write(Data("alv: every request failed (\(summary.requestsTotal - summary.dropped) sent, none answered 2xx or 3xx)\(top)\n".utf8))
        throw ExitCode(1)
    }
    if summary.status != "completed" || !summary.thresholdsPassed { throw ExitCode(1) }
}
