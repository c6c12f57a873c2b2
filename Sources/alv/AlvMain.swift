import ALVSystem
import ArgumentParser
import Foundation

/// Maps every way a command can end to the exit codes ARCHITECTURE.md fixes:
/// 0 success, 1 thresholds failed, 2 bad input, 3 runtime failure.
enum AlvMain {
    static func run() {
        // A write to a pipe whose reader is gone (a worker's stdin, a closed client) returns EPIPE instead.
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try Alv.parseAsRoot()
            try command.run()
        } catch let error as CLIError {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            exit(error.exitCode)
        } catch {
            let code = Alv.exitCode(for: error)
            if code == .success {
                Alv.exit(withError: error)
            } else if code == .validationFailure {
                // Usage errors are bad input: exit 2, with argument-parser's message and usage.
                FileHandle.standardError.write(Data((Alv.fullMessage(for: error) + "\n").utf8))
                exit(2)
            } else if error is ExitCode {
                exit(code.rawValue)
            } else {
                FileHandle.standardError.write(Data(("alv: \(error)\n").utf8))
                exit(3)
            }
        }
    }
}

/// An error a command reports, with its exit code.
enum CLIError: Error, CustomStringConvertible {
    /// Exit 2: a file, flag or JSON value is wrong; the message names it.
    case badInput(String)
    /// Exit 3: something failed while running.
    case runtime(String)

    var description: String {
        switch self {
        case .badInput(let message), .runtime(let message): return message
        }
    }

    var exitCode: Int32 {
        switch self {
        case .badInput: return 2
        case .runtime: return 3
        }
    }
}

struct Alv: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "alv",
        abstract: "Adaptive Load Vectoring with Predictive Scaling: distributed HTTP load testing.",
        discussion: """
            Exit codes: 0 success; 1 thresholds failed or the profile aborted; 2 bad input (the message names \
            the file and JSON path); 3 runtime failure.
            """,
        version: "alv \(version)\n\(LibraryVersions.summary)",
        subcommands: [DemoCommand.self, RunCommand.self, ReportCommand.self, ServeCommand.self, ForecastCommand.self, PlanCommand.self, ClusterCommand.self, HistoryCommand.self, PlannerCommand.self, TargetCommand.self, BrokerCommand.self, WorkerCommand.self, KeysCommand.self, VectorCommand.self, ProfileCommand.self, SchemaCommand.self])
}
