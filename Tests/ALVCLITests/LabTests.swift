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
        let alv = try lab.copyBinary()

        let target = try lab.target(alv: alv, seconds: 90)
        defer { target.stop() }
        let ports = ["--work-port", "5557", "--metrics-port", "5558", "--control-port", "5559"]
        let workers = try ["h1", "h2"].map { host in
            try lab.spawn(lab.overSSH(host, ([alv, "worker", "--broker", lab.controller, "--insecure", "--id", "\(host)-w"] + ports).joined(separator: " ")), log: "worker-\(host).log")
        }
        defer { workers.forEach { $0.stop(grace: 0) } }
        let vector = lab.directory.write("v.json", #"{"vector_id": "lab", "name": "Lab", "duration_sec": 6, "load": {"target_rps": 200}, "request_types": [{"name": "a", "url": "/a", "frequency": 100}]}"#)
        let run = NetnsLab.shell(lab.inside("c", [alv, "broker", "--listen", lab.controller, "--insecure", "--run", vector, "--target", target.url,
                                                   "--wait-workers", "2", "--wait-timeout", "30", "--db", lab.directory.file("alv.db"), "--no-dashboard", "--json"] + ports),
                                 timeout: 80)
        #expect(run.status == 0, "\(run.output.suffix(2000))")
        let json = try #require(run.output.split(separator: "\n").first { $0.hasPrefix("{") }.map { _ in run.output[run.output.firstIndex(of: "{")!...] })
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let perWorker = (summary["workers"] as? [[String: Any]] ?? []).map { ($0["id"] as? String ?? "", $0["requests_total"] as? Int ?? 0) }
        #expect(Set(perWorker.map(\.0)) == ["h1-w", "h2-w"] && perWorker.allSatisfy { $0.1 > 300 }, "\(perWorker)")
        let served = try #require(target.stats())
        #expect(served["total"] as? Int == summary["requests_total"] as? Int, "target \(served), summary \(summary["requests_total"] ?? "?")")
        #expect(summary["metrics_gaps"] as? Int == 0)
    }
}

extension LabTests {
    /// The binary copied alone to an empty directory of another host has its built-ins: the vector list and
    /// the demo (its built-in target on that host's loopback), with nothing from a checkout.
    @Test func theCopiedBinaryAloneRunsTheDemoOnAnotherHost() throws {
        let lab = try NetnsLab(hosts: 1)
        let alv = try lab.copyBinary()
        #expect(!FileManager.default.fileExists(atPath: (alv as NSString).deletingLastPathComponent + "/config"))
        let empty = lab.directory.file("empty-h1")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let list = NetnsLab.shell(lab.overSSH("h1", "cd \(empty) && env -u ALV_CONFIG_DIR \(alv) vector list"))
        #expect(list.status == 0 && list.output.contains("demo-browse") && list.output.contains("smoke"), "\(list.output)")
        let demo = NetnsLab.shell(lab.overSSH("h1", "cd \(empty) && env -u ALV_CONFIG_DIR \(alv) demo --no-dashboard --json 2>/dev/null"), timeout: 120)
        #expect(demo.status == 0, "\(demo.output.suffix(1500))")
        let json = demo.output.firstIndex(of: "{").map { String(demo.output[$0...]) } ?? ""
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(demo.output.suffix(500))")
        #expect(summary["status"] as? String == "completed" && (summary["requests_total"] as? Int ?? 0) > 1000, "\(summary["status"] ?? "?")")
        // The built-ins were written beside the store, data files included.
        #expect(FileManager.default.fileExists(atPath: empty + "/.alv/builtin/vectors/data/users.csv"))
        let schema = NetnsLab.shell(lab.overSSH("h1", "cd \(empty) && \(alv) schema print vector"))
        #expect(schema.status == 0 && schema.output.contains("\"vector_id\""), "\(schema.output.prefix(300))")
    }
}

