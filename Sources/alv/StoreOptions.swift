import ALVBuiltins
import ALVStore
import ArgumentParser
import Foundation

/// `--db PATH`, shared by every command that reads or writes the store.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The SQLite store (created on first use).", valueName: "PATH"))
    var db: String = ".alv/alv.db"

    /// Opens the repository, loading the built-in vectors and profiles the first time.
    func openRepository() throws -> Repository {
        do {
            return try Repository(path: db, builtinDirectory: try ConfigDirectory.locate(beside: db))
        } catch let error as SQLiteError {
            // SQLITE_CANTOPEN, SQLITE_NOTADB: the path the user gave is the problem.
            if error.code == 14 || error.code == 26 {
                throw CLIError.badInput("--db \(db): \(error.message); expected a writable path for a SQLite file")
            }
            throw CLIError.runtime(error.description)
        } catch let error as RepositoryError {
            throw CLIError.runtime(error.description)
        }
    }
}

/// Finds the `config/` folder with the built-in vectors, profiles and schemas.
enum ConfigDirectory {
    /// `ALV_CONFIG_DIR`, else `./config`, else a `config/` beside an ancestor of the executable (so a binary
    /// under `.build/` finds the checkout's folder), else the copy embedded in the binary, written out
    /// beside the store (`builtin/` in the directory of `db`) so data files resolve as in a checkout.
    /// - Throws: `CLIError.runtime` when the embedded copy cannot be written there.
    static func locate(beside db: String) throws -> String {
        if let found = locateOnDisk() { return found }
        let directory = ((db as NSString).deletingLastPathComponent as NSString).appendingPathComponent("builtin")
        do {
            return try Builtins.materialize(in: directory)
        } catch {
            throw CLIError.runtime("cannot write the built-in vectors and profiles to \(directory): \(error.localizedDescription)")
        }
    }

    static func locateOnDisk() -> String? {
        let fm = FileManager.default
        func holdsVectors(_ dir: String) -> Bool { fm.fileExists(atPath: (dir as NSString).appendingPathComponent("vectors")) }
        if let dir = ProcessInfo.processInfo.environment["ALV_CONFIG_DIR"], !dir.isEmpty { return dir }
        let local = (fm.currentDirectoryPath as NSString).appendingPathComponent("config")
        if holdsVectors(local) { return local }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = url.appendingPathComponent("config").path
            if holdsVectors(candidate) { return candidate }
            url.deleteLastPathComponent()
        }
        return nil
    }
}

/// Writes to stderr (progress, diagnostics) without disturbing `--json` output on stdout.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Reads a file named on the command line (`-` is stdin).
func readInput(_ path: String) throws -> [UInt8] {
    if path == "-" { return Array(FileHandle.standardInput.readDataToEndOfFile()) }
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw CLIError.badInput("\(path): no such file")
    }
    guard !isDirectory.boolValue, let data = FileManager.default.contents(atPath: path) else {
        throw CLIError.badInput("\(path): cannot read the file; expected a JSON file")
    }
    return Array(data)
}

/// Prints one JSON object on stdout.
func printJSON(_ object: Any) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    FileHandle.standardOutput.write(data)
    FileHandle.standardOutput.write(Data("\n".utf8))
}

/// Left-aligned columns for human-readable lists.
func table(_ header: [String], _ rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    return all.map { row in
        row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}
