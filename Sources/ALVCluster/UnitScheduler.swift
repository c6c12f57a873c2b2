import ALVModel
import ALVProtocol
import ALVRun
import Foundation

/// Cuts a run's vectors into work units, splits each window over the live workers, and reissues what a lost,
/// retired or refusing worker leaves. Owns the run's engine options and seed, so every unit carries them,
/// reissued ones too. One per run; sends through the closure it is given.
struct UnitScheduler {
    /// Where a unit is.
    enum UnitState: Equatable {
        /// Pushed; nobody has said they hold it yet.
        case sent
        case held(by: String)
        case done
        /// Its remainder went to other workers (or it was stopped with its vector).
        case handedOff
    }

    struct Record {
        var message: UnitMessage
        var vectorStartMs: Int64
        var issuedAt: Date
        var state: UnitState
        /// Workers that refused it; a reissue avoids them.
        var refusedBy: Set<String> = []
    }

    let runID: String
    let target: String
    /// What `{{env.NAME}}` reads, carried by every unit.
    let env: [String: String]
    let options: EngineOptions
    let seed: UInt64
    let lead: Double
    private(set) var units: [String: Record] = [:]
    private var counter = 0
    /// Each vector's data files as sent with its units (nil: none, or sent by path), read once per run.
    private var dataTexts: [String: [String: String]?] = [:]
    /// Data files larger than this in total travel by name (a worker reads them under its `--data-dir`).
    static let inlineDataLimit = 8 << 20
    /// Pushes one unit. - Returns: nil when sent, else why not.
    private let send: (UnitMessage) -> String?
    /// Records an event of the run.
    private let event: (String, EventDetail) -> Void

    init(runID: String, target: String, env: [String: String] = [:], options: EngineOptions, seed: UInt64, lead: Double,
         send: @escaping (UnitMessage) -> String?, event: @escaping (String, EventDetail) -> Void) {
        self.runID = runID
        self.target = target
        self.env = env
        self.options = options
        self.seed = seed
        self.lead = lead
        self.send = send
        self.event = event
    }

    /// Splits `[from, to)` of a vector over `workers` (a `share` of the vector's load) and pushes the units.
    /// - Returns: how many units were sent.
    @discardableResult
    mutating func issue(
        step: RunPlan.Step, vectorIndex: Int, vectorStartMs: Int64, from: Int64, to: Int64, epoch: Int, workers: [String],
        share: Double = 1, now: Date = Date()
    ) -> Int {
        guard !workers.isEmpty else {
            event("window_unassigned", ["vector_id": .string(step.vector.vectorID), "from": .string(Self.timestamp(ms: from)), "reason": "no live workers"])
            return 0
        }
        let vector = step.vector
        let ramp = vector.rampUpTimeSec
        let offset = Double(from - vectorStartMs) / 1000
        let rampFrom = ramp > 0 ? min(1, offset / ramp) : 1
        let rampLeft = max(0, ramp - offset)
        let seconds = Double(to - from) / 1000
        let data = inlineData(step)
        var sent = 0
        for (load, firstUser) in Self.split(vector.load, share: share, parts: workers.count) {
            counter += 1
            let unit = WorkUnit(
                runID: runID, unitID: "\(runID)-u\(counter)", epoch: epoch, vector: vector, dataDirectory: step.dataDirectory,
                baseURL: target, load: load, startMs: from, rampUpSec: rampLeft, rampFrom: rampFrom, durationSec: seconds,
                deadlineMs: from + 1000, seed: seed &+ UInt64(counter) &* 0x9E37_79B9_7F4A_7C15, firstUserIndex: firstUser,
                rateShape: vector.rateShape.map { Self.slice($0, fromSecond: offset, seconds: seconds) }, data: data,
                env: env.isEmpty ? nil : env)
            let message = UnitMessage(unit: unit, vectorIndex: vectorIndex, options: options)
            if let failure = send(message) {
                event("unit_not_sent", ["unit_id": .string(unit.unitID), "reason": .string(failure)])
            } else {
                units[unit.unitID] = Record(message: message, vectorStartMs: vectorStartMs, issuedAt: now, state: .sent)
                sent += 1
            }
        }
        return sent
    }

