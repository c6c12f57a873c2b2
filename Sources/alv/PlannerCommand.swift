import ALVCluster
import ALVDistributed
import ALVLifecycle
import ALVEngine
import ALVModel
import ALVPlanner
import ArgumentParser
import Foundation

struct PlannerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "planner",
        abstract: "Size a broker's worker pool ahead of demand, starting and retiring workers on the hosts of a hosts file.",
        discussion: """
        Follows the broker's aggregates (demand planned for the next 30 s, observed rate, live workers) and acts \
        as the planner inside `alv run` does: predictive, reactive or fixed, with lead times measured per host. \
        The policy is the running profile's `scaling` object unless --mode is given. Decisions are recorded as \
        events of the broker's run. Stops on SIGINT/SIGTERM (its workers with it) or after --duration.
        """)

    @Option(help: ArgumentHelp("The broker's host.", valueName: "HOST"))
    var broker: String

    @OptionGroup var ports: BrokerAddressOptions

    @Option(help: ArgumentHelp("Hosts file (default: this machine only).", valueName: "FILE"))
    var hosts: String?

    @OptionGroup var curve: CurveClientOptions

    @Flag(help: "Allow plain TCP to a non-loopback broker (the planner and its workers).")
    var insecure = false

    @Option(help: "predictive, reactive or fixed (default: the running profile's scaling mode, else predictive).")
    var mode: String?

    @Option(help: "Requests per second one worker sustains (default: the profile's, else learned from CPU per request).")
    var capacity: Double?

    @Option(help: "Workers always running.")
    var minWorkers: Int?

    @Option(help: "The most workers.")
    var maxWorkers: Int?

    @Flag(help: "Plan and record decisions without starting or retiring workers.")
    var forecastOnly = false

    @Option(help: "Exit after this many seconds (default: run until stopped).")
    var duration: Double?

    func validate() throws {
        if let mode, Scaling.Mode(rawValue: mode) == nil { throw ValidationError("--mode expects predictive, reactive or fixed, got \"\(mode)\"") }
        if let capacity, !(capacity >= 1e-6 && capacity <= 1e12) { throw ValidationError("--capacity expects req/s from 0.000001 to 1e12, got \(capacity)") }
        for (flag, value) in [("--min-workers", minWorkers), ("--max-workers", maxWorkers)] {
            if let value, !(0...100_000).contains(value) { throw ValidationError("\(flag) expects 0–100000 workers, got \(value)") }
        }
        try FlagChecks.duration(duration)
    }

    func run() throws {
        var hostList = [HostsFile.Host(host: "local", maxWorkers: maxWorkers ?? 16)]
        var remoteBroker: String?
        if let hosts {
            let result = HostsFileValidator.validateFile(atPath: hosts)
            guard let file = result.model else { throw CLIError.badInput(result.diagnostics.map(\.description).joined(separator: "\n")) }
            hostList = file.hosts
            remoteBroker = file.brokerAddress
            if !file.groups.isEmpty {
                printError("alv planner: \(hosts): instance groups (\(file.groups.map(\.name).joined(separator: ", "))) are sized by `alv run --hosts`, whose broker admits their workers; this planner starts workers on the ssh and local hosts only")
            }
        }
        let keys = try curve.keys(broker: broker, insecure: insecure)
        let client = PlannerClient(endpoints: ports.endpoints(host: broker), curve: keys) { printError("alv planner: \($0)") }
        ChildProcess.adoptOrphans()
        let pool = WorkerPool(
            hosts: hostList,
            command: WorkerInvocation(
                brokerHost: broker, workPort: ports.workPort, metricsPort: ports.metricsPort, controlPort: ports.controlPort,
                extraArguments: insecure ? ["--insecure"] : [], curve: keys.map { .shared($0) }),
            localExecutable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path,
            logDirectory: ".alv/logs", remoteBrokerHost: remoteBroker ?? broker)
        let overrides = PlannerBesideBroker.Overrides(
            mode: mode.flatMap(Scaling.Mode.init(rawValue:)), capacity: capacity, minWorkers: minWorkers, maxWorkers: maxWorkers, forecastOnly: forecastOnly)
        let planner = PlannerBesideBroker(client: client, pool: pool, overrides: overrides, duration: duration) { printError("alv planner: \($0)") }
        printError("alv planner: following broker \(broker):\(ports.controlPort)")
        let supervisor = Supervisor { printError("alv planner: \($0)") }
        do {
            try supervisor.run { stop in try planner.run(stop: stop) }
        } catch {
            throw CLIError.runtime("planner: \(error)")
        }
    }
}
