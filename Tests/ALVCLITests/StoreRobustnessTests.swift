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

/// Stores written by an earlier alv, and a disk that fills during a run.
@Suite(.serialized) struct StoreSchemaTests {
    /// A store as an earlier alv left it (before the numbered steps: the repository at version 1 without the
    /// runs' owner column, or metrics tables alone at version 0) opens, keeps its runs and documents, and is
    /// brought to the current version; a store from a newer alv is refused with a message, not touched.
    @Test func storesFromEarlierAlvOpenAndOneFromANewerAlvIsRefused() throws {
        let directory = TemporaryDirectory("alv-store-schema")
        let (target, url) = try SpawnedAlv.target()
        defer { _ = target }
        let vector = directory.write("v.json", #"{"vector_id": "earlier-vector", "name": "Old", "duration_sec": 1, "load": {"target_rps": 20}, "request_types": [{"name": "a", "url": "/", "frequency": 100}]}"#)
        let config = ["ALV_CONFIG_DIR": Fixtures.path("config")]
        for (name, layout) in [("repository-v1", "DROP_OWNER"), ("metrics-only", "METRICS_ONLY"), ("schema-5", "DROP_LATE")] {
            let db = directory.file("\(name).db")
            #expect(try AlvBinary.run(["vector", "add", vector, "--db", db], environment: config).status == 0)
            let run = try AlvBinary.run(["run", "earlier-vector", "--target", url, "--workers", "0", "--no-dashboard", "--json", "--db", db], environment: config)
            #expect(run.status == 0, "\(run.stderr)")
            let runID = try #require((try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])?["run_id"] as? String)
            do {
                // Back to the earlier layout.
                let old = try SQLiteDatabase(path: db)
                if layout == "DROP_OWNER" {
                    try old.execute("ALTER TABLE runs DROP COLUMN owner; PRAGMA user_version = 1;")
                } else if layout == "DROP_LATE" {
                    // As alv left a store before late sends were kept per second (schema 5).
                    try old.execute("ALTER TABLE samples DROP COLUMN late; PRAGMA user_version = 5;")
                } else {
                    try old.execute("DROP TABLE documents; DROP TABLE meta; ALTER TABLE runs DROP COLUMN owner; PRAGMA user_version = 0;")
                }
            }
            let report = try AlvBinary.run(["report", runID, "--format", "json", "--out", "-", "--db", db], environment: config)
            #expect(report.status == 0 && report.stdout.contains(runID), "\(name): \(report.stderr)")
            let list = try AlvBinary.run(["vector", "list", "--db", db], environment: config)
            #expect(list.status == 0 && list.stdout.contains("smoke"), "\(name): \(list.stderr)")
            #expect(list.stdout.contains("earlier-vector") == (layout != "METRICS_ONLY"), "\(name): \(list.stdout)")
            let migrated = try SQLiteDatabase(path: db)
            #expect(try migrated.userVersion == StoreSchema.current, "\(name)")
            let statement = try migrated.prepare("SELECT COUNT(*) FROM pragma_table_info('runs') WHERE name = 'owner'")
            _ = try statement.step()
            #expect(statement.int(0) == 1, "\(name): the owner column was added")
            let late = try migrated.prepare("SELECT COUNT(*) FROM pragma_table_info('samples') WHERE name = 'late'")
            _ = try late.step()
            #expect(late.int(0) == 1, "\(name): the late column was added")
        }
        let newer = directory.file("newer.db")
        #expect(try AlvBinary.run(["vector", "list", "--db", newer], environment: config).status == 0)
        try SQLiteDatabase(path: newer).execute("PRAGMA user_version = 99")
        let refused = try AlvBinary.run(["vector", "list", "--db", newer], environment: config)
        #expect(refused.status != 0 && refused.stderr.contains("schema version 99, written by a newer alv"), "\(refused.status) \(refused.stderr)")
        #expect(try SQLiteDatabase(path: newer).userVersion == 99, "left as it was")
    }

    /// The disk under the store fills 2 s into a 40 s run (a 4 MiB tmpfs): the store refuses every write,
    /// the run is ended 3 s later, exit 3 names the store, and the summary (every request the target saw)
    /// is printed and written beside the store in room reserved before the run. In-process (0 workers) and
    /// with the broker and a worker process (1).
    @Test(.enabled(if: getuid() == 0, "mounts a tmpfs"), arguments: [0, 1])
    func aFullDiskEndsTheRunWithItsSummaryKept(workers: Int) throws {
        let directory = TemporaryDirectory("alv-store-full")
        let small = directory.file("small")
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        #expect(NetnsLab.shell(["mount", "-t", "tmpfs", "-o", "size=4m", "alv-full", small]).status == 0)
        defer { _ = NetnsLab.shell(["umount", small]) }
        let target = try LiveTarget()
        let db = small + "/alv.db"
        let vector = directory.write("v.json", #"{"vector_id": "full", "name": "Full", "duration_sec": 40, "load": {"target_rps": 200}, "request_types": [{"name": "a", "url": "/a", "frequency": 50}, {"name": "b", "url": "/b", "frequency": 50}]}"#)
        let started = Date()
        let run = try SpawnedAlv(["run", vector, "--target", target.url, "--workers", String(workers), "--no-dashboard", "--json", "--db", db])
        let running = Date().addingTimeInterval(10)
        while Date() < running && target.stats.total < 200 { usleep(100_000) }
        let fill = NetnsLab.shell(["sh", "-c", "dd if=/dev/zero of=\(small)/filler bs=64k 2>&1"])
        #expect(fill.output.contains("No space left"), "\(fill.output)")
        var lines: [String] = []
        while let line = run.readLine() { lines.append(line) }
        run.process.waitUntilExit()
        let elapsed = Date().timeIntervalSince(started)
        #expect(run.process.terminationStatus == 3)
        #expect(elapsed < 25, "the run was ended \(Int(elapsed)) s after it started, not at its end")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(lines.joined(separator: "\n").utf8)) as? [String: Any], "\(lines)")
        let runID = try #require(summary["run_id"] as? String)
        #expect(summary["status"] as? String == "aborted")
        let events = (summary["events"] as? [[String: Any]]) ?? []
        #expect(events.contains { $0["kind"] as? String == "store_write_failed" }, "\(events.map { $0["kind"] ?? "" })")
        #expect(summary["requests_total"] as? Int == target.stats.total, "the summary counts every request the target saw")
        let kept = db + ".run-\(runID).summary.json"
        let keptSummary = try #require(FileManager.default.contents(atPath: kept), "no \(kept)")
        #expect((try JSONSerialization.jsonObject(with: keptSummary) as? [String: Any])?["requests_total"] as? Int == target.stats.total)
        #expect(!((try? FileManager.default.contentsOfDirectory(atPath: small)) ?? []).contains { $0.contains("summary-reserve") })
        // With room again, the run's row (left running) is found interrupted.
        try FileManager.default.removeItem(atPath: small + "/filler")
        let report = try AlvBinary.run(["report", runID, "--format", "json", "--out", "-", "--db", db])
        #expect(report.status == 2 && report.stderr.contains("was interrupted"), "\(report.stderr)")
    }
}
