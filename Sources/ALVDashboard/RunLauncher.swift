import ALVStore
import Foundation
import Synchronization

/// Runs started from `alv serve`'s page: one child `alv run` at a time, over the server's store, its output
/// in a log file beside the store. Every start and stop is an event in the store (run id `serve`).
public final class RunLauncher: Sendable {
    public struct Running: Sendable {
        public var pid: Int32
        public var input: String
        public var target: String
        public var startedAt: Date
        public var log: String
    }

    public enum Failure: Error, CustomStringConvertible {
        case busy(Running)
        case badTarget(String)
        case cannotStart(String)
        public var description: String {
            switch self {
            case .busy(let r): "a run started here is still going (\(r.input) against \(r.target), pid \(r.pid)); stop it first"
            case .badTarget(let why): "target: \(why)"
            case .cannotStart(let why): "cannot start alv run: \(why)"
            }
        }
        public var isBusy: Bool { if case .busy = self { true } else { false } }
    }

    let executable: String
    let database: String
    private let running = Mutex<(Running, Process)?>(nil)

    public init(executable: String, database: String) {
        self.executable = executable
        self.database = database
    }

    public var current: Running? {
        running.withLock { entry in
            guard let (info, process) = entry else { return nil }
            if process.isRunning { return info }
            entry = nil
            return nil
        }
    }

    /// Starts `alv run INPUT --target TARGET` on this store.
    public func start(input: String, target: String) throws(Failure) -> Running {
        if let busy = current { throw .busy(busy) }
        guard let url = URLComponents(string: target), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host?.isEmpty == false else {
            throw .badTarget("expected an http(s) URL with a host, got \"\(target)\"")
        }
        let directory = ((database as NSString).deletingLastPathComponent.isEmpty ? "." : (database as NSString).deletingLastPathComponent) + "/logs"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let log = "\(directory)/serve-\(Int(Date().timeIntervalSince1970 * 1000)).log"
        FileManager.default.createFile(atPath: log, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["run", input, "--target", target, "--db", database, "--no-dashboard", "--json"]
        guard let handle = FileHandle(forWritingAtPath: log) else { throw .cannotStart("cannot write \(log)") }
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw .cannotStart("\(error)") }
        let info = Running(pid: process.processIdentifier, input: input, target: target, startedAt: Date(), log: log)
        running.withLock { $0 = (info, process) }
        record("ui_run_started", ["input": input, "target": target, "pid": String(info.pid), "log": log])
        return info
    }

    /// Asks the running child to stop (SIGINT: it ends its run and writes the summary); false when none runs.
    public func stop() -> Bool {
        guard let info = current else { return false }
        kill(info.pid, SIGINT)
        record("ui_run_stopped", ["input": info.input, "target": info.target, "pid": String(info.pid)])
        return true
    }

    private func record(_ kind: String, _ detail: [String: String]) {
        guard let store = try? MetricsStore(database: try SQLiteDatabase(path: database)),
              let data = try? JSONSerialization.data(withJSONObject: detail, options: [.sortedKeys]) else { return }
        store.event(run: "serve", kind: kind, detailJSON: String(decoding: data, as: UTF8.self))
        try? store.flush()
    }
}
