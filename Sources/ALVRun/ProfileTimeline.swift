import ALVProtocol
import ALVModel
import Foundation

/// The profile's timeline, shared by the in-process runner and the broker: when each vector starts
/// and ends (start time, transition delays, the duration cap), what happened to it, and the events.
public struct ProfileTimeline: Sendable {
    /// One vector's place on the timeline.
    public struct Slot: Sendable {
        public var index: Int
        public var start: Date
        /// Planned end: the vector's ramp-up and hold, or the profile's cap if that comes first.
        public var end: Date
        public var cut: Bool
    }

    /// How a vector ended.
    public enum Outcome: Sendable {
        case ran
        case adjusted(AdaptiveController.Decision)
        case interrupted
    }

    public let plan: RunPlan
    /// Told of every event as it happens (the live dashboard).
    public var observer: (@Sendable (RunSummary.Event) -> Void)?
    public private(set) var vectors: [RunSummary.VectorSummary] = []
    public private(set) var events: [RunSummary.Event] = []
    public private(set) var loadSeconds: [Double]
    public private(set) var aborted = false
    private var nextIndex = 0
    private var previousEnd: Date?
    private var profileStart: Date?
    private var skipNext = false
    private var startedAt: [Int: Date] = [:]

    /// Vectors to skip up front: shortened in recent runs of this profile (`skip_known_bad`).
    private let knownBad: Set<String>

    public init(plan: RunPlan, knownBad: Set<String> = []) {
        self.plan = plan
        self.knownBad = knownBad
        loadSeconds = Array(repeating: 0, count: plan.steps.count)
    }

    /// Seconds since the profile started.
    public var elapsed: Double { profileStart.map { Date().timeIntervalSince($0) } ?? 0 }

    /// Waits for the profile's `start_time`, calling `sleep` with the seconds left.
    /// - Parameter lead: return this many seconds early (the caller sends load ahead; `next(now:lead:)` then
    ///   places the first vector exactly at `start_time`).
    public mutating func waitForStart(cancellation: some CancellationChecking, lead: Double = 0, sleep: (Double) -> Void) {
        if case .at(let date)? = plan.profile?.startTime, date > Date() {
            event("waiting_for_start", ["start_time": .string(Self.iso(date))])
            let wake = date.addingTimeInterval(-max(0, lead))
            while Date() < wake && !cancellation.isCancelled { sleep(wake.timeIntervalSinceNow) }
            profileStart = date
        } else {
            profileStart = Date()
        }
    }

    /// The next vector to run, or nil when the profile is over. Skipped vectors are recorded here.
    /// - Parameter lead: seconds the caller needs before load can start (units are sent ahead).
    public mutating func next(now: Date, cancelled: Bool, lead: Double = 0.02) -> Slot? {
        let profileStart = self.profileStart ?? now
        self.profileStart = profileStart
        let cap = profileStart.addingTimeInterval(plan.profile?.durationSec ?? .infinity)
        let delay = plan.profile?.transitionDelaySec ?? 0
        while nextIndex < plan.steps.count {
            let index = nextIndex
            nextIndex += 1
            let vector = plan.steps[index].vector
            if cancelled || aborted {
                vectors.append(.init(vectorID: vector.vectorID, status: "aborted", reason: aborted ? "the profile was aborted" : "run interrupted", startedAt: nil, endedAt: nil))
                continue
            }
            if skipNext {
                skipNext = false
                let previous = plan.steps[index - 1].vector.vectorID
                let reason = "skipped because \(previous) was shortened (action skip_next)"
                vectors.append(.init(vectorID: vector.vectorID, status: "skipped", reason: reason, startedAt: nil, endedAt: nil))
                event("vector_skipped", ["vector_id": .string(vector.vectorID), "reason": .string(reason)])
                continue
            }
            if knownBad.contains(vector.vectorID) {
                let runs = plan.profile?.adjustment?.skipKnownBad ?? 0
                let reason = "shortened in one of the last \(runs) runs of this profile (skip_known_bad)"
                vectors.append(.init(vectorID: vector.vectorID, status: "skipped", reason: reason, startedAt: nil, endedAt: nil))
                event("vector_skipped", ["vector_id": .string(vector.vectorID), "reason": .string(reason)])
                continue
            }
            var start = max(now.addingTimeInterval(lead), profileStart)
            if let previousEnd { start = max(start, previousEnd.addingTimeInterval(delay)) }
            if start >= cap.addingTimeInterval(-0.05) {
                let reason = "the profile's duration_sec (\(Self.number(plan.profile?.durationSec ?? 0)) s) was reached"
                vectors.append(.init(vectorID: vector.vectorID, status: "skipped", reason: reason, startedAt: nil, endedAt: nil))
                event("vector_skipped", ["vector_id": .string(vector.vectorID), "reason": .string(reason)])
                continue
            }
            let planned = start.addingTimeInterval(vector.totalSeconds)
            return Slot(index: index, start: start, end: min(planned, cap), cut: cap < planned)
        }
        return nil
    }

