import Foundation

/// Paths into the checkout, for tests that read fixtures and config files.
public enum Fixtures {
    /// The package root (the directory holding Package.swift).
    public static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    public static func path(_ relative: String) -> String {
        packageRoot.appendingPathComponent(relative).path
    }

    /// JSON files directly in a folder of the checkout, sorted.
    public static func jsonFiles(in relative: String) -> [String] {
        let folder = path(relative)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().map { folder + "/" + $0 }
    }

    public static func bytes(_ path: String) -> [UInt8] {
        Array(FileManager.default.contents(atPath: path) ?? Data())
    }
}

/// A directory under the system temp folder, removed when the value is released.
public final class TemporaryDirectory {
    public let path: String

    public init(_ label: String = "alv-test") {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    public func file(_ name: String) -> String { path + "/" + name }

    @discardableResult
    public func write(_ name: String, _ text: String) -> String {
        let target = file(name)
        try? FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: target, contents: Data(text.utf8))
        return target
    }

    @discardableResult
    public func write(_ name: String, bytes: [UInt8]) -> String {
        let target = file(name)
        FileManager.default.createFile(atPath: target, contents: Data(bytes))
        return target
    }
}

/// Runs the built `alv` binary as a separate process, as a user would.
public enum AlvBinary {
    public struct Result: Sendable {
        public var status: Int32
        /// True when the process ended by a signal (a crash), not by exit.
        public var crashed: Bool
        public var stdout: String
        public var stderr: String
    }

    /// The `alv` executable next to the test bundle (both are built by `swift build --build-tests`).
    public static let url: URL = {
        if let override = ProcessInfo.processInfo.environment["ALV_BINARY"] { return URL(fileURLWithPath: override) }
        var candidates = [Bundle.main.bundleURL.appendingPathComponent("alv")]
        if let executable = Bundle.main.executableURL {
            candidates.append(executable.deletingLastPathComponent().appendingPathComponent("alv"))
            candidates.append(executable.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("alv"))
        }
        candidates.append(Fixtures.packageRoot.appendingPathComponent(".build/debug/alv"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates.last!
    }()

    /// Runs `alv ARGS` in `directory` and waits for it; output goes through files so neither pipe can fill up.
    /// - Parameter stdin: what the process reads on stdin (default: nothing, /dev/null).
    public static func run(_ arguments: [String], in directory: String? = nil, environment: [String: String] = [:], timeout: TimeInterval = 60, stdin: String? = nil) throws -> Result {
        let scratch = TemporaryDirectory("alv-run")
        let out = scratch.file("stdout"), err = scratch.file("stderr")
        let input = stdin.map { scratch.write("stdin", $0) }
        FileManager.default.createFile(atPath: out, contents: nil)
        FileManager.default.createFile(atPath: err, contents: nil)
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { _, new in new }
        process.environment = env
        // Closed here once the child has them: Process keeps its handles open, and a test that runs hundreds
        // of commands would otherwise pass 1,024 descriptors (where select(2) in the runtime corrupts memory).
        let handles = [FileHandle(forWritingAtPath: out), FileHandle(forWritingAtPath: err), input.flatMap { FileHandle(forReadingAtPath: $0) }]
        defer { for handle in handles { try? handle?.close() } }
        process.standardOutput = handles[0]
        process.standardError = handles[1]
        process.standardInput = handles[2] ?? FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(2_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        return Result(
            status: process.terminationStatus, crashed: process.terminationReason == .uncaughtSignal,
            stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }
}

/// A long-running `alv` process (a target, later a broker or worker), terminated when released.
public final class SpawnedAlv {
    public let process: Process
    private let output: Pipe

    /// Starts `alv ARGS`; stdout is readable line by line, stderr is inherited.
    public init(_ arguments: [String], environment: [String: String] = [:]) throws {
        process = Process()
        process.executableURL = AlvBinary.url
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { _, new in new }
        process.environment = env
        output = Pipe()
        process.standardOutput = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// The next line the process writes on stdout (nil at end of file).
    public func readLine() -> String? {
        var bytes: [UInt8] = []
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            guard let b = byte.first else { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            if b == 0x0A { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(b)
        }
    }

    /// Starts `alv target` on a free port and returns it with its URL.
    public static func target(_ extra: [String] = []) throws -> (SpawnedAlv, String) {
        let spawned = try SpawnedAlv(["target", "--port", "0", "--duration", "120"] + extra)
        guard let line = spawned.readLine(), let url = line.split(separator: " ").last.map(String.init), url.hasPrefix("http://") else {
            throw CocoaError(.fileReadUnknown)
        }
        return (spawned, url)
    }
}
