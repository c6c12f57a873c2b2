import ALVMetrics
import ALVStore
import ALVTesting
import Testing

@Suite struct SampleStoreTests {
    /// Late sends are kept per second with the rest of a sample, and add up across workers when read back.
    @Test func lateSendsSurviveTheStore() throws {
        let directory = TemporaryDirectory("alv-sample-store")
        let store = try MetricsStore(database: try SQLiteDatabase(path: directory.file("alv.db")))
        try store.beginRun("r", target: "http://127.0.0.1:1", profileID: nil, planJSON: nil)
        var m = RequestMetrics()
        m.intended = 100
        m.sent = 90
        m.outcomes[.status2xx] = 90
        m.outcomes[.dropped] = 10
        m.late = 7
        store.append(run: "r", second: 1_000, vectorIndex: 0, requestType: "get", worker: "w1", metrics: m)
        m.late = 5
        store.append(run: "r", second: 1_000, vectorIndex: 0, requestType: "get", worker: "w2", delta: RequestDelta(m))
        m.late = 0
        store.append(run: "r", second: 1_001, vectorIndex: 0, requestType: "get", worker: "w1", metrics: m)
        try store.flush()
        let points = try store.series(run: "r")
        #expect(points.map(\.metrics.late) == [12, 0])
        #expect(points.map(\.metrics.outcomes[.dropped]) == [20, 10])
    }
}
