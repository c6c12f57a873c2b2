import ALVModel
import ALVTesting
import Foundation
import Testing

/// One entry of Tests/Fixtures/invalid/expectations.json.
struct Expectation: Sendable {
    var fixture: String
    var paths: [String]
    var message: String
    var schemaRejects: Bool

    static let all: [Expectation] = {
        let data = FileManager.default.contents(atPath: Fixtures.path("Tests/Fixtures/invalid/expectations.json"))!
        let object = try! JSONSerialization.jsonObject(with: data) as! [String: Any]
        return object.keys.filter { !$0.hasPrefix("_") }.sorted().map { key in
            let entry = object[key] as! [String: Any]
            return Expectation(
                fixture: key, paths: entry["paths"] as! [String], message: entry["message"] as! String,
                schemaRejects: entry["schema_rejects"] as! Bool)
        }
    }()

    var path: String { Fixtures.path("Tests/Fixtures/invalid/" + fixture) }
    var isProfile: Bool { fixture.hasPrefix("profiles/") }
}

/// The ids of the built-in vectors, which fixture profiles may name.
let builtinVectorIDs: Set<String> = Set(
    Fixtures.jsonFiles(in: "config/vectors").compactMap { VectorValidator.validateFile(atPath: $0).model?.vectorID })

func diagnostics(for expectation: Expectation) -> [Diagnostic] {
    expectation.isProfile
        ? ProfileValidator.validateFile(atPath: expectation.path, knownVectors: builtinVectorIDs).diagnostics
        : VectorValidator.validateFile(atPath: expectation.path).diagnostics
}

@Suite struct ValidatorFixtureTests {
    @Test(arguments: Expectation.all.map(\.fixture))
    func badInputIsReportedWithFileAndPath(fixture: String) throws {
        let expectation = try #require(Expectation.all.first { $0.fixture == fixture })
        let found = diagnostics(for: expectation).errors
        #expect(!found.isEmpty)
        let paths = Set(found.map(\.path))
        for path in expectation.paths {
            #expect(paths.contains(path), "\(fixture): expected a diagnostic at \(path), got \(found.map(\.description))")
        }
        #expect(found.contains { $0.message.contains(expectation.message) }, "\(fixture): no message holds \"\(expectation.message)\": \(found.map(\.message))")
        for diagnostic in found {
            #expect(diagnostic.file == expectation.path)
            #expect(diagnostic.line != nil && diagnostic.column != nil, "\(diagnostic)")
            #expect(diagnostic.description.hasPrefix(expectation.path + ":"))
        }
    }

    @Test func everyBadFixtureHasAnExpectation() {
        let listed = Set(Expectation.all.map(\.fixture))
        for folder in ["vectors", "profiles"] {
            for file in Fixtures.jsonFiles(in: "Tests/Fixtures/invalid/" + folder) {
                let key = folder + "/" + (file as NSString).lastPathComponent
                #expect(listed.contains(key), "\(key) has no entry in expectations.json")
            }
        }
    }

    @Test(arguments: Fixtures.jsonFiles(in: "config/vectors") + Fixtures.jsonFiles(in: "Tests/Fixtures/valid/vectors"))
    func shippedAndValidVectorsPass(file: String) {
        let result = VectorValidator.validateFile(atPath: file, environment: ["HOME": "/root"])
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics.map(\.description))")
        #expect(result.model != nil)
    }

    @Test(arguments: Fixtures.jsonFiles(in: "config/profiles"))
    func shippedProfilesPass(file: String) {
        let result = ProfileValidator.validateFile(atPath: file, knownVectors: builtinVectorIDs)
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics.map(\.description))")
    }

    @Test func unsetEnvironmentVariableIsAWarningNotAnError() {
        let result = VectorValidator.validateFile(
            atPath: Fixtures.path("Tests/Fixtures/valid/vectors/all-features.json"), environment: [:])
        #expect(result.model != nil)
        #expect(result.diagnostics.count == 1)
        #expect(result.diagnostics.first?.severity == .warning)
        #expect(result.diagnostics.first?.path == "request_types[0].url")
    }

    /// The seed's spelling of a think-time range and the array form read as the object form does.
    @Test(arguments: [#""1000-3000""#, #"" 1000 - 3000 ""#, "[1000, 3000]", #"{"min": 1000, "max": 3000}"#])
    func thinkTimeRangesHaveThreeSpellings(spelling: String) throws {
        let text = #"{"vector_id": "t", "name": "T", "duration_sec": 1, "load": {"virtual_users": 1}, "request_types": [{"name": "a", "url": "/", "frequency": 100, "think_time_ms": \#(spelling)}]}"#
        let result = VectorValidator.validate(Array(text.utf8), file: "t.json", baseDirectory: nil)
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics.map(\.description))")
        #expect(result.model?.requestTypes.first?.thinkTimeMs == .range(min: 1000, max: 3000))
    }

    /// Think time on a single request of an open-model vector does nothing: a warning says so; a flow's does not warn.
    @Test func thinkTimeOnAnOpenModelRequestIsAWarning() throws {
        func diagnostics(_ type: String) -> [Diagnostic] {
            let text = #"{"vector_id": "t", "name": "T", "duration_sec": 1, "load": {"target_rps": 10}, "request_types": [\#(type)]}"#
            return VectorValidator.validate(Array(text.utf8), file: "t.json", baseDirectory: nil).diagnostics
        }
        let single = diagnostics(#"{"name": "a", "url": "/", "frequency": 100, "think_time_ms": 500}"#)
        #expect(single.count == 1 && single[0].severity == .warning && single[0].path == "request_types[0].think_time_ms", "\(single.map(\.description))")
        #expect(single.first?.message.contains("does nothing") == true)
        #expect(diagnostics(#"{"name": "a", "frequency": 100, "think_time_ms": 500, "steps": [{"name": "s", "url": "/"}]}"#).isEmpty)
    }

    @Test func profileVectorCheckIsSkippedWithoutARepository() {
        let file = Fixtures.path("Tests/Fixtures/invalid/profiles/unknown-vector.json")
        #expect(ProfileValidator.validateFile(atPath: file, knownVectors: nil).model != nil)
    }

    @Test func thresholdsParse() {
        let rate = Threshold.parse(metric: "http_errors", expression: "rate < 0.01").0
        #expect(rate?.aggregation == .rate && rate?.comparison == .less && rate?.bound == 0.01)
        #expect(Threshold.parse(metric: "latency_p95_ms", expression: "<=300").0?.comparison == .lessOrEqual)
        #expect(Threshold.parse(metric: "latency_p95_ms", expression: "count<3").problem != nil)
        #expect(Threshold.parse(metric: "latency_p59_ms", expression: "<3").problem?.contains("did you mean") == true)
        #expect(Threshold.parse(metric: "http_errors", expression: "rate<abc").problem != nil)
        #expect(Threshold.Comparison.greaterOrEqual.holds(3, 3))
    }

    @Test func startTimeAcceptsNowAndZonedInstantsOnly() {
        #expect(StartTime.parse("now") == .now)
        #expect(StartTime.parse("2026-12-01T09:00:00Z") == .at(Date(timeIntervalSince1970: 1_796_115_600)))
        #expect(StartTime.parse("2026-12-01T09:00:00.250+01:00") != nil)
        #expect(StartTime.parse("2026-12-01 09:00") == nil)
        #expect(StartTime.parse("2026-12-01T09:00:00") == nil)
        #expect(StartTime.parse("tomorrow") == nil)
    }
}
