import ALVMetrics
import ALVRun
import ALVStore
import ALVTemplates
import Foundation

/// Stores a run of `seconds` seconds at one-second resolution: 3 request types from 2 workers,
/// each row with a realistic histogram, and the run's summary, as a long real run would leave them.
func synthesizeRun(database path: String, seconds: Int) throws -> String {
    let store = try MetricsStore(database: try SQLiteDatabase(path: path))
    let runID = "synthetic-\(seconds)s"
    try store.beginRun(runID, target: "http://127.0.0.1:8080", profileID: nil, planJSON: nil)
    var random = SeededGenerator(seed: 9)
    let start = Int64(Date().timeIntervalSince1970) - Int64(seconds)
    let aggregator = RunAggregator()
    for s in 0..<seconds {
        var types: [String: RequestDelta] = [:]
        for name in ["browse", "search", "buy"] {
            for worker in ["w1", "w2"] {
                var m = RequestMetrics()
                let n = 200 + Int(random.next(upperBound: 100 as UInt64))
                for _ in 0..<n { m.latency.record(UInt64(exp(7 + 1.5 * random.nextUnit()))) }
                m.outcomes[.status2xx] = UInt64(n - 2)
                m.outcomes[.status5xx] = 2
                m.intended = UInt64(n); m.sent = UInt64(n); m.completed = UInt64(n)
                let delta = RequestDelta(m)
                store.append(run: runID, second: start + Int64(s), vectorIndex: 0, requestType: name, worker: worker, delta: delta)
                types[name] = delta
            }
        }
        aggregator.add(MetricsDelta(second: start + Int64(s), requestTypes: types, cpuSeconds: 0, rssBytes: 0), vectorIndex: 0)
        if s % 60 == 0 { try store.flush() }
    }
    let vector = try LoadVectorFixture.make()
    let plan = RunPlan(profile: nil, steps: [.init(vector: vector, dataDirectory: nil)], target: "http://127.0.0.1:8080")
    let formatter = ISO8601DateFormatter()
    let started = formatter.string(from: Date(timeIntervalSince1970: Double(start)))
    let summary = SummaryBuilder(plan: plan, aggregator: aggregator).summary(
        runID: runID, duration: Double(seconds), vectors: [.init(vectorID: vector.vectorID, status: "completed", reason: nil, startedAt: started, endedAt: formatter.string(from: Date()))],
        events: [], loadSeconds: [Double(seconds)], workers: [], metricsGaps: 0)
    try store.endRun(runID, status: summary.status, summaryJSON: String(decoding: try summary.jsonData(), as: UTF8.self))
    return runID
}

import ALVModel

enum LoadVectorFixture {
    static func make() throws -> LoadVector {
        let json = #"{"vector_id": "long", "name": "Long", "duration_sec": 3600, "load": {"target_rps": 1500}, "request_types": [{"name": "browse", "url": "/b", "frequency": 60}, {"name": "search", "url": "/s", "frequency": 30}, {"name": "buy", "url": "/o", "frequency": 10}]}"#
        guard let vector = VectorValidator.validate(Array(json.utf8), file: nil, baseDirectory: "/").model else { throw CocoaError(.coderInvalidValue) }
        return vector
    }
}
