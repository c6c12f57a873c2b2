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
    public func start(_ count: Int, endpoints: BrokerEndpoints, idPrefix: String = "local", extraArguments: [String] = []) throws {
        for index in 0..<count {
            let process = Process()
            process.executableURL = executable
            process.arguments = [
                "worker", "--broker", endpoints.host, "--work-port", String(endpoints.workPort), "--metrics-port", String(endpoints.metricsPort),
                "--control-port", String(endpoints.controlPort), "--id", "\(idPrefix)-\(index + 1)",
            ] + extraArguments
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
