/// The store's schema as numbered steps, shared by every table's owner (`Repository`, `MetricsStore`): the
/// file's `PRAGMA user_version` says how many have been applied. Opening a store applies the missing ones in
/// order, in one `BEGIN IMMEDIATE` transaction (the version read again inside it, so two processes opening
/// an old or fresh file at once apply each step once). A store written by any earlier alv opens; a step
/// added later goes at the end of `steps` and never changes one already released.
///
/// Every step is safe on a file that already has what it makes (stores from before the numbering made
/// some tables without counting them).
public enum StoreSchema {
    struct Step: Sendable {
        let name: String
        let apply: @Sendable (SQLiteDatabase) throws -> Void
    }

    static let steps: [Step] = [
        Step(name: "repository") { database in
            try database.execute("""
                CREATE TABLE IF NOT EXISTS documents (
                    kind TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
                    name TEXT NOT NULL, json TEXT NOT NULL, source_dir TEXT, origin TEXT, created_at TEXT NOT NULL,
                    PRIMARY KEY (kind, id, version));
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                """)
        },
        Step(name: "metrics") { database in
            try database.execute("""
                CREATE TABLE IF NOT EXISTS runs (
                    run_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, ended_at TEXT, status TEXT NOT NULL,
                    target TEXT, profile_id TEXT, plan_json TEXT, summary_json TEXT);
                CREATE TABLE IF NOT EXISTS samples (
                    run_id TEXT NOT NULL, second INTEGER NOT NULL, vector_index INTEGER NOT NULL, request_type TEXT NOT NULL,
                    worker TEXT NOT NULL, \(MetricsStore.outcomeColumns.map { "\($0) INTEGER NOT NULL" }.joined(separator: ", ")),
                    bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL, intended INTEGER NOT NULL, sent INTEGER NOT NULL,
                    completed INTEGER NOT NULL, lag_sum_us INTEGER NOT NULL, lag_max_us INTEGER NOT NULL, latency BLOB NOT NULL);
                CREATE INDEX IF NOT EXISTS samples_by_run ON samples (run_id, second);
                CREATE TABLE IF NOT EXISTS worker_samples (
                    run_id TEXT NOT NULL, second INTEGER NOT NULL, worker TEXT NOT NULL, cpu_s REAL NOT NULL,
                    rss_bytes INTEGER NOT NULL, running_units INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS events (run_id TEXT NOT NULL, at TEXT NOT NULL, kind TEXT NOT NULL, detail_json TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS host_lead_times (
                    host TEXT PRIMARY KEY, seconds REAL NOT NULL, samples INTEGER NOT NULL, updated_at TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS history (
                    endpoint TEXT NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL, PRIMARY KEY (endpoint, ts)) WITHOUT ROWID;
                """)
        },
        // Who runs a run (host:pid), so a run whose process is gone can be told from one still going.
        Step(name: "runs.owner") { database in
            if try !database.columns("runs").contains("owner") { try database.execute("ALTER TABLE runs ADD COLUMN owner TEXT") }
        },
        // Requests whose response failed a check of its flow step.
        Step(name: "samples.o_check") { database in
            if try !database.columns("samples").contains("o_check") {
                try database.execute("ALTER TABLE samples ADD COLUMN o_check INTEGER NOT NULL DEFAULT 0")
            }
        },
        // The target's side (`--observe`): one row per scraped series of a run, its points as JSON.
        Step(name: "target_series") { database in
            try database.execute("""
                CREATE TABLE IF NOT EXISTS target_series (
                    run_id TEXT NOT NULL, source TEXT NOT NULL, name TEXT NOT NULL, labels_json TEXT NOT NULL,
                    kind TEXT NOT NULL, points_json TEXT NOT NULL);
                CREATE INDEX IF NOT EXISTS target_series_by_run ON target_series (run_id);
                """)
        },
        // Requests sent more than 10 ms after their intended time (the generator behind its schedule). Steps
        // are applied by position: a new one goes last.
        Step(name: "samples.late") { database in
            if try !database.columns("samples").contains("late") {
                try database.execute("ALTER TABLE samples ADD COLUMN late INTEGER NOT NULL DEFAULT 0")
            }
        },
    ]

    /// The version a store has once every step is applied.
    public static var current: Int { steps.count }

    /// Applies the steps `database` lacks. A read-only file is left as it is (and read as it is).
    /// - Throws: `StoreSchemaError.newer` for a file written by a newer alv; SQLite's error otherwise.
    static func migrate(_ database: SQLiteDatabase) throws {
        let found = try database.userVersion
        if found > current { throw StoreSchemaError.newer(path: database.path, found: found, known: current) }
        guard found < current, !database.isReadOnly else { return }
        try database.transaction {
            let version = try database.userVersion
            guard version < current else { return }
            for step in steps[version...] { try step.apply(database) }
            try database.execute("PRAGMA user_version = \(current)")
        }
    }
}

public enum StoreSchemaError: Error, CustomStringConvertible {
    case newer(path: String, found: Int, known: Int)

    public var description: String {
        switch self {
        case .newer(let path, let found, let known):
            "\(path): the store has schema version \(found), written by a newer alv; this alv knows versions up to \(known) (use the newer alv, or another --db)"
        }
    }
}

extension SQLiteDatabase {
    /// The column names of `table` (empty when there is no such table).
    func columns(_ table: String) throws -> Set<String> {
        let statement = try prepare("SELECT name FROM pragma_table_info('\(table)')")
        var names: Set<String> = []
        while try statement.step() { if let name = statement.string(0) { names.insert(name) } }
        return names
    }
}
