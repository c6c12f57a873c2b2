import CSQLite
import ALVMetrics
import Foundation

/// Runs, per-second samples, worker samples and events in the SQLite file.
///
/// Each worker's per-second delta is one row per request type, with its histogram in the sparse
/// encoding, so any window's percentiles are exact when rows are merged. Rows are buffered and
/// written in one transaction per `flush()` (the broker flushes every second), so a crash loses at
/// most the last second.
public final class MetricsStore {
    public let database: SQLiteDatabase
    private var pending: [(String, Int64, Int, String, String, RequestDelta)] = []
    private var pendingWorkers: [(String, Int64, String, Double, UInt64, Int)] = []
    private var pendingEvents: [(String, String, String, String)] = []
    private lazy var insertSample: SQLiteStatement? = try? database.prepare(Self.sampleInsertSQL)
    private lazy var insertWorker: SQLiteStatement? = try? database.prepare(
        "INSERT INTO worker_samples (run_id, second, worker, cpu_s, rss_bytes, running_units) VALUES (?, ?, ?, ?, ?, ?)")
    private lazy var insertEvent: SQLiteStatement? = try? database.prepare("INSERT INTO events (run_id, at, kind, detail_json) VALUES (?, ?, ?, ?)")

    static let outcomeColumns = Outcome.allCases.map { "o_" + $0.key }
    static let sampleInsertSQL = """
        INSERT INTO samples (run_id, second, vector_index, request_type, worker, \(outcomeColumns.joined(separator: ", ")),
            bytes_in, bytes_out, intended, sent, completed, lag_sum_us, lag_max_us, latency, late)
        VALUES (\(Array(repeating: "?", count: 5 + outcomeColumns.count + 9).joined(separator: ", ")))
        """

    /// Opens the metrics tables in `database`, creating them when missing.
    public init(database: SQLiteDatabase) throws {
        self.database = database
        try StoreSchema.migrate(database)
        if database.isReadOnly { return }
        try markInterrupted()
    }

    /// This process, as `host:pid`.
    static let owner = "\(ProcessInfo.processInfo.hostName):\(getpid())"

    /// Runs still `running` whose process on this host is gone (killed, crashed, power lost) become
    /// `interrupted`, with the time this was noticed as their end.
    /// - Returns: the runs marked.
    @discardableResult
    public func markInterrupted() throws -> [String] {
        let statement = try database.prepare("SELECT run_id, owner FROM runs WHERE status = 'running' AND owner IS NOT NULL")
        var gone: [String] = []
        let host = ProcessInfo.processInfo.hostName + ":"
        while try statement.step() {
            guard let run = statement.string(0), let owner = statement.string(1), owner.hasPrefix(host),
                  let pid = Int32(owner.dropFirst(host.count)) else { continue }
            if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH { gone.append(run) }
        }
        for run in gone {
            try database.prepare("UPDATE runs SET status = 'interrupted', ended_at = ? WHERE run_id = ? AND status = 'running'").bind(Self.timestamp(), run).run()
        }
        return gone
    }


    /// Launcher lead times (spawn to first hello) per host, as the planner last measured them.
    public func leadTimes() throws -> [String: (seconds: Double, samples: Int)] {
        let statement = try database.prepare("SELECT host, seconds, samples FROM host_lead_times")
        var result: [String: (Double, Int)] = [:]
        while try statement.step() { result[statement.string(0) ?? ""] = (statement.double(1), statement.int(2)) }
        return result
    }

    /// Keeps measured lead times for the next run (replacing what was stored for those hosts).
    public func saveLeadTimes(_ times: [String: (seconds: Double, samples: Int)]) throws {
        let now = ISO8601DateFormatter().string(from: Date())
        try database.transaction {
            let upsert = try database.prepare("INSERT OR REPLACE INTO host_lead_times (host, seconds, samples, updated_at) VALUES (?, ?, ?, ?)")
            for (host, value) in times { try upsert.bind(host, value.seconds, value.samples, now).run() }
        }
    }

