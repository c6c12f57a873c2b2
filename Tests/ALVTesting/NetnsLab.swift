import ALVPlanner
import Foundation

/// Hosts with their own addresses on this machine (`scripts/lab`): a controller namespace and N host
/// namespaces on a private /24, each host with its own sshd. Torn down when released, pass or fail.
public final class NetnsLab {
    public let name: String
    /// The controller's address (broker and target run there).
    public let controller: String
    /// The hosts' addresses, `h1` first.
    public let hosts: [String]
    public let directory = TemporaryDirectory("alv-lab")
    public var sshConfig: String { directory.file("ssh_config") }

    /// Whether this machine can make a lab: root, iproute2 and sshd.
    public static var available: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/sshd") && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
    }

    static let script = Fixtures.packageRoot.appendingPathComponent("scripts/lab").path

    /// Brings up `count` hosts on a /24 picked at random among 10.77.1–250.
    public init(hosts count: Int) throws {
        name = "t" + String(UInt16.random(in: 0...UInt16.max), radix: 16)
        let net = "10.77.\(Int.random(in: 1...250))"
        controller = "\(net).1"
        hosts = (1...count).map { "\(net).\(10 + $0)" }
        let result = Self.shell([Self.script, "up", String(count), "--name", name, "--net", net], environment: ["ALV_LAB_DIR": directory.path])
        guard result.status == 0 else {
            _ = Self.shell([Self.script, "down", "--name", name], environment: ["ALV_LAB_DIR": directory.path])
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "scripts/lab up failed: \(result.output)"])
        }
    }

    deinit { _ = Self.shell([Self.script, "down", "--name", name], environment: ["ALV_LAB_DIR": directory.path]) }

    /// The command line that runs `arguments` inside namespace `ns` ("c", "h1", …).
    public func inside(_ ns: String, _ arguments: [String]) -> [String] { ["ip", "netns", "exec", "\(name)-\(ns)"] + arguments }

    /// The command line that runs `command` on host `host` ("h1", …) over ssh from the controller.
    public func overSSH(_ host: String, _ command: String) -> [String] {
        inside("c", ["ssh", "-F", sshConfig, host, command])
    }

    /// Takes host `ns`'s only link down (or up): as if its cable were pulled.
    public func link(_ ns: String, up: Bool) -> Bool {
        Self.shell(["ip", "-n", "\(name)-\(ns)", "link", "set", "eth0", up ? "up" : "down"]).status == 0
    }

    /// Writes `hosts.json`: the controller as `broker_address`, one worker slot on each of `hosts` (default
    /// every host), reached with the lab's ssh configuration.
    public func hostsFile(alvPath: String, hosts names: [String]? = nil) -> String {
        let entries = (names ?? hosts.indices.map { "h\($0 + 1)" }).map {
            #"{"host": "\#($0)", "max_workers": 1, "alv_path": "\#(alvPath)", "ssh_options": ["-F", "\#(sshConfig)"]}"#
        }
        return directory.write("hosts.json", #"{"broker_address": "\#(controller)", "hosts": [\#(entries.joined(separator: ", "))]}"#)
    }

    /// `alv target` on the controller's address, stopped when released.
    public final class Target {
        public let port: Int
        public let url: String
        let process: ChildProcess
        let lab: NetnsLab

        init(lab: NetnsLab, alv: String, seconds: Int, extra: [String]) throws {
            self.lab = lab
            port = 18_000 + Int.random(in: 0..<1000)
            url = "http://\(lab.controller):\(port)"
            process = try lab.spawn(lab.inside("c", [alv, "target", "--host", lab.controller, "--port", String(port), "--duration", String(seconds)] + extra), log: "target.log")
        }

        deinit { stop() }

        /// Stops the target (callers `defer` it, which also keeps the target alive to the end of their scope).
        public func stop() {
            guard !stopped else { return }
            stopped = true
            process.stop(grace: 0)
        }
        private var stopped = false

        /// What the target counted (`GET /__stats`, asked from the controller).
        public func stats() -> [String: Any]? {
            let result = NetnsLab.shell(lab.inside("c", ["curl", "-s", url + "/__stats"]))
            return (try? JSONSerialization.jsonObject(with: Data(result.output.utf8))) as? [String: Any]
        }
    }

    public func target(alv: String, seconds: Int, extra: [String] = []) throws -> Target {
        try Target(lab: self, alv: alv, seconds: seconds, extra: extra)
    }

    /// Copies the built `alv` alone into an empty directory (`bin/` of the lab's state) and returns its path.
    public func copyBinary() throws -> String {
        let bin = directory.file("bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let alv = bin + "/alv"
        if !FileManager.default.fileExists(atPath: alv) { try FileManager.default.copyItem(atPath: AlvBinary.url.path, toPath: alv) }
        return alv
    }

    /// Starts a long-running process (in its own process group, stopped with it).
    public func spawn(_ arguments: [String], log: String) throws -> ChildProcess {
        try ChildProcess(arguments, stderrPath: directory.file(log))
    }

    /// Runs `arguments` to the end (at most `timeout` seconds); stdout and stderr together.
    public static func shell(_ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 60) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        let scratch = TemporaryDirectory("alv-lab-cmd")
        let out = scratch.file("out")
        FileManager.default.createFile(atPath: out, contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: out)
        process.standardError = FileHandle(forWritingAtPath: out)
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return (-1, "\(error)") }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        if process.isRunning { process.terminate(); process.waitUntilExit() }
        return (process.terminationStatus, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
    }
}
