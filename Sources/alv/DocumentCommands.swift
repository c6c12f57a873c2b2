import ALVModel
import ALVRun
import ALVStore
import ALVTemplates
import ArgumentParser
import Foundation

/// What differs between `alv vector …` and `alv profile …`.
protocol DocumentKindMarker {
    static var kind: DocumentKind { get }
}

enum VectorKind: DocumentKindMarker { static let kind = DocumentKind.vector }
enum ProfileKind: DocumentKindMarker { static let kind = DocumentKind.profile }

struct VectorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vector",
        abstract: "Validate, store and inspect Load Vectors.",
        subcommands: [
            ValidateDocuments<VectorKind>.self, AddDocuments<VectorKind>.self, ListDocuments<VectorKind>.self,
            ShowDocument<VectorKind>.self, RemoveDocument<VectorKind>.self, ExportDocument<VectorKind>.self,
        ])
}

struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Validate, store and inspect ALV profiles.",
        subcommands: [
            ValidateDocuments<ProfileKind>.self, AddDocuments<ProfileKind>.self, ListDocuments<ProfileKind>.self,
            ShowDocument<ProfileKind>.self, RemoveDocument<ProfileKind>.self, ExportDocument<ProfileKind>.self,
        ])
}

/// Validates files of one kind; profiles are checked against the vectors in the repository.
struct DocumentChecker {
    let kind: DocumentKind
    let repository: () throws -> Repository

    struct Outcome {
        var file: String
        var id: String?
        var summary: String
        var diagnostics: [Diagnostic]
        var valid: Bool { !diagnostics.hasErrors }
    }

    func check(_ file: String) throws -> Outcome {
        let bytes = try readInput(file)
        let name = file == "-" ? "<stdin>" : file
        switch kind {
        case .vector:
            let base = file == "-" ? FileManager.default.currentDirectoryPath : ((file as NSString).deletingLastPathComponent.isEmpty ? "." : (file as NSString).deletingLastPathComponent)
            let result = VectorValidator.validate(bytes, file: name, baseDirectory: base)
            return Outcome(file: name, id: result.model?.vectorID, summary: result.model.map(describe) ?? "", diagnostics: result.diagnostics)
        case .profile:
            let known = try repository().ids(.vector)
            let result = ProfileValidator.validate(bytes, file: name, knownVectors: known)
            return Outcome(file: name, id: result.model?.profileID, summary: result.model.map(describe) ?? "", diagnostics: result.diagnostics)
        }
    }
}

struct ValidateDocuments<K: DocumentKindMarker>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "validate",
            abstract: "Check \(K.kind.rawValue) files and report every problem at once (exit 2 if any).")
    }

    @Argument(help: ArgumentHelp("\(K.kind.rawValue.capitalized) JSON files (- for stdin).", valueName: "FILE"))
    var files: [String]

    @Flag(help: "Print one JSON object with every diagnostic on stdout.")
    var json = false

    @OptionGroup var store: StoreOptions

    func validate() throws {
        if files.isEmpty { throw ValidationError("name at least one \(K.kind.rawValue) file") }
    }

    func run() throws {
        let checker = DocumentChecker(kind: K.kind, repository: store.openRepository)
        var outcomes: [DocumentChecker.Outcome] = []
        for file in files {
            do {
                outcomes.append(try checker.check(file))
            } catch let error as CLIError {
                guard case .badInput(let message) = error else { throw error }
                outcomes.append(.init(file: file, id: nil, summary: "", diagnostics: [Diagnostic(file: file, path: "$", position: nil, message: message)]))
            }
        }
        for outcome in outcomes {
            outcome.diagnostics.forEach { printError($0.description) }
            if !json && outcome.valid { print("\(outcome.file): ok, \(K.kind.rawValue) \(outcome.id ?? "?"): \(outcome.summary)") }
        }
        if json {
            try printJSON([
                "valid": outcomes.allSatisfy(\.valid),
                "files": outcomes.map { outcome -> [String: Any] in
                    [
                        "file": outcome.file, "valid": outcome.valid, "id": outcome.id ?? NSNull(),
                        "diagnostics": outcome.diagnostics.map(diagnosticObject),
                    ]
                },
            ])
        }
        if !outcomes.allSatisfy(\.valid) { throw ExitCode(2) }
    }
}

