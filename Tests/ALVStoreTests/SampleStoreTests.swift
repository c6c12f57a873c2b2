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

    /// A store edited by hand: a negative count reads as 0 and counts at SQLite's largest integer add up
    /// without trapping.
    @Test func aHandEditedSampleRowNeverTraps() throws {
        let directory = TemporaryDirectory("alv-sample-edited")
        let database = try SQLiteDatabase(path: directory.file("alv.db"))
        let store = try MetricsStore(database: database)
        try store.beginRun("r", target: "http://127.0.0.1:1", profileID: nil, planJSON: nil)
        var m = RequestMetrics()
        m.intended = 1
        m.outcomes[.status2xx] = 1
        for worker in ["w1", "w2", "w3"] { store.append(run: "r", second: 5, vectorIndex: 0, requestType: "get", worker: worker, metrics: m) }
        try store.flush()
        try database.execute("UPDATE samples SET late = -4, o_2xx = 9223372036854775807, intended = -1, lag_max_us = -9 WHERE run_id = 'r'")
        let point = try #require(try store.series(run: "r").first)
        #expect(point.metrics.late == 0 && point.metrics.intended == 0 && point.metrics.lagMaxMicros == 0)
        #expect(point.metrics.outcomes[.status2xx] == 3 &* 9_223_372_036_854_775_807)
        #expect(try store.requestsByWorker(run: "r").count == 3)
    }
}
