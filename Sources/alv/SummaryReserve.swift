import ALVRun
import ArgumentParser
import Foundation

/// Room beside the store, taken before a run, for the run's summary in case the store will not take it: on
/// a full disk a new file cannot be written, but one whose blocks are already allocated can be overwritten.
/// Released (deleted) when the run is stored; on a store failure, the summary is written into it and it is
/// renamed `<db>.run-ID.summary.json`.
final class SummaryReserve {
    static let bytes = 512 << 10
    private let path: String
    private let db: String
    private var held: Bool

    init(db: String) {
        self.db = db
        path = "\(db).summary-reserve-\(getpid())"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        held = fd >= 0 && posix_fallocate(fd, 0, off_t(Self.bytes)) == 0
        if fd >= 0 { close(fd) }
        if !held { unlink(path) }
    }

    deinit { release() }

    func release() {
        if held { unlink(path) }
        held = false
    }

    /// Writes `summary` beside the store. - Returns: its path. - Throws: a message when it could not be written.
    func keep(_ summary: RunSummary) throws -> String {
        let target = "\(db).run-\(summary.runID).summary.json"
        let data = Array(try summary.jsonData()) + [0x0A]
        if held {
            let fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
            defer { if fd >= 0 { close(fd) } }
            let written = fd < 0 ? -1 : data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            if written == data.count, ftruncate(fd, off_t(data.count)) == 0, fsync(fd) == 0, rename(path, target) == 0 {
                held = false
                return target
            }
        }
        do {
            try Data(data).write(to: URL(fileURLWithPath: target))
        } catch {
            throw CLIError.runtime("cannot write \(target) either (\(String(cString: strerror(errno))))")
        }
        return target
    }
}

/// Ends a command whose run the store would not take: the summary on stdout (as every run prints it) and
/// beside the store, then exit 3 naming the store and what failed.
func exitAfterStoreFailure(_ failure: StoreWriteFailure, db: String, json: Bool, reserve: SummaryReserve) throws -> Never {
    do { try printSummary(failure.summary, json: json) } catch is ExitCode {}  // exit 3 says more than 1
    let kept: String
    do { kept = "written to " + (try reserve.keep(failure.summary)) } catch { kept = "not written beside the store: \(error)" }
    throw CLIError.runtime("--db \(db): the store would not take run \(failure.summary.runID) (\(failure.detail)); its summary is printed above and \(kept)")
}
