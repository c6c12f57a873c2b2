import ALVTesting
import Foundation
import Synchronization
import Testing

/// Distributed runs that scale: the planner inside `alv run` starting workers ahead of a step in demand
/// (predictive) or after it (reactive), over SSH to a real sshd, and replacing workers lost with their host.
@Suite(.serialized) struct ScalingRunTests {
    let directory = TemporaryDirectory("alv-scaling")
    var db: String { directory.file("alv.db") }

    func alv(_ arguments: [String], timeout: TimeInterval = 120) throws -> AlvBinary.Result {
        try AlvBinary.run(arguments, in: directory.path, timeout: timeout)
    }

    func addStepProfile(mode: String) throws -> String {
        let low = directory.write("low.json", #"{"vector_id": "step-low", "name": "2k", "duration_sec": 20, "load": {"target_rps": 2000}, "request_types": [{"name": "get", "url": "/", "frequency": 100}]}"#)
        let high = directory.write("high.json", #"{"vector_id": "step-high", "name": "8k", "duration_sec": 10, "load": {"target_rps": 8000}, "request_types": [{"name": "get", "url": "/", "frequency": 100}]}"#)
        let profile = directory.write("step-\(mode).json", """
            {"profile_id": "step-\(mode)", "name": "2k to 8k at second 20, back to 2k at 30", "duration_sec": 45, "vector_sequence": ["step-low", "step-high", "step-low"],
             "scaling": {"mode": "\(mode)", "min_workers": 1, "max_workers": 4, "capacity_per_worker": 2500, "cooldown_sec": 5, "margin_sec": 1}}
            """)
        for file in [low, high, profile] {
            let kind = file == profile ? "profile" : "vector"
            let result = try alv([kind, "add", file, "--db", db])
            #expect(result.status == 0, "\(result.stderr)")
        }
        return "step-\(mode)"
    }

    struct Timeline {
        /// `detail` as text (numbers and booleans written out), and as the JSON gave it.
        var events: [(at: Date, kind: String, detail: [String: String])]
        var raw: [(kind: String, detail: [String: Any])]
        var summary: [String: Any]

        init(_ stdout: String) throws {
            summary = try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            events = (summary["events"] as? [[String: Any]] ?? []).compactMap { e in
                guard let at = (e["at"] as? String).flatMap(formatter.date(from:)), let kind = e["kind"] as? String else { return nil }
                let detail = e["detail"] as? [String: Any] ?? [:]
                return (at, kind, detail.mapValues { value in (value as? String) ?? "\(value)" })
            }
            raw = (summary["events"] as? [[String: Any]] ?? []).map { ($0["kind"] as? String ?? "", $0["detail"] as? [String: Any] ?? [:]) }
        }

        func first(_ kind: String, _ key: String? = nil, _ value: String? = nil) -> Date? {
            events.first { $0.kind == kind && (key == nil || $0.detail[key!] == value) }?.at
        }

        /// When a vector's load started (its event is recorded as the broker issues it, a lead earlier).
        func vectorStart(_ id: String) -> Date? {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return events.first { $0.kind == "vector_started" && $0.detail["vector_id"] == id }?.detail["at"].flatMap(formatter.date(from:))
        }

        func all(_ kind: String) -> [(at: Date, kind: String, detail: [String: String])] { events.filter { $0.kind == kind } }
    }

    /// Requests per second of one vector from the run's CSV report, by second.
    func rates(run: String, vector: String) throws -> [Int64: Int] {
        let result = try alv(["report", run, "--format", "csv", "--out", "-", "--db", db])
        var perSecond: [Int64: Int] = [:]
        for line in result.stdout.split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            guard f.count > 4, f[2] == vector, let second = Int64(f[0]), let requests = Int(f[4]) else { continue }
            perSecond[second, default: 0] += requests
        }
        return perSecond
    }

    /// The lowest count a second of Poisson arrivals at `rate` shows short of a fault: four standard
    /// deviations below the mean (sd = √rate), so a healthy run fails it about once in 30,000 seconds.
    func poissonFloor(_ rate: Double) -> Double { rate - 4 * rate.squareRoot() }

    @Test func predictiveStartsWorkersBeforeTheStepAndReactiveAfter() throws {
        let nginx = try Nginx()
        let predictive = try addStepProfile(mode: "predictive")
        let reactive = try addStepProfile(mode: "reactive")

        // The live page, polled while the run goes on, draws planned workers and the forecast with its bound.
        let port = freePort()
        let tokenFile = directory.write("dashboard.token", DashboardTests.token + "\n")
        let sawForecast = Mutex(false)
        let running = Mutex(true)
        DispatchQueue.global().async {
            while running.withLock({ $0 }) {
                if let text = DashboardTests.get("http://127.0.0.1:\(port)/events?once=1") {
                    if text.contains("forecast upper") && text.contains("planned") { sawForecast.withLock { $0 = true } }
                }
                Thread.sleep(forTimeInterval: 1)
            }
        }
        var result = try alv(["run", predictive, "--target", nginx.url, "--db", db, "--dashboard", "127.0.0.1:\(port)", "--dashboard-token-file", tokenFile, "--json"])
        running.withLock { $0 = false }
        #expect(result.status == 0, "\(result.stderr)")
        #expect(sawForecast.withLock { $0 }, "the workers chart shows planned workers and the forecast band")
        let p = try Timeline(result.stdout)
        let stepAt = try #require(p.vectorStart("step-high"))
        let lowAt = try #require(p.vectorStart("step-low"))
        #expect(abs(stepAt.timeIntervalSince(lowAt) - 20) < 1, "the step comes at second 20")
        let decision = try #require(p.all("scaling_decision").first { $0.detail["workers_after"] == "4" })
        let started = p.all("worker_started").filter { $0.at >= decision.at }.compactMap { $0.detail["worker"] }
        #expect(started.count == 3, "the decision starts three workers: \(started)")
        #expect(decision.detail["reason"]?.contains("planned 8000 req/s") == true && decision.detail["reason"]?.contains("above scale_out_threshold") == true, "\(decision.detail)")
        #expect(decision.detail["lead_time_s"] != nil && decision.detail["workers_before"] == "1")
        // Each worker is planned at the configured 2,500 req/s times the under-provisioning budget's factor
        // (default budget 0.5%), which the decision carries.
        let factor = try #require(decision.detail["capacity_factor"].flatMap(Double.init), "\(decision.detail)")
        let planned = try #require(decision.detail["capacity_per_worker"].flatMap(Double.init))
        #expect(abs(planned - 2500 * factor) <= 2 && factor >= 0.2 && factor <= 1 / 0.7, "\(decision.detail)")
        // Numbers are JSON numbers, flags booleans.
        let rawDecision = try #require(p.raw.first { $0.kind == "scaling_decision" }?.detail)
        #expect(rawDecision["workers_after"] is Int && rawDecision["lead_time_s"] is Double && rawDecision["acted"] as? Bool == true, "\(rawDecision)")
        #expect(p.raw.first { $0.kind == "vector_started" }?.detail["index"] as? Int == 0)
        let joinedBeforeStep = Set(p.all("worker_joined").filter { $0.at < stepAt }.compactMap { $0.detail["worker"] })
        #expect(Set(started).isSubset(of: joinedBeforeStep), "the extra workers said hello before second 20: \(joinedBeforeStep)")
        #expect((p.summary["workers"] as? [Any])?.count == 4)
        #expect(decision.at < stepAt && decision.at > stepAt.addingTimeInterval(-6), "decided a lead time ahead, not at the start")
        // Achieved rate: 8,000 req/s, short only by Poisson noise, in every whole (wall-clock) second from second 21.
        let run = try #require(p.summary["run_id"] as? String)
        let high = try rates(run: run, vector: "step-high")
        let from = Int64((stepAt.timeIntervalSince1970 + 1).rounded(.up))
        let seconds = high.keys.filter { $0 >= from && $0 < from + 8 }.sorted()
        #expect(seconds.count >= 7)
        for second in seconds { #expect(Double(high[second]!) >= poissonFloor(8000), "second \(second - from + 21): \(high[second]!) req/s") }

        // Back to 2,000 req/s: after the cool-down three workers are retired, their units go to the one left,
        // and the rate holds.
        let retired = p.all("worker_retired")
        #expect(retired.count == 3, "\(p.all("scaling_decision").map(\.detail))")
        #expect(p.all("worker_left").count >= 3)
        let scaleIn = try #require(p.all("scaling_decision").first { $0.detail["workers_after"] == "1" })
        #expect(scaleIn.at > stepAt.addingTimeInterval(10), "scale-in only after the step ends")
        #expect(scaleIn.detail["reason"]?.contains("below scale_in_threshold") == true, "\(scaleIn.detail)")
        let low = try rates(run: run, vector: "step-low")
        let retiredAt = Int64((retired.map(\.at).max()!.timeIntervalSince1970 + 1).rounded(.up))
        let after = low.keys.filter { $0 >= retiredAt && $0 < retiredAt + 3 }.sorted()
        #expect(!after.isEmpty)
        for second in after { #expect(Double(low[second]!) >= poissonFloor(2000), "after scale-in: \(low[second]!) req/s") }
        #expect(p.summary["status"] as? String != "aborted")
        // What the budget led to: the arrivals of the seconds the planner learned from (all but the first and
        // last one or two), those dropped or late,
        // and the worker-seconds paid for against those 2,500 req/s per worker needed.
        let outcome = try #require(p.summary["scaling"] as? [String: Any], "\(p.summary.keys.sorted())")
        let intended = try #require(outcome["intended"] as? Int), missed = try #require(outcome["under_provisioned"] as? Int)
        let totalIntended = try #require(p.summary["intended"] as? Int)
        #expect(outcome["max_under_provisioned_share"] as? Double == 0.005 && outcome["mode"] as? String == "predictive")
        #expect(intended <= totalIntended && Double(intended) >= 0.85 * Double(totalIntended), "learned from \(intended) of \(totalIntended) arrivals")
        #expect(missed <= intended && abs((outcome["under_provisioned_share"] as? Double ?? -1) - Double(missed) / Double(intended)) < 1e-9)
        let learned = try #require(outcome["seconds"] as? Int)
        let workerSeconds = try #require(outcome["worker_seconds"] as? Double), needed = try #require(outcome["needed_worker_seconds"] as? Double)
        // 2 k req/s needs 1 worker, 8 k needs 4: at least one worker-second per second, at most four.
        #expect(learned >= 35 && needed >= Double(learned) && needed <= 4 * Double(learned) && workerSeconds >= Double(learned), "\(outcome)")
        #expect(abs((outcome["cost_vs_needed"] as? Double ?? -1) - workerSeconds / needed) < 1e-9)

        result = try alv(["run", reactive, "--target", nginx.url, "--db", db, "--no-dashboard", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let r = try Timeline(result.stdout)
        let reactiveStep = try #require(r.vectorStart("step-high"))
        let scaleOut = try #require(r.all("scaling_decision").first { Int($0.detail["workers_after"] ?? "") ?? 0 >= 3 })
        #expect(scaleOut.at > reactiveStep, "reactive scaling only follows what it has seen")
        #expect(scaleOut.detail["reason"]?.contains("above scale_out_threshold") == true, "\(scaleOut.detail)")
        let lateJoins = r.all("worker_joined").filter { $0.at > reactiveStep }
        #expect(lateJoins.count >= 2, "the extra workers join after the step: the lag")
    }

    @Test func workersOverSSHAndReplacementWhenTheirHostDies() throws {
        let nginx = try Nginx()
        let sshd = try LocalSSHD()
        let options = sshd.sshOptions.map { "\"\($0)\"" }.joined(separator: ", ")
        let hosts = directory.write("hosts.json", """
            {"broker_address": "127.0.0.1", "hosts": [
              {"host": "\(sshd.host)", "max_workers": 2, "alv_path": "\(AlvBinary.url.path)", "ssh_options": [\(options)]},
              {"host": "local", "max_workers": 2}]}
            """)
        let vector = directory.write("steady.json", #"{"vector_id": "steady", "name": "steady", "duration_sec": 14, "load": {"target_rps": 1000}, "request_types": [{"name": "get", "url": "/", "frequency": 100}]}"#)
        // The run goes on in the background; after 5 s the SSH host dies: sshd stops and its workers are killed.
        let remoteWorkers = "^\(AlvBinary.url.path) worker .*--id \(sshd.user)_127.0.0.1-"
        let finished = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: AlvBinary.Result?
        let arguments = ["run", vector, "--target", nginx.url, "--db", db, "--no-dashboard", "--json", "--workers", "2", "--hosts", hosts]
        let directoryPath = directory.path
        DispatchQueue.global().async {
            outcome = try? AlvBinary.run(arguments, in: directoryPath, timeout: 90)
            finished.signal()
        }
        let sawRemote = waitFor(20) { !processes(matching: remoteWorkers).isEmpty }
        #expect(sawRemote, "a worker runs over ssh")
        Thread.sleep(forTimeInterval: 5)
        let killedAt = Date()
        sshd.stop()
        for pid in processes(matching: remoteWorkers) { kill(pid, SIGKILL) }
        finished.wait()
        let result = try #require(outcome)
        #expect(result.status == 0, "\(result.stderr)")
        let t = try Timeline(result.stdout)
        let workers = (t.summary["workers"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        let remote = workers.filter { $0.hasPrefix("\(sshd.user)_127.0.0.1-") }
        #expect(!remote.isEmpty, "a worker started over SSH took part in the run: \(workers)")
        let remoteRequests = (t.summary["workers"] as? [[String: Any]] ?? []).filter { remote.contains($0["id"] as? String ?? "") }.compactMap { $0["requests_total"] as? Int }.reduce(0, +)
        #expect(remoteRequests > 1_000, "it generated load: \(remoteRequests) requests")
        let exited = t.all("worker_exited").filter { $0.at >= killedAt.addingTimeInterval(-0.5) }
        #expect(!exited.isEmpty, "the lost worker is noticed: \(t.events.map(\.kind))")
        let replacement = t.all("worker_joined").first { $0.at > killedAt && $0.detail["worker"]?.hasPrefix("local-") == true }
        let replacedAt = try #require(replacement?.at, "a local worker replaces it: \(t.events.map { "\($0.kind) \($0.detail)" })")
        #expect(replacedAt.timeIntervalSince(killedAt) < 4, "replaced within the lead time: \(replacedAt.timeIntervalSince(killedAt)) s")
        #expect(t.events.contains { $0.kind == "host_down" && $0.detail["host"] == sshd.host } || t.events.contains { $0.kind == "workers_replaced" })
        // The run kept its rate: the target saw most of 14 s × 1,000 requests.
        let total = try #require(t.summary["requests_total"] as? Int)
        #expect(total > 12_000, "\(total) requests; workers \(t.summary["workers"] ?? ""); events \(t.events.map { "\($0.at.timeIntervalSince(killedAt)) \($0.kind) \($0.detail)" })")
        #expect(processes(matching: remoteWorkers).isEmpty, "no remote worker outlives the run")
    }
}

/// `alv cluster up|down`: a pool started by script on local and SSH hosts, and stopped by script.
@Suite struct ClusterCommandTests {
    @Test func upStartsThePoolAndDownStopsEveryWorker() throws {
        let directory = TemporaryDirectory("alv-cluster")
        let sshd = try LocalSSHD()
        let options = sshd.sshOptions.map { "\"\($0)\"" }.joined(separator: ", ")
        let hosts = directory.write("hosts.json", """
            {"broker_address": "127.0.0.1", "hosts": [
              {"host": "\(sshd.host)", "max_workers": 1, "alv_path": "\(AlvBinary.url.path)", "ssh_options": [\(options)]},
              {"host": "local", "max_workers": 2}]}
            """)
        let state = directory.file("pool.pid")
        // No broker is needed for the pool to exist: workers wait for one.
        let ports = ["--work-port", String(freePort()), "--metrics-port", String(freePort()), "--control-port", String(freePort())]
        let up = Process()
        up.executableURL = AlvBinary.url
        up.arguments = ["cluster", "up", "--hosts", hosts, "--state", state] + ports
        up.standardOutput = FileHandle(forWritingAtPath: directory.write("up.out", ""))
        up.standardError = FileHandle(forWritingAtPath: directory.write("up.err", ""))
        try up.run()
        let workers = "^\(AlvBinary.url.path) worker .*--work-port \(ports[1]) "
        #expect(waitFor(20) { processes(matching: workers).count == 3 }, "two local workers and one over ssh: \(processes(matching: workers))")
        #expect(FileManager.default.fileExists(atPath: state))
        let log = (try? String(contentsOfFile: directory.file("up.out"), encoding: .utf8)) ?? ""
        #expect(log.components(separatedBy: "worker_started").count - 1 == 3, "\(log)")

        let again = try AlvBinary.run(["cluster", "up", "--hosts", hosts, "--state", state] + ports)
        #expect(again.status == 2 && again.stderr.contains("already up"))

        let down = try AlvBinary.run(["cluster", "down", "--state", state])
        #expect(down.status == 0, "\(down.stderr)")
        up.waitUntilExit()
        #expect(up.terminationStatus == 0)
        #expect(waitFor(5) { processes(matching: workers).isEmpty }, "every worker is gone, the remote one too")
        #expect(!FileManager.default.fileExists(atPath: state))
        let none = try AlvBinary.run(["cluster", "down", "--state", state])
        #expect(none.status == 2 && none.stderr.contains("no pool is up"))
        let bad = directory.write("bad.json", #"{"hosts": [{"host": "a", "max_workers": -1}, {"hosts": 1}]}"#)
        let rejected = try AlvBinary.run(["cluster", "up", "--hosts", bad, "--broker", "127.0.0.1", "--state", directory.file("x.pid")])
        #expect(rejected.status == 2 && rejected.stderr.contains("bad.json:1:41: error: hosts[0].max_workers: expected an integer of at least 0, found -1") && rejected.stderr.contains("hosts[1].host: missing required field"), "\(rejected.stderr)")
    }
}

/// `alv planner` beside `alv broker`: the planner follows the broker's aggregates and sizes its pool ahead
/// of the plan, and its decisions land in the broker's run.
@Suite struct StandalonePlannerTests {
    @Test func thePlannerStartsWorkersForABrokersRunBeforeTheStep() throws {
        let directory = TemporaryDirectory("alv-planner")
        let db = directory.file("alv.db")
        let nginx = try Nginx()
        let low = directory.write("low.json", #"{"vector_id": "p-low", "name": "2k", "duration_sec": 10, "load": {"target_rps": 2000}, "request_types": [{"name": "get", "url": "/", "frequency": 100}]}"#)
        let high = directory.write("high.json", #"{"vector_id": "p-high", "name": "6k", "duration_sec": 8, "load": {"target_rps": 6000}, "request_types": [{"name": "get", "url": "/", "frequency": 100}]}"#)
        let profile = directory.write("p.json", """
            {"profile_id": "p-step", "name": "step", "duration_sec": 30, "vector_sequence": ["p-low", "p-high"],
             "scaling": {"mode": "predictive", "min_workers": 1, "max_workers": 3, "capacity_per_worker": 2500, "cooldown_sec": 60}}
            """)
        for (kind, file) in [("vector", low), ("vector", high), ("profile", profile)] {
            let added = try AlvBinary.run([kind, "add", file, "--db", db])
            #expect(added.status == 0, "\(added.stderr)")
        }
        let ports = ["--work-port", String(freePort()), "--metrics-port", String(freePort()), "--control-port", String(freePort())]
        let planner = Process()
        planner.executableURL = AlvBinary.url
        planner.arguments = ["planner", "--broker", "127.0.0.1", "--duration", "60"] + ports
        planner.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        planner.standardOutput = FileHandle.nullDevice
        planner.standardError = FileHandle(forWritingAtPath: directory.write("planner.err", ""))
        try planner.run()
        defer {
            if planner.isRunning { planner.terminate() }
            planner.waitUntilExit()
        }
        let result = try AlvBinary.run(["broker", "--run", "p-step", "--target", nginx.url, "--wait-workers", "1", "--wait-timeout", "30",
                                        "--db", db, "--json"] + ports, in: directory.path, timeout: 90)
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let events = summary["events"] as? [[String: Any]] ?? []
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        func time(_ e: [String: Any]) -> Date? { (e["at"] as? String).flatMap(formatter.date(from:)) }
        let step = try #require(events.first { $0["kind"] as? String == "vector_started" && ($0["detail"] as? [String: Any])?["vector_id"] as? String == "p-high" })
        let stepDetail = step["detail"] as? [String: Any] ?? [:]
        let stepAt = try #require((stepDetail["at"] as? String).flatMap { formatter.date(from: $0) })
        let decision = try #require(events.first { $0["kind"] as? String == "scaling_decision" && ($0["detail"] as? [String: Any])?["workers_after"] as? Int == 3 },
                                    "the planner's decision is in the run: \(events.map { $0["kind"] ?? "" })")
        #expect(try #require(time(decision)) < stepAt)
        #expect(((decision["detail"] as? [String: Any])?["reason"] as? String ?? "").contains("planned 6000 req/s"))
        let joined = events.filter { $0["kind"] as? String == "worker_joined" }.compactMap(time)
        #expect(joined.filter { $0 < stepAt }.count >= 2, "the two extra workers joined before the step")
        #expect((summary["workers"] as? [Any])?.count == 3)
        // The run is over and the broker retired its workers: the planner, still running, starts no more.
        let workerPattern = "^\(AlvBinary.url.path) worker .*--work-port \(ports[1]) "
        Thread.sleep(forTimeInterval: 7)
        #expect(planner.isRunning)
        #expect(processes(matching: workerPattern).isEmpty, "the planner started workers after the run ended")
        let log = (try? String(contentsOfFile: directory.file("planner.err"), encoding: .utf8)) ?? ""
        #expect(log.contains("ended: starting no workers until the next run"), "\(log)")
        planner.terminate()
        planner.waitUntilExit()
        #expect(planner.terminationStatus == 0)
        #expect(waitFor(5) { processes(matching: workerPattern).isEmpty }, "the planner's workers leave with it")
    }
}
