import ALVModel

/// A self-contained piece of load: everything a stateless worker needs to generate it.
///
/// The broker cuts a vector into units (a share of the rate or of the users, over a time window);
/// a single-process run makes one unit per vector.
public struct WorkUnit: Sendable, Equatable, Codable {
    public var runID: String
    public var unitID: String
    /// The broker's epoch when the unit was issued; a worker drops units of an older epoch.
    public var epoch: Int
    public var vector: LoadVector
    /// Directory that relative data files of the vector resolve against (a run on this machine).
    public var dataDirectory: String?
    /// The vector's data files themselves, name → CSV text, so a worker on another machine needs none on
    /// its disk; when present, `dataDirectory` is not read.
    public var data: [String: String]?
    /// Values `{{env.NAME}}` reads, name → value, as the run was given them (`--env`). A worker never reads
    /// its own environment: a vector learns only what the person who started the run chose to pass.
    public var env: [String: String]?
    /// Prefix for relative request URLs, such as `http://127.0.0.1:8080`.
    public var baseURL: String
    /// This unit's share of the load (the vector's `load`, scaled for this worker).
    public var load: LoadModel
    /// When load starts, in Unix milliseconds.
    public var startMs: Int64
    /// Seconds from start over which load rises linearly to `load` (the part of the vector's ramp in this window).
    public var rampUpSec: Double
    /// Share of `load` (0–1) at the unit's start; the ramp-up rises from it to the full load.
    /// A unit cut from the middle of a vector's ramp starts where the ramp stands.
    public var rampFrom: Double
    /// Seconds of load, ramp-up included.
    public var durationSec: Double
    /// Unix milliseconds after which a unit that has not started is dropped, not run late.
    public var deadlineMs: Int64
    public var seed: UInt64
    /// Index of the first virtual user of this unit (closed model), so data rows spread across workers.
    public var firstUserIndex: Int
    /// Open model shaped by a forecast: per-second multipliers of the rate from the unit's start.
    public var rateShape: [Double]?

    public init(
        runID: String, unitID: String, epoch: Int = 0, vector: LoadVector, dataDirectory: String?, baseURL: String,
        load: LoadModel, startMs: Int64, rampUpSec: Double, rampFrom: Double = 0, durationSec: Double, deadlineMs: Int64,
        seed: UInt64, firstUserIndex: Int = 0, rateShape: [Double]? = nil, data: [String: String]? = nil,
        env: [String: String]? = nil
    ) {
        self.env = env
        self.rateShape = rateShape
        self.data = data
        self.runID = runID
        self.unitID = unitID
        self.epoch = epoch
        self.vector = vector
        self.dataDirectory = dataDirectory
        self.baseURL = baseURL
        self.load = load
        self.startMs = startMs
        self.rampUpSec = rampUpSec
        self.rampFrom = min(1, max(0, rampFrom))
        self.durationSec = durationSec
        self.deadlineMs = deadlineMs
        self.seed = seed
        self.firstUserIndex = firstUserIndex
    }

    enum CodingKeys: String, CodingKey {
        case runID = "run_id", unitID = "unit_id", epoch, vector, dataDirectory = "data_directory", baseURL = "base_url", load
        case startMs = "start_ms", rampUpSec = "ramp_up_sec", rampFrom = "ramp_from", durationSec = "duration_sec", deadlineMs = "deadline_ms", seed
        case firstUserIndex = "first_user_index", rateShape = "rate_shape", data, env
    }

    /// Why a worker cannot run this unit as sent (broken or forged), naming the field; nil when it can.
    /// Checked before anything is scheduled, so no value reaches arithmetic that would trap.
    public var problem: String? {
        let week = 7.0 * 86_400
        guard durationSec.isFinite, durationSec > 0, durationSec <= week else { return "duration_sec must be above 0 and at most \(Int(week)), got \(durationSec)" }
        guard rampUpSec.isFinite, rampUpSec >= 0, rampUpSec <= week else { return "ramp_up_sec must be 0–\(Int(week)), got \(rampUpSec)" }
        guard rampFrom.isFinite, rampFrom >= 0, rampFrom <= 1 else { return "ramp_from must be 0–1, got \(rampFrom)" }
        let epochMs: ClosedRange<Int64> = 0...10_000_000_000_000
        guard epochMs.contains(startMs) else { return "start_ms must be a Unix time in ms, got \(startMs)" }
        guard epochMs.contains(deadlineMs) else { return "deadline_ms must be a Unix time in ms, got \(deadlineMs)" }
        guard firstUserIndex >= 0, firstUserIndex < 1 << 40 else { return "first_user_index must be 0–2^40, got \(firstUserIndex)" }
        switch load {
        case .open(let rate, _, let cap):
            guard rate.isFinite, rate >= 0, rate <= 10_000_000 else { return "load.target_rps must be 0–10000000, got \(rate)" }
            if let cap, cap < 1 || cap > 10_000_000 { return "load.max_in_flight must be 1–10000000, got \(cap)" }
        case .closed(let users):
            guard users >= 0, users <= 10_000_000 else { return "load.virtual_users must be 0–10000000, got \(users)" }
        }
        if let rateShape {
            guard rateShape.count <= Int(week) else { return "rate_shape has \(rateShape.count) seconds, more than a week" }
            if let bad = rateShape.first(where: { !($0.isFinite && $0 >= 0 && $0 <= 1_000_000) }) { return "rate_shape holds \(bad); expected multipliers 0–1000000" }
        }
        if let env, env.count > 1_000 { return "env has \(env.count) values; at most 1000" }
        guard !vector.requestTypes.isEmpty else { return "vector.request_types is empty" }
        if let bad = vector.requestTypes.first(where: { !($0.frequency.isFinite && $0.frequency >= 0) }) { return "vector.request_types frequency \(bad.frequency) of \(bad.name)" }
        guard vector.requestTypes.contains(where: { $0.frequency > 0 }) else { return "vector.request_types: every frequency is 0" }
        return nil
    }
}
