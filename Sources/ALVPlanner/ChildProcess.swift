import CProcessControl
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process in a process group of its own, with a pipe as stdin (closing it tells an `alv worker` to
/// leave) and stderr kept in a file for diagnosis. Stopping signals the whole group, SIGTERM then SIGKILL, and
/// reaps every member, so neither the child nor anything it started is left behind as a zombie.
public final class ChildProcess {
    public let pid: pid_t
    public let arguments: [String]
    public let started: Date
    private var stdinFD: Int32
    public let stderrPath: String
    public private(set) var exitStatus: Int32?

    /// Makes this process the reaper of orphaned descendants (not init), so that reaping a group collects
    /// workers' children too. Called once by the commands that launch workers; a library user (a test
    /// process) is not changed behind its back.
    @discardableResult
    public static func adoptOrphans() -> Bool { alv_become_child_subreaper() == 0 }

    /// Starts `arguments[0]` (looked up in PATH) with the rest as arguments.
    /// - Throws: `LaunchError.spawn` with errno when posix_spawn fails.
    public init(_ arguments: [String], stderrPath: String) throws(LaunchError) {
        self.arguments = arguments
        self.stderrPath = stderrPath
        var pipeFDs: [Int32] = [0, 0]
        // Close-on-exec from the start, so no other child (spawned by another thread meanwhile) inherits the
        // write end and keeps this child's stdin open; dup2 onto fd 0 clears the flag for the child itself.
        guard alv_pipe_cloexec(&pipeFDs) == 0 else { throw .spawn(arguments.first ?? "", errno) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[0], 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE); sigaddset(&defaults, SIGTERM); sigaddset(&defaults, SIGINT)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var cArguments = arguments.map { strdup($0) } + [nil]
        defer { for p in cArguments { free(p) } }
        var child: pid_t = 0
        let result = posix_spawnp(&child, arguments[0], &actions, &attributes, &cArguments, environ)
        close(pipeFDs[0])
        guard result == 0 else {
            close(pipeFDs[1])
            throw .spawn(arguments[0], result)
        }
        pid = child
        stdinFD = pipeFDs[1]
        started = Date()
    }

    /// True until the child has exited and been reaped.
    public var isRunning: Bool {
        if exitStatus != nil { return false }
        reap()
        return exitStatus == nil
    }

    /// Collects the child's exit (and that of any exited member of its group) without blocking.
    public func reap() {
        var status: Int32 = 0
        while true {
            let collected = waitpid(-pid, &status, WNOHANG)
            if collected <= 0 { break }
            if collected == pid { exitStatus = Self.decode(status) }
        }
        if exitStatus == nil {
            // The group may be empty while our child was reaped elsewhere (ECHILD): check the pid itself.
            let own = waitpid(pid, &status, WNOHANG)
            if own == pid { exitStatus = Self.decode(status) } else if own < 0 && errno == ECHILD { exitStatus = exitStatus ?? -1 }
        }
    }

    static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Sends `signal` to the child's whole process group without waiting; `reap` collects the exit later.
    public func signalGroup(_ signal: Int32) {
        guard exitStatus == nil else { return }
        kill(-pid, signal)
    }

    /// Closes stdin (the worker's cue to leave), then SIGTERM to the group after `grace` seconds, SIGKILL
    /// two seconds later; returns once the child and its group are reaped.
    public func stop(grace: Double = 2) {
        closeInput()
        let deadline = Date().addingTimeInterval(grace)
        while isRunning && Date() < deadline { usleep(20_000) }
        if isRunning { kill(-pid, SIGTERM) }
        let hard = Date().addingTimeInterval(2)
        while isRunning && Date() < hard { usleep(20_000) }
        if isRunning { kill(-pid, SIGKILL) }
        while isRunning { usleep(10_000) }
        kill(-pid, SIGKILL)  // anything left in the group
        reap()
    }

    /// Writes `bytes` to the child's stdin (a short line fits the pipe's buffer at once).
    /// - Returns: false when stdin is closed or the child is gone (EPIPE; SIGPIPE is ignored by alv).
    @discardableResult
    public func writeInput(_ bytes: [UInt8]) -> Bool {
        guard stdinFD >= 0 else { return false }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(stdinFD, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }

    /// Closes the child's stdin.
    public func closeInput() {
        if stdinFD >= 0 { close(stdinFD); stdinFD = -1 }
    }

    /// The last `bytes` of what the child wrote to stderr.
    public func stderrTail(_ bytes: Int = 400) -> String {
        guard let data = FileManager.default.contents(atPath: stderrPath) else { return "" }
        return String(decoding: data.suffix(bytes), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    deinit {
        if exitStatus == nil {
            kill(-pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
        closeInput()
    }
}

/// Why a worker could not be started.
public enum LaunchError: Error, CustomStringConvertible, Equatable {
    case spawn(String, Int32)

    public var description: String {
        switch self {
        case .spawn(let program, let code): return "cannot start \(program): \(String(cString: strerror(code)))"
        }
    }
}
