import ALVForecast
import ALVPlanner
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
        provisioned, worker-seconds and their ratio to the oracle's (perfect foresight).
        """)

    @Option(help: ArgumentHelp("The demand: timestamp,value CSV, value in req/s.", valueName: "CSV"))
    var demand: String

    @Option(help: "Requests per second one worker sustains at the target utilisation.")
    var capacity: Double?

    @Option(help: "Instead of --capacity: size capacity so that the series' peak needs this many workers.")
    var peakWorkers: Int?

    @Option(help: ArgumentHelp("Steps from a decision until its workers are ready.", valueName: "STEPS"))
    var leadTime: Int

    @Option(help: "predictive, reactive, oracle, fixed, or all (a comparison).")
    var policy: String = "predictive"

    @Option(help: "Level in percent of the forecast upper bound the predictive policy sizes from.")
    var level: Double = 80

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

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        guard policy == "all" || ScalingPolicy(rawValue: policy) != nil else {
            throw ValidationError("--policy expects predictive, reactive, oracle, fixed or all, got \"\(policy)\"")
        }
        guard (capacity == nil) != (peakWorkers == nil) else { throw ValidationError("give one of --capacity and --peak-workers") }
        if let capacity, !(capacity >= 1e-6 && capacity <= 1e12) { throw ValidationError("--capacity expects req/s from 0.000001 to 1e12, got \(capacity)") }
        if let peakWorkers, !(1...1_000_000).contains(peakWorkers) { throw ValidationError("--peak-workers expects 1–1000000, got \(peakWorkers)") }
        guard leadTime >= 1 && leadTime <= 10_000 else { throw ValidationError("--lead-time expects 1…10000 steps, got \(leadTime)") }
        guard level > 0 && level < 100 else { throw ValidationError("--level expects a percentage between 0 and 100, got \(level)") }
        if let season { _ = try parseSeasons(season) }
        guard minWorkers >= 0, maxWorkers >= max(1, minWorkers), maxWorkers <= 1_000_000 else {
            throw ValidationError("--min-workers/--max-workers: expected 0 ≤ min ≤ max ≤ 1000000, max ≥ 1, got \(minWorkers) and \(maxWorkers)")
        }
        guard (0...1_000_000).contains(cooldown) else { throw ValidationError("--cooldown expects 0–1000000 steps, got \(cooldown)") }
        if let warmup, !(0...10_000_000).contains(warmup) { throw ValidationError("--warmup expects 0–10000000 steps, got \(warmup)") }
    }

    func run() throws {
        let series: TimeSeries
        do { series = try SeriesCSV.read(path: demand) } catch { throw CLIError.badInput(error.description) }
        let y = series.values
        if let bad = y.firstIndex(where: { $0 < 0 }) {
            throw CLIError.badInput("\(demand): demand must not be negative; step \(bad) (\(series.timestampFormat.format(series.timestamp(at: bad)))) is \(y[bad])")
        }
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
        let policies = policy == "all" ? [ScalingPolicy.predictive, .reactive, .oracle] : [ScalingPolicy(rawValue: policy)!]
        var results: [ScalingSimulation.Result] = []
        for p in policies {
            results.append(ScalingSimulation.run(
                demand: y, stepSeconds: Double(series.step), rule: rule, leadTime: leadTime, policy: p,
                periods: periods, level: level, warmup: warm, window: max(4 * longest, 2 * refit), refitEvery: refit))
        }
        func object(_ r: ScalingSimulation.Result) -> [String: Any] {
            ["policy": r.policy.rawValue, "under_provisioned_share": r.underProvisionedShare,
             "under_provisioned_steps_share": r.underProvisionedStepsShare, "worker_seconds": r.workerSeconds,
             "oracle_worker_seconds": r.oracleWorkerSeconds, "cost_vs_oracle": r.costVsOracle,
             "steps": r.steps, "scaling_changes": r.decisions, "capacity_per_worker": perWorker, "lead_time": leadTime,
             "seasons": periods, "level": level]
        }
        if json {
            let document: [String: Any]
            if results.count == 1 { document = object(results[0]) } else { document = ["results": results.map { object($0) }] }
            let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            FileHandle.standardOutput.write(data + Data("\n".utf8))
            return
        }
        var out = "\(demand): \(y.count) steps of \(series.step) s, scored \(results[0].steps) after a warm-up of \(warm); "
        out += "capacity \(String(format: "%.2f", perWorker)) req/s per worker, lead time \(leadTime) step(s), seasons \(periods.map(String.init).joined(separator: ","))\n"
        out += "policy       under-provisioned demand   steps under   worker-seconds   vs oracle   changes\n"
        for r in results {
            out += r.policy.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)
            let figures: [any CVarArg] = [r.underProvisionedShare * 100, r.underProvisionedStepsShare * 100, r.workerSeconds, r.costVsOracle, r.decisions]
            out += String(format: "%22.3f%%   %10.2f%%   %14.0f   %8.3fx   %7d\n", arguments: figures)
        }
        FileHandle.standardOutput.write(Data(out.utf8))
    }
}
