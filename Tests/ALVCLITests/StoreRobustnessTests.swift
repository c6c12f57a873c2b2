import ALVStore
import ALVTesting
import Foundation
import Testing

/// The store as several processes and a killed run leave it.
@Suite(.serialized) struct StoreRobustnessTests {
    @Test func sixCommandsOpeningAFreshStoreAtOnceAllSucceed() throws {
        let directory = TemporaryDirectory("alv-store-race")
        for round in 0..<10 {
            let db = directory.file("fresh-\(round).db")
            let processes = try (0..<6).map { _ -> Process in
                let process = Process()
                process.executableURL = AlvBinary.url
                process.arguments = ["vector", "list", "--db", db]
                process.environment = ProcessInfo.processInfo.environment.merging(["ALV_CONFIG_DIR": Fixtures.path("config")]) { _, new in new }
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                return process
            }
            for process in processes { process.waitUntilExit() }
            #expect(processes.map(\.terminationStatus) == Array(repeating: 0, count: 6), "round \(round)")
            let list = try AlvBinary.run(["vector", "list", "--db", db], environment: ["ALV_CONFIG_DIR": Fixtures.path("config")])
            #expect(list.stdout.components(separatedBy: "\nsmoke ").count == 2, "the built-ins were loaded once: \(list.stdout)")
        }
    }

    @Test func aRunWhoseProcessWasKilledIsMarkedInterrupted() throws {
        let directory = TemporaryDirectory("alv-store-killed")
        let (target, url) = try SpawnedAlv.target()
        defer { _ = target }
        let db = directory.file("alv.db")
        let vector = directory.write("v.json", #"{"vector_id": "long", "name": "Long", "duration_sec": 60, "load": {"target_rps": 20}, "request_types": [{"name": "a", "url": "/", "frequency": 100}]}"#)
        let run = try SpawnedAlv(["run", vector, "--target", url, "--workers", "0", "--no-dashboard", "--db", db])
        var runID: String?
        let deadline = Date().addingTimeInterval(15)
        while runID == nil && Date() < deadline {
            usleep(200_000)
            runID = try? MetricsStore(database: try SQLiteDatabase(path: db)).runIDs(limit: 1).first
        }
        let id = try #require(runID)
        #expect(try MetricsStore(database: try SQLiteDatabase(path: db)).run(id)?.status == "running", "a live run stays running")
        kill(run.process.processIdentifier, SIGKILL)
        run.process.waitUntilExit()
        let store = try MetricsStore(database: try SQLiteDatabase(path: db))
        let record = try #require(try store.run(id))
        #expect(record.status == "interrupted" && record.endedAt != nil, "\(record.status)")
        let report = try AlvBinary.run(["report", id, "--format", "json", "--out", "-", "--db", db])
        #expect(report.status == 2 && report.stderr.contains("was interrupted"), "\(report.stderr)")
    }
}
