import ALVDashboard
import ALVMetrics
import ALVPrometheus
import Foundation

/// What one remote-write batch costs the process that runs the run: building the series from the live totals,
/// the protobuf, and snappy, for runs of 1 to `types` request types with full histograms and phases.
func benchRemoteWrite(typeCounts: [Int]) {
    print("alv-bench remote-write: one batch (every series at one instant), best of 5 rounds of 20 batches")
    print("types  series  families µs  protobuf µs  snappy µs  bytes raw  bytes snappy  core share at 1 batch/s")
    var random = SystemRandomNumberGenerator()
    for types in typeCounts {
        var rows: [(vector: String, requestType: String, metrics: RequestMetrics)] = []
        for t in 0..<types {
            var m = RequestMetrics()
            for _ in 0..<10_000 {
                let v = UInt64(exp(log(100.0) + Double.random(in: 0..<1, using: &random) * (log(5_000_000.0) - log(100.0))))
                m.latency.record(v)
                m.recordPhases((v / 20, v / 10, v / 5, v / 2, v / 8))
                m.outcomes[.status2xx] += 1
            }
            rows.append(("checkout", "type-\(t)", m))
        }
        let feed = LiveFeed()
        feed.begin(runID: "bench")
        feed.named("bench")
        let frozen = rows
        feed.breakdown { frozen }
        var families: [MetricFamily] = []
        let familiesNs = measure(iterations: 20) { families = LiveSeries.current(feed) ?? [] }
        let batch = RemoteWriteRequest.Batch(timestampMs: 1_800_000_000_000, series: families.flatMap(\.series))
        var body: [UInt8] = []
        let encodeNs = measure(iterations: 20) { body = RemoteWriteRequest.encode([batch]) }
        var compressed: [UInt8] = []
        let snappyNs = measure(iterations: 20) { compressed = Snappy.compress(body) }
        let totalNs = familiesNs + encodeNs + snappyNs
        print(String(format: "%5d  %6d  %11.0f  %11.0f  %9.0f  %9d  %12d  %.2f%%", types, batch.series.count, familiesNs / 1000, encodeNs / 1000,
                     snappyNs / 1000, body.count, compressed.count, totalNs / 1e9 * 100))
    }
}