    public mutating func started(_ slot: Slot) {
        startedAt[slot.index] = slot.start
        event("vector_started", ["vector_id": .string(plan.steps[slot.index].vector.vectorID), "index": .int(slot.index), "at": .string(Self.iso(slot.start))])
    }

    /// Records how a vector ended; `at` is when its load stopped.
    public mutating func finish(_ slot: Slot, at ended: Date, outcome: Outcome) {
        let vector = plan.steps[slot.index].vector
        let loadEnd = min(ended, slot.end)
        previousEnd = loadEnd
        loadSeconds[slot.index] = max(0, loadEnd.timeIntervalSince(slot.start))
        let started = startedAt[slot.index].map(Self.iso)
        switch outcome {
        case .ran:
            let status = slot.cut ? "cut" : "completed"
            let reason = slot.cut ? "the profile's duration_sec (\(Self.number(plan.profile?.durationSec ?? 0)) s) ended the vector after \(String(format: "%.1f", loadSeconds[slot.index])) s" : nil
            vectors.append(.init(vectorID: vector.vectorID, status: status, reason: reason, startedAt: started, endedAt: Self.iso(loadEnd)))
            event("vector_\(status)", ["vector_id": .string(vector.vectorID)])
        case .interrupted:
            vectors.append(.init(vectorID: vector.vectorID, status: "aborted", reason: "run interrupted", startedAt: started, endedAt: Self.iso(loadEnd)))
            event("vector_aborted", ["vector_id": .string(vector.vectorID), "reason": "run interrupted"])
        case .adjusted(let decision):
            let detail: EventDetail = [
                "vector_id": .string(vector.vectorID), "action": .string(decision.action.rawValue), "reason": .string(decision.reason),
                "window_error_rates": .string(decision.windowErrorRates.map { String(format: "%.4f", $0) }.joined(separator: ",")),
                "after_s": .number(loadSeconds[slot.index], places: 1),
            ]
            switch decision.action {
            case .shorten, .skipNext:
                vectors.append(.init(vectorID: vector.vectorID, status: "shortened", reason: decision.reason, startedAt: started, endedAt: Self.iso(loadEnd)))
                event("vector_shortened", detail)
                if decision.action == .skipNext { skipNext = true }
            case .abort:
                vectors.append(.init(vectorID: vector.vectorID, status: "aborted", reason: decision.reason, startedAt: started, endedAt: Self.iso(loadEnd)))
                event("profile_aborted", detail)
                aborted = true
            }
        }
    }

    public mutating func event(_ kind: String, _ detail: EventDetail) {
        let event = RunSummary.Event(at: Self.iso(Date()), kind: kind, detail: detail)
        events.append(event)
        observer?(event)
    }

    static func iso(_ date: Date) -> String { isoTimestamp(date) }

    static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}

/// Anything that can say whether a run was cancelled.
public protocol CancellationChecking {
    var isCancelled: Bool { get }
}

/// What a run is doing now: for progress lines (and, later, the dashboard).
public struct RunStatus: Sendable, Equatable, CustomStringConvertible {
    public var vectorID: String
    /// 1-based position in the profile's sequence.
    public var position: Int
    public var count: Int
    /// "ramp-up" or "hold".
    public var phase: String
    public var secondsLeft: Double

    public init(plan: RunPlan, slot: ProfileTimeline.Slot, now: Date = Date()) {
        let vector = plan.steps[slot.index].vector
        vectorID = vector.vectorID
        position = slot.index + 1
        count = plan.steps.count
        phase = now.timeIntervalSince(slot.start) < vector.rampUpTimeSec ? "ramp-up" : "hold"
        secondsLeft = max(0, slot.end.timeIntervalSince(now))
    }

    public var description: String {
        "\(vectorID) (\(position)/\(count), \(phase), \(Int(secondsLeft.rounded())) s left)"
    }
}
