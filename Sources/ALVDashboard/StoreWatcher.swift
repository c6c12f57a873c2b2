import ALVLifecycle
import ALVMetrics
import ALVRun
import ALVStore
import Foundation
import Synchronization

/// Feeds the live page of `alv serve` from the store: the newest run that another process (`alv run`,
/// `alv broker --run`) is recording in the same database shows up within a second of its first stored second,
/// and ends with its summary. Polls twice a second on a thread of its own, over a connection of its own.
public final class StoreWatcher: Service, Sendable {
    public var name: String { "store watcher" }
    public let database: String
    public let feed: LiveFeed
    private let totals = Totals()

    /// Running totals by request type of the run followed, for `/metrics` and the live page.
    final class Totals: Sendable {
        let rows = Mutex<[String: (vector: String, requestType: String, metrics: RequestMetrics)]>([:])
        func withLock<T>(_ body: (inout [String: (vector: String, requestType: String, metrics: RequestMetrics)]) -> T) -> T { rows.withLock { body(&$0) } }
    }

    public init(database: String, feed: LiveFeed) {
        self.database = database
        self.feed = feed
        feed.breakdown { [totals] in totals.withLock { Array($0.values) } }
    }

    public func run(stop: CancellationFlag) throws {
        var store: MetricsStore?
        var following: String?
        var lastSecond: Int64?
        while !stop.wait(timeout: 0.5) {
            do {
                if store == nil { store = try MetricsStore(database: try SQLiteDatabase(path: database)) }
                guard let store else { continue }
                if let run = following {
                    lastSecond = try follow(run, after: lastSecond, store: store)
                    if let record = try store.run(run), record.status != "running" {
                        _ = try follow(run, after: lastSecond, store: store, includeNewest: true)
                        if let json = record.summaryJSON, let summary = try? JSONDecoder().decode(RunSummary.self, from: Data(json.utf8)) {
                            feed.end(summary)
                        }
                        following = nil
                    }
                }
                if following == nil, let newest = try store.newestRunning(), newest != feed.finishedRun {
                    following = newest
                    lastSecond = nil
                    totals.withLock { $0 = [:] }
                    feed.begin(runID: newest)
                    feed.named(newest)
                }
            } catch {
                store = nil  // reopened on the next turn (a store being created or migrated by the run)
            }
        }
    }

    /// Sends the run's complete seconds after `after` to the feed; the newest second stored may still be
    /// filling (other workers' rows), so it waits for the next turn unless `includeNewest`.
    private func follow(_ run: String, after: Int64?, store: MetricsStore, includeNewest: Bool = false) throws -> Int64? {
        var bySecond: [Int64: [MetricsStore.SeriesPoint]] = [:]
        try store.series(run: run, after: after) { bySecond[$0.second, default: []].append($0) }
        let seconds = bySecond.keys.sorted()
        let complete = includeNewest ? seconds : Array(seconds.dropLast())
        for second in complete {
            var merged = RequestMetrics()
            totals.withLock { totals in
                for point in bySecond[second]! {
                    merged.merge(point.metrics)
                    let key = "\(point.vectorIndex)/\(point.requestType)"
                    var entry = totals[key] ?? ("vector \(point.vectorIndex + 1)", point.requestType, RequestMetrics())
                    entry.metrics.merge(point.metrics)
                    totals[key] = entry
                }
            }
            feed.second(second, merged, status: "running (recorded by another process)")
        }
        return complete.last ?? after
    }
}
