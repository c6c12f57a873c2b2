import ALVMetrics
import ALVModel
import Synchronization

/// Merges per-second deltas from load generators into run totals, per vector and request type.
///
/// Deltas arrive on engine threads; the state is behind a `Mutex`.
public final class RunAggregator: Sendable {
    public struct Key: Hashable, Sendable {
        public var vectorIndex: Int
        public var requestType: String
    }

    struct State {
        var totals: [Key: RequestMetrics] = [:]
        var perSecond: [Int64: RequestMetrics] = [:]
        var perVectorSecond: [Int: [Int64: RequestMetrics]] = [:]
        var cpuSeconds: Double = 0
        var peakRSS: UInt64 = 0
        var badDeltas = 0
        /// Distinct failures per vector, at most `ErrorSample.perRequestType` per request type, counts summed.
        var samples: [Int: [ErrorSample]] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Adds one generator's delta for the vector at `vectorIndex` of the run's sequence.
    public func add(_ delta: MetricsDelta, vectorIndex: Int) {
        state.withLock { state in
            for (name, requestDelta) in delta.requestTypes {
                // The first merge validates (a bad delta changes nothing); the others then cannot fail.
                guard (try? requestDelta.merge(into: &state.totals[Key(vectorIndex: vectorIndex, requestType: name), default: RequestMetrics()])) != nil else {
                    state.badDeltas += 1
                    continue
                }
                try? requestDelta.merge(into: &state.perSecond[delta.second, default: RequestMetrics()], phases: false)
                try? requestDelta.merge(into: &state.perVectorSecond[vectorIndex, default: [:]][delta.second, default: RequestMetrics()], phases: false)
            }
            for sample in delta.errorSamples { state.samples[vectorIndex, default: []].note(sample) }
            state.cpuSeconds += delta.cpuSeconds
            state.peakRSS = max(state.peakRSS, delta.rssBytes)
            // Per-second views serve progress and real-time adjustment: keep the last two minutes.
            let horizon = delta.second - Self.retainedSeconds
            if let oldest = state.perSecond.keys.min(), oldest < horizon {
                state.perSecond = state.perSecond.filter { $0.key >= horizon }
                for index in state.perVectorSecond.keys { state.perVectorSecond[index] = state.perVectorSecond[index]!.filter { $0.key >= horizon } }
            }
        }
    }

    /// Seconds of per-second history kept in memory (the store keeps everything).
    public static let retainedSeconds: Int64 = 120

    /// Distinct failures per vector index.
    public var errorSamples: [Int: [ErrorSample]] { state.withLock { $0.samples } }

    /// The error samples with their vectors' ids (`vectorIDs[index]`), most frequent first.
    public func errorSamples(vectorIDs: [String]) -> [RunSummary.ErrorSampleSummary] {
        errorSamples.sorted { $0.key < $1.key }.flatMap { index, samples in
            samples.map { RunSummary.ErrorSampleSummary(vectorID: index < vectorIDs.count ? vectorIDs[index] : "vector-\(index)", sample: $0) }
        }.sorted { $0.sample.count > $1.sample.count }
    }

    /// Totals per vector and request type.
    public var totals: [Key: RequestMetrics] { state.withLock { $0.totals } }

    /// Everything merged.
    public var overall: RequestMetrics {
        state.withLock { state in
            var all = RequestMetrics()
            for metrics in state.totals.values { all.merge(metrics) }
            return all
        }
    }

    /// All request types merged for one Unix second.
    public func second(_ second: Int64) -> RequestMetrics? { state.withLock { $0.perSecond[second] } }

    /// One vector's request types merged for one Unix second.
    public func second(_ second: Int64, vectorIndex: Int) -> RequestMetrics? {
        state.withLock { $0.perVectorSecond[vectorIndex]?[second] }
    }

    public var cpuSeconds: Double { state.withLock { $0.cpuSeconds } }
    public var peakRSS: UInt64 { state.withLock { $0.peakRSS } }
    /// Deltas whose histogram could not be decoded (counted, never fatal).
    public var badDeltas: Int { state.withLock { $0.badDeltas } }
}
