import ALVCluster
import Foundation

/// Worker processes for the cluster tests: started on this machine (`alv worker …`), each with a pipe as stdin so they
/// exit when this process does, whatever the way it ends.
final class LocalWorkers {
    public private(set) var processes: [Process] = []
    private var stdinPipes: [Pipe] = []
    let executable: URL

    /// - Parameter executable: the `alv` binary (default: this process's own executable).
    public init(executable: URL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()) {
        self.executable = executable
    }

    /// Starts `count` workers connected to `endpoints`.
    /// - Throws: when a process cannot be started.
    /// - Parameters:
    ///   - environment: added to this process's environment for the workers.
    ///   - launcher: a command the worker runs under (`["/usr/bin/faketime", "-f", "+3s"]`).
    public func start(_ count: Int, endpoints: BrokerEndpoints, idPrefix: String = "local", extraArguments: [String] = [],
                      environment: [String: String] = [:], launcher: [String] = []) throws {
        for index in 0..<count {
            let process = Process()
            let arguments = [
                "worker", "--broker", endpoints.host, "--work-port", String(endpoints.workPort), "--metrics-port", String(endpoints.metricsPort),
                "--control-port", String(endpoints.controlPort), "--id", "\(idPrefix)-\(index + 1)",
            ] + extraArguments
            if let program = launcher.first {
                process.executableURL = URL(fileURLWithPath: program)
                process.arguments = Array(launcher.dropFirst()) + [executable.path] + arguments
            } else {
                process.executableURL = executable
                process.arguments = arguments
            }
            if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
            let pipe = Pipe()
            process.standardInput = pipe
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            processes.append(process)
            stdinPipes.append(pipe)
        }
    }

    /// Process ids, in start order.
    public var pids: [Int32] { processes.map(\.processIdentifier) }

    /// Waits up to `grace` seconds for workers to exit (after a retire message), then sends SIGTERM, then SIGKILL.
    public func stop(grace: Double = 3) {
        let deadline = Date().addingTimeInterval(grace)
        while processes.contains(where: \.isRunning) && Date() < deadline { usleep(20_000) }
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGTERM) }
        let hard = Date().addingTimeInterval(2)
        while processes.contains(where: \.isRunning) && Date() < hard { usleep(20_000) }
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for process in processes { process.waitUntilExit() }
        for pipe in stdinPipes { try? pipe.fileHandleForWriting.close() }
    }

    deinit {
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
