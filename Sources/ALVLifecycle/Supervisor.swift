import Foundation
import Synchronization

/// Runs a command's services, each on a thread of its own, and the command's main work on the calling thread;
/// owns SIGINT and SIGTERM. The first signal asks everything to stop gracefully (the main work sees `stop` set
/// and finishes its run); a second one exits at once with status 130. When the main work returns or throws,
/// or a service fails, every service is stopped in the reverse order of starting and joined.
public final class Supervisor: Sendable {
    /// Set by a signal, a failed service, or the end of the main work.
    public let stop = CancellationFlag()
    private let entries = Mutex<[Entry]>([])
    private let failure = Mutex<String?>(nil)
    private let log: @Sendable (String) -> Void
    // Not Sendable; set once in init, only cancelled in deinit.
    nonisolated(unsafe) private let signalSources: [any DispatchSourceSignal]

    private struct Entry: Sendable {
        var service: any Service
        var stop: CancellationFlag
        var state: ServiceState
        var done: DispatchSemaphore
    }

    /// - Parameters:
    ///   - handleSignals: install SIGINT/SIGTERM handlers (off in tests that run several supervisors).
    ///   - log: where "stopping (signal 2)" and service failures are reported.
    public init(handleSignals: Bool = true, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.log = log
        signalSources = handleSignals ? Self.installSignals(stop: stop, log: log) : []
    }

    deinit { signalSources.forEach { $0.cancel() } }

    /// Starts `service` on its own thread now.
    public func start(_ service: any Service) {
        let entry = Entry(service: service, stop: CancellationFlag(), state: .running, done: DispatchSemaphore(value: 0))
        let index = entries.withLock { list in
            list.append(entry)
            return list.count - 1
        }
        let thread = Thread { [self] in
            var final = ServiceState.stopped
            do {
                try service.run(stop: entry.stop)
            } catch {
                final = .failed("\(error)")
                failure.withLock { $0 = $0 ?? "\(service.name): \(error)" }
                log("\(service.name) failed: \(error)")
                stop.cancel()
            }
            entries.withLock { $0[index].state = final }
            entry.done.signal()
        }
        thread.name = "alv-\(service.name)"
        thread.start()
    }

    /// The state of each service started, by name.
    public var states: [String: ServiceState] {
        entries.withLock { Dictionary($0.map { ($0.service.name, $0.state) }, uniquingKeysWith: { $1 }) }
    }

    /// The first service failure, if any.
    public var failed: String? { failure.withLock { $0 } }

    /// Runs `main` on this thread with the supervisor's stop flag, then stops every service.
    /// - Throws: what `main` throws.
    public func run<T>(_ main: (CancellationFlag) throws -> T) rethrows -> T {
        defer { shutdown() }
        return try main(stop)
    }

    /// Stops every service, newest first, and waits for each (at most `timeout` seconds each).
    public func shutdown(timeout: Double = 10) {
        stop.cancel()
        let list = entries.withLock { list in
            for i in list.indices where !list[i].state.isFinal { list[i].state = .stopping }
            return list
        }
        for entry in list.reversed() {
            entry.stop.cancel()
            if entry.done.wait(timeout: .now() + timeout) == .timedOut {
                log("\(entry.service.name) did not stop within \(Int(timeout)) s")
            } else {
                entry.done.signal()  // keep it signalled for a second shutdown call
            }
        }
    }

    private static func installSignals(stop: CancellationFlag, log: @escaping @Sendable (String) -> Void) -> [any DispatchSourceSignal] {
        let count = SignalCount()
        return [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if count.increment() > 1 {
                    log("second signal: exiting now")
                    exit(130)
                }
                log("stopping (signal \(number)); a second signal exits at once")
                stop.cancel()
            }
            source.resume()
            return source
        }
    }
}

/// How many stop signals arrived.
private final class SignalCount: Sendable {
    private let value = Atomic<Int>(0)
    func increment() -> Int { value.add(1, ordering: .relaxed).newValue }
}