struct AddDocuments<K: DocumentKindMarker>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "add",
            abstract: "Validate and store \(K.kind.rawValue)s; an existing id gets a new version.",
            discussion: "All files are validated first; if any is invalid, nothing is stored.")
    }

    @Argument(help: ArgumentHelp("\(K.kind.rawValue.capitalized) JSON files.", valueName: "FILE"))
    var files: [String]

    @OptionGroup var store: StoreOptions

    func validate() throws {
        if files.isEmpty { throw ValidationError("name at least one \(K.kind.rawValue) file") }
        if files.contains("-") { throw ValidationError("add reads files, not stdin: data files resolve relative to the file") }
    }

    func run() throws {
        let repository = try store.openRepository()
        let checker = DocumentChecker(kind: K.kind, repository: { repository })
        let outcomes = try files.map(checker.check)
        for outcome in outcomes { outcome.diagnostics.forEach { printError($0.description) } }
        guard outcomes.allSatisfy(\.valid) else {
            printError("nothing stored: fix the errors above")
            throw ExitCode(2)
        }
        for file in files {
            let bytes = try readInput(file)
            let outcome: AddOutcome
            switch K.kind {
            case .vector:
                let base = URL(fileURLWithPath: file).deletingLastPathComponent().path
                outcome = try repository.addVector(bytes, file: file, baseDirectory: base)
            case .profile:
                outcome = try repository.addProfile(bytes, file: file)
            }
            switch outcome {
            case .added(let id, let version): print("added \(K.kind.rawValue) \(id) version \(version)")
            case .unchanged(let id, let version): print("unchanged: \(K.kind.rawValue) \(id) version \(version) is identical")
            case .invalid(let diagnostics):
                diagnostics.forEach { printError($0.description) }
                throw ExitCode(2)
            }
        }
    }
}

struct ListDocuments<K: DocumentKindMarker>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "list", abstract: "List stored \(K.kind.rawValue)s (latest version of each).")
    }

    @Flag(help: "Print one JSON object on stdout.")
    var json = false

    @OptionGroup var store: StoreOptions

    func run() throws {
        let repository = try store.openRepository()
        let documents = try repository.latest(K.kind)
        if json {
            try printJSON([
                "\(K.kind.rawValue)s": try documents.map { stored -> [String: Any] in
                    var entry = listEntry(stored)
                    entry["summary"] = try summary(of: stored, in: repository)
                    return entry
                }
            ])
            return
        }
        if documents.isEmpty {
            print("no \(K.kind.rawValue)s in \(store.db)")
            return
        }
        let rows = try documents.map { [$0.id, String($0.version), $0.name, try summary(of: $0, in: repository)] }
        print(table(["ID", "VERSION", "NAME", "SUMMARY"], rows))
    }
}

struct ShowDocument<K: DocumentKindMarker>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "show", abstract: "Show one stored \(K.kind.rawValue).")
    }

    @Argument(help: ArgumentHelp("The \(K.kind.rawValue) id.", valueName: "ID"))
    var id: String

    @Option(help: "A version number (default: the latest).")
    var version: Int?

    @Flag(help: "Print one JSON object on stdout: the stored document and its metadata.")
    var json = false

    @OptionGroup var store: StoreOptions

    func run() throws {
        let repository = try store.openRepository()
        let stored = try fetch(repository, K.kind, id: id, version: version)
        if json {
            var entry = listEntry(stored)
            entry["versions"] = try repository.versions(K.kind, id: id)
            entry["document"] = try JSONSerialization.jsonObject(with: Data(stored.json.utf8), options: [.fragmentsAllowed])
            try printJSON(entry)
            return
        }
        print("\(K.kind.rawValue) \(stored.id), version \(stored.version) of \(stored.versionCount), added \(stored.createdAt)")
        if let origin = stored.origin { print("from \(origin)") }
        print(try detail(of: stored, in: repository))
    }
}

struct RemoveDocument<K: DocumentKindMarker>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "rm", abstract: "Remove a stored \(K.kind.rawValue) (every version, or one).")
    }

    @Argument(help: ArgumentHelp("The \(K.kind.rawValue) id.", valueName: "ID"))
    var id: String

    @Option(help: "Remove only this version.")
    var version: Int?

    @Flag(help: ArgumentHelp(K.kind == .vector ? "Remove the vector even if stored profiles name it." : "Accepted and ignored: nothing stops a profile's removal."))
    var force = false

    @OptionGroup var store: StoreOptions

    func run() throws {
        let repository = try store.openRepository()
        do {
            let removed = try repository.remove(K.kind, id: id, version: version, force: force)
            print("removed \(K.kind.rawValue) \(id): \(removed) version\(removed == 1 ? "" : "s")")
        } catch let error as RepositoryError {
            throw CLIError.badInput(error.description)
        }
    }
}

