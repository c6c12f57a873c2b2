import CSQLite
import Foundation

/// A SQLite failure with the result code, SQLite's message, the statement and the file.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    public var code: Int32
    public var message: String
    public var sql: String?
    public var path: String

    public var description: String {
        var text = "SQLite error \(code) on \(path): \(message)"
        if let sql { text += " (in: \(sql.prefix(120)))" }
        return text
    }
}

/// One SQLite connection, owned by one thread at a time, closed in `deinit`.
///
/// WAL journal, `synchronous=NORMAL` (a crash loses at most the last transaction, never corrupts), a
/// busy timeout so separate `alv` processes can share the file.
public final class SQLiteDatabase {
    let handle: OpaquePointer
    public let path: String

    /// Opens or creates the database file, creating its directory.
    /// - Throws: `SQLiteError` when the file cannot be opened or is not a database.
    public init(path: String) throws(SQLiteError) {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(code: rc, message: message, sql: nil, path: path)
        }
        handle = db
        sqlite3_busy_timeout(db, 5000)
        // A file this user may only read opens read-only: it can still be reported on, and asking for WAL
        // (a write) would refuse it.
        isReadOnly = sqlite3_db_readonly(db, "main") == 1
        if !isReadOnly {
            // Changing the journal mode takes an exclusive lock and does not wait on the busy handler: when
            // several processes open a fresh file at once, the others retry for up to 5 s.
            let deadline = Date().addingTimeInterval(5)
            while true {
                do {
                    try execute("PRAGMA journal_mode=WAL;")
                    break
                } catch where error.code == SQLITE_BUSY && Date() < deadline {
                    usleep(10_000)
                }
            }
        }
        try execute(isReadOnly ? "PRAGMA foreign_keys=ON;" : "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
    }

    /// Whether the file could only be opened for reading.
    public let isReadOnly: Bool

    deinit {
        sqlite3_close_v2(handle)
    }

    /// Runs one or more statements that return no rows.
    public func execute(_ sql: String) throws(SQLiteError) {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(message)
            throw SQLiteError(code: rc, message: text, sql: sql, path: path)
        }
    }

    public func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw error(rc, sql: sql) }
        return SQLiteStatement(statement, database: self, sql: sql)
    }

    /// Runs `body` in one IMMEDIATE transaction; rolls back if it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        // Inside a transaction already: the outer one commits or rolls back.
        if sqlite3_get_autocommit(handle) == 0 { return try body() }
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// `PRAGMA user_version`, used for schema migrations.
    public var userVersion: Int {
        get throws(SQLiteError) {
            let statement = try prepare("PRAGMA user_version")
            _ = try statement.step()
            return statement.int(0)
        }
    }

    func error(_ code: Int32, sql: String?) -> SQLiteError {
        SQLiteError(code: code, message: String(cString: sqlite3_errmsg(handle)), sql: sql, path: path)
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    public var changes: Int32 { sqlite3_changes(handle) }

    /// The linked SQLite library's version.
    public static var libraryVersion: String { String(cString: sqlite3_libversion()) }
}

/// A prepared statement; finalised in `deinit`.
public final class SQLiteStatement {
    let handle: OpaquePointer
    let database: SQLiteDatabase
    let sql: String

    init(_ handle: OpaquePointer, database: SQLiteDatabase, sql: String) {
        self.handle = handle
        self.database = database
        self.sql = sql
    }

    deinit {
        sqlite3_finalize(handle)
    }

    /// Binds values to `?` parameters in order (1-based in SQLite). `nil` binds NULL.
    @discardableResult
    public func bind(_ values: (any SQLiteValue)?...) throws(SQLiteError) -> SQLiteStatement {
        try bind(values: values)
    }

    /// Binds an array of values, as `bind(_:...)` does.
    @discardableResult
    public func bind(values: [(any SQLiteValue)?]) throws(SQLiteError) -> SQLiteStatement {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let rc = value?.bind(to: handle, at: index) ?? sqlite3_bind_null(handle, index)
            if rc != SQLITE_OK { throw database.error(rc, sql: sql) }
        }
        return self
    }

    /// Steps once. - Returns: true when a row is available.
    public func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw database.error(rc, sql: sql)
        }
    }

    /// Steps to the end, for statements that return no rows.
    public func run() throws(SQLiteError) {
        while try step() {}
    }

    public func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(handle, column)) }
    public func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }
    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    public func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let bytes = sqlite3_column_blob(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }

    public func string(_ column: Int32) -> String? {
        guard let text = sqlite3_column_text(handle, column) else { return nil }
        return String(cString: text)
    }
}

/// A Swift value that can be bound to a statement parameter.
public protocol SQLiteValue {
    func bind(to statement: OpaquePointer, at index: Int32) -> Int32
}

extension Int: SQLiteValue {
    public func bind(to statement: OpaquePointer, at index: Int32) -> Int32 { sqlite3_bind_int64(statement, index, Int64(self)) }
}

extension Double: SQLiteValue {
    public func bind(to statement: OpaquePointer, at index: Int32) -> Int32 { sqlite3_bind_double(statement, index, self) }
}

extension String: SQLiteValue {
    public func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
        var copy = self
        return copy.withUTF8 { bytes in
            guard let base = bytes.baseAddress else { return alv_sqlite_bind_text(statement, index, "", 0) }
            return alv_sqlite_bind_text(statement, index, UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self), Int32(bytes.count))
        }
    }
}
