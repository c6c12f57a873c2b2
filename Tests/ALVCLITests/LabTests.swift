import ALVTesting
import Foundation
import Testing

/// alv across hosts with their own addresses (network namespaces made by `scripts/lab`): the broker and the
/// target on the controller's address, workers started over ssh on two other hosts from a binary copied
/// alone into an empty directory. No packet uses loopback or the root namespace.
@Suite(.serialized, .enabled(if: NetnsLab.available, "needs root, iproute2 and openssh-server"))
struct LabTests {
    @Test func aBrokerRunsWorkersOnTwoOtherHosts() throws {
        let lab = try NetnsLab(hosts: 2)
        // Only the bridge's ports are in the root namespace, and they have no address.
        let rootAddresses = NetnsLab.shell(["ip", "-o", "addr", "show"]).output
        #expect(!rootAddresses.contains(lab.controller) && !rootAddresses.contains(lab.hosts[0]), "\(rootAddresses)")
        let ssh = NetnsLab.shell(lab.overSSH("h2", "hostname -I"))
        #expect(ssh.status == 0 && ssh.output.contains(lab.hosts[1]), "\(ssh.output)")

        // The binary alone, in an empty directory.
        let bin = lab.directory.file("bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let alv = bin + "/alv"
        try FileManager.default.copyItem(atPath: AlvBinary.url.path, toPath: alv)

        let targetPort = 18_000 + Int.random(in: 0..<1000)
        let target = try lab.spawn(lab.inside("c", [alv, "target", "--host", lab.controller, "--port", String(targetPort), "--duration", "90"]), log: "target.log")
        defer { target.stop(grace: 0) }
        let ports = ["--work-port", "5557", "--metrics-port", "5558", "--control-port", "5559"]
        let workers = try ["h1", "h2"].map { host in
            try lab.spawn(lab.overSSH(host, ([alv, "worker", "--broker", lab.controller, "--insecure", "--id", "\(host)-w"] + ports).joined(separator: " ")), log: "worker-\(host).log")
        }
        defer { workers.forEach { $0.stop(grace: 0) } }
        let vector = lab.directory.write("v.json", #"{"vector_id": "lab", "name": "Lab", "duration_sec": 6, "load": {"target_rps": 200}, "request_types": [{"name": "a", "url": "/a", "frequency": 100}]}"#)
        let run = NetnsLab.shell(lab.inside("c", [alv, "broker", "--listen", lab.controller, "--insecure", "--run", vector, "--target", "http://\(lab.controller):\(targetPort)",
                                                   "--wait-workers", "2", "--wait-timeout", "30", "--db", lab.directory.file("alv.db"), "--no-dashboard", "--json"] + ports),
                                 timeout: 80)
        #expect(run.status == 0, "\(run.output.suffix(2000))")
        let json = try #require(run.output.split(separator: "\n").first { $0.hasPrefix("{") }.map { _ in run.output[run.output.firstIndex(of: "{")!...] })
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let perWorker = (summary["workers"] as? [[String: Any]] ?? []).map { ($0["id"] as? String ?? "", $0["requests_total"] as? Int ?? 0) }
        #expect(Set(perWorker.map(\.0)) == ["h1-w", "h2-w"] && perWorker.allSatisfy { $0.1 > 300 }, "\(perWorker)")
        let stats = NetnsLab.shell(lab.inside("c", ["curl", "-s", "http://\(lab.controller):\(targetPort)/__stats"]))
        let served = try #require(try JSONSerialization.jsonObject(with: Data(stats.output.utf8)) as? [String: Any])
        #expect(served["total"] as? Int == summary["requests_total"] as? Int, "target \(served), summary \(summary["requests_total"] ?? "?")")
        #expect(summary["metrics_gaps"] as? Int == 0)
    }
}