    /// Stores demand history for an endpoint (`timestamp → requests per second`), replacing values at
    /// timestamps already stored. Returns how many points were new.
    @discardableResult
    public func importHistory(endpoint: String, points: [(Int64, Double)]) throws -> Int {
        var added = 0
        try database.transaction {
            let exists = try database.prepare("SELECT 1 FROM history WHERE endpoint = ? AND ts = ?")
            let insert = try database.prepare("INSERT OR REPLACE INTO history (endpoint, ts, value) VALUES (?, ?, ?)")
            for (ts, value) in points {
                if try !exists.bind(endpoint, Int(ts)).step() { added += 1 }
                try insert.bind(endpoint, Int(ts), value).run()
            }
        }
        return added
    }

    /// An endpoint's stored history, oldest first.
    public func history(endpoint: String) throws -> [(Int64, Double)] {
        let statement = try database.prepare("SELECT ts, value FROM history WHERE endpoint = ? ORDER BY ts")
        _ = try statement.bind(endpoint)
        var result: [(Int64, Double)] = []
        while try statement.step() { result.append((Int64(statement.int(0)), statement.double(1))) }
        return result
    }

    /// Endpoints with stored history and their point counts.
    public func historyEndpoints() throws -> [(endpoint: String, points: Int)] {
        let statement = try database.prepare("SELECT endpoint, COUNT(*) FROM history GROUP BY endpoint ORDER BY endpoint")
        var result: [(String, Int)] = []
        while try statement.step() { result.append((statement.string(0) ?? "", statement.int(1))) }
        return result
    }

    public func beginRun(_ runID: String, target: String, profileID: String?, planJSON: String?) throws {
        try database.prepare("INSERT INTO runs (run_id, started_at, status, target, profile_id, plan_json, owner) VALUES (?, ?, 'running', ?, ?, ?, ?)")
            .bind(runID, Self.timestamp(), target, profileID, planJSON, Self.owner).run()
    }

    public func endRun(_ runID: String, status: String, summaryJSON: String?) throws {
        try flush()
        try database.prepare("UPDATE runs SET ended_at = ?, status = ?, summary_json = ? WHERE run_id = ?")
            .bind(Self.timestamp(), status, summaryJSON, runID).run()
    }

    /// Replaces a finished run's summary (what was learnt after it ended: remote-write counts).
    public func updateSummary(_ runID: String, summaryJSON: String) throws {
        try database.prepare("UPDATE runs SET summary_json = ? WHERE run_id = ?").bind(summaryJSON, runID).run()
    }

    /// Stores the target's series of a run (`--observe`), replacing any stored before for it.
    public func saveTargetSeries(run: String, _ series: [TargetSeries]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try database.transaction {
            try database.prepare("DELETE FROM target_series WHERE run_id = ?").bind(run).run()
            let insert = try database.prepare("INSERT INTO target_series (run_id, source, name, labels_json, kind, points_json) VALUES (?, ?, ?, ?, ?, ?)")
            for s in series {
                let labels = String(decoding: try encoder.encode(s.labels), as: UTF8.self)
                let points = String(decoding: try encoder.encode(s.points), as: UTF8.self)
                try insert.bind(run, s.source, s.name, labels, s.kind, points).run()
            }
        }
    }

    /// The target's series of a run, in the order stored.
    public func targetSeries(run: String) throws -> [TargetSeries] {
        let statement = try database.prepare("SELECT source, name, labels_json, kind, points_json FROM target_series WHERE run_id = ? ORDER BY rowid")
        _ = try statement.bind(run)
        var result: [TargetSeries] = []
        let decoder = JSONDecoder()
        while try statement.step() {
            let labels = (try? decoder.decode([String: String].self, from: Data((statement.string(2) ?? "{}").utf8))) ?? [:]
            let points = (try? decoder.decode([[Double]].self, from: Data((statement.string(4) ?? "[]").utf8))) ?? []
            result.append(TargetSeries(source: statement.string(0) ?? "", name: statement.string(1) ?? "", labels: labels, kind: statement.string(3) ?? "gauge", points: points))
        }
        return result
    }

    /// Buffers one worker's second of one request type.
    public func append(run: String, second: Int64, vectorIndex: Int, requestType: String, worker: String, metrics: RequestMetrics) {
        pending.append((run, second, vectorIndex, requestType, worker, RequestDelta(metrics)))
    }