struct ExportDocument<K: DocumentKindMarker>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "export", abstract: "Write a stored \(K.kind.rawValue)'s JSON, exactly as added.")
    }

    @Argument(help: ArgumentHelp("The \(K.kind.rawValue) id.", valueName: "ID"))
    var id: String

    @Option(help: "A version number (default: the latest).")
    var version: Int?

    @Option(help: ArgumentHelp("Write to this file instead of stdout.", valueName: "FILE"))
    var out: String?

    @OptionGroup var store: StoreOptions

    func run() throws {
        let repository = try store.openRepository()
        let stored = try fetch(repository, K.kind, id: id, version: version)
        var text = stored.json
        if !text.hasSuffix("\n") { text += "\n" }
        if let out {
            do {
                try text.write(toFile: out, atomically: true, encoding: .utf8)
            } catch {
                throw CLIError.badInput("--out \(out): cannot write the file (\(error.localizedDescription))")
            }
            printError("wrote \(K.kind.rawValue) \(stored.id) version \(stored.version) to \(out)")
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}

// MARK: Shared rendering

func fetch(_ repository: Repository, _ kind: DocumentKind, id: String, version: Int?) throws -> StoredDocument {
    guard let stored = try repository.document(kind, id: id, version: version) else {
        let known = try repository.ids(kind)
        let hint = closestName(to: id, among: Array(known)).map { " (did you mean \"\($0)\"?)" } ?? ""
        let versions = try repository.versions(kind, id: id)
        if let version, !versions.isEmpty {
            throw CLIError.badInput("\(kind.rawValue) \"\(id)\" has no version \(version); versions: \(versions.map(String.init).joined(separator: ", "))")
        }
        throw CLIError.badInput("no \(kind.rawValue) \"\(id)\" in the repository\(hint); `alv \(kind.rawValue) list` shows what is there")
    }
    return stored
}

func listEntry(_ stored: StoredDocument) -> [String: Any] {
    [
        "\(stored.kind.rawValue)_id": stored.id, "version": stored.version, "name": stored.name, "created_at": stored.createdAt,
        "version_count": stored.versionCount, "origin": stored.origin ?? NSNull(),
    ]
}

func diagnosticObject(_ d: Diagnostic) -> [String: Any] {
    [
        "severity": d.severity.rawValue, "file": d.file ?? NSNull(), "path": d.path, "line": d.line ?? NSNull(),
        "column": d.column ?? NSNull(), "message": d.message,
    ]
}

func summary(of stored: StoredDocument, in repository: Repository) throws -> String {
    switch stored.kind {
    case .vector: return describe(try repository.vector(id: stored.id, version: stored.version).0)
    case .profile: return describe(try repository.profile(id: stored.id, version: stored.version).0)
    }
}

func detail(of stored: StoredDocument, in repository: Repository) throws -> String {
    switch stored.kind {
    case .vector:
        let vector = try repository.vector(id: stored.id, version: stored.version).0
        var lines = ["name: \(vector.name)", "load: \(describe(vector))"]
        if let description = vector.description { lines.append("description: \(description)") }
        lines.append("request types:")
        let rows = vector.requestTypes.map { request -> [String] in
            var extra: [String] = []
            if let think = request.thinkTimeMs {
                switch think {
                case .fixed(let ms): extra.append("think \(format(ms)) ms")
                case .range(let lo, let hi): extra.append("think \(format(lo))–\(format(hi)) ms")
                }
            }
            if let payload = request.payloadTemplate { extra.append("payload \(payload.utf8.count) B (\(request.payloadEscaping.rawValue))") }
            if let steps = request.steps {
                return ["  " + request.name, "flow", steps.map(\.name).joined(separator: " → "), "\(format(request.frequency))%", extra.joined(separator: ", ")]
            }
            return ["  " + request.name, request.method, request.url, "\(format(request.frequency))%", extra.joined(separator: ", ")]
        }
        lines.append(table(["  NAME", "METHOD", "URL", "SHARE", ""], rows))
        if !vector.thresholds.isEmpty { lines.append("thresholds: " + vector.thresholds.map { "\($0.metric) \($0.expression)" }.joined(separator: ", ")) }
        return lines.joined(separator: "\n")
    case .profile:
        let profile = try repository.profile(id: stored.id, version: stored.version).0
        var lines = ["name: \(profile.name)", describe(profile)]
        if let a = profile.adjustment {
            lines.append("adjustment: \(a.action.rawValue) when error rate > \(format(a.errorRateThreshold)) for \(a.consecutiveWindows) × \(format(a.windowSec)) s windows")
        }
        if let s = profile.scaling { lines.append("scaling: \(s.mode.rawValue), \(s.minWorkers)–\(s.maxWorkers) workers") }
        if !profile.thresholds.isEmpty { lines.append("thresholds: " + profile.thresholds.map { "\($0.metric) \($0.expression)" }.joined(separator: ", ")) }
        return lines.joined(separator: "\n")
    }
}

func describe(_ vector: LoadVector) -> String {
    let load: String
    switch vector.load {
    case .open(_, let arrival, _) where vector.forecast != nil:
        let f = vector.forecast!
        load = "forecast of \(f.history) (\(f.model), \(format(f.horizonSec)) s ahead, ×\(format(f.scale))\(f.timeScale != 1 ? ", \(format(f.timeScale)) s per second" : "")) (\(arrival.rawValue))"
    case .open(let rate, let arrival, _): load = "\(format(rate)) req/s (\(arrival.rawValue))"
    case .closed(let users): load = "\(users) virtual users"
    }
    let types = vector.requestTypes.count
    return "\(load), \(types) request type\(types == 1 ? "" : "s"), ramp-up \(format(vector.rampUpTimeSec)) s, hold \(format(vector.durationSec)) s"
}

func describe(_ profile: ALVProfile) -> String {
    "\(profile.vectorSequence.joined(separator: " → ")), pause \(format(profile.transitionDelaySec)) s, at most \(format(profile.durationSec)) s"
}

func format(_ value: Double) -> String { formatNumber(value) }
