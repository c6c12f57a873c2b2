import ALVProtocol
import ALVModel
import ALVTransport
import Foundation

/// How a launched process runs `alv worker` and reaches the broker.
public struct WorkerInvocation: Sendable {
    public var brokerHost: String
    public var workPort: Int, metricsPort: Int, controlPort: Int
    /// Extra `alv worker` arguments.
    public var extraArguments: [String]
    /// How workers speak CURVE; their keys go over the process's stdin (`--keys-on-stdin`), never argv.
    public var curve: WorkerKeys?

    /// CURVE keys for launched workers.
    public enum WorkerKeys: Sendable {
        /// A fresh key pair per worker, admitted by the broker for that worker id alone (`alv run`).
        case perWorker(serverPublicKey: String)
        /// One pair for every worker, on the broker's static allow-list (`alv planner --curve-key`).
        case shared(CurveClientKeys)
    }

    public init(brokerHost: String, workPort: Int, metricsPort: Int, controlPort: Int, extraArguments: [String] = [], curve: WorkerKeys? = nil) {
        self.brokerHost = brokerHost
        self.workPort = workPort
        self.metricsPort = metricsPort
        self.controlPort = controlPort
        self.extraArguments = extraArguments
        self.curve = curve
    }

    func arguments(id: String, brokerHost host: String? = nil) -> [String] {
        ["worker", "--broker", host ?? brokerHost, "--work-port", String(workPort), "--metrics-port", String(metricsPort),
         "--control-port", String(controlPort), "--id", id] + (curve == nil ? [] : ["--keys-on-stdin"]) + extraArguments
    }
}

/// Something that happened to the pool, for the run's event log.
public struct PoolEvent: Sendable, Equatable {
    public var kind: String
    public var detail: EventDetail
}

/// Worker processes on this machine and on SSH hosts. Starts and stops them to a target count, spreads them
/// over the hosts with free slots, measures each host's lead time (spawn to first hello) and marks a host
/// that fails to start workers as down, with exponential back-off, so its share goes elsewhere.
public final class WorkerPool {
    public final class Launched {
        public let id: String
        public let host: String
        public let process: ChildProcess
        public var hello: Date?
        public var stopping = false
        /// The worker's own CURVE public key (`WorkerKeys.perWorker`).
        var publicKey: String?
        var stopRequested: Date?
        var reported = false
        /// 0: asked to leave; 1: SIGTERM sent; 2: SIGKILL sent.
        var escalation = 0
        init(id: String, host: String, process: ChildProcess) {
            self.id = id
            self.host = host
            self.process = process
        }
    }

    struct HostState {
        var host: HostsFile.Host
        var downUntil: Date?
        var failures = 0
        var leadTime: Double
        var leadSamples = 0
        var counter = 0
    }

    public let command: WorkerInvocation
    public let localExecutable: String
    public let logDirectory: String
    /// The broker address remote hosts use.
    public let remoteBrokerHost: String
    private var hosts: [HostState]
    public private(set) var workers: [Launched] = []
    /// Asks the broker to retire a worker before its process is stopped (graceful scale-in).
    public var retire: ((String) -> Void)?
    /// Tells the broker to admit a worker's own public key for its id alone (`WorkerKeys.perWorker`).
    public var admit: ((_ publicKey: String, _ worker: String) -> Void)?
    /// Tells the broker to forget a worker's key once its process is gone.
    public var revoke: ((_ publicKey: String) -> Void)?
    private var lastLimited: (wanted: Int, running: Int, at: Date)?
    /// Seconds a retired worker has to finish its units (at most one unit's length) before it is signalled.
    public var retireGrace: Double = 8

