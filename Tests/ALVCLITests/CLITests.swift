import ALVTransport
import ALVModel
import ALVSystem
import ALVTemplates
import ALVTesting
import Foundation
import Testing

/// Pins the command line by running the built `alv` binary, one process per command, as a user would.
@Suite struct CLITests {
    let directory = TemporaryDirectory("alv-cli")
    var db: String { directory.file("alv.db") }

    func alv(_ arguments: String...) throws -> AlvBinary.Result {
        try AlvBinary.run(arguments, in: directory.path, environment: ["ALV_CONFIG_DIR": Fixtures.path("config")])
    }

    @Test func addListShowExportRemoveRoundTripAcrossProcesses() throws {
        let file = directory.write("mine.json", #"""
            {"vector_id": "mine", "name": "Mine", "duration_sec": 5, "load": {"virtual_users": 3},
             "request_types": [{"name": "a", "url": "/a", "frequency": 100, "think_time_ms": {"min": 1, "max": 2}}]}
            """#)
        var result = try alv("vector", "add", file, "--db", db)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("added vector mine version 1"))

        result = try alv("vector", "list", "--db", db, "--json")
        #expect(result.status == 0)
        let list = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let vectors = try #require(list["vectors"] as? [[String: Any]])
        #expect(vectors.contains { $0["vector_id"] as? String == "mine" && $0["version"] as? Int == 1 })
        #expect(vectors.contains { $0["vector_id"] as? String == "checkout-mix" }, "built-ins are loaded on first use")

        result = try alv("vector", "show", "mine", "--db", db, "--json")
        let shown = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect((shown["document"] as? [String: Any])?["name"] as? String == "Mine")
        #expect(shown["versions"] as? [Int] == [1])

        result = try alv("vector", "show", "mine", "--db", db)
        #expect(result.stdout.contains("3 virtual users") && result.stdout.contains("think 1–2 ms"))

        result = try alv("vector", "export", "mine", "--db", db)
        #expect(result.stdout == (try String(contentsOfFile: file, encoding: .utf8)) + "\n")

        result = try alv("vector", "rm", "mine", "--db", db)
        #expect(result.status == 0 && result.stdout.contains("removed vector mine: 1 version"))
        result = try alv("vector", "show", "mine", "--db", db)
        #expect(result.status == 2 && result.stderr.contains("no vector \"mine\""))
    }

    @Test func versionsAreKeptAndShownOnRequest() throws {
        let first = directory.write("v.json", #"{"vector_id":"v","name":"One","duration_sec":5,"load":{"target_rps":1},"request_types":[{"name":"a","url":"/","frequency":100}]}"#)
        _ = try alv("vector", "add", first, "--db", db)
        directory.write("v.json", #"{"vector_id":"v","name":"Two","duration_sec":5,"load":{"target_rps":1},"request_types":[{"name":"a","url":"/","frequency":100}]}"#)
        #expect(try alv("vector", "add", first, "--db", db).stdout.contains("version 2"))
        #expect(try alv("vector", "add", first, "--db", db).stdout.contains("unchanged"))
        #expect(try alv("vector", "show", "v", "--version", "1", "--db", db).stdout.contains("name: One"))
        #expect(try alv("vector", "show", "v", "--db", db).stdout.contains("name: Two"))
        let missing = try alv("vector", "show", "v", "--version", "7", "--db", db)
        #expect(missing.status == 2 && missing.stderr.contains("versions: 1, 2"))
    }

    @Test(arguments: Expectation.all.map(\.fixture))
    func badInputExitsTwoNamingFileAndPath(fixture: String) throws {
        let expectation = try #require(Expectation.all.first { $0.fixture == fixture })
        let kind = expectation.isProfile ? "profile" : "vector"
        let result = try alv(kind, "validate", expectation.path, "--db", db)
        #expect(result.status == 2, "\(fixture): exit \(result.status)")
        for path in expectation.paths {
            #expect(result.stderr.contains("\(expectation.path):") && result.stderr.contains(": \(path): "), "\(fixture): \(result.stderr)")
        }
        let added = try alv(kind, "add", expectation.path, "--db", db)
        #expect(added.status == 2 && added.stderr.contains("nothing stored"))
    }

    @Test func validateJSONListsEveryDiagnostic() throws {
        let result = try alv("vector", "validate", "--json", Fixtures.path("Tests/Fixtures/invalid/vectors/many-problems.json"), Fixtures.path("config/vectors/smoke.json"))
        #expect(result.status == 2)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["valid"] as? Bool == false)
        let files = try #require(object["files"] as? [[String: Any]])
        #expect(files.count == 2)
        #expect((files[0]["diagnostics"] as? [[String: Any]])?.count == 6)
        #expect(files[1]["valid"] as? Bool == true)
    }

    @Test func usageErrorsExitTwoAndHelpExitsZero() throws {
        #expect(try alv("vector", "list", "--bogus").status == 2)
        #expect(try alv("vector", "frobnicate").status == 2)
        #expect(try alv("vector", "show", "x", "--version", "abc").status == 2)
        #expect(try alv("vector", "validate", directory.file("absent.json")).stderr.contains("no such file"))
        let help = try alv("vector", "--help")
        #expect(help.status == 0 && help.stdout.contains("validate"))
        let version = try alv("--version")
        #expect(version.status == 0 && version.stdout.contains("libcurl") && version.stdout.contains("libzmq"))
        // Every command's flags parse (two flags with one name fail only when the command is used).
        let commands = ["run", "demo", "broker", "worker", "planner", "keys generate", "plan simulate", "history import", "forecast", "report",
                        "target", "cluster up", "cluster down", "vector add", "profile rm"]
        for command in commands {
            let result = try AlvBinary.run(command.split(separator: " ").map(String.init) + ["--help"], in: directory.path)
            #expect(result.status == 0 && result.stdout.contains("USAGE"), "alv \(command) --help: \(result.stdout.suffix(300))\(result.stderr.suffix(300))")
        }
    }

    @Test func workerKeysOnStdinAreCheckedBeforeAnythingConnects() throws {
        let remote = ["worker", "--broker", "10.9.9.9", "--keys-on-stdin"]
        let pair = try CurveKeyPair.generate(), other = try CurveKeyPair.generate()
        let cases: [(stdin: String?, says: String)] = [
            (nil, "stdin ended before a keys line"),
            ("hello\n", "expected the first line of stdin to be `alv-keys"),
            ("alv-keys server=\(other.publicKey) public=\(other.publicKey) secret=\(pair.secretKey)\n", "the public key matching the secret"),
            (String(repeating: "x", count: 2000), "longer than 1 KiB"),
        ]
        for c in cases {
            let result = try AlvBinary.run(remote, in: directory.path, timeout: 10, stdin: c.stdin)
            #expect(result.status == 2 && result.stderr.contains("--keys-on-stdin") && result.stderr.contains(c.says), "\(result.stderr)")
        }
        let plain = try AlvBinary.run(["worker", "--broker", "10.9.9.9"], in: directory.path, timeout: 10)
        #expect(plain.status == 2 && plain.stderr.contains("is not loopback"), "\(plain.stderr)")
    }

    @Test func aSecretKeyFileIsPrivateAndNeverWrittenThroughALink() throws {
        let keys = directory.file("keys")
        let made = try AlvBinary.run(["keys", "generate", "--out", keys, "--name", "k"], in: directory.path)
        #expect(made.status == 0, "\(made.stderr)")
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: keys + "/k.key")[.posixPermissions] as? Int)
        #expect(mode & 0o077 == 0, "mode \(String(mode, radix: 8))")
        // A secret path that is a symlink (planted by another user) is refused, not followed.
        let elsewhere = directory.write("elsewhere.txt", "")
        try FileManager.default.createSymbolicLink(atPath: keys + "/trap.key", withDestinationPath: elsewhere)
        let trapped = try AlvBinary.run(["keys", "generate", "--out", keys, "--name", "trap"], in: directory.path)
        #expect(trapped.status == 2 && trapped.stderr.contains("trap.key"), "\(trapped.stderr)")
        #expect((try? String(contentsOfFile: elsewhere, encoding: .utf8)) == "", "the secret went through the link")
    }

    @Test func targetsOtherThanHTTPAreRefused() throws {
        let vector = directory.write("t.json", #"{"vector_id": "t", "name": "T", "duration_sec": 1, "load": {"target_rps": 1}, "request_types": [{"name": "a", "url": "/", "frequency": 100}]}"#)
        for target in ["file:///etc/passwd", "gopher://127.0.0.1:70/", "http://127.0.0.1:99999", "http://"] {
            for command in [["run", vector, "--workers", "0", "--no-dashboard"], ["broker", "--run", vector, "--wait-timeout", "0"]] {
                let result = try AlvBinary.run(command + ["--target", target, "--db", directory.file("t.db")], in: directory.path)
                #expect(result.status == 2 && result.stderr.contains("--target"), "\(command[0]) --target \(target): \(result.status) \(result.stderr)")
            }
        }
    }

    @Test func badDatabasePathIsBadInput() throws {
        let result = try alv("vector", "list", "--db", "/proc/alv.db")
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("/proc/alv.db"))
    }

    @Test func rmOfAVectorAProfileUsesIsRefusedWithoutForce() throws {
        let result = try alv("vector", "rm", "smoke", "--db", db)
        #expect(result.status == 2 && result.stderr.contains("release-check"))
        #expect(try alv("vector", "rm", "smoke", "--force", "--db", db).status == 0)
    }

    /// Mutated files through the real binary: every run ends in exit 0 or 2, never a crash.
    @Test func mutatedFilesNeverCrashTheBinary() throws {
        var random = SeededGenerator(seed: 7)
        let sources = Fixtures.jsonFiles(in: "config/vectors")
        for round in 0..<150 {
            var bytes = Fixtures.bytes(sources[round % sources.count])
            switch random.next(upperBound: 3 as UInt64) {
            case 0: bytes = Array(bytes.prefix(Int(random.next(upperBound: UInt64(bytes.count)))))
            case 1: bytes[Int(random.next(upperBound: UInt64(bytes.count)))] = UInt8(truncatingIfNeeded: random.next())
            default:
                let at = Int(random.next(upperBound: UInt64(bytes.count)))
                bytes.removeSubrange(at..<min(bytes.count, at + Int(random.next(upperBound: 40 as UInt64))))
            }
            let file = directory.write("mutant.json", bytes: bytes)
            let result = try alv("vector", "validate", file)
            #expect(!result.crashed && (result.status == 0 || result.status == 2), "exit \(result.status): \(result.stderr)")
        }
    }

    @Test func linkedLibrariesHaveWhatAlvNeeds() {
        #expect(LibraryVersions.zmqHasCurve, "libzmq without CURVE cannot secure remote workers")
        #expect(LibraryVersions.curl.split(separator: ".").count == 3)
        #expect(LibraryVersions.sqlite.hasPrefix("3."))
    }
}
