import ALVModel
import Foundation

/// What the repository stores: Load Vectors and ALV profiles.
public enum DocumentKind: String, Sendable, CaseIterable {
    case vector
    case profile

    var idField: String { self == .vector ? "vector_id" : "profile_id" }
}

/// One stored version of a vector or profile: the JSON exactly as given, and where it came from.
public struct StoredDocument: Sendable, Equatable {
    public var kind: DocumentKind
    public var id: String
    public var version: Int
    public var name: String
    /// The document's text as it was added.
    public var json: String
    /// The directory relative data files resolve against (the added file's directory).
    public var sourceDirectory: String?
    /// The file it was added from, if any.
    public var origin: String?
    /// ISO 8601, UTC.
    public var createdAt: String
    /// How many versions of this id exist (filled by `latest`).
    public var versionCount: Int
}

/// The result of adding a document.
public enum AddOutcome: Sendable, Equatable {
    /// Stored as a new version.
    case added(id: String, version: Int)
    /// Identical to the latest version, which is kept; nothing written.
    case unchanged(id: String, version: Int)
    /// Not valid; nothing written.
    case invalid([Diagnostic])
}

/// Errors the repository reports beyond SQLite's own.
public enum RepositoryError: Error, Sendable, CustomStringConvertible {
    case notFound(DocumentKind, String, version: Int?)
    /// A vector cannot be removed while profiles name it.
    case inUse(vector: String, profiles: [String])
    case builtinInvalid([Diagnostic])
    /// A stored document no longer validates (for a vector: a data file moved or changed since it was added).
    case storedInvalid(DocumentKind, String, version: Int, [Diagnostic])

    public var description: String {
        switch self {
        case .notFound(let kind, let id, let version):
            return "no \(kind.rawValue) \"\(id)\"" + (version.map { " version \($0)" } ?? "") + " in the repository"
        case .inUse(let vector, let profiles):
            return "vector \"\(vector)\" is named by profile(s) \(profiles.joined(separator: ", ")); remove or change them first, or pass --force"
        case .builtinInvalid(let diagnostics):
            return "a built-in file under config/ is invalid:\n" + diagnostics.map(\.description).joined(separator: "\n")
        case .storedInvalid(let kind, let id, let version, let diagnostics):
            return "stored \(kind.rawValue) \"\(id)\" version \(version) no longer validates:\n" + diagnostics.map(\.description).joined(separator: "\n")
        }
    }
}

/// The vector and profile repository in SQLite: versioned rows, validated on write.
///
/// Adding an id that exists makes a new version; the built-in vectors and profiles under
/// `config/` are loaded the first time a database is opened.
public final class Repository {
    public let database: SQLiteDatabase

    /// Opens the repository in `database`, creating tables and loading built-ins on first use.
    /// - Parameter builtinDirectory: the `config/` folder holding `vectors/` and `profiles/`; nil loads none.
    public init(database: SQLiteDatabase, builtinDirectory: String?) throws {
        self.database = database
        try StoreSchema.migrate(database)
        if let builtinDirectory { try seedBuiltins(from: builtinDirectory) }
    }

    /// Opens (or creates) the database file at `path`.
    public convenience init(path: String, builtinDirectory: String?) throws {
        try self.init(database: try SQLiteDatabase(path: path), builtinDirectory: builtinDirectory)
    }

    // MARK: Writing

    /// Validates and stores a vector.
    /// - Parameters:
    ///   - reading: which files its data files may name; `.confined` (under `baseDirectory`) for a vector that
    ///     came over the network, whose `{{env.NAME}}` are then not checked against this process's environment.
    public func addVector(_ bytes: [UInt8], file: String?, baseDirectory: String?, reading: DataFileResolver.Reading = .anywhere) throws -> AddOutcome {
        let result = reading == .anywhere
            ? VectorValidator.validate(bytes, file: file, baseDirectory: baseDirectory)
            : VectorValidator.validate(bytes, file: file, baseDirectory: baseDirectory, environment: [:], reading: reading)
        guard let vector = result.model else { return .invalid(result.diagnostics) }
        return try store(.vector, id: vector.vectorID, name: vector.name, bytes: bytes, sourceDirectory: baseDirectory, origin: file)
    }

