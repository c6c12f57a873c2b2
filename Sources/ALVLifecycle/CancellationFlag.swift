import Dispatch
import Synchronization

/// Asks a running executor or service to stop; safe to set from any thread or a signal handler's queue.
/// Hot loops read `isCancelled`; a thread with nothing else to do blocks in `wait()`.
public final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    private let waiters = DispatchGroup()

    public init() { waiters.enter() }

    deinit { if !isCancelled { waiters.leave() } }

    public func cancel() {
        // Only the first call releases the waiters.
        if flag.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged { waiters.leave() }
    }

    public var isCancelled: Bool { flag.load(ordering: .relaxed) }

    /// Blocks until `cancel` has been called.
    public func wait() { waiters.wait() }

    /// Blocks until `cancel` has been called or `seconds` have passed; true when cancelled.
    public func wait(timeout seconds: Double) -> Bool {
        waiters.wait(timeout: .now() + seconds) == .success
    }
}
