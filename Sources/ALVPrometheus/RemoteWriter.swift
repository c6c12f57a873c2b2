import ALVHTTPClient
import Foundation
import Synchronization

/// Sends a run's series to a Prometheus remote-write endpoint (protocol 1.0: protobuf `WriteRequest`, snappy,
/// `X-Prometheus-Remote-Write-Version: 0.1.0`): a sample of every series once a second while the run goes on
/// and a final one when it ends. Series are running totals, so a point lost costs resolution, never the totals.
///
/// Nothing here blocks the run: sampling and sending happen on two threads of their own; batches wait in a
/// bounded queue, oldest first (Prometheus refuses a sample older than one it has), while the endpoint is down
/// or slow, retried with exponential back-off; a full queue gives up its oldest batch.
public final class RemoteWriter: Sendable {
    public struct Configuration: Sendable {
        public var url: String
        /// Batches kept while the endpoint does not answer (one per second: 5 minutes).
        public var maxQueuedBatches = 300
        /// Batches sent in one request when a backlog drains.
        public var maxBatchesPerRequest = 30
        public var minBackoff = 0.05
        public var maxBackoff = 2.0
        public var interval = 1.0
        public var requestTimeoutMs = 5_000
        public init(url: String) { self.url = url }
    }

    /// Samples sent (accepted with 2xx), failed (refused with another 4xx: malformed or out of order, never
    /// retried) and dropped (the queue was full, or the final flush ran out of time).
    public struct Counts: Sendable, Equatable {
        public var sent = 0
        public var failed = 0
        public var dropped = 0
        public var requests = 0
        public var retries = 0
        public init() {}
    }

    struct State {
        var queue: [RemoteWriteRequest.Batch] = []
        var counts = Counts()
        var lastTimestamp: Int64 = 0
        var sampling = true
        var draining = false
        var deadline: Date?
        var senderDone = false
        var samplerDone = false
    }

    public let configuration: Configuration
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let senderExit = DispatchSemaphore(value: 0)
    private let samplerExit = DispatchSemaphore(value: 0)
    private let sample: @Sendable () -> [PromSeries]?
    private let log: @Sendable (String) -> Void

    /// - Parameters:
    ///   - sample: the series as they are now; nil while there is nothing to send yet (no run id).
    ///   - log: failures and recoveries of the endpoint, one line each.
    public init(_ configuration: Configuration, sample: @escaping @Sendable () -> [PromSeries]?, log: @escaping @Sendable (String) -> Void) {
        self.configuration = configuration
        self.sample = sample
        self.log = log
    }

    public func start() {
        let sampler = Thread { [self] in
            samplerLoop()
            samplerExit.signal()
        }
        sampler.name = "alv-remote-write-sample"
        sampler.start()
        let sender = Thread { [self] in
            senderLoop()
            senderExit.signal()
        }
        sender.name = "alv-remote-write-send"
        sender.start()
    }

    /// Stops sampling, takes the final sample, and waits up to `timeout` seconds for the queue to drain;
    /// what is still queued then counts as dropped.
    public func finish(timeout: Double = 10) -> Counts {
        state.withLock { $0.sampling = false }
        samplerExit.wait()
        take()
        state.withLock {
            $0.draining = true
            $0.deadline = Date().addingTimeInterval(timeout)
        }
        wake.signal()
        senderExit.wait()
        return state.withLock { s in
            for batch in s.queue { s.counts.dropped += batch.series.count }
            s.queue.removeAll()
            return s.counts
        }
    }

    public var counts: Counts { state.withLock { $0.counts } }

    private func samplerLoop() {
        while state.withLock({ $0.sampling }) {
            let now = Date().timeIntervalSince1970
            let next = (now / configuration.interval).rounded(.down) * configuration.interval + configuration.interval
            // Sleep in short steps so that finish() is not kept waiting for a whole interval.
            var left = next - now
            while left > 0, state.withLock({ $0.sampling }) {
                Thread.sleep(forTimeInterval: min(left, 0.05))
                left = next - Date().timeIntervalSince1970
            }
            guard state.withLock({ $0.sampling }) else { break }
            take()
        }
    }

    /// One batch of the series as they are now, at a timestamp after every earlier one.
    private func take() {
        guard let series = sample(), !series.isEmpty else { return }
        let ms = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
        state.withLock { s in
            let timestamp = max(ms, s.lastTimestamp + 1)
            s.lastTimestamp = timestamp
            s.queue.append(.init(timestampMs: timestamp, series: series))
            while s.queue.count > configuration.maxQueuedBatches {
                s.counts.dropped += s.queue.removeFirst().series.count
            }
        }
        wake.signal()
    }

    private func senderLoop() {
        let client = HTTPClient(timeoutMs: configuration.requestTimeoutMs, connectTimeoutMs: 1_000, maxBodyBytes: 1 << 20)
        let headers = [
            "Content-Type: application/x-protobuf", "Content-Encoding: snappy",
            "X-Prometheus-Remote-Write-Version: 0.1.0", "Expect:",
        ]
        var backoff = configuration.minBackoff
        var failingSince: Date?
        while true {
            let (batches, draining, deadline) = state.withLock { s in
                (Array(s.queue.prefix(configuration.maxBatchesPerRequest)), s.draining, s.deadline)
            }
            if batches.isEmpty {
                if draining { return }
                _ = wake.wait(timeout: .now() + 0.5)
                continue
            }
            if let deadline, Date() >= deadline { return }
            let body = Snappy.compress(RemoteWriteRequest.encode(batches))
            let samples = batches.reduce(0) { $0 + $1.series.count }
            var retry: String?
            do {
                let response = try client.post(configuration.url, body: body, headers: headers)
                switch response.status {
                case 200..<300:
                    state.withLock { s in
                        s.queue.removeFirst(min(batches.count, s.queue.count))
                        s.counts.sent += samples
                        s.counts.requests += 1
                    }
                case 429, 500...:
                    retry = "HTTP \(response.status) \(response.text.prefix(200))"
                default:
                    state.withLock { s in
                        s.queue.removeFirst(min(batches.count, s.queue.count))
                        s.counts.failed += samples
                        s.counts.requests += 1
                    }
                    log("remote write to \(configuration.url) refused \(samples) samples: HTTP \(response.status) \(response.text.prefix(300).trimmingCharacters(in: .whitespacesAndNewlines))")
                }
            } catch {
                retry = error.message
            }
            if let retry {
                if failingSince == nil {
                    failingSince = Date()
                    log("remote write to \(configuration.url) failing (\(retry)); retrying with back-off, \(configuration.maxQueuedBatches) s of samples kept")
                }
                state.withLock { $0.counts.retries += 1 }
                // Sleep the back-off, but not past the final flush's deadline.
                var pause = backoff
                if let deadline = state.withLock({ $0.deadline }) { pause = min(pause, max(0, deadline.timeIntervalSinceNow)) }
                _ = wake.wait(timeout: .now() + pause)
                backoff = min(configuration.maxBackoff, backoff * 2)
            } else {
                if let since = failingSince {
                    log("remote write to \(configuration.url) recovered after \(String(format: "%.1f", Date().timeIntervalSince(since))) s")
                    failingSince = nil
                }
                backoff = configuration.minBackoff
            }
        }
    }
}