    /// Validates and stores a profile; its vector ids must already be in the repository.
    public func addProfile(_ bytes: [UInt8], file: String?) throws -> AddOutcome {
        let result = ProfileValidator.validate(bytes, file: file, knownVectors: try ids(.vector))
        guard let profile = result.model else { return .invalid(result.diagnostics) }
        return try store(.profile, id: profile.profileID, name: profile.name, bytes: bytes, sourceDirectory: nil, origin: file)
    }

    private func store(_ kind: DocumentKind, id: String, name: String, bytes: [UInt8], sourceDirectory: String?, origin: String?) throws -> AddOutcome {
        let json = String(decoding: bytes, as: UTF8.self)
        return try database.transaction {
            if let latest = try document(kind, id: id, version: nil), latest.json == json, latest.sourceDirectory == sourceDirectory {
                return .unchanged(id: id, version: latest.version)
            }
            let next = try database.prepare("SELECT COALESCE(MAX(version), 0) + 1 FROM documents WHERE kind = ? AND id = ?")
            try next.bind(kind.rawValue, id)
            _ = try next.step()
            let version = next.int(0)
            try database.prepare("""
                INSERT INTO documents (kind, id, version, name, json, source_dir, origin, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """).bind(kind.rawValue, id, version, name, json, sourceDirectory, origin, Self.timestamp()).run()
            return .added(id: id, version: version)
        }
    }

    /// Removes every version of `id`, or one version.
    /// - Parameter force: remove a vector even when profiles name it.
    /// - Returns: how many versions were removed.
    /// - Throws: `RepositoryError.notFound`, `.inUse`.
    @discardableResult
    public func remove(_ kind: DocumentKind, id: String, version: Int? = nil, force: Bool = false) throws -> Int {
        try database.transaction {
            let removesLast = try version == nil || versions(.vector, id: id) == [version!]
            if kind == .vector && !force && removesLast {
                let users = try latest(.profile).filter { stored in
                    ProfileValidator.validate(Array(stored.json.utf8), file: nil, knownVectors: nil).model?.vectorSequence.contains(id) ?? false
                }
                if !users.isEmpty { throw RepositoryError.inUse(vector: id, profiles: users.map(\.id)) }
            }
            let statement: SQLiteStatement
            if let version {
                statement = try database.prepare("DELETE FROM documents WHERE kind = ? AND id = ? AND version = ?")
                try statement.bind(kind.rawValue, id, version)
            } else {
                statement = try database.prepare("DELETE FROM documents WHERE kind = ? AND id = ?")
                try statement.bind(kind.rawValue, id)
            }
            try statement.run()
            let removed = Int(sqlite3Changes())
            if removed == 0 { throw RepositoryError.notFound(kind, id, version: version) }
            return removed
        }
    }

    // MARK: Reading

    /// The latest version of every id, sorted by id.
    public func latest(_ kind: DocumentKind) throws -> [StoredDocument] {
        let statement = try database.prepare("""
            SELECT d.id, d.version, d.name, d.json, d.source_dir, d.origin, d.created_at, c.n
            FROM documents d JOIN (SELECT id, MAX(version) AS v, COUNT(*) AS n FROM documents WHERE kind = ?1 GROUP BY id) c
              ON d.id = c.id AND d.version = c.v
            WHERE d.kind = ?1 ORDER BY d.id
            """)
        try statement.bind(kind.rawValue)
        var result: [StoredDocument] = []
        while try statement.step() { result.append(row(statement, kind: kind, count: statement.int(7))) }
        return result
    }

    /// One version of `id` (the latest when `version` is nil), or nil.
    public func document(_ kind: DocumentKind, id: String, version: Int?) throws -> StoredDocument? {
        let statement = try database.prepare("""
            SELECT id, version, name, json, source_dir, origin, created_at,
                   (SELECT COUNT(*) FROM documents WHERE kind = ?1 AND id = ?2)
            FROM documents WHERE kind = ?1 AND id = ?2 AND (?3 IS NULL OR version = ?3)
            ORDER BY version DESC LIMIT 1
            """)
        try statement.bind(kind.rawValue, id, version)
        return try statement.step() ? row(statement, kind: kind, count: statement.int(7)) : nil
    }