    /// Buffers a delta as it came off the wire (its histogram is stored in the sparse bytes it arrived in).
    public func append(run: String, second: Int64, vectorIndex: Int, requestType: String, worker: String, delta: RequestDelta) {
        pending.append((run, second, vectorIndex, requestType, worker, delta))
    }

    public func appendWorker(run: String, second: Int64, worker: String, cpuSeconds: Double, rssBytes: UInt64, runningUnits: Int) {
        pendingWorkers.append((run, second, worker, cpuSeconds, rssBytes, runningUnits))
    }

    /// Buffers an event; `detailJSON` is its `detail` object as JSON.
    public func event(run: String, kind: String, detailJSON json: String) {
        pendingEvents.append((run, Self.timestamp(), kind, json))
    }

    /// Writes everything buffered in one transaction.
    public func flush() throws {
        guard !pending.isEmpty || !pendingWorkers.isEmpty || !pendingEvents.isEmpty else { return }
        guard let insertSample, let insertWorker, let insertEvent else { throw SQLiteError(code: 1, message: "cannot prepare inserts", sql: nil, path: database.path) }
        try database.transaction {
            for (run, second, vector, type, worker, m) in pending {
                var values: [(any SQLiteValue)?] = [run, Int(second), vector, type, worker]
                // SQLite integers are signed 64-bit: a counter beyond that (never real) is stored clamped.
                values += Outcome.allCases.map { Int(clamping: m.outcomes[$0]) }
                values += [Int(clamping: m.bytesIn), Int(clamping: m.bytesOut), Int(clamping: m.intended), Int(clamping: m.sent), Int(clamping: m.completed),
                           Int(clamping: m.lagSumMicros), Int(clamping: m.lagMaxMicros), SQLiteBlob(m.latency), Int(clamping: m.late)]
                try insertSample.bind(values: values)
                try insertSample.run()
            }
            for (run, second, worker, cpu, rss, running) in pendingWorkers {
                try insertWorker.bind(run, Int(second), worker, cpu, Int(clamping: rss), running).run()
            }
            for (run, at, kind, detail) in pendingEvents {
                try insertEvent.bind(run, at, kind, detail).run()
            }
        }
        pending.removeAll(keepingCapacity: true)
        pendingWorkers.removeAll(keepingCapacity: true)
        pendingEvents.removeAll(keepingCapacity: true)
    }

    // MARK: Reading

    /// One row of a run's series: a second of one request type, merged across workers.
    public struct SeriesPoint: Sendable {
        public var second: Int64
        public var vectorIndex: Int
        public var requestType: String
        public var metrics: RequestMetrics
    }

    /// The run's per-second series, merged across workers (histograms merged exactly).
    public func series(run: String) throws -> [SeriesPoint] {
        var points: [SeriesPoint] = []
        try series(run: run) { points.append($0) }
        return points
    }

    /// Streams the run's series, one merged point at a time, in order of second, vector and
    /// request type. Only one dense histogram is alive at once, so a run of hours reads in little memory.
    /// With `after`, only seconds after it (a run in progress, followed by another process).
    public func series(run: String, after: Int64? = nil, each: (SeriesPoint) throws -> Void) throws {
        let statement = try database.prepare("""
            SELECT second, vector_index, request_type, \(Self.outcomeColumns.joined(separator: ", ")),
                   bytes_in, bytes_out, intended, sent, completed, lag_sum_us, lag_max_us, latency, late
            FROM samples WHERE run_id = ? AND second > ? ORDER BY second, vector_index, request_type
            """)
        try statement.bind(run, Int(after ?? Int64.min))
        var current: SeriesPoint? = nil
        while try statement.step() {
            let second = Int64(statement.int(0)), vectorIndex = statement.int(1), requestType = statement.string(2) ?? ""
            if let point = current, point.second != second || point.vectorIndex != vectorIndex || point.requestType != requestType {
                try each(point)
                current = nil
            }
            if current == nil {
                current = SeriesPoint(second: second, vectorIndex: vectorIndex, requestType: requestType, metrics: RequestMetrics())
            }
            // Counts add in place; the histogram merges from its sparse bytes (no dense copy per row). A count
            // below 0 (a store edited by hand) reads as 0, and sums wrap as merges do: a bad row never traps.
            func count(_ column: Int32) -> UInt64 { UInt64(max(0, statement.int(column))) }
            var column: Int32 = 3
            for outcome in Outcome.allCases {
                current!.metrics.outcomes[outcome] &+= count(column)
                column += 1
            }
            current!.metrics.bytesIn &+= count(column)
            current!.metrics.bytesOut &+= count(column + 1)
            current!.metrics.intended &+= count(column + 2)
            current!.metrics.sent &+= count(column + 3)
            current!.metrics.completed &+= count(column + 4)
            current!.metrics.lagSumMicros &+= count(column + 5)
            current!.metrics.lagMaxMicros = max(current!.metrics.lagMaxMicros, count(column + 6))
            try? SparseHistogram.merge(statement.blob(column + 7), into: &current!.metrics.latency)
            current!.metrics.late &+= count(column + 8)
        }
        if let current { try each(current) }
    }

