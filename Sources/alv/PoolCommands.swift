import ALVLifecycle
import ALVEngine
import ALVModel
import ALVPlanner
import ArgumentParser
import Foundation

struct ClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Start and stop a pool of workers on the hosts of a hosts file (local processes and SSH).",
        discussion: """
        `alv cluster up` starts the workers and stays in the foreground supervising them: a worker that dies is \
        replaced (on another host if its own is down); SIGINT or SIGTERM stops them all. `alv cluster down` \
        signals the running `up` (found through its state file) and waits until every worker is gone.
        Hosts file: {"broker_address": "10.0.0.5", "hosts": [{"host": "user@10.0.0.7", "max_workers": 4, \
        "alv_path": "/usr/local/bin/alv", "ssh_options": ["-p", "2222"]}, {"host": "local", "max_workers": 2}]}
        """,
        subcommands: [ClusterInstallCommand.self, ClusterUpCommand.self, ClusterDownCommand.self, ClusterUserDataCommand.self])
}

struct ClusterStateOption: ParsableArguments {
    @Option(help: ArgumentHelp("Where `up` records its pid for `down`.", valueName: "FILE"))
    var state: String = ".alv/cluster.pid"
}

struct ClusterUpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "up", abstract: "Start workers on the hosts and supervise them until stopped.")

    @Option(help: ArgumentHelp("The hosts file.", valueName: "FILE"))
    var hosts: String

    @Option(help: ArgumentHelp("The broker's address as the workers reach it (default: the hosts file's broker_address).", valueName: "HOST"))
    var broker: String?

    @OptionGroup var ports: BrokerAddressOptions

    @Option(help: "Workers to run (default: every host's max_workers).")
    var workers: Int?

    @OptionGroup var curve: CurveClientOptions

    @Flag(help: "Passed to each worker: plain TCP to a non-loopback broker.")
    var insecure = false

    @OptionGroup var state: ClusterStateOption

    func validate() throws {
        if let workers, workers < 1 { throw ValidationError("--workers expects at least 1, got \(workers)") }
    }

    func run() throws {
        let result = HostsFileValidator.validateFile(atPath: hosts)
        guard let file = result.model else { throw CLIError.badInput(result.diagnostics.map(\.description).joined(separator: "\n")) }
        if !file.groups.isEmpty {
            printError("alv cluster up: \(hosts): instance groups (\(file.groups.map(\.name).joined(separator: ", "))) start their own workers from their user data (`alv cluster user-data`); this pool starts the ssh and local hosts only")
        }
        guard let address = broker ?? file.brokerAddress else {
            throw CLIError.badInput("\(hosts): no broker address: give --broker HOST or \"broker_address\" in the file")
        }
        if let text = try? String(contentsOfFile: state.state, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), kill(pid, 0) == 0 {
            throw CLIError.badInput("a pool is already up (pid \(pid), \(state.state)); stop it with `alv cluster down`")
        }
        let keys = try curve.keys(broker: address, insecure: insecure)
        let extra = insecure ? ["--insecure"] : []
        let target = workers ?? file.hosts.reduce(0) { $0 + $1.maxWorkers }
        let directory = (state.state as NSString).deletingLastPathComponent
        ChildProcess.adoptOrphans()
        let pool = WorkerPool(
            hosts: file.hosts,
            command: WorkerInvocation(brokerHost: address, workPort: ports.workPort, metricsPort: ports.metricsPort, controlPort: ports.controlPort, extraArguments: extra, curve: keys.map { .shared($0) }),
            localExecutable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path,
            logDirectory: (directory.isEmpty ? "." : directory) + "/logs", remoteBrokerHost: address)
        if !directory.isEmpty { try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        try write(String(ProcessInfo.processInfo.processIdentifier) + "\n", to: state.state)
        let supervisor = Supervisor { printError("alv: \($0)") }
        let stop = supervisor.stop
        func report(_ events: [PoolEvent]) {
            for e in events {
                let line = "\(ISO8601DateFormatter().string(from: Date())) \(e.kind) " + e.detail.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
        }
        report(pool.scale(to: target))
        printError("alv: pool up: \(pool.active.count) of \(target) workers started for broker \(address):\(ports.workPort); `alv cluster down` stops them")
        while !stop.isCancelled {
            usleep(250_000)
            report(pool.checkHosts())
            if pool.active.count < target { report(pool.scale(to: target)) }
        }
        printError("alv: stopping \(pool.active.count) workers")
        pool.stopAll()
        try? FileManager.default.removeItem(atPath: state.state)
    }
}

struct ClusterDownCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "down", abstract: "Stop the pool that `alv cluster up` started.")

    @Option(help: ArgumentHelp("The hosts file (accepted for symmetry with `up`; the pool is found through --state).", valueName: "FILE"))
    var hosts: String?

    @OptionGroup var state: ClusterStateOption

    func run() throws {
        guard let text = try? String(contentsOfFile: state.state, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw CLIError.badInput("\(state.state): no pool is up (no state file; `alv cluster up` writes it)")
        }
        guard kill(pid, SIGTERM) == 0 else {
            try? FileManager.default.removeItem(atPath: state.state)
            throw CLIError.badInput("\(state.state): the pool (pid \(pid)) is not running; state file removed")
        }
        let deadline = Date().addingTimeInterval(15)
        while kill(pid, 0) == 0 && Date() < deadline { usleep(50_000) }
        guard kill(pid, 0) != 0 else { throw CLIError.runtime("the pool (pid \(pid)) did not stop within 15 s") }
        printError("alv: pool stopped")
    }
}
