import ALVModel
import ALVTesting
import Foundation
import Testing
@testable import ALVPlanner

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
        #expect(waitFor(15) { !processes(matching: remote).isEmpty }, "the worker runs on the far side of ssh: \(worker.process.stderrTail()) \(sshd.log)")
        #expect(worker.process.isRunning)

        // The ssh client dies (as when a planner host crashes): the session closes and the remote worker exits.
        kill(worker.process.pid, SIGKILL)
        #expect(waitFor(10) { processes(matching: remote).isEmpty }, "remote worker still running after its ssh session closed")
        #expect(waitFor(5) { !worker.process.isRunning })
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
        #expect(waitFor(10) {
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
