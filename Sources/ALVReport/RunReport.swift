import ALVMetrics
import ALVRun
import ALVStore
import Foundation

/// Everything a report shows about one stored run: its summary and its per-second series.
public struct RunReport: Sendable {
    /// One second of one request type, reduced to what reports plot and tabulate.
    public struct Point: Sendable, Equatable {
        public var second: Int64
        public var vectorID: String
        public var requestType: String
        public var requests: UInt64
        public var outcomes: [String: UInt64]
        public var failed: UInt64
        public var bytesIn: UInt64
        public var bytesOut: UInt64
        public var p50: Double, p90: Double, p95: Double, p99: Double, max: Double
    }

    /// One second of the whole run: every request type merged (percentiles from the merged histogram).
    public struct Second: Sendable, Equatable {
        public var second: Int64
        public var requests: UInt64
        public var failed: UInt64
        public var bytesIn: UInt64
        public var bytesOut: UInt64
        public var p50: Double, p95: Double, p99: Double, max: Double
        /// Arrivals dropped at the in-flight cap, and requests sent more than 10 ms after their intended time.
        public var dropped: UInt64 = 0
        public var late: UInt64 = 0
    }

    public var summary: RunSummary
    public var series: [Point]
    /// Every request type merged, second by second.
    public var seconds: [Second] = []
    /// The run's latency histograms: "VECTOR/TYPE" for each request type, and "all".
    public var histograms: [String: LatencyHistogram] = [:]
    /// The target's side, scraped during the run (`--observe`); empty without it.
    public var targetMetrics: [TargetSeries] = []

    /// Loads a run (or "latest") from the store.
    /// - Throws: `ReportError.notFound`, `.noSummary` (the run is still going, or its process died).
    public static func load(run: String, from store: MetricsStore) throws -> RunReport {
        guard let record = try store.run(run) else { throw ReportError.notFound(run, known: try store.runIDs(limit: 5)) }
        guard let json = record.summaryJSON else { throw ReportError.noSummary(record.runID, status: record.status) }
        let summary = try JSONDecoder().decode(RunSummary.self, from: Data(json.utf8))
        let vectorIDs = Dictionary(summary.requestTypes.map { ("\($0.vectorID)|\($0.name)", $0.vectorID) }, uniquingKeysWith: { first, _ in first })
        var vectorByIndex: [Int: String] = [:]
        for (index, vector) in summary.vectors.enumerated() { vectorByIndex[index] = vector.vectorID }
        var series: [Point] = []
        var seconds: [Second] = []
        var histograms: [String: LatencyHistogram] = [:]
        var all = LatencyHistogram()
        var current: (second: Int64, metrics: RequestMetrics)?
        func close() {
            guard let c = current else { return }
            let m = c.metrics
            let v = m.latency.values(atPercentiles: [50, 95, 99]).map { Double($0) / 1000 }
            seconds.append(Second(
                second: c.second, requests: m.requestsTotal, failed: m.outcomes[.status4xx] + m.outcomes[.status5xx] + m.outcomes.errors,
                bytesIn: m.bytesIn, bytesOut: m.bytesOut, p50: v[0], p95: v[1], p99: v[2], max: m.latency.isEmpty ? 0 : Double(m.latency.maximum) / 1000,
                dropped: m.outcomes[.dropped], late: m.late))
            all.merge(m.latency)
        }
        try store.series(run: record.runID) { point in
            let m = point.metrics
            if current?.second != point.second {
                close()
                current = (point.second, RequestMetrics())
            }
            current!.metrics.outcomes.add(m.outcomes)
            current!.metrics.bytesIn += m.bytesIn
            current!.metrics.bytesOut += m.bytesOut
            current!.metrics.late += m.late
            current!.metrics.latency.merge(m.latency)
            let values = m.latency.values(atPercentiles: [50, 90, 95, 99]).map { Double($0) / 1000 }
            var outcomes: [String: UInt64] = [:]
            for outcome in Outcome.allCases where m.outcomes[outcome] > 0 { outcomes[outcome.key] = m.outcomes[outcome] }
            let failed = m.outcomes[.status4xx] + m.outcomes[.status5xx] + m.outcomes.errors
            let vector = vectorByIndex[point.vectorIndex] ?? vectorIDs.first { $0.key.hasSuffix("|\(point.requestType)") }?.value ?? "?"
            series.append(Point(
                second: point.second, vectorID: vector, requestType: point.requestType, requests: m.requestsTotal, outcomes: outcomes,
                failed: failed, bytesIn: m.bytesIn, bytesOut: m.bytesOut, p50: values[0], p90: values[1], p95: values[2], p99: values[3],
                max: m.latency.isEmpty ? 0 : Double(m.latency.maximum) / 1000))
            histograms["\(vector)/\(point.requestType)", default: LatencyHistogram()].merge(m.latency)
        }
        close()
        if !all.isEmpty { histograms["all"] = all }
        return RunReport(summary: summary, series: series, seconds: seconds, histograms: histograms, targetMetrics: try store.targetSeries(run: record.runID))
    }
}

public enum ReportError: Error, CustomStringConvertible {
    case notFound(String, known: [String])
    case noSummary(String, status: String)

    public var description: String {
        switch self {
        case .notFound(let run, let known):
            return "no run \"\(run)\" in the store" + (known.isEmpty ? " (it holds no runs yet)" : "; latest: \(known.joined(separator: ", "))")
        case .noSummary(let run, let status):
            return status == "interrupted"
                ? "run \(run) was interrupted: its process ended (killed or crashed) before writing a summary"
                : "run \(run) has no summary (status \(status)): it is still running"
        }
    }
}
