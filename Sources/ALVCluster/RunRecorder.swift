import ALVMetrics
import ALVRun
import ALVStore
import Foundation

/// The broker's writes to the metrics store: buffered per second, flushed in one transaction. Durable writes
/// throw; a flush that fails is reported (once per distinct message, with how often it repeated) and counted,
/// never swallowed.
final class RunRecorder {
    let store: MetricsStore
    private let log: (String) -> Void
    /// Flushes that failed in the current run, the last error, and whether the store has refused so long
    /// that the run must end.
    private(set) var health = StoreHealth()

    init(store: MetricsStore, log: @escaping (String) -> Void) {
        self.store = store
        self.log = log
    }

    func beginRun(_ runID: String, target: String, profileID: String?, planJSON: String?) throws {
        health = StoreHealth()
        try store.beginRun(runID, target: target, profileID: profileID, planJSON: planJSON)
    }

    func endRun(_ runID: String, status: String, summaryJSON: String?) throws {
        try store.endRun(runID, status: status, summaryJSON: summaryJSON)
    }

    func samples(run: String, second: Int64, vectorIndex: Int, worker: String, delta: MetricsDelta) {
        for (name, requestDelta) in delta.requestTypes {
            store.append(run: run, second: second, vectorIndex: vectorIndex, requestType: name, worker: worker, delta: requestDelta)
        }
    }

    func workerSample(run: String, second: Int64, worker: String, cpuSeconds: Double, rssBytes: UInt64, runningUnits: Int) {
        store.appendWorker(run: run, second: second, worker: worker, cpuSeconds: cpuSeconds, rssBytes: rssBytes, runningUnits: runningUnits)
    }

    func event(run: String, _ event: RunSummary.Event) {
        store.event(run: run, kind: event.kind, detailJSON: event.detailJSON)
    }

    /// Writes what is buffered. A failure is logged and counted; what failed stays buffered for the next try.
    func flush() {
        do {
            try store.flush()
            health.succeeded()
        } catch {
            let previous = health.lastFailure
            health.failed(error)
            if "\(error)" != previous || health.failedFlushes.isMultiple(of: 60) {
                log("cannot write metrics to \(store.database.path) (\(health.failedFlushes) failed flushes): \(error)")
            }
        }
    }

    /// Vectors shortened in the profile's recent runs (`skip_known_bad`).
    func shortenedVectors(profileID: String, lastRuns: Int) throws -> Set<String> {
        try store.shortenedVectors(profileID: profileID, lastRuns: lastRuns)
    }
}