    /// Requests recorded for a run, per worker.
    public func requestsByWorker(run: String) throws -> [String: UInt64] {
        let total = Self.outcomeColumns.joined(separator: " + ")
        let statement = try database.prepare("SELECT worker, SUM(\(total)) FROM samples WHERE run_id = ? GROUP BY worker")
        try statement.bind(run)
        var result: [String: UInt64] = [:]
        while try statement.step() { result[statement.string(0) ?? ""] = UInt64(max(0, statement.int(1))) }
        return result
    }

    /// Vectors shortened (by real-time adjustment) in the last `runs` finished runs of a profile.
    public func shortenedVectors(profileID: String, lastRuns runs: Int) throws -> Set<String> {
        guard runs > 0 else { return [] }
        let statement = try database.prepare("""
            SELECT e.detail_json FROM events e
            WHERE e.kind = 'vector_shortened' AND e.run_id IN (
                SELECT run_id FROM runs WHERE profile_id = ? AND status != 'running' ORDER BY started_at DESC LIMIT ?)
            """)
        try statement.bind(profileID, runs)
        var result = Set<String>()
        while try statement.step() {
            let data = Data((statement.string(0) ?? "{}").utf8)
            if let detail = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let id = detail["vector_id"] as? String { result.insert(id) }
        }
        return result
    }

    /// A stored run's row.
    public struct RunRecord: Sendable {
        public var runID: String
        public var startedAt: String
        public var endedAt: String?
        public var status: String
        public var target: String?
        public var profileID: String?
        public var summaryJSON: String?
    }

    /// The newest run still marked running (by any process on this store), if any.
    public func newestRunning() throws -> String? {
        let statement = try database.prepare("SELECT run_id FROM runs WHERE status = 'running' ORDER BY started_at DESC LIMIT 1")
        return try statement.step() ? statement.string(0) : nil
    }

    /// One run, or the latest when `runID` is "latest".
    public func run(_ runID: String) throws -> RunRecord? {
        let sql = runID == "latest"
            ? "SELECT run_id, started_at, ended_at, status, target, profile_id, summary_json FROM runs ORDER BY started_at DESC LIMIT 1"
            : "SELECT run_id, started_at, ended_at, status, target, profile_id, summary_json FROM runs WHERE run_id = ?"
        let statement = try database.prepare(sql)
        if runID != "latest" { try statement.bind(runID) }
        guard try statement.step() else { return nil }
        return RunRecord(
            runID: statement.string(0) ?? "", startedAt: statement.string(1) ?? "", endedAt: statement.string(2), status: statement.string(3) ?? "",
            target: statement.string(4), profileID: statement.string(5), summaryJSON: statement.string(6))
    }

    /// Run ids, newest first.
    public func runIDs(limit: Int = 50) throws -> [String] {
        let statement = try database.prepare("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT ?")
        try statement.bind(limit)
        var result: [String] = []
        while try statement.step() { result.append(statement.string(0) ?? "") }
        return result
    }

    /// The status a run was stored with ("running" until it ends).
    public func status(run: String) throws -> String? {
        let statement = try database.prepare("SELECT status FROM runs WHERE run_id = ?")
        try statement.bind(run)
        return try statement.step() ? statement.string(0) : nil
    }

    static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }
}

/// Bytes bound as a BLOB.
public struct SQLiteBlob: SQLiteValue {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
        bytes.withUnsafeBytes { alv_sqlite_bind_blob(statement, index, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32($0.count)) }
    }
}
