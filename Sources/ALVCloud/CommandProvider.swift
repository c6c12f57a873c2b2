import Foundation

/// A provider driven through its own CLI (gcloud, az, kubectl, a script): each call runs an argument vector,
/// no shell, with `{{instances}}` or `{{instance}}` replaced. `list` prints the group's machines, one per
/// line (the first field is the id; a second field, when present, is its state). A non-zero exit is a
/// failure carrying the last line of stderr; exit 75 (EX_TEMPFAIL) and timeouts may be retried.
public final class CommandProvider: InstanceProvider {
    public let name: String
    public let scaleTo: [String]
    public let list: [String]
    public let terminateCommand: [String]?
    public var timeout: Double = 120
    public var attempts = 3
    public var baseDelay = 1.0
    public var onRetry: ((ProviderFailure, Int, Double) -> Void)?

    public init(name: String, scaleTo: [String], list: [String], terminate: [String]?) {
        self.name = name
        self.scaleTo = scaleTo
        self.list = list
        self.terminateCommand = terminate
    }

    public var label: String { "command \(name) (\(scaleTo.first ?? ""))" }

    public func describe() throws(ProviderFailure) -> GroupState {
        let out = try run("list", list)
        var instances: [GroupInstance] = []
        for line in out.split(whereSeparator: \.isNewline) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let id = fields.first.map(String.init), !id.isEmpty, !id.hasPrefix("#") else { continue }
            let state = fields.count > 1 ? String(fields[1]) : "running"
            let lower = state.lowercased()
            let usable = !["terminating", "deleting", "stopping", "stopped", "terminated", "deleted", "abandoning"].contains(where: { lower.hasPrefix($0) })
            instances.append(GroupInstance(id: id, state: state, usable: usable))
        }
        return GroupState(desired: nil, instances: instances)
    }

    public func setCapacity(_ instances: Int) throws(ProviderFailure) {
        _ = try run("scale_to", scaleTo.map { $0.replacingOccurrences(of: "{{instances}}", with: String(instances)) })
    }

    public func terminate(_ instance: String) throws(ProviderFailure) {
        guard let terminateCommand else {
            throw ProviderFailure(action: "terminate", code: "NoTerminateCommand", message: "the launcher has no \"terminate\" command; scale-in goes through scale_to", retryable: false)
        }
        _ = try run("terminate", terminateCommand.map { $0.replacingOccurrences(of: "{{instance}}", with: instance) })
    }

    private func run(_ action: String, _ argv: [String]) throws(ProviderFailure) -> String {
        try retrying(attempts: attempts, baseDelay: baseDelay, jitter: false, onRetry: onRetry) { () throws(ProviderFailure) in try once(action, argv) }
    }

    private func once(_ action: String, _ argv: [String]) throws(ProviderFailure) -> String {
        guard let program = argv.first else { throw ProviderFailure(action: action, code: "NoCommand", message: "empty command", retryable: false) }
        let process = Process()
        // A bare name is looked up on PATH, as a shell would, without a shell.
        process.executableURL = URL(fileURLWithPath: program.contains("/") ? program : Self.which(program) ?? program)
        process.arguments = Array(argv.dropFirst())
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw ProviderFailure(action: action, code: "CannotRun", message: "\(program): \(error.localizedDescription)", retryable: false)
        }
        // Both pipes are drained while the command runs, so a chatty command cannot fill one and stall.
        let output = PipeReader(stdout.fileHandleForReading), errors = PipeReader(stderr.fileHandleForReading)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning {
            process.terminate()
            Thread.sleep(forTimeInterval: 0.5)
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            throw ProviderFailure(action: action, code: "Timeout", message: "\(program) ran longer than \(Int(timeout)) s", retryable: true)
        }
        process.waitUntilExit()
        let text = String(decoding: output.finish(), as: UTF8.self)
        guard process.terminationStatus == 0 else {
            let last = String(decoding: errors.finish(), as: UTF8.self).split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
            throw ProviderFailure(action: action, code: "exit \(process.terminationStatus)", message: "\(program): \(last.prefix(300))", retryable: process.terminationStatus == 75)
        }
        return text
    }

    static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}

/// Reads a pipe to its end on a thread of its own (at most 4 MiB kept).
final class PipeReader: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                if data.count < 4 << 20 { data.append(chunk) }
            }
            done.signal()
        }
    }

    func finish() -> Data {
        done.wait()
        return data
    }
}
