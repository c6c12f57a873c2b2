import Foundation

/// The built-in vectors, profiles, target behaviours, JSON Schemas and data files, embedded in the binary
/// from `config/` at build time (the EmbedConfig plugin), so `alv` copied alone to a bare machine has them.
public enum Builtins {
    /// Relative path (`vectors/smoke.json`, `schema/load-vector.schema.json`, …) → contents.
    public static var files: [String: [UInt8]] { EmbeddedConfig.files }

    /// Contents of one built-in file.
    public static func file(_ path: String) -> [UInt8]? { EmbeddedConfig.files[path] }

    /// Writes the built-ins under `directory` (a `config/` folder of its own), rewriting only files whose
    /// contents differ, and returns it. Vectors resolve their data files against it as in a checkout.
    /// - Throws: the file system's error, naming the path.
    @discardableResult
    public static func materialize(in directory: String) throws -> String {
        let fm = FileManager.default
        for (path, bytes) in EmbeddedConfig.files {
            let target = (directory as NSString).appendingPathComponent(path)
            if let existing = fm.contents(atPath: target), Array(existing) == bytes { continue }
            try fm.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: target), options: .atomic)
        }
        return directory
    }
}
