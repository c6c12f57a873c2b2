import ALVCloud
import ALVPlanner
import ALVTesting
import Foundation
import Testing

/// Instance groups against moto's AWS API server on 127.0.0.1: the planner raises an Auto Scaling group's
/// desired capacity ahead of a step, the test plays cloud-init (it runs the rendered user data for each
/// machine moto reports InService, as that machine), the workers enrol and carry load, and scale-in
/// terminates exactly the machines alv retired. Then the failures a user meets: bad credentials, a missing
/// group, throttling, a provider CLI that fails.
@Suite(.serialized) struct CloudGroupTests {
    let directory = TemporaryDirectory("alv-cloud")
    var db: String { directory.file("alv.db") }
    let credentials = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"]

    func alv(_ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 120) throws -> AlvBinary.Result {
        try AlvBinary.run(arguments, in: directory.path, environment: environment, timeout: timeout)
    }

    /// Machines of a group brought up as cloud-init would: each InService instance runs the user data with
    /// its own id; an instance that leaves the group loses its processes (the machine is gone).
    final class InstancePlayer: @unchecked Sendable {
        let client: AutoScalingClient
        let script: String
        let directory: TemporaryDirectory
        private let lock = NSLock()
        private var machines: [String: ChildProcess] = [:]
        private(set) var started: [String] = []
        private var stop = false
        private var thread: Thread?

        init(client: AutoScalingClient, script: String, directory: TemporaryDirectory) {
            self.client = client
            self.script = script
            self.directory = directory
        }

        func start() {
            let thread = Thread { [self] in
                while !lock.withLock({ stop }) {
                    if let state = try? client.describe() {
                        let inService = Set(state.instances.filter { $0.state == "InService" }.map(\.id))
                        lock.withLock {
                            for id in inService where machines[id] == nil {
                                let home = directory.file(id)
                                let argv = ["/usr/bin/env", "ALV_INSTANCE_ID=\(id)", "ALV_CONFIG_DIR=\(home)", "ALV_LOG_DIR=\(home)", "/bin/bash", script]
                                if let process = try? ChildProcess(argv, stderrPath: directory.file("\(id).boot.log")) {
                                    machines[id] = process
                                    started.append(id)
                                }
                            }
                            for (id, process) in machines where !inService.contains(id) {
                                process.signalGroup(SIGKILL)
                                process.reap()
                                machines.removeValue(forKey: id)
                            }
                        }
                    }
                    Thread.sleep(forTimeInterval: 0.3)
                }
            }
            self.thread = thread
            thread.start()
        }

        func finish() {
            lock.withLock { stop = true }
            while let thread, !thread.isFinished { Thread.sleep(forTimeInterval: 0.05) }
            lock.withLock {
                for process in machines.values { process.signalGroup(SIGKILL); process.reap() }
                machines.removeAll()
            }
        }

        var startedIDs: [String] { lock.withLock { started } }
    }

    func hostsFile(_ groups: [String], localWorkers: Int = 1) -> String {
        let ports = (0..<4).map { _ in freePort() }
        return directory.write("hosts.json", """
            {"broker_address": "127.0.0.1", "broker_key": "keys/broker.key",
             "broker_ports": {"work": \(ports[0]), "metrics": \(ports[1]), "control": \(ports[2]), "enrol": \(ports[3])},
             "hosts": [{"host": "local", "max_workers": \(localWorkers)}, \(groups.joined(separator: ", "))]}
            """)
    }

    func awsGroup(_ name: String, group: String, endpoint: String, extra: String = "") -> String {
        #"{"kind": "aws-asg", "name": "\#(name)", "group": "\#(group)", "region": "eu-west-1", "endpoint": "\#(endpoint)", "workers_per_instance": 1, "max_instances": 4, "alv_path": "\#(AlvBinary.url.path)"\#(extra)}"#
    }

    func events(_ stdout: String) throws -> [(at: Date, kind: String, detail: [String: String])] {
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return (summary["events"] as? [[String: Any]] ?? []).compactMap { e in
            guard let at = (e["at"] as? String).flatMap(formatter.date(from:)), let kind = e["kind"] as? String else { return nil }
            return (at, kind, (e["detail"] as? [String: Any] ?? [:]).mapValues { ($0 as? String) ?? "\($0)" })
        }
    }