    /// The version numbers of `id`, ascending.
    public func versions(_ kind: DocumentKind, id: String) throws -> [Int] {
        let statement = try database.prepare("SELECT version FROM documents WHERE kind = ? AND id = ? ORDER BY version")
        try statement.bind(kind.rawValue, id)
        var result: [Int] = []
        while try statement.step() { result.append(statement.int(0)) }
        return result
    }

    /// Every id of this kind.
    public func ids(_ kind: DocumentKind) throws -> Set<String> {
        let statement = try database.prepare("SELECT DISTINCT id FROM documents WHERE kind = ?")
        try statement.bind(kind.rawValue)
        var result = Set<String>()
        while try statement.step() { result.insert(statement.string(0) ?? "") }
        return result
    }

    /// A stored vector, validated again (data files resolve against the directory it was added from).
    public func vector(id: String, version: Int? = nil) throws -> (LoadVector, StoredDocument) {
        guard let stored = try document(.vector, id: id, version: version) else { throw RepositoryError.notFound(.vector, id, version: version) }
        let result = VectorValidator.validate(Array(stored.json.utf8), file: stored.origin ?? "repository:\(id)@\(stored.version)", baseDirectory: stored.sourceDirectory)
        guard let vector = result.model else { throw RepositoryError.storedInvalid(.vector, id, version: stored.version, result.diagnostics.errors) }
        return (vector, stored)
    }

    /// A stored profile, checked against the vectors now in the repository.
    public func profile(id: String, version: Int? = nil) throws -> (ALVProfile, StoredDocument) {
        guard let stored = try document(.profile, id: id, version: version) else { throw RepositoryError.notFound(.profile, id, version: version) }
        let result = ProfileValidator.validate(Array(stored.json.utf8), file: stored.origin ?? "repository:\(id)@\(stored.version)", knownVectors: try ids(.vector))
        guard let profile = result.model else { throw RepositoryError.storedInvalid(.profile, id, version: stored.version, result.diagnostics.errors) }
        return (profile, stored)
    }

    // MARK: Built-ins

    /// Loads `vectors/*.json` then `profiles/*.json` from `directory`, once per database.
    public func seedBuiltins(from directory: String) throws {
        // One writer at a time (BEGIN IMMEDIATE), the flag read again inside: two processes opening a fresh
        // store at once load the built-ins once, and neither fails.
        if database.isReadOnly { return }
        try database.transaction { try seedBuiltinsOnce(from: directory) }
    }

    private func seedBuiltinsOnce(from directory: String) throws {
        let flag = try database.prepare("SELECT value FROM meta WHERE key = 'builtins_loaded'")
        if try flag.step() { return }
        let files = { (sub: String) -> [String] in
            let folder = (directory as NSString).appendingPathComponent(sub)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            return names.filter { $0.hasSuffix(".json") }.sorted().map { (folder as NSString).appendingPathComponent($0) }
        }
        for file in files("vectors") {
            let bytes = Array(FileManager.default.contents(atPath: file) ?? Data())
            if case .invalid(let diagnostics) = try addVector(bytes, file: file, baseDirectory: (file as NSString).deletingLastPathComponent) {
                throw RepositoryError.builtinInvalid(diagnostics)
            }
        }
        for file in files("profiles") {
            let bytes = Array(FileManager.default.contents(atPath: file) ?? Data())
            if case .invalid(let diagnostics) = try addProfile(bytes, file: file) { throw RepositoryError.builtinInvalid(diagnostics) }
        }
        try database.prepare("INSERT INTO meta (key, value) VALUES ('builtins_loaded', ?)").bind(Self.timestamp()).run()
    }

    // MARK: Helpers

    private func row(_ s: SQLiteStatement, kind: DocumentKind, count: Int) -> StoredDocument {
        StoredDocument(
            kind: kind, id: s.string(0) ?? "", version: s.int(1), name: s.string(2) ?? "", json: s.string(3) ?? "",
            sourceDirectory: s.string(4), origin: s.string(5), createdAt: s.string(6) ?? "", versionCount: count)
    }

    private func sqlite3Changes() -> Int32 { database.changes }

    static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }
}
