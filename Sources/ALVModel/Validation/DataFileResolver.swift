import ALVTemplates
import Foundation

/// Finds and loads the CSV files a vector's templates name, once each.
///
/// A name declared under `data_files` uses its path; any other name `N` is looked up as `N.csv`
/// in the vector's directory and then in its `data/` folder.
public struct DataFileResolver {
    public let baseDirectory: String
    public let declared: [String: DataFileSpec]
    /// Files given as text (sent with a work unit): name → CSV. When set, nothing is read from disk.
    public let inline: [String: String]?
    private var cache: [String: Result<DataSet, Problem>] = [:]

    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public init(baseDirectory: String, declared: [String: DataFileSpec], inline: [String: String]? = nil) {
        self.baseDirectory = baseDirectory
        self.declared = declared
        self.inline = inline
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
        guard let found = paths.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
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
            for source in [request.url, request.payloadTemplate ?? ""] + Array(request.headers.values) {
                if let parsed = try? ParsedTemplate.parse(source) { names.formUnion(parsed.dataReferences.map(\.file)) }
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

    private func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : (baseDirectory as NSString).appendingPathComponent(path)
    }
}
