import ALVForecast
import ALVModel
import ALVPlanner
import ALVStore
import ArgumentParser
import Foundation

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Capacity planning without processes.",
        subcommands: [PlanSimulateCommand.self])
}

struct PlanSimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay a demand series (timestamp,value in req/s) through the planner and score its scaling.",
        discussion: """
        At each step the planner sees the demand up to that step; the workers it decides are in place a lead time \
        later. Scored after a warm-up: the share of demand above provisioned capacity, the share of steps under-\
        provisioned, worker-seconds and their ratio to the oracle's (perfect foresight). With --hosts and \
        --launcher, an instance group sets the lead time (as learned in earlier runs, in --db), the workers per \
        machine and the cost per machine-hour: the table adds machine-hours and cost.
        """)

    @Option(help: ArgumentHelp("The demand: timestamp,value CSV, value in req/s.", valueName: "CSV"))
    var demand: String

    @Option(help: "Requests per second one worker sustains at the target utilisation.")
    var capacity: Double?

    @Option(help: "Instead of --capacity: size capacity so that the series' peak needs this many workers.")
    var peakWorkers: Int?

    @Option(help: ArgumentHelp("Steps from a decision until its workers are ready.", valueName: "STEPS"))
    var leadTime: Int?

    @Option(name: .customLong("lead-time-sec"), help: ArgumentHelp("The lead time in seconds instead (rounded up to whole steps).", valueName: "SECONDS"))
    var leadTimeSeconds: Double?

    @Option(help: ArgumentHelp("A hosts file, for --launcher.", valueName: "FILE"))
    var hosts: String?

    @Option(help: ArgumentHelp("An instance group of --hosts: its learned lead time (unless --lead-time is given), workers_per_instance and instance_cost_per_hour.", valueName: "NAME"))
    var launcher: String?

    @Option(name: .customLong("workers-per-instance"), help: "Workers per machine (machines are bought whole).")
    var workersPerInstance: Int?

    @Option(name: .customLong("instance-cost"), help: ArgumentHelp("Cost of one machine-hour.", valueName: "PER_HOUR"))
    var instanceCost: Double?

    @OptionGroup var store: StoreOptions

    @Option(help: "predictive, reactive, oracle, fixed, or all (a comparison).")
    var policy: String = "predictive"

    @Option(help: "Level in percent of the forecast upper bound the predictive policy sizes from.")
    var level: Double = 80

    @Option(name: .customLong("max-under-provisioned-share"), help: ArgumentHelp("Instead of a fixed --level: the share of demand (percent) the predictive policy may leave unserved; the level moves online to spend it.", valueName: "PERCENT"))
    var underProvisionBudget: Double?

    @Option(help: ArgumentHelp("Seasonal periods in steps (default: detected).", valueName: "N[,N]"))
    var season: String?

    @Option(help: "Steps observed before scoring starts (default: four of the longest season, at most half the series).")
    var warmup: Int?

    @Option(help: "Workers that are always running (and the fixed pool's size).")
    var minWorkers: Int = 1

    @Option(help: "The most workers the planner may run.")
    var maxWorkers: Int = 100_000

    @Option(help: "Steps before workers are retired after a change.")
    var cooldown: Int = 0

    @Option(help: ArgumentHelp("Steps after the lead over which the predictive policy looks for the next peak before giving workers back (default: 0, none; a live run holds for its lead time).", valueName: "STEPS"))
    var scaleInHold: Int?

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        guard policy == "all" || ScalingPolicy(rawValue: policy) != nil else {
            throw ValidationError("--policy expects predictive, reactive, oracle, fixed or all, got \"\(policy)\"")
        }
        guard (capacity == nil) != (peakWorkers == nil) else { throw ValidationError("give one of --capacity and --peak-workers") }
        if let capacity, !(capacity >= 1e-6 && capacity <= 1e12) { throw ValidationError("--capacity expects req/s from 0.000001 to 1e12, got \(capacity)") }
        if let peakWorkers, !(1...1_000_000).contains(peakWorkers) { throw ValidationError("--peak-workers expects 1–1000000, got \(peakWorkers)") }
        if let leadTime, !(1...10_000).contains(leadTime) { throw ValidationError("--lead-time expects 1…10000 steps, got \(leadTime)") }
        if let leadTimeSeconds, !(leadTimeSeconds > 0 && leadTimeSeconds <= 1e7) { throw ValidationError("--lead-time-sec expects seconds above 0, at most 1e7, got \(leadTimeSeconds)") }
        if leadTime != nil && leadTimeSeconds != nil { throw ValidationError("give one of --lead-time and --lead-time-sec") }
        if leadTime == nil && leadTimeSeconds == nil && launcher == nil { throw ValidationError("give --lead-time STEPS, --lead-time-sec SECONDS or --hosts FILE --launcher NAME") }
        if (hosts == nil) != (launcher == nil) { throw ValidationError("--hosts and --launcher go together") }
        if let workersPerInstance, !(1...256).contains(workersPerInstance) { throw ValidationError("--workers-per-instance expects 1–256, got \(workersPerInstance)") }
        if let underProvisionBudget, !(underProvisionBudget > 0 && underProvisionBudget < 50) { throw ValidationError("--max-under-provisioned-share expects a percentage above 0 and below 50, got \(underProvisionBudget)") }
        if let instanceCost, !(instanceCost >= 0 && instanceCost <= 1e6) { throw ValidationError("--instance-cost expects 0–1000000 per hour, got \(instanceCost)") }
        guard level > 0 && level < 100 else { throw ValidationError("--level expects a percentage between 0 and 100, got \(level)") }
        if let season { _ = try parseSeasons(season) }
        guard minWorkers >= 0, maxWorkers >= max(1, minWorkers), maxWorkers <= 1_000_000 else {
            throw ValidationError("--min-workers/--max-workers: expected 0 ≤ min ≤ max ≤ 1000000, max ≥ 1, got \(minWorkers) and \(maxWorkers)")
        }
        if let scaleInHold, !(0...100_000).contains(scaleInHold) { throw ValidationError("--scale-in-hold expects 0–100000 steps, got \(scaleInHold)") }
        guard (0...1_000_000).contains(cooldown) else { throw ValidationError("--cooldown expects 0–1000000 steps, got \(cooldown)") }
        if let warmup, !(0...10_000_000).contains(warmup) { throw ValidationError("--warmup expects 0–10000000 steps, got \(warmup)") }
    }

    /// Fixed levels `--policy all` also runs: the trade between under-provisioning and cost.
    static let frontier: [Double] = [50, 60, 70, 80, 90, 95, 99]

    func run() throws {
        let series: TimeSeries
        do { series = try SeriesCSV.read(path: demand) } catch { throw CLIError.badInput(error.description) }
        let y = series.values
        if let bad = y.firstIndex(where: { $0 < 0 }) {
            throw CLIError.badInput("\(demand): demand must not be negative; step \(bad) (\(series.timestampFormat.format(series.timestamp(at: bad)))) is \(y[bad])")
        }
        // The launcher's figures, unless a flag gives them.
        var group: HostsFile.InstanceGroup?
        var learned: (seconds: Double, samples: Int)?
        if let hosts, let launcher {
            let result = HostsFileValidator.validateFile(atPath: hosts)
            guard let file = result.model else { throw CLIError.badInput(result.diagnostics.map(\.description).joined(separator: "\n")) }
            guard let found = file.groups.first(where: { $0.name == launcher }) else {
                throw CLIError.badInput("--launcher \(launcher): \(hosts) has no instance group of that name (it has \(file.groups.isEmpty ? "none" : file.groups.map(\.name).joined(separator: ", ")))")
            }
            group = found
            if leadTime == nil && leadTimeSeconds == nil, FileManager.default.fileExists(atPath: store.db) {
                learned = try? MetricsStore(database: try SQLiteDatabase(path: store.db)).leadTimes()["group:" + launcher]
            }
        }
        let leadSeconds = leadTimeSeconds ?? learned?.seconds ?? (leadTime == nil ? InstanceGroup.defaultLeadTime : nil)
        let leadTime = self.leadTime ?? Int((leadSeconds! / Double(series.step)).rounded(.up))
        let leadSource = self.leadTime != nil ? "given" : leadTimeSeconds != nil ? "given in seconds" : learned.map { "learned: \(String(format: "%.1f", $0.seconds)) s from \($0.samples) machine(s)" } ?? "the default before any run measured it"
        let perInstance = workersPerInstance ?? group?.workersPerInstance ?? 1
        let costPerHour = instanceCost ?? group?.costPerInstanceHour
        let periods = try season.map(parseSeasons) ?? Seasonality.detect(series)
        let peak = y.max() ?? 0
        let perWorker = capacity ?? (peak > 0 ? peak / Double(peakWorkers!) : 1)
        let longest = periods.last ?? 24
        let warm = warmup ?? min(4 * longest, y.count / 2)
        guard warm < y.count - leadTime else {
            throw CLIError.badInput("\(demand): \(y.count) steps leave nothing to score after a warm-up of \(warm) and a lead time of \(leadTime)")
        }
        let daySteps = 86_400 % series.step == 0 ? Int(86_400 / series.step) : 0
        let refit = daySteps >= 2 && daySteps <= 2_000 ? daySteps : max(1, periods.first ?? 24)
        let rule = ScalingRule(capacityPerWorker: perWorker, minWorkers: minWorkers, maxWorkers: maxWorkers, scaleInCooldown: cooldown)
        // `all`: the predictive policy as asked, reactive, oracle, then the predictive frontier over fixed levels.
        var runs: [(ScalingPolicy, Double, Double?)] = [(ScalingPolicy(rawValue: policy) ?? .predictive, level, underProvisionBudget.map { $0 / 100 })]
        if policy == "all" { runs += [(.reactive, level, nil), (.oracle, level, nil)] + Self.frontier.map { (.predictive, $0, nil) } }
        var results: [ScalingSimulation.Result] = []
        var levels: [Double?] = []
        for (p, l, budget) in runs {
            results.append(ScalingSimulation.run(
                demand: y, stepSeconds: Double(series.step), rule: rule, leadTime: leadTime, policy: p,
                periods: periods, level: l, warmup: warm, window: max(4 * longest, 2 * refit), refitEvery: refit,
                workersPerInstance: perInstance, underProvisionBudget: budget, scaleInHold: scaleInHold))
            levels.append(p == .predictive ? l : nil)
        }
        let stepSeconds = Double(series.step)
        func object(_ r: ScalingSimulation.Result, index: Int) -> [String: Any] {
            var o: [String: Any] = [
                "policy": r.policy.rawValue, "under_provisioned_share": r.underProvisionedShare,
                "under_provisioned_steps_share": r.underProvisionedStepsShare, "worker_seconds": r.workerSeconds,
                "oracle_worker_seconds": r.oracleWorkerSeconds, "cost_vs_oracle": r.costVsOracle,
                "steps": r.steps, "scaling_changes": r.decisions, "capacity_per_worker": perWorker, "lead_time": leadTime,
                "seasons": periods, "level": levels[index] ?? level]
            if index == 0, let underProvisionBudget, r.policy == .predictive {
                o["max_under_provisioned_share"] = underProvisionBudget / 100
                o["level"] = r.meanLevel ?? level
                o["level_mode"] = "online"
            }
            if r.policy == .predictive { o["scale_in_hold"] = scaleInHold ?? 0 }
            o["lead_time_sec"] = Double(leadTime) * stepSeconds
            o["lead_time_source"] = leadSource
            o["workers_per_instance"] = perInstance
            o["instance_hours"] = r.instanceSeconds / 3600
            o["oracle_instance_hours"] = r.oracleInstanceSeconds / 3600
            if let costPerHour {
                o["instance_cost_per_hour"] = costPerHour
                o["cost"] = r.instanceSeconds / 3600 * costPerHour
                o["oracle_cost"] = r.oracleInstanceSeconds / 3600 * costPerHour
            }
            return o
        }
        if json {
            let document: [String: Any]
            if results.count == 1 { document = object(results[0], index: 0) } else { document = ["results": results.indices.map { object(results[$0], index: $0) }] }
            let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            FileHandle.standardOutput.write(data + Data("\n".utf8))
            return
        }
        var out = "\(demand): \(y.count) steps of \(series.step) s, scored \(results[0].steps) after a warm-up of \(warm); "
        out += "capacity \(String(format: "%.2f", perWorker)) req/s per worker, lead time \(leadTime) step(s) (\(Int64(leadTime) * series.step) s, \(leadSource)), seasons \(periods.map(String.init).joined(separator: ","))\n"
        if perInstance > 1 || costPerHour != nil {
            out += "machines of \(perInstance) worker(s)" + (costPerHour.map { String(format: " at %.4g per machine-hour", $0) } ?? "") + "\n"
        }
        out += "policy            under-provisioned demand   steps under   worker-seconds   vs oracle   changes   machine-hours" + (costPerHour == nil ? "" : "        cost") + "\n"
        for (index, r) in results.enumerated() {
            var label = r.policy.rawValue
            if index == 0, underProvisionBudget != nil, r.policy == .predictive, let mean = r.meanLevel {
                label += String(format: " ~%.0f%%", mean)
            } else if let l = levels[index], r.policy == .predictive {
                label += String(format: " %.0f%%", l)
            }
            out += label.padding(toLength: 18, withPad: " ", startingAt: 0)
            let figures: [any CVarArg] = [r.underProvisionedShare * 100, r.underProvisionedStepsShare * 100, r.workerSeconds, r.costVsOracle, r.decisions, r.instanceSeconds / 3600]
            out += String(format: "%22.3f%%   %10.2f%%   %14.0f   %8.3fx   %7d   %13.1f", arguments: figures)
            if let costPerHour { out += String(format: "   %9.2f", r.instanceSeconds / 3600 * costPerHour) }
            out += "\n"
        }
        FileHandle.standardOutput.write(Data(out.utf8))
    }
}
