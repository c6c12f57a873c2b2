import ALVTemplates
import Foundation

/// Finds and loads the CSV files a vector's templates name, once each.
///
/// A name declared under `data_files` uses its path; any other name `N` is looked up as `N.csv`
/// in the vector's directory and then in its `data/` folder.
public struct DataFileResolver {
    /// Which files on this machine's disk a vector may name.
    public enum Reading: Sendable, Equatable {
        /// Any path; relative ones against the base directory (a vector file the user runs here).
        case anywhere
        /// Relative paths only, without `..`, that stay under the base directory once links are followed
        /// (a vector that came over the network: a dashboard upload, a worker with `--data-dir`).
        case confined
        /// None: only files sent as text (a worker without `--data-dir`).
        case none
    }

    public let baseDirectory: String
    public let declared: [String: DataFileSpec]
    /// Files given as text (sent with a work unit): name → CSV. When set, nothing is read from disk.
    public let inline: [String: String]?
    public let reading: Reading
    private var cache: [String: Result<DataSet, Problem>] = [:]

    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public init(baseDirectory: String, declared: [String: DataFileSpec], inline: [String: String]? = nil, reading: Reading = .anywhere) {
        self.baseDirectory = baseDirectory
        self.declared = declared
        self.inline = inline
        self.reading = reading
    }

    /// The paths tried for `name`, in order.
    public func candidates(for name: String) -> [String] {
        if let spec = declared[name] { return [absolute(spec.path)] }
        return [absolute("\(name).csv"), absolute("data/\(name).csv")]
    }

    /// Loads the data file `name`.
    public mutating func load(_ name: String) -> Result<DataSet, Problem> {
        if let cached = cache[name] { return cached }
        let result = text(of: name).flatMap { text, path in
            Result { () throws(DataSetError) in try DataSet.parse(name: name, text: text, path: path) }
                .mapError { Problem(description: "bad data file \($0.description)") }
        }
        cache[name] = result
        return result
    }

    /// The text of data file `name` and the path it is known by: sent with the unit, or read from disk.
    private func text(of name: String) -> Result<(String, String), Problem> {
        let paths = candidates(for: name)
        if let inline {
            guard let text = inline[name] else { return .failure(Problem(description: "data file '\(name)' was not sent with the unit")) }
            return .success((text, paths.first ?? name))
        }
        switch reading {
        case .anywhere:
            break
        case .none:
            return .failure(Problem(description: "data file '\(name)' was not sent with the unit, and this worker reads no files of its own (alv worker --data-dir DIR lets it read files under DIR)"))
        case .confined:
            for path in relativeCandidates(for: name) {
                if let problem = Self.escape(path) { return .failure(Problem(description: "data file '\(name)': \(problem)")) }
            }
        }
        let existing = paths.filter { FileManager.default.fileExists(atPath: $0) }
        guard let found = existing.first(where: isUnderBase) else {
            if let outside = existing.first { return .failure(Problem(description: "data file '\(name)': \(outside) leads outside \(baseDirectory) through a link")) }
            return .failure(Problem(description: "data file '\(name)' not found; looked for \(paths.joined(separator: ", "))"))
        }
        guard let data = FileManager.default.contents(atPath: found) else {
            return .failure(Problem(description: "bad data file \(found): cannot read the file"))
        }
        return .success((String(decoding: data, as: UTF8.self), found))
    }

    /// Every data file the vector uses: those it declares and those its templates name.
    public func names(for vector: LoadVector) -> Set<String> {
        var names = Set(declared.keys)
        for request in vector.requestTypes {
            for step in request.flowSteps {
                for source in [step.url, step.payloadTemplate ?? ""] + Array(step.headers.values) {
                    if let parsed = try? ParsedTemplate.parse(source) { names.formUnion(parsed.dataReferences.map(\.file)) }
                }
            }
        }
        return names
    }

    /// The text of every data file the vector uses, read from disk, to send with its work units.
    /// - Throws: `Problem` naming a file that is missing or unreadable.
    public func texts(for vector: LoadVector) throws(Problem) -> [String: String] {
        var texts: [String: String] = [:]
        for name in names(for: vector) { texts[name] = try text(of: name).get().0 }
        return texts
    }

    /// The bindings for every data file the vector uses, ready for template compilation.
    public mutating func templateData(for vector: LoadVector, environment: [String: String]) throws -> TemplateData {
        let names = names(for: vector)
        var bindings: [TemplateData.Binding] = []
        for name in names.sorted() {
            switch load(name) {
            case .success(let dataSet): bindings.append(.init(dataSet: dataSet, order: declared[name]?.order ?? .sequential))
            case .failure(let problem): throw problem
            }
        }
        return TemplateData(bindings: bindings, environment: environment)
    }

    /// The paths tried for `name` as the vector spells them.
    private func relativeCandidates(for name: String) -> [String] {
        if let spec = declared[name] { return [spec.path] }
        return ["\(name).csv", "data/\(name).csv"]
    }

    /// Why `path` may not be read in confined mode, or nil.
    static func escape(_ path: String) -> String? {
        if path.hasPrefix("/") { return "path \(path) must be relative (files are read from one directory only)" }
        if path.split(separator: "/").contains("..") { return "path \(path) must not contain '..'" }
        if path.utf8.contains(0) { return "path contains a NUL byte" }
        return nil
    }

    /// In confined mode, whether `path`, links followed, lies under the base directory; always true otherwise.
    private func isUnderBase(_ path: String) -> Bool {
        guard reading == .confined else { return true }
        guard let root = Self.realPath(baseDirectory), let resolved = Self.realPath(path) else { return false }
        return resolved.hasPrefix(root.hasSuffix("/") ? root : root + "/")
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : (baseDirectory as NSString).appendingPathComponent(path)
    }
}