    /// - Parameters:
    ///   - hosts: where workers may run (`local` for this machine).
    ///   - localExecutable: the `alv` binary for local workers.
    public init(hosts: [HostsFile.Host], command: WorkerInvocation, localExecutable: String, logDirectory: String, remoteBrokerHost: String? = nil) {
        self.hosts = hosts.map { HostState(host: $0, leadTime: $0.isLocal ? 1.0 : 3.0) }
        self.command = command
        self.localExecutable = localExecutable
        self.logDirectory = logDirectory
        self.remoteBrokerHost = remoteBrokerHost ?? command.brokerHost
        try? FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true)
    }

    /// Workers started and not yet stopped or exited.
    public var active: [Launched] { workers.filter { !$0.stopping && $0.process.exitStatus == nil } }

    /// The largest lead time among hosts that are up: how far ahead the planner must decide.
    public var leadTime: Double {
        hosts.filter { $0.downUntil == nil && $0.host.maxWorkers > 0 }.map(\.leadTime).max() ?? 1
    }

    /// Lead times measured in earlier runs (host → seconds, samples): the starting estimate instead of the
    /// defaults (1 s local, 3 s over SSH). New measurements are blended in as they arrive.
    public func seedLeadTimes(_ known: [String: (seconds: Double, samples: Int)]) {
        for i in hosts.indices {
            if let k = known[hosts[i].host.host], k.seconds > 0, k.samples > 0 {
                hosts[i].leadTime = k.seconds
                hosts[i].leadSamples = k.samples
            }
        }
    }

    /// Lead times as measured (hosts with at least one sample), to keep for the next run.
    public var measuredLeadTimes: [String: (seconds: Double, samples: Int)] {
        var result: [String: (Double, Int)] = [:]
        for h in hosts where h.leadSamples > 0 { result[h.host.host] = (h.leadTime, h.leadSamples) }
        return result
    }

    /// Per-host state for decision records: host → (lead time s, samples, up).
    public var hostSummary: [String: (leadTime: Double, samples: Int, up: Bool, running: Int)] {
        var result: [String: (Double, Int, Bool, Int)] = [:]
        for h in hosts {
            result[h.host.host] = (h.leadTime, h.leadSamples, h.downUntil == nil, active.filter { $0.host == h.host.host }.count)
        }
        return result
    }

    /// The most workers the hosts that are up can run.
    public var capacity: Int { hosts.filter { $0.downUntil == nil }.reduce(0) { $0 + $1.host.maxWorkers } }

    /// Starts or stops workers until `target` are active (as far as the hosts allow).
    public func scale(to target: Int, now: Date = Date()) -> [PoolEvent] {
        var events: [PoolEvent] = []
        events += checkHosts(now: now)
        var running = active.count
        while running < target {
            // The up host with a free slot and the fewest workers relative to its size.
            let candidates = hosts.indices.filter { i in
                hosts[i].downUntil == nil && active.filter { $0.host == hosts[i].host.host }.count < hosts[i].host.maxWorkers
            }
            guard let i = candidates.min(by: { load($0) < load($1) }) else {
                // Said once per shortfall (and again every 30 s while it lasts), not on every tick.
                let shortfall = (target, running)
                if lastLimited.map({ $0.wanted != shortfall.0 || $0.running != shortfall.1 || now.timeIntervalSince($0.at) >= 30 }) ?? true {
                    lastLimited = (target, running, now)
                    events.append(PoolEvent(kind: "scale_limited", detail: ["wanted": .int(target), "running": .int(running), "reason": "no host has a free slot"]))
                }
                break
            }
            if let event = launch(on: i) { events.append(event) }
            running = active.count
            if hosts[i].downUntil != nil { continue }
        }
        if running > target {
            // Newest first: they hold the least history in any unit.
            for worker in active.sorted(by: { $0.process.started > $1.process.started }).prefix(running - target) {
                worker.stopping = true
                worker.stopRequested = now
                retire?(worker.id)
                events.append(PoolEvent(kind: "worker_retired", detail: ["worker": .string(worker.id), "host": .string(worker.host)]))
            }
        }
        return events
    }

    private func load(_ i: Int) -> Double {
        Double(active.filter { $0.host == hosts[i].host.host }.count) / Double(max(1, hosts[i].host.maxWorkers))
    }

    private func launch(on i: Int) -> PoolEvent? {
        hosts[i].counter += 1
        let host = hosts[i].host
        let label = host.isLocal ? "local" : host.host.replacingOccurrences(of: "@", with: "_")
        let id = "\(label)-p\(ProcessInfo.processInfo.processIdentifier)-\(hosts[i].counter)"
        let arguments: [String]
        if host.isLocal {
            arguments = [localExecutable] + command.arguments(id: id)
        } else {
            let remote = ([Self.remotePath(host.alvPath)] + command.arguments(id: id, brokerHost: remoteBrokerHost).map(Self.shellQuoted)).joined(separator: " ")
            arguments = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "ServerAliveInterval=2", "-o", "ServerAliveCountMax=3"]
                + host.sshOptions + [host.host, "exec " + remote]
        }
        let keys: CurveClientKeys?
        switch command.curve {
        case nil: keys = nil
        case .shared(let shared): keys = shared
        case .perWorker(let server):
            guard let pair = try? CurveKeyPair.generate() else {
                return PoolEvent(kind: "scale_limited", detail: ["wanted": .int(active.count + 1), "running": .int(active.count), "reason": "libzmq cannot make CURVE keys"])
            }
            keys = CurveClientKeys(serverPublicKey: server, keys: pair)
            admit?(pair.publicKey, id)
        }
        do {
            let process = try ChildProcess(arguments, stderrPath: "\(logDirectory)/\(id).log")
            let launched = Launched(id: id, host: host.host, process: process)
            if let keys {
                // Over the pipe (and, for a remote host, ssh's channel): never in argv or a file.
                process.writeInput(Array(KeysLine.render(keys).utf8))
                if case .perWorker = command.curve { launched.publicKey = keys.keys.publicKey }
            }
            workers.append(launched)
            return PoolEvent(kind: "worker_started", detail: ["worker": .string(id), "host": .string(host.host), "pid": .int(Int(process.pid))])
        } catch {
            if let keys, case .perWorker = command.curve { revoke?(keys.keys.publicKey) }
            markDown(i, reason: error.description)
            return PoolEvent(kind: "host_down", detail: ["host": .string(host.host), "reason": .string(error.description)])
        }
    }

    /// `alv_path` for the remote shell: quoted, with a leading `~/` meaning the remote user's home.
    static func remotePath(_ path: String) -> String {
        path.hasPrefix("~/") ? "\"$HOME\"/" + shellQuoted(String(path.dropFirst(2))) : shellQuoted(path)
    }

    /// A word for a POSIX shell: as it is when it is plainly safe, else in single quotes.
    public static func shellQuoted(_ s: String) -> String {
        s.allSatisfy { $0.isLetter || $0.isNumber || "-_./:=@,".contains($0) } ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// A worker said hello: the first one after launch gives the host's lead time.
    public func hello(worker id: String, at time: Date) {
        guard let worker = workers.first(where: { $0.id == id }), worker.hello == nil else { return }
        worker.hello = time
        guard let i = hosts.firstIndex(where: { $0.host.host == worker.host }) else { return }
        let sample = time.timeIntervalSince(worker.process.started)
        hosts[i].leadTime = hosts[i].leadSamples == 0 ? sample : max(sample, 0.7 * hosts[i].leadTime + 0.3 * sample)
        hosts[i].leadSamples += 1
        hosts[i].failures = 0
    }

    /// Reaps exited workers; a worker that exits without being asked, before saying hello, marks its host
    /// down (ssh cannot connect, alv missing there, …). Returns what happened.
    public func checkHosts(now: Date = Date()) -> [PoolEvent] {
        var events: [PoolEvent] = []
        for i in hosts.indices {
            if let until = hosts[i].downUntil, now >= until {
                hosts[i].downUntil = nil
                events.append(PoolEvent(kind: "host_retry", detail: ["host": .string(hosts[i].host.host)]))
            }
        }
        for worker in workers where !worker.reported {
            worker.process.reap()
            guard let status = worker.process.exitStatus else { continue }
            worker.reported = true
            if worker.stopping { continue }
            if status == 0 {
                // A clean exit nobody here asked for: the broker retired it (its run ended, or it scaled in).
                events.append(PoolEvent(kind: "worker_left", detail: ["worker": .string(worker.id), "host": .string(worker.host)]))
                continue
            }
            let reason = worker.process.stderrTail().split(separator: "\n").last.map(String.init) ?? "exit status \(status)"
            events.append(PoolEvent(kind: "worker_exited", detail: ["worker": .string(worker.id), "host": .string(worker.host), "status": .int(Int(status)), "reason": .string(reason)]))
            // A worker that never said hello, or an ssh that lost its connection (255), says the host is unusable;
            // a worker killed after it joined is only replaced.
            if worker.hello == nil || (status == 255 && worker.host != "local"), let i = hosts.firstIndex(where: { $0.host.host == worker.host }) {
                markDown(i, reason: reason)
                events.append(PoolEvent(kind: "host_down", detail: ["host": .string(worker.host), "reason": .string(reason), "retry_in_s": .number(hosts[i].downUntil!.timeIntervalSince(now), places: 0)]))
            }
        }
        // Retired workers get `retireGrace` seconds to finish their units and leave on their own (the broker told
        // them); then their stdin is closed and SIGTERM sent, and SIGKILL two seconds later. Nothing here waits:
        // this runs on the broker's thread, and the exit is collected by a later `reap`.
        for worker in workers where worker.stopping && worker.process.exitStatus == nil {
            guard let asked = worker.stopRequested else { continue }
            let waited = now.timeIntervalSince(asked)
            if waited > retireGrace + 2 && worker.escalation < 2 {
                worker.process.signalGroup(SIGKILL)
                worker.escalation = 2
            } else if waited > retireGrace && worker.escalation < 1 {
                worker.process.closeInput()
                worker.process.signalGroup(SIGTERM)
                worker.escalation = 1
            }
        }
        for worker in workers where worker.reported { if let key = worker.publicKey { revoke?(key) } }
        workers.removeAll { $0.reported }
        return events
    }

    private func markDown(_ i: Int, reason: String) {
        hosts[i].failures += 1
        let backoff = min(60, pow(2, Double(hosts[i].failures)))
        hosts[i].downUntil = Date().addingTimeInterval(backoff)
    }

    /// Stops every worker (stdin closed, then SIGTERM and SIGKILL to each process group) and reaps them.
    public func stopAll(grace: Double = 3) {
        for worker in workers { worker.process.closeInput() }
        for worker in workers { worker.process.stop(grace: grace) }
        workers.removeAll()
    }
}
