import ALVEngine
import ALVRun
import ALVStore
import ALVTarget
import ArgumentParser
import Foundation

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the demo profile against the built-in target, on the embedded defaults.",
        discussion: """
            Starts the built-in target (config/targets/demo.json: fast pages, slower search, 503s on POST /orders \
            for eight seconds), then runs the `demo` profile from the repository (browse, checkout, spike) in this \
            process and prints the summary. Takes about a minute; Ctrl-C stops it cleanly.
            """)

    @Option(help: "Port of the built-in target (0 picks a free one).")
    var port: Int = 0

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be 0–65535, got \(port)") }
    }

    @Flag(help: "Print the summary as one JSON object on stdout.")
    var json = false

    @OptionGroup(title: "The live dashboard")
    var dashboard: DashboardFlags

    @OptionGroup var store: StoreOptions

    func run() throws {
        let configDirectory = try ConfigDirectory.locate(beside: store.db)
        let behaviourFile = configDirectory + "/targets/demo.json"
        let behaviour: TargetConfiguration
        do {
            behaviour = try JSONDecoder().decode(TargetConfiguration.self, from: Data(try readInput(behaviourFile)))
        } catch let error as DecodingError {
            throw CLIError.runtime("\(behaviourFile): \(describe(error))")
        }
        let server: TargetServer
        do {
            server = try TargetServer(host: "127.0.0.1", port: port, configuration: behaviour, threads: 1)
        } catch {
            throw CLIError.runtime("cannot start the built-in target on 127.0.0.1:\(port): \(error)")
        }
        defer { server.stop() }
        printError("alv demo: built-in target on \(server.url) (\(behaviourFile))")
        printError("alv demo: repository \(store.db); profile demo = demo-browse → demo-checkout → demo-spike")

        let reports = ((store.db as NSString).deletingLastPathComponent as NSString).appendingPathComponent("reports/latest")
        let command = try RunCommand.parse(["demo", "--target", server.url, "--db", store.db, "--report", reports] + dashboard.arguments + (json ? ["--json"] : []))
        defer {
            // Templated paths (/items/17) are grouped by their first segment.
            var byRoute: [String: Int] = [:]
            for (key, count) in server.stats.counts {
                let parts = key.split(separator: " ", maxSplits: 1)
                let segment = parts.count == 2 ? parts[1].split(separator: "/").first.map { "/\($0)" } ?? "/" : key
                byRoute["\(parts[0]) \(segment)", default: 0] += count
            }
            let routes = byRoute.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            printError("alv demo: the target received \(server.stats.total) requests: \(routes)")
        }
        try command.run()
    }
}
