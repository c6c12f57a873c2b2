import Foundation

/// A run whose results the store would not take (disk full, I/O error, the file gone read-only): the run
/// was ended (or finished) and its summary, built in memory, is whole; the store's copy of the run is not.
/// The command prints the summary, writes it beside the store, and exits 3.
public struct StoreWriteFailure: Error, CustomStringConvertible {
    public var summary: RunSummary
    /// What failed, with SQLite's message.
    public var detail: String

    public init(summary: RunSummary, detail: String) {
        self.summary = summary
        self.detail = detail
    }

    public var description: String { "run \(summary.runID): the store could not be written (\(detail))" }
}

/// Whether the store keeps taking a run's writes: a failed flush starts the clock (what failed stays
/// buffered for the next one), a flush that succeeds stops it; failing for `patience` seconds in a row
/// ends the run, since nothing more of it would be kept.
public struct StoreHealth: Sendable {
    public static let patience: TimeInterval = 3
    public private(set) var failedFlushes = 0
    public private(set) var lastFailure: String?
    /// The store refused every write for `patience` seconds: the run must end (and stays so marked).
    public private(set) var mustEnd = false
    private var failingSince: Date?

    public init() {}

    public mutating func succeeded() { failingSince = nil }

    public mutating func failed(_ error: any Error, now: Date = Date()) {
        failedFlushes += 1
        lastFailure = "\(error)"
        let since = failingSince ?? now
        failingSince = since
        if now.timeIntervalSince(since) >= Self.patience { mustEnd = true }
    }

    /// "N writes to the store failed; the last: …", or nil when none failed.
    public var detail: String? { lastFailure.map { "\(failedFlushes) writes to the store failed; the last: \($0)" } }
}
