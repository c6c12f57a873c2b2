import ALVModel
import ALVTesting
import Foundation
import Testing

/// The JSON Schemas under config/schema and the Swift validator must agree: every example both
/// accept, every bad fixture the schema can express both reject, and the rest (semantic checks
/// such as frequencies summing to 100) only alv rejects, as expectations.json records.
@Suite struct SchemaAgreementTests {
    /// Runs Tests/Fixtures/schema_check.py (Python's jsonschema) over files of one kind.
    func schemaVerdicts(kind: String, files: [String]) throws -> [String: Bool] {
        let process = Process()
        // scripts/test points ALV_PYTHON at a venv holding jsonschema.
        let python = ProcessInfo.processInfo.environment["ALV_PYTHON"] ?? "python3"
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, Fixtures.path("Tests/Fixtures/schema_check.py"), Fixtures.path("config/schema"), kind] + files
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let problems = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "schema_check.py failed (scripts/test installs python3-jsonschema): \(problems)")
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
        return object.mapValues { $0["valid"] as? Bool ?? false }
    }

    @Test func examplesAreValidForBoth() throws {
        let vectors = Fixtures.jsonFiles(in: "config/vectors") + Fixtures.jsonFiles(in: "Tests/Fixtures/valid/vectors")
        let profiles = Fixtures.jsonFiles(in: "config/profiles")
        let verdicts = try schemaVerdicts(kind: "vector", files: vectors).merging(try schemaVerdicts(kind: "profile", files: profiles)) { a, _ in a }
        #expect(verdicts.count == vectors.count + profiles.count)
        for file in vectors {
            #expect(verdicts[file] == true, "schema rejects \(file)")
            #expect(VectorValidator.validateFile(atPath: file, environment: ["HOME": "/"]).model != nil)
        }
        for file in profiles {
            #expect(verdicts[file] == true, "schema rejects \(file)")
            #expect(ProfileValidator.validateFile(atPath: file, knownVectors: builtinVectorIDs).model != nil)
        }
    }

    @Test func badFixturesAgree() throws {
        let all = Expectation.all
        let vectorFiles = all.filter { !$0.isProfile }.map(\.path)
        let profileFiles = all.filter(\.isProfile).map(\.path)
        let verdicts = try schemaVerdicts(kind: "vector", files: vectorFiles).merging(try schemaVerdicts(kind: "profile", files: profileFiles)) { a, _ in a }
        for expectation in all {
            let schemaValid = try #require(verdicts[expectation.path], "no verdict for \(expectation.fixture)")
            #expect(schemaValid == !expectation.schemaRejects, "\(expectation.fixture): schema says valid=\(schemaValid), expectations.json says schema_rejects=\(expectation.schemaRejects)")
            #expect(diagnostics(for: expectation).hasErrors, "\(expectation.fixture): alv accepts it")
        }
    }
}
