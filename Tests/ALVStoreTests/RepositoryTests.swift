import ALVModel
import ALVStore
import ALVTesting
import Foundation
import Testing

@Suite struct RepositoryTests {
    let directory = TemporaryDirectory("alv-repo")
    var dbPath: String { directory.file("store/alv.db") }

    func vectorText(id: String = "v1", rate: Int = 10) -> String {
        #"{"vector_id":"\#(id)","name":"V","duration_sec":5,"load":{"target_rps":\#(rate)},"request_types":[{"name":"a","url":"/","frequency":100}]}"#
    }

    func open(builtins: Bool = false) throws -> Repository {
        try Repository(path: dbPath, builtinDirectory: builtins ? Fixtures.path("config") : nil)
    }

    @Test func addingAnExistingIdMakesANewVersionAndIdenticalContentDoesNot() throws {
        let repository = try open()
        #expect(try repository.addVector(Array(vectorText().utf8), file: "a.json", baseDirectory: "/") == .added(id: "v1", version: 1))
        #expect(try repository.addVector(Array(vectorText().utf8), file: "a.json", baseDirectory: "/") == .unchanged(id: "v1", version: 1))
        #expect(try repository.addVector(Array(vectorText(rate: 20).utf8), file: "a.json", baseDirectory: "/") == .added(id: "v1", version: 2))
        #expect(try repository.versions(.vector, id: "v1") == [1, 2])
        #expect(try repository.vector(id: "v1").0.load == .open(targetRPS: 20, arrival: .poisson, maxInFlight: nil))
        #expect(try repository.vector(id: "v1", version: 1).0.load == .open(targetRPS: 10, arrival: .poisson, maxInFlight: nil))
        let latest = try repository.latest(.vector)
        #expect(latest.count == 1 && latest[0].version == 2 && latest[0].versionCount == 2)
        #expect(latest[0].json == vectorText(rate: 20))
    }

    @Test func invalidDocumentsAreNotStored() throws {
        let repository = try open()
        guard case .invalid(let diagnostics) = try repository.addVector(Array("{\"vector_id\": 3}".utf8), file: "bad.json", baseDirectory: "/") else {
            Issue.record("accepted")
            return
        }
        #expect(diagnostics.contains { $0.path == "vector_id" })
        #expect(try repository.ids(.vector).isEmpty)
    }

    @Test func profilesMustNameStoredVectors() throws {
        let repository = try open()
        let profile = #"{"profile_id":"p","name":"P","duration_sec":10,"vector_sequence":["v1"]}"#
        guard case .invalid(let diagnostics) = try repository.addProfile(Array(profile.utf8), file: "p.json") else {
            Issue.record("accepted a profile naming an unknown vector")
            return
        }
        #expect(diagnostics.first?.path == "vector_sequence[0]")
        _ = try repository.addVector(Array(vectorText().utf8), file: nil, baseDirectory: "/")
        #expect(try repository.addProfile(Array(profile.utf8), file: "p.json") == .added(id: "p", version: 1))
        #expect(try repository.profile(id: "p").0.vectorSequence == ["v1"])
    }

    @Test func removingAVectorThatAProfileNamesNeedsForce() throws {
        let repository = try open()
        _ = try repository.addVector(Array(vectorText().utf8), file: nil, baseDirectory: "/")
        _ = try repository.addVector(Array(vectorText(rate: 30).utf8), file: nil, baseDirectory: "/")
        _ = try repository.addProfile(Array(#"{"profile_id":"p","name":"P","duration_sec":10,"vector_sequence":["v1"]}"#.utf8), file: nil)
        #expect(throws: RepositoryError.self) { try repository.remove(.vector, id: "v1") }
        // Removing one of two versions leaves the id in place, so the profile still resolves.
        #expect(try repository.remove(.vector, id: "v1", version: 1) == 1)
        #expect(throws: RepositoryError.self) { try repository.remove(.vector, id: "v1", version: 2) }
        #expect(try repository.remove(.vector, id: "v1", force: true) == 1)
        #expect(throws: RepositoryError.self) { try repository.remove(.vector, id: "v1") }
    }

    @Test func builtinsLoadOnceAndStayRemoved() throws {
        do {
            let repository = try open(builtins: true)
            let ids = try repository.ids(.vector)
            #expect(ids.isSuperset(of: ["smoke", "ramp", "soak", "spike", "stress", "checkout-mix", "crud-mixed"]))
            #expect(try repository.ids(.profile).contains("release-check"))
            try repository.remove(.vector, id: "stress")
        }
        let reopened = try open(builtins: true)
        #expect(try !reopened.ids(.vector).contains("stress"))
        // Stored vectors with data files still resolve them from the folder they were added from.
        let (vector, stored) = try reopened.vector(id: "crud-mixed")
        #expect(vector.dataFiles["users"]?.path == "data/users.csv")
        #expect(stored.sourceDirectory == Fixtures.path("config/vectors"))
    }

    @Test func separateConnectionsSeeEachOthersWritesInWALMode() throws {
        let writer = try open()
        let reader = try open()
        _ = try writer.addVector(Array(vectorText(id: "shared").utf8), file: nil, baseDirectory: "/")
        #expect(try reader.ids(.vector) == ["shared"])
        let mode = try writer.database.prepare("PRAGMA journal_mode")
        _ = try mode.step()
        #expect(mode.string(0) == "wal")
    }

    @Test func aFileThatIsNotADatabaseIsReported() throws {
        let path = directory.write("not-a-db", String(repeating: "garbage ", count: 200))
        do {
            _ = try Repository(path: path, builtinDirectory: nil)
            Issue.record("opened garbage")
        } catch let error as SQLiteError {
            #expect(error.code == 26)
            #expect(error.description.contains(path))
        }
    }
}