    /// The data files of `step`'s vector, to send with its units: a worker on another machine needs nothing
    /// on its disk. Read on first use; a file that cannot be read, or files above `inlineDataLimit`, go by
    /// path instead (with an event), and the worker reports what it cannot find.
    private mutating func inlineData(_ step: RunPlan.Step) -> [String: String]? {
        let key = step.vector.vectorID + "\u{0}" + (step.dataDirectory ?? "")
        if let known = dataTexts[key] { return known }
        let resolver = DataFileResolver(baseDirectory: step.dataDirectory ?? FileManager.default.currentDirectoryPath, declared: step.vector.dataFiles)
        var texts: [String: String]?
        do {
            let read = try resolver.texts(for: step.vector)
            let bytes = read.values.reduce(0) { $0 + $1.utf8.count }
            if bytes > Self.inlineDataLimit {
                event("unit_data_by_path", ["vector_id": .string(step.vector.vectorID), "bytes": .int(bytes), "reason": .string("data files above \(Self.inlineDataLimit >> 20) MiB go by name: every worker reads them under its --data-dir")])
            } else if !read.isEmpty {
                texts = read
            }
        } catch {
            event("unit_data_by_path", ["vector_id": .string(step.vector.vectorID), "reason": .string(error.description)])
        }
        dataTexts[key] = .some(texts)
        return texts
    }

    /// The vector's load split into `parts`: each part's load and its first virtual user (closed model).
    static func split(_ load: LoadModel, share: Double, parts: Int) -> [(LoadModel, Int)] {
        var result: [(LoadModel, Int)] = []
        for part in 0..<parts {
            switch load {
            case .open(let rate, let arrival, let cap):
                result.append((.open(targetRPS: rate * share / Double(parts), arrival: arrival, maxInFlight: cap.map { max(1, $0 / parts) }), 0))
            case .closed(let users):
                let total = Int((Double(users) * share).rounded())
                let count = total / parts + (part < total % parts ? 1 : 0)
                if count == 0 { continue }
                result.append((.closed(virtualUsers: count), part * (total / parts) + min(part, total % parts)))
            }
        }
        return result
    }

    mutating func held(_ id: String, by worker: String) {
        guard let record = units[id], record.state == .sent else { return }
        units[id]!.state = .held(by: worker)
    }

    /// A worker reported the unit's end.
    mutating func done(_ id: String) {
        guard units[id] != nil else { return }
        if units[id]!.state != .handedOff { units[id]!.state = .done }
    }

    /// Whether the unit is still expected to report (sent or held by someone).
    func isOpen(_ id: String) -> Bool {
        switch units[id]?.state {
        case .sent?, .held?: return true
        default: return false
        }
    }

    func holder(of id: String) -> String? {
        if case .held(let worker)? = units[id]?.state { return worker }
        return nil
    }

    /// Units held by `worker` and not finished.
    func held(by worker: String) -> [String] {
        units.filter { $0.value.state == .held(by: worker) }.map(\.key).sorted()
    }

    /// Units nobody claimed `grace` seconds after they were sent (pushed to a peer that was already gone).
    func unclaimed(now: Date, grace: Double) -> [String] {
        units.filter { $0.value.state == .sent && now.timeIntervalSince($0.value.issuedAt) > grace }.map(\.key).sorted()
    }

    /// Units of a vector still open: stopped with it (`stop_run` for that vector), not reissued.
    mutating func stopVector(_ index: Int) {
        for (id, record) in units where record.message.vectorIndex == index && isOpen(id) { units[id]!.state = .handedOff }
    }