extension LabTests {
    /// `alv cluster install` copies the binary to each host's home only when it is missing or differs, checks
    /// that it starts there, and `alv run --hosts` then starts workers from `~/.alv/bin/alv`.
    @Test func clusterInstallCopiesWhatIsMissingAndRunsUseIt() throws {
        let lab = try NetnsLab(hosts: 2)
        let alv = try lab.copyBinary()
        let hostsFile = lab.hostsFile(alvPath: "~/.alv/bin/alv")
        func install() throws -> [String: String] {
            let result = NetnsLab.shell(lab.inside("c", [alv, "cluster", "install", "--hosts", hostsFile]), timeout: 120)
            #expect(result.status == 0, "\(result.output)")
            var lines: [String: String] = [:]
            for line in result.output.split(separator: "\n") where line.hasPrefix("h") {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2 { lines[String(parts[0])] = String(parts[1]) }
            }
            return lines
        }
        var lines = try install()
        #expect(lines["h1"]?.contains("copied") == true && lines["h2"]?.contains("copied") == true && lines.values.allSatisfy { $0.contains("starts (alv ") }, "\(lines)")
        // Each host has a home of its own (scripts/lab); the copy is there under a versioned name.
        let bin = lab.directory.file("home-h2/.alv/bin")
        let versioned = try #require(try FileManager.default.contentsOfDirectory(atPath: bin).first { $0.hasPrefix("alv-") && !$0.hasSuffix(".part") })
        #expect(FileManager.default.contentsEqual(atPath: bin + "/" + versioned, andPath: alv))
        lines = try install()
        #expect(lines["h1"]?.contains("already there") == true && lines["h2"]?.contains("already there") == true, "\(lines)")
        // A damaged copy is replaced; the good one is left alone.
        FileManager.default.createFile(atPath: bin + "/" + versioned, contents: Data("not alv".utf8))
        lines = try install()
        #expect(lines["h1"]?.contains("already there") == true && lines["h2"]?.contains("copied") == true, "\(lines)")

        let target = try lab.target(alv: alv, seconds: 60)
        defer { target.stop() }
        let vector = lab.directory.write("v.json", #"{"vector_id": "inst", "name": "Installed", "duration_sec": 3, "load": {"target_rps": 200}, "request_types": [{"name": "a", "url": "/a", "frequency": 100}]}"#)
        let run = NetnsLab.shell(lab.inside("c", [alv, "run", vector, "--target", target.url, "--hosts", hostsFile, "--workers", "2",
                                                   "--db", lab.directory.file("alv.db"), "--no-dashboard", "--json"]), timeout: 60)
        #expect(run.status == 0, "\(run.output.suffix(1500))")
        #expect(run.output.contains("\"h1-") && run.output.contains("\"h2-"), "\(run.output.suffix(800))")
    }
}

/// `alv run --hosts` across three hosts: the broker binds the controller's address, speaks CURVE with a key
/// pair for the run and one per worker handed over ssh's stdin, and a client with a key of its own gets no
/// work and is counted.
@Suite(.serialized, .enabled(if: NetnsLab.available, "needs root, iproute2 and openssh-server"))
struct LabRunTests {
    @Test func runOverThreeHostsWithCurveKeysOverStdin() throws {
        let lab = try NetnsLab(hosts: 3)
        let alv = try lab.copyBinary()

        let target = try lab.target(alv: alv, seconds: 120)
        defer { target.stop() }
        let hostsFile = lab.hostsFile(alvPath: alv)
        let vector = lab.directory.write("v.json", #"{"vector_id": "lab3", "name": "Three hosts", "duration_sec": 10, "load": {"target_rps": 300}, "request_types": [{"name": "a", "url": "/a", "frequency": 100}]}"#)
        let out = lab.directory.file("summary.json")
        let command = [alv, "run", vector, "--target", target.url, "--hosts", hostsFile, "--workers", "3",
                       "--db", lab.directory.file("alv.db"), "--no-dashboard", "--json"].map { "'\($0)'" }.joined(separator: " ")
        let run = try lab.spawn(lab.inside("c", ["sh", "-c", "exec \(command) > '\(out)'"]), log: "run.log")
        defer { run.stop(grace: 0) }

        // The broker's public key and ports are printed; a client with a key of its own tries to join from h3.
        var banner: Substring?
        let deadline = Date().addingTimeInterval(30)
        while banner == nil && Date() < deadline && run.isRunning {
            banner = run.stderrTail(100_000).split(separator: "\n").first { $0.contains("broker listening on") }
            usleep(100_000)
        }
        let line = try #require(banner, "\(run.stderrTail())")
        #expect(line.contains("on \(lab.controller) ") && line.contains("CURVE"), "\(line)")
        func field(_ name: String) -> String? {
            let words = line.split(separator: " ").map(String.init)
            return words.firstIndex(of: name).map { words[$0 + 1].trimmingCharacters(in: CharacterSet(charactersIn: ";")) }
        }
        let serverKey = try #require(field("key"))
        let keys = lab.directory.file("rogue")
        #expect(NetnsLab.shell([alv, "keys", "generate", "--out", keys, "--name", "rogue"]).status == 0)
        let rogue = try lab.spawn(lab.inside("h3", [alv, "worker", "--broker", lab.controller, "--work-port", field("work")!, "--metrics-port", field("metrics")!,
                                                   "--control-port", field("control")!, "--curve-server-key", serverKey, "--curve-key", keys + "/rogue.key", "--id", "rogue", "-v"]),
                                  log: "rogue.log")
        defer { rogue.stop(grace: 0) }
        // And one without CURVE at all, from h2.
        let plain = try lab.spawn(lab.inside("h2", [alv, "worker", "--broker", lab.controller, "--work-port", field("work")!, "--metrics-port", field("metrics")!,
                                                   "--control-port", field("control")!, "--insecure", "--id", "plain", "-v"]),
                                  log: "plain.log")
        defer { plain.stop(grace: 0) }

        // While the run goes on: every worker took its keys from stdin; no command line on any host holds one.
        var sawWorkers = false
        while run.isRunning && Date() < deadline.addingTimeInterval(60) {
            let ps = NetnsLab.shell(["ps", "-eo", "args"]).output
            let workers = ps.split(separator: "\n").filter { $0.contains(" worker ") && $0.contains("--keys-on-stdin") && !$0.hasPrefix("ssh") }
            if workers.count >= 3 { sawWorkers = true }
            #expect(!ps.contains("secret=") && !ps.contains("alv-keys"), "a secret in argv: \(ps)")
            usleep(500_000)
        }
        #expect(sawWorkers, "three workers with --keys-on-stdin were seen in ps")
        while run.isRunning { usleep(100_000) }
        #expect(run.exitStatus == 0, "\(run.stderrTail(3000))")

        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
        let workerIDs = (summary["workers"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(workerIDs.count == 3 && ["h1", "h2", "h3"].allSatisfy { h in workerIDs.contains { $0.hasPrefix(h + "-") } }, "\(workerIDs)")
        let served = try #require(target.stats())
        #expect(served["total"] as? Int == summary["requests_total"] as? Int, "target \(served), summary \(summary["requests_total"] ?? "?")")
        let clients = served["clients"] as? [String: Int] ?? [:]
        #expect(Set(clients.keys) == Set(lab.hosts) && clients.values.allSatisfy { $0 > 300 }, "requests by client address: \(clients)")
        #expect(summary["metrics_gaps"] as? Int == 0)
        // The rogue was refused and counted, and took no unit.
        let refused = (summary["events"] as? [[String: Any]] ?? []).first { $0["kind"] as? String == "messages_refused" }?["detail"] as? [String: Any]
        #expect((refused?["unauthenticated"] as? Int ?? 0) >= 1 && (refused?["handshake_failed"] as? Int ?? 0) >= 1, "\(String(describing: refused))")
        #expect(!workerIDs.contains("rogue") && !workerIDs.contains("plain"))
        for name in ["rogue", "plain"] {
            let log = (try? String(contentsOfFile: lab.directory.file("\(name).log"), encoding: .utf8)) ?? ""
            #expect(!log.contains("connected as") && !log.contains("unit"), "\(name): \(log)")
        }
    }

    /// Predictive scaling onto namespace hosts: from 1,000 to 4,000 req/s at second 15, the planner starts two
    /// workers over ssh on other hosts before the step; then one host's link goes down mid-step, its worker is
    /// named lost with an estimate, its units go to the others, and the run completes.
    @Test func predictiveScaleOutOntoHostsAndALinkThatGoesDown() throws {
        let lab = try NetnsLab(hosts: 3)
        let alv = try lab.copyBinary()
        let db = lab.directory.file("alv.db")
        let low = lab.directory.write("low.json", #"{"vector_id": "lab-low", "name": "1k", "duration_sec": 15, "load": {"target_rps": 1000}, "request_types": [{"name": "get", "url": "/", "frequency": 100}]}"#)
        let high = lab.directory.write("high.json", #"{"vector_id": "lab-high", "name": "4k", "duration_sec": 15, "load": {"target_rps": 4000}, "request_types": [{"name": "get", "url": "/", "frequency": 100}]}"#)
        let profile = lab.directory.write("profile.json", """
            {"profile_id": "lab-step", "name": "1k, 4k at second 15, 1k at 30", "duration_sec": 40, "vector_sequence": ["lab-low", "lab-high", "lab-low"],
             "scaling": {"mode": "predictive", "min_workers": 1, "max_workers": 3, "capacity_per_worker": 1500, "cooldown_sec": 5, "margin_sec": 1}}
            """)
        for (kind, file) in [("vector", low), ("vector", high), ("profile", profile)] {
            let added = NetnsLab.shell([alv, kind, "add", file, "--db", db])
            #expect(added.status == 0, "\(added.output)")
        }
        let target = try lab.target(alv: alv, seconds: 120, extra: ["--threads", "2"])
        defer { target.stop() }
        let hostsFile = lab.hostsFile(alvPath: alv)
        let out = lab.directory.file("summary.json")
        let command = [alv, "run", "lab-step", "--target", target.url, "--hosts", hostsFile,
                       "--db", db, "--no-dashboard", "--json"].map { "'\($0)'" }.joined(separator: " ")
        let run = try lab.spawn(lab.inside("c", ["sh", "-c", "exec \(command) > '\(out)'"]), log: "run.log")
        defer { run.stop(grace: 0) }
        // The profile starts once the first worker has joined ("running … on 1 worker processes").
        let deadline = Date().addingTimeInterval(40)
        while !run.stderrTail(100_000).contains("running profile") && Date() < deadline && run.isRunning { usleep(50_000) }
        let started = Date()
        // Mid-step (second 22 of the profile), h3's cable is pulled.
        while Date() < started.addingTimeInterval(22) && run.isRunning { usleep(50_000) }
        #expect(lab.link("h3", up: false))
        let end = Date().addingTimeInterval(60)
        while run.isRunning && Date() < end { usleep(100_000) }
        #expect(run.exitStatus == 0, "\(run.stderrTail(3000))")

        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any], "\(run.stderrTail(2000))")
        let p = try ScalingRunTests.Timeline(String(decoding: try Data(contentsOf: URL(fileURLWithPath: out)), as: UTF8.self))
        #expect(summary["status"] as? String == "completed")
        let stepAt = try #require(p.vectorStart("lab-high"))
        let joined = p.all("worker_joined")
        let remote = joined.filter { ($0.detail["worker"] ?? "").hasPrefix("h2-") || ($0.detail["worker"] ?? "").hasPrefix("h3-") }
        #expect(remote.count >= 2 && remote.allSatisfy { $0.at < stepAt }, "workers on h2 and h3 join before the step: \(joined.map { ($0.at, $0.detail) }), step \(stepAt)")
        let lost = p.all("worker_lost")
        #expect(lost.contains { ($0.detail["worker"] ?? "").hasPrefix("h3-") && $0.detail["estimated_requests_lost"] != nil }, "\(lost.map(\.detail))")
        let workers = summary["workers"] as? [[String: Any]] ?? []
        #expect(workers.contains { ($0["id"] as? String ?? "").hasPrefix("h3-") && $0["lost"] as? Bool == true && $0["estimated_requests_lost"] != nil }, "\(workers)")
        let served = try #require(target.stats())
        let clients = served["clients"] as? [String: Int] ?? [:]
        #expect(Set(clients.keys) == Set(lab.hosts), "\(clients)")
        // Every response the broker counted reached the target; what the target got beyond them is at most
        // what h3 sent in the seconds whose metrics its dead link kept (its share, ~1,333 req/s, for 5 s).
        let total = served["total"] as? Int ?? 0
        let answered = (summary["responses"] as? [String: Int] ?? [:]).values.reduce(0, +)
        #expect(answered <= total && Double(total - answered) <= 4000.0 / 3 * 5,
                "target \(total), responses \(answered), errors \(summary["errors"] ?? "?"), requests \(summary["requests_total"] ?? "?")")
    }
}
