import ALVProtocol
import Foundation

/// Where a worker stands with the broker.
///
/// ```
/// live ──retire──> retiring ──bye──> left
///   │                 │
///   ├──silence/exit───┴──────> lost
///   └──bye───────────────────> left
/// lost, left ──hello (newer incarnation, or the same id back)──> live
/// ```
public enum WorkerState: String, Sendable, Equatable {
    /// Takes new windows.
    case live
    /// Asked to leave (scale-in): gets no new windows, finishes or hands back what it holds, then says bye.
    case retiring
    /// Silent too long, or its process exited: evicted, its units reissued. It may rejoin as a new incarnation.
    case lost
    /// Said goodbye.
    case left

    /// Whether `self → next` is a legal move.
    public func canMove(to next: WorkerState) -> Bool {
        switch (self, next) {
        case (.live, .retiring), (.live, .lost), (.live, .left), (.retiring, .left), (.retiring, .lost): return true
        case (.lost, .live), (.left, .live): return true
        default: return false
        }
    }
}

/// One worker as the broker knows it.
public struct WorkerRecord: Sendable {
    public var id: String
    public var incarnation: Int
    public var host: String
    public var pid: Int32
    public internal(set) var state: WorkerState = .live
    /// Ever lost (kept when it rejoins, for the run summary).
    public internal(set) var wasLost = false
    var lastSeen: Date
    var lastSeq: UInt64
    var peakRSS: UInt64 = 0
    /// The broker's clock minus the worker's, as its last heartbeat said.
    var clockOffsetMs: Double?
}

/// Worker membership: who is there, in which state, under which incarnation; sequence gaps; silence.
/// Owns no sockets and sends nothing: the broker acts on what it returns.
public struct WorkerRegistry: Sendable {
    public private(set) var workers: [String: WorkerRecord] = [:]
    /// Messages lost between workers and the broker, from sequence gaps.
    public private(set) var gaps = 0

    public init() {}

    /// What a hello means.
    public enum Join: Equatable {
        case joined, rejoined
        /// An older incarnation than the one known: ignored.
        case stale
    }

    /// Admits a hello. A newer incarnation (after eviction) or a worker that had left comes back live.
    public mutating func hello(_ message: WorkerMessage, _ hello: WorkerMessage.Hello, now: Date) -> Join {
        if let known = workers[message.worker] {
            if known.incarnation > message.incarnation { return .stale }
            var record = known
            record.incarnation = message.incarnation
            record.host = hello.host
            record.pid = hello.pid
            record.lastSeen = now
            record.lastSeq = message.seq
            if record.state.canMove(to: .live) { record.state = .live }
            workers[message.worker] = record
            return .rejoined
        }
        workers[message.worker] = WorkerRecord(id: message.worker, incarnation: message.incarnation, host: hello.host, pid: hello.pid, lastSeen: now, lastSeq: message.seq)
        return .joined
    }

    /// Checks any other message against the worker's incarnation and counts sequence gaps.
    /// - Returns: false for an unknown worker or an older incarnation (the caller drops it as stale).
    public mutating func admit(_ message: WorkerMessage, now: Date) -> Bool {
        guard var record = workers[message.worker], record.incarnation == message.incarnation else { return false }
        if message.seq > record.lastSeq {
            // Subtraction only where it cannot wrap; a forged 2^64−1 counts as many gaps, never a trap.
            let missing = message.seq - record.lastSeq - 1
            let (sum, overflow) = gaps.addingReportingOverflow(Int(clamping: missing))
            gaps = overflow ? Int.max : sum
            record.lastSeq = message.seq
        }
        record.lastSeen = now
        workers[message.worker] = record
        return true
    }

    /// Moves a worker to `state` when the move is legal. - Returns: whether it moved.
    @discardableResult
    public mutating func move(_ id: String, to state: WorkerState) -> Bool {
        guard let current = workers[id]?.state, current.canMove(to: state) else { return false }
        workers[id]!.state = state
        if state == .lost { workers[id]!.wasLost = true }
        return true
    }

    mutating func heartbeat(_ id: String, _ beat: WorkerMessage.Heartbeat) {
        guard workers[id] != nil else { return }
        workers[id]!.peakRSS = max(workers[id]!.peakRSS, beat.rssBytes)
        if let offset = beat.clockOffsetMs, offset.isFinite, abs(offset) < 1e12 { workers[id]!.clockOffsetMs = offset }
    }

    /// Workers that take new windows, sorted by id.
    public var live: [String] { workers.values.filter { $0.state == .live }.map(\.id).sorted() }

    /// Live or retiring workers silent for more than `seconds`.
    public func silent(for seconds: Double, now: Date) -> [String] {
        workers.values.filter { ($0.state == .live || $0.state == .retiring) && now.timeIntervalSince($0.lastSeen) > seconds }.map(\.id).sorted()
    }

    public func state(of id: String) -> WorkerState? { workers[id]?.state }
    public func record(_ id: String) -> WorkerRecord? { workers[id] }
}