    func addStep(lowSec: Int, highSec: Int, afterSec: Int) throws -> String {
        let id = "cloud-step-\(lowSec)-\(highSec)"
        let low = directory.write("low-\(id).json", #"{"vector_id": "low-\#(id)", "name": "1k", "duration_sec": \#(lowSec), "load": {"target_rps": 1000}, "request_types": [{"name": "get", "url": "/", "frequency": 100}]}"#)
        let high = directory.write("high-\(id).json", #"{"vector_id": "high-\#(id)", "name": "4k", "duration_sec": \#(highSec), "load": {"target_rps": 4000}, "request_types": [{"name": "get", "url": "/", "frequency": 100}]}"#)
        let after = directory.write("after-\(id).json", #"{"vector_id": "after-\#(id)", "name": "1k", "duration_sec": \#(afterSec), "load": {"target_rps": 1000}, "request_types": [{"name": "get", "url": "/", "frequency": 100}]}"#)
        let profile = directory.write("\(id).json", """
            {"profile_id": "\(id)", "name": "1k to 4k and back", "duration_sec": \(lowSec + highSec + afterSec), "vector_sequence": ["low-\(id)", "high-\(id)", "after-\(id)"],
             "scaling": {"mode": "predictive", "min_workers": 1, "max_workers": 5, "capacity_per_worker": 1100, "cooldown_sec": 3, "margin_sec": 1}}
            """)
        for file in [low, high, after, profile] {
            let result = try alv([file == profile ? "profile" : "vector", "add", file, "--db", db])
            #expect(result.status == 0, "\(result.stderr)")
        }
        return id
    }

    @Test func aPredictiveRunRaisesTheGroupAheadOfTheStepAndTerminatesExactlyTheMachinesItRetired() throws {
        let moto = try MotoServer()
        #expect(try moto.group(["create", "alv-workers"]).contains("ok"))
        let nginx = try Nginx()
        #expect(try alv(["keys", "generate", "--out", directory.file("keys"), "--name", "broker"]).status == 0)
        let hosts = hostsFile([awsGroup("fleet", group: "alv-workers", endpoint: moto.endpoint)])
        let userData = try alv(["cluster", "user-data", "--hosts", hosts, "--host", "fleet"])
        #expect(userData.status == 0, "\(userData.stderr)")
        #expect(userData.stdout.hasPrefix("#!/bin/bash") && userData.stdout.contains("token=v1.fleet.") && !userData.stdout.contains(".key"))
        let script = directory.write("user-data.sh", userData.stdout)
        let client = AutoScalingClient(group: "alv-workers", region: "eu-west-1", endpoint: moto.endpoint, credentials: AWSCredentials(accessKeyID: "testing", secretAccessKey: "testing", source: "test"))
        let player = InstancePlayer(client: client, script: script, directory: directory)
        player.start()
        defer { player.finish() }

        // A first run learns the group's lead time (resize → the new machine's worker says hello).
        let learn = try addStep(lowSec: 2, highSec: 6, afterSec: 1)
        let first = try alv(["run", learn, "--target", nginx.url, "--hosts", hosts, "--db", db, "--json"], environment: credentials)
        #expect(first.status == 0, "\(first.stderr.suffix(3000))")
        #expect(try events(first.stdout).contains { $0.kind == "worker_enrolled" }, "\(first.stderr.suffix(2000))")
        #expect(waitFor(15) { (try? client.describe().instances.count) == 0 }, "the run returns the group to the size it found")

        let step = try addStep(lowSec: 20, highSec: 12, afterSec: 14)
        let run = try alv(["run", step, "--target", nginx.url, "--hosts", hosts, "--db", db, "--json"], environment: credentials, timeout: 180)
        #expect(run.status == 0, "\(run.stderr.suffix(3000))")
        let timeline = try events(run.stdout)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let stepAt = try #require(timeline.first { $0.kind == "vector_started" && $0.detail["vector_id"] == "high-\(step)" }?.detail["at"].flatMap(formatter.date(from:)))
        let decision = try #require(timeline.first { $0.kind == "scaling_decision" && Int($0.detail["workers_after"] ?? "") ?? 0 >= 4 }, "\(timeline.map(\.kind))")
        let lead = try #require(Double(decision.detail["lead_time_s"] ?? ""))
        let raised = try #require(timeline.first { $0.kind == "group_resized" && Int($0.detail["to"] ?? "") ?? 0 >= 3 }, "\(timeline.filter { $0.kind.hasPrefix("group") })")
        // The learned lead (plus the 1 s margin) sets how early: before the step by at least the lead, and not
        // at the run's start as the 90 s default would.
        #expect(lead > 1 && lead < 30, "lead \(lead) s learned in the first run")
        #expect(stepAt.timeIntervalSince(raised.at) >= lead - 1, "raised \(stepAt.timeIntervalSince(raised.at)) s before the step, lead \(lead) s")
        #expect(stepAt.timeIntervalSince(raised.at) <= lead + 8, "raised \(stepAt.timeIntervalSince(raised.at)) s before the step, lead \(lead) s")
        print("cloud group: lead time \(lead) s (learned, + 1 s margin); desired capacity raised to \(raised.detail["to"] ?? "?") \(String(format: "%.1f", stepAt.timeIntervalSince(raised.at))) s before the step")
        // Workers on the group's machines joined and carried load.
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let workers = summary["workers"] as? [[String: Any]] ?? []
        let fleetRequests = workers.filter { ($0["id"] as? String)?.hasPrefix("fleet-i-") == true }.map { ($0["requests_total"] as? Int) ?? 0 }
        #expect(fleetRequests.count >= 3 && fleetRequests.allSatisfy { $0 > 1000 }, "\(workers)")
        // Scale-in: the machines alv retired are the ones terminated, and moto terminated them.
        let retired = Set(timeline.filter { $0.kind == "instance_retired" }.compactMap { $0.detail["instance"] })
        let terminated = Set(timeline.filter { $0.kind == "instance_terminated" }.compactMap { $0.detail["instance"] })
        // A machine retired in the run's last seconds may still be in its grace when the run's events close: it
        // is then terminated as the run finishes, by the group's thread or by the final sweep ("the run
        // ended"), and logged on stderr.
        let atEnd = Set(run.stderr.split(separator: "\n").compactMap { line -> String? in
            guard line.contains("instance_terminated:") else { return nil }
            return line.split(separator: " ").first { $0.hasPrefix("instance=") }.map { String($0.dropFirst(9)) }
        })
        #expect(!retired.isEmpty && terminated.isSubset(of: retired) && retired == terminated.union(atEnd.intersection(retired)),
                "retired \(retired), terminated \(terminated), at the run's end \(atEnd)")
        print("cloud group: fleet workers' requests \(fleetRequests); retired and terminated \(retired.sorted())")
        let states = try moto.group(["states"] + Array(retired))
        for id in retired { #expect(states.contains("\(id) terminated"), "\(states)") }
        // What the learned lead time means on a day of demand: plan simulate takes it from the store.
        let plan = try alv(["plan", "simulate", "--demand", demandCSV(), "--peak-workers", "20", "--policy", "all", "--hosts", hosts, "--launcher", "fleet", "--db", db, "--json"])
        #expect(plan.status == 0, "\(plan.stderr)")
        let results = try #require((try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])?["results"] as? [[String: Any]])
        // The store's lead now blends both runs' machines: a few seconds, not the 90 s default.
        let source = results.first?["lead_time_source"] as? String ?? ""
        let learnedSeconds = source.hasPrefix("learned: ") ? Double(source.dropFirst(9).prefix { $0 != " " }) : nil
        #expect(learnedSeconds.map { $0 > 0.5 && $0 < 30 } == true, "\(source)")
        let added = Set(player.startedIDs).subtracting(retired)
        if !added.isEmpty {
            // What was left when the run ended was terminated then ("the run ended"), leaving the group as found.
            #expect(waitFor(15) { (try? client.describe().instances.count) == 0 })
        }
    }

    /// Two weeks of 10-minute demand with a daily wave (req/s).
    func demandCSV() -> String {
        var csv = "timestamp,value\n"
        for step in 0..<(14 * 144) {
            let value = 1000 + 800 * sin(Double(step % 144) / 144 * 2 * .pi)
            csv += "\(1_700_000_000 + step * 600),\(String(format: "%.1f", value))\n"
        }
        return directory.write("demand.csv", csv)
    }

    @Test func planSimulateCountsWholeMachinesAndTheirCost() throws {
        let hosts = directory.write("plan-hosts.json", #"{"broker_address": "10.0.0.5", "broker_key": "broker.key", "hosts": [{"kind": "aws-asg", "name": "fleet", "group": "g", "region": "eu-west-1", "workers_per_instance": 4, "max_instances": 40, "instance_cost_per_hour": 0.5}]}"#)
        let run = try alv(["plan", "simulate", "--demand", demandCSV(), "--peak-workers", "18", "--policy", "oracle", "--hosts", hosts, "--launcher", "fleet", "--lead-time-sec", "1500", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        // 1500 s is 2.5 steps of 600 s: workers decided 3 steps ahead.
        #expect(result["lead_time"] as? Int == 3 && result["lead_time_sec"] as? Double == 1800 && result["workers_per_instance"] as? Int == 4, "\(result)")
        let workerHours = try #require(result["worker_seconds"] as? Double) / 3600
        let machineHours = try #require(result["instance_hours"] as? Double)
        // Whole machines of 4: at least a quarter of the worker-hours, and less than that plus one machine per step.
        let steps = Double(try #require(result["steps"] as? Int))
        #expect(machineHours >= workerHours / 4 && machineHours < workerHours / 4 + steps / 6, "\(machineHours) machine-hours for \(workerHours) worker-hours")
        #expect(abs((result["cost"] as? Double ?? 0) - machineHours * 0.5) < 1e-6)
        // Without a measured lead, the launcher's default, said as such; an unknown launcher is named.
        let fallback = try alv(["plan", "simulate", "--demand", demandCSV(), "--peak-workers", "18", "--hosts", hosts, "--launcher", "fleet", "--db", directory.file("empty.db")])
        #expect(fallback.status == 0 && fallback.stdout.contains("(600 s, the default before any run measured it)"), "\(fallback.stdout)\(fallback.stderr)")
        let unknown = try alv(["plan", "simulate", "--demand", demandCSV(), "--peak-workers", "18", "--hosts", hosts, "--launcher", "gcp"])
        #expect(unknown.status == 2 && unknown.stderr.contains("--launcher gcp") && unknown.stderr.contains("fleet"), "\(unknown.stderr)")
    }

    @Test func badCredentialsAMissingGroupAndThrottlingAreEventsAndTheRunGoesOn() throws {
        let moto = try MotoServer()
        #expect(try moto.group(["create", "alv-workers"]).contains("ok"))
        let guarded = try MotoServer(authenticating: true)
        let nginx = try Nginx()
        let throttlePort = freePort()
        let throttle = try ChildProcess([MotoServer.python, Fixtures.path("Tests/Fixtures/cloud/throttle.py"), String(throttlePort)], stderrPath: directory.file("throttle.log"))
        defer { throttle.stop(grace: 0) }
        #expect(waitForListener(port: throttlePort))
        #expect(try alv(["keys", "generate", "--out", directory.file("keys"), "--name", "broker"]).status == 0)
        let credentialsFile = directory.write("credentials", "[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n\n[stolen]\naws_access_key_id = AKIAEXAMPLEEXAMPLE00\naws_secret_access_key = nope\n")
        let hosts = hostsFile([
            awsGroup("missing", group: "no-such-group", endpoint: moto.endpoint),
            awsGroup("denied", group: "alv-workers", endpoint: guarded.endpoint, extra: #", "profile": "stolen""#),
            awsGroup("throttled", group: "alv-workers", endpoint: "http://127.0.0.1:\(throttlePort)"),
        ], localWorkers: 2)
        let vector = directory.write("v.json", #"{"vector_id": "cloud-bad", "name": "bad", "duration_sec": 10, "load": {"target_rps": 400}, "request_types": [{"name": "get", "url": "/", "frequency": 100}]}"#)
        let profile = directory.write("p.json", #"{"profile_id": "cloud-bad", "name": "bad", "duration_sec": 10, "vector_sequence": ["cloud-bad"], "scaling": {"mode": "predictive", "min_workers": 1, "max_workers": 6, "capacity_per_worker": 100, "margin_sec": 1}}"#)
        for (kind, file) in [("vector", vector), ("profile", profile)] { #expect(try alv([kind, "add", file, "--db", db]).status == 0) }
        let run = try alv(["run", "cloud-bad", "--target", nginx.url, "--hosts", hosts, "--db", db, "--json"], environment: ["AWS_SHARED_CREDENTIALS_FILE": credentialsFile, "HOME": directory.path])
        #expect(run.status == 0, "\(run.stderr.suffix(3000))")
        let timeline = try events(run.stdout)
        let errors = timeline.filter { $0.kind == "group_error" }
        #expect(errors.contains { $0.detail["launcher"] == "missing" && $0.detail["code"] == "GroupNotFound" && ($0.detail["message"] ?? "").contains("no-such-group") }, "\(errors)")
        #expect(errors.contains { $0.detail["launcher"] == "denied" && ($0.detail["code"] ?? "").contains("InvalidClientTokenId") }, "\(errors)")
        #expect(errors.contains { $0.detail["launcher"] == "throttled" && $0.detail["code"] == "Throttling" }, "\(errors)")
        #expect(timeline.contains { $0.kind == "group_retry" && $0.detail["launcher"] == "throttled" && $0.detail["code"] == "Throttling" })
        // The run went on with the local workers, scaled to both of them.
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect((summary["requests_total"] as? Int ?? 0) > 3000, "\(summary["requests_total"] ?? "")")
        #expect((summary["workers"] as? [[String: Any]] ?? []).filter { ($0["id"] as? String)?.hasPrefix("local-") == true }.count == 2)
    }

    @Test func aCommandLauncherAsksTheProviderCLIForSizesAndAFailingCommandIsAnEvent() throws {
        let nginx = try Nginx()
        #expect(try alv(["keys", "generate", "--out", directory.file("keys"), "--name", "broker"]).status == 0)
        let provider = Fixtures.path("Tests/Fixtures/cloud/provider.sh")
        let log = directory.file("provider.log"), state = directory.file("provider.state")
        let group = #"{"kind": "command", "name": "gcp", "workers_per_instance": 2, "max_instances": 3, "instance_id": "curl -s -H 'Metadata-Flavor: Google' http://metadata.google.internal/computeMetadata/v1/instance/name", "scale_to": ["\#(provider)", "scale", "{{instances}}"], "list": ["\#(provider)", "list"], "terminate": ["\#(provider)", "terminate", "{{instance}}"]}"#
        let failing = #"{"kind": "command", "name": "broken", "workers_per_instance": 1, "max_instances": 2, "scale_to": ["\#(provider)", "fail", "{{instances}}"], "list": ["\#(provider)", "fail"]}"#
        let hosts = hostsFile([group, failing])
        let vector = directory.write("v.json", #"{"vector_id": "cloud-cmd", "name": "cmd", "duration_sec": 8, "load": {"target_rps": 300}, "request_types": [{"name": "get", "url": "/", "frequency": 100}]}"#)
        let profile = directory.write("p.json", #"{"profile_id": "cloud-cmd", "name": "cmd", "duration_sec": 8, "vector_sequence": ["cloud-cmd"], "scaling": {"mode": "predictive", "min_workers": 1, "max_workers": 5, "capacity_per_worker": 100, "margin_sec": 1}}"#)
        for (kind, file) in [("vector", vector), ("profile", profile)] { #expect(try alv([kind, "add", file, "--db", db]).status == 0) }
        let run = try alv(["run", "cloud-cmd", "--target", nginx.url, "--hosts", hosts, "--db", db, "--json"], environment: ["PROVIDER_LOG": log, "PROVIDER_STATE": state])
        #expect(run.status == 0, "\(run.stderr.suffix(3000))")
        let calls = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        // 300 req/s at 100 per worker: 3 workers, 1 local, 2 on one machine of 2 slots.
        #expect(calls.contains("scale 1"), "\(calls)")
        #expect(calls.contains("list"))
        // At the end the machine the run added is terminated by id.
        #expect(calls.contains { $0.hasPrefix("terminate vm-1-") }, "\(calls)")
        // The user data asks the machine for its name as the launcher's instance_id says, and is valid bash.
        let userData = try alv(["cluster", "user-data", "--hosts", hosts, "--host", "gcp"])
        #expect(userData.status == 0 && userData.stdout.contains("instance=$(curl -s -H 'Metadata-Flavor: Google' http://metadata.google.internal/computeMetadata/v1/instance/name)"), "\(userData.stdout)")
        #expect(userData.stdout.contains("$(seq 1 2)") && userData.stdout.contains("--enrol-port"))
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/bin/bash")
        check.arguments = ["-n", directory.write("gcp-user-data.sh", userData.stdout)]
        try check.run()
        check.waitUntilExit()
        #expect(check.terminationStatus == 0, "bash -n on the rendered user data")
        let unknown = try alv(["cluster", "user-data", "--hosts", hosts, "--host", "azure"])
        #expect(unknown.status == 2 && unknown.stderr.contains("--host azure") && unknown.stderr.contains("gcp, broken"), "\(unknown.stderr)")
        let timeline = try events(run.stdout)
        #expect(timeline.contains { $0.kind == "group_error" && $0.detail["launcher"] == "broken" && ($0.detail["message"] ?? "").contains("quota exceeded") }, "\(timeline.filter { $0.kind.hasPrefix("group") })")
        #expect(timeline.contains { $0.kind == "group_resized" && $0.detail["launcher"] == "gcp" && $0.detail["to"] == "1" })
    }
}
