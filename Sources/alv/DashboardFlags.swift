import ALVDashboard
import ArgumentParser
import Foundation

/// `--dashboard`, `--no-dashboard` and `--dashboard-token-file`, for `alv run`, `alv demo` and `alv broker --run`.
///
/// The dashboard always asks for a token (`Authorization: Bearer`), on loopback too: any local user can
/// reach 127.0.0.1. A new random one is made for each run and printed with the URL, in its fragment
/// (`#token=…`, which a browser never sends to a server or puts in a Referer), unless a file gives a fixed one.
struct DashboardFlags: ParsableArguments {
    @Option(help: ArgumentHelp("Serve the live dashboard here.", valueName: "HOST:PORT"))
    var dashboard: String = "127.0.0.1:8089"

    @Flag(name: .customLong("no-dashboard"), help: "Do not serve the dashboard (a machine without a browser, CI).")
    var noDashboard = false

    @Option(name: .customLong("dashboard-token-file"), help: ArgumentHelp("The dashboard's token: the first line of FILE (16 to 256 characters, no spaces). Default: a new one per run, printed with the URL.", valueName: "FILE"))
    var tokenFile: String?

    func validate() throws {
        if DashboardAddress(dashboard) == nil { throw ValidationError("--dashboard expects HOST:PORT, got \"\(dashboard)\"") }
    }

    /// The arguments that give these flags, to hand on to another command's parser.
    var arguments: [String] {
        (noDashboard ? ["--no-dashboard"] : ["--dashboard", dashboard]) + (tokenFile.map { ["--dashboard-token-file", $0] } ?? [])
    }

    /// The token from `--dashboard-token-file`, or nil when none was given.
    /// - Throws: bad input naming the flag when the file cannot be read or its first line is not a token.
    func fileToken() throws -> String? {
        guard let tokenFile else { return nil }
        guard let data = FileManager.default.contents(atPath: tokenFile) else {
            throw CLIError.badInput("--dashboard-token-file \(tokenFile): cannot read the file")
        }
        let line = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let token = line.trimmingCharacters(in: .whitespaces)
        guard (16...256).contains(token.count), token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw CLIError.badInput("--dashboard-token-file \(tokenFile): expected a first line of 16 to 256 printable characters without spaces (the token)")
        }
        return token
    }

    /// Serves the dashboard unless `--no-dashboard`; a busy port or a bad address is reported, not fatal.
    /// - Throws: bad input for an unusable `--dashboard-token-file` (before any load).
    func start(feed: LiveFeed, db: String) throws -> DashboardServer? {
        guard !noDashboard else { return nil }
        let fixed = try fileToken()
        guard let address = DashboardAddress(dashboard) else {
            printError("alv: no dashboard: --dashboard expects HOST:PORT, got \"\(dashboard)\"")
            return nil
        }
        let token = fixed ?? Self.newToken()
        do {
            let server = try DashboardServer(host: address.host, port: address.port, database: db, token: token, feed: feed)
            printError("alv: dashboard at \(server.url)\(fixed == nil ? "#token=\(token)" : " (token from --dashboard-token-file)")")
            return server
        } catch {
            printError("alv: no dashboard: cannot listen on \(address.host):\(address.port) (\(error)); the run goes on")
            return nil
        }
    }

    /// 128 random bits from the system's generator, in hex.
    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }
}
