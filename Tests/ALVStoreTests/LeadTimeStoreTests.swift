import ALVStore
import ALVTesting
import Testing

@Suite struct LeadTimeStoreTests {
    @Test func leadTimesSurviveAcrossConnections() throws {
        let directory = TemporaryDirectory("alv-lead-store")
        let path = directory.file("alv.db")
        try MetricsStore(database: try SQLiteDatabase(path: path)).saveLeadTimes(["local": (0.04, 3), "lg@h": (1.7, 2)])
        try MetricsStore(database: try SQLiteDatabase(path: path)).saveLeadTimes(["lg@h": (1.2, 4)])
        let stored = try MetricsStore(database: try SQLiteDatabase(path: path)).leadTimes()
        #expect(stored.count == 2)
        #expect(stored["lg@h"]?.seconds == 1.2 && stored["lg@h"]?.samples == 4)
        #expect(stored["local"]?.seconds == 0.04)
    }
}
