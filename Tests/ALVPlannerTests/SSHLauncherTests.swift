import ALVModel
import ALVTesting
import Foundation
import Testing
@testable import ALVPlanner

/// Processes whose command line matches `pattern` (pgrep -f).
func matching(_ pattern: String) -> [Int32] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/pgrep")
    process.arguments = ["-f", pattern]
    let pipe = Pipe()
    process.standardOutput = pipe
    try? process.run()
    process.waitUntilExit()
    let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    return text.split(separator: "\n").compactMap { Int32($0) }
}

func waitUntil(_ timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(50_000)
    }
    return condition()
}

/// The launchers against a real sshd on 127.0.0.1 and real `alv worker` processes.
@Suite(.serialized) struct SSHLauncherTests {
    @Test func closingTheSSHSessionEndsTheRemoteWorker() throws {
        let sshd = try LocalSSHD()
        let logs = TemporaryDirectory("alv-pool")
        let host = HostsFile.Host(host: sshd.host, maxWorkers: 2, alvPath: AlvBinary.url.path, sshOptions: sshd.sshOptions)
        // No broker listens on these ports: the worker keeps waiting for one, which is all this test needs.
        let pool = WorkerPool(hosts: [host], command: WorkerInvocation(brokerHost: "127.0.0.1", workPort: freePort(), metricsPort: freePort(), controlPort: freePort()),
                              localExecutable: AlvBinary.url.path, logDirectory: logs.path)
        let events = pool.scale(to: 1)
        #expect(events.map(\.kind) == ["worker_started"], "\(events)")
        let worker = try #require(pool.active.first)
        #expect(worker.id.hasPrefix("\(sshd.user)_127.0.0.1-"))
        let remote = "^\(AlvBinary.url.path) worker .*--id \(worker.id)$"
        #expect(waitUntil(15) { !matching(remote).isEmpty }, "the worker runs on the far side of ssh: \(worker.process.stderrTail()) \(sshd.log)")
        #expect(worker.process.isRunning)

        // The ssh client dies (as when a planner host crashes): the session closes and the remote worker exits.
        kill(worker.process.pid, SIGKILL)
        #expect(waitUntil(10) { matching(remote).isEmpty }, "remote worker still running after its ssh session closed")
        #expect(waitUntil(5) { !worker.process.isRunning })
        let after = pool.checkHosts()
        #expect(after.contains { $0.kind == "worker_exited" })
        pool.stopAll()
    }

    @Test func anUnreachableHostIsMarkedDownAndWorkGoesElsewhere() throws {
        let logs = TemporaryDirectory("alv-pool")
        // Nothing listens on this port: ssh fails at once with exit 255.
        let dead = HostsFile.Host(host: "nobody@127.0.0.1", maxWorkers: 4, alvPath: AlvBinary.url.path,
                                  sshOptions: ["-p", String(freePort()), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"])
        let local = HostsFile.Host(host: "local", maxWorkers: 2)
        let pool = WorkerPool(hosts: [dead, local], command: WorkerInvocation(brokerHost: "127.0.0.1", workPort: freePort(), metricsPort: freePort(), controlPort: freePort()),
                              localExecutable: AlvBinary.url.path, logDirectory: logs.path)
        defer { pool.stopAll() }
        _ = pool.scale(to: 2)
        #expect(waitUntil(10) {
            let events = pool.checkHosts()
            return events.contains { $0.kind == "host_down" } || pool.hostSummary[dead.host]?.up == false
        })
        #expect(pool.hostSummary[dead.host]?.up == false)
        _ = pool.scale(to: 2)
        #expect(pool.active.count == 2 && pool.active.allSatisfy { $0.host == "local" }, "\(pool.active.map(\.host))")
        // Process groups are reaped: after stopAll no child is left.
        let pids = pool.active.map(\.process.pid)
        pool.stopAll()
        #expect(pids.allSatisfy { kill($0, 0) != 0 })
    }
}