    /// Every unit still expected to report, with its holder when known.
    var open: [(id: String, holder: String?)] { units.keys.filter(isOpen).sorted().map { ($0, holder(of: $0)) } }

    /// Reissues what is left of a unit to `workers` (those that refused it excepted).
    /// - Parameters:
    ///   - lastSeen: when its holder was last heard of; load between then and the reissued start is lost.
    ///   - refusedBy: the worker that refused it, when that is why.
    /// - Returns: an estimate of the requests lost.
    @discardableResult
    mutating func reissue(_ id: String, lastSeen: Date, epoch: Int, workers: [String], refusedBy: String? = nil, now: Date = Date()) -> Double {
        guard var record = units[id], isOpen(id) else { return 0 }
        if let refusedBy { record.refusedBy.insert(refusedBy) }
        record.state = .handedOff
        units[id] = record
        let unit = record.message.unit
        let endMs = unit.startMs + Int64(unit.durationSec * 1000)
        let startMs = max(unit.startMs, Int64((now.timeIntervalSince1970 + lead) * 1000))
        let lostFromMs = max(unit.startMs, Int64(lastSeen.timeIntervalSince1970 * 1000))
        let lostSeconds = max(0, Double(min(endMs, startMs) - lostFromMs) / 1000)
        let perSecond: Double
        switch unit.load {
        case .open(let rate, _, _): perSecond = rate
        case .closed(let users):
            let think = unit.vector.requestTypes.map { ($0.thinkTimeMs?.meanMs ?? 0) * $0.frequency / 100 }.reduce(0, +)
            perSecond = Double(users) / max(0.001, think / 1000 + 0.001)
        }
        let candidates = workers.filter { !record.refusedBy.contains($0) }
        guard startMs < endMs else { return lostSeconds * perSecond }
        guard !candidates.isEmpty else {
            event("unit_dropped", ["unit_id": .string(id), "reason": refusedBy == nil ? "no live worker to take it" : "every live worker refused it"])
            return lostSeconds * perSecond
        }
        // The unit's share of the vector, split again over the candidates.
        let share: Double
        switch (unit.load, unit.vector.load) {
        case (.open(let part, _, _), .open(let whole, _, _)): share = whole > 0 ? part / whole : 1
        case (.closed(let part), .closed(let whole)): share = whole > 0 ? Double(part) / Double(whole) : 1
        default: share = 1
        }
        let step = RunPlan.Step(vector: unit.vector, dataDirectory: unit.dataDirectory)
        let before = counter
        issue(step: step, vectorIndex: record.message.vectorIndex, vectorStartMs: record.vectorStartMs, from: startMs, to: endMs,
              epoch: epoch, workers: candidates, share: share, now: now)
        // Units cut from a refused one inherit who refused it.
        if !record.refusedBy.isEmpty && counter > before {
            for n in (before + 1)...counter { units["\(runID)-u\(n)"]?.refusedBy = record.refusedBy }
        }
        event("unit_reassigned", ["unit_id": .string(id), "from": .string(Self.timestamp(ms: startMs)), "workers": .string(candidates.joined(separator: ","))])
        return lostSeconds * perSecond
    }

    /// The part of a vector's per-second rate shape that a unit starting `fromSecond` into it covers. A start
    /// inside a second takes that second's factor for its remainder.
    static func slice(_ shape: [Double], fromSecond offset: Double, seconds: Double) -> [Double] {
        guard !shape.isEmpty else { return shape }
        var result: [Double] = []
        var t = 0.0
        while t < seconds {
            let k = min(shape.count - 1, max(0, Int(offset + t)))
            result.append(shape[k])
            t += 1
        }
        return result.isEmpty ? [shape[min(shape.count - 1, max(0, Int(offset)))]] : result
    }

    static func timestamp(ms: Int64) -> String { isoTimestamp(Date(timeIntervalSince1970: Double(ms) / 1000)) }
}
