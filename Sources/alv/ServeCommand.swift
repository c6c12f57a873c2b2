import ALVDashboard
import ALVLifecycle
import ArgumentParser
import Foundation

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "A long-lived web UI over the store: stored runs, their reports, comparisons, and the live page of a run another process records.",
        discussion: """
            Open the printed URL (…/#token=…): the page keeps the token for its tab and sets a session cookie \\
            (HttpOnly, SameSite=Strict) so that links work. /runs lists stored runs (?vector=ID, ?profile=ID) with a \\
            comparison form; /runs/ID is a run's report; /compare?a=RUN&b=BASELINE compares two; / follows the \\
            newest run recorded in --db by any alv run. The same rules as the dashboard: a token on every request but \\
            the page itself, the Host header checked, POSTs only from this server's own pages.
            """)

    @Option(help: ArgumentHelp("Address to serve on.", valueName: "HOST:PORT"))
    var listen: String = "127.0.0.1:8089"

    @Option(name: .customLong("token-file"), help: ArgumentHelp("The token: the first line of FILE (16 to 256 characters). Default: a new one, printed with the URL.", valueName: "FILE"))
    var tokenFile: String?

    @OptionGroup var store: StoreOptions

    func validate() throws {
        if DashboardAddress(listen) == nil { throw ValidationError("--listen expects HOST:PORT, got \"\(listen)\"") }
    }

    func run() throws {
        guard let address = DashboardAddress(listen) else { throw CLIError.badInput("--listen expects HOST:PORT") }
        var flags = try DashboardFlags.parse(tokenFile.map { ["--dashboard-token-file", $0] } ?? [])
        flags.dashboard = listen
        let fixed = try flags.fileToken()
        let token = fixed ?? DashboardFlags.newToken()
        let feed = LiveFeed()
        let server: DashboardServer
        do {
            let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            server = try DashboardServer(
                host: address.host, port: address.port, database: store.db, token: token, feed: feed,
                launcher: RunLauncher(executable: executable, database: store.db))
        } catch {
            throw CLIError.runtime("--listen \(listen): cannot listen (\(error))")
        }
        printError("alv serve: \(server.url)\(fixed == nil ? "#token=\(token)" : " (token from --token-file)") over \(store.db)")
        let supervisor = Supervisor { printError("alv serve: \($0)") }
        supervisor.start(server)
        supervisor.start(StoreWatcher(database: store.db, feed: feed))
        supervisor.stop.wait()
        supervisor.shutdown()
    }
}
