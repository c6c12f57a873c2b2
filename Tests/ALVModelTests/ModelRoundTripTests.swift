import ALVModel
import ALVTesting
import Foundation
import Testing

/// The Codable form of the model is what crosses the wire to workers: encoding a validated
/// vector or profile and validating the result must give the same model.
@Suite struct ModelRoundTripTests {
    @Test(arguments: Fixtures.jsonFiles(in: "config/vectors") + Fixtures.jsonFiles(in: "Tests/Fixtures/valid/vectors"))
    func vectorsSurviveEncoding(file: String) throws {
        let environment = ["HOME": "/root"]
        let vector = try #require(VectorValidator.validateFile(atPath: file, environment: environment).model)
        let encoded = try JSONEncoder().encode(vector)
        let again = VectorValidator.validate(Array(encoded), file: "encoded", baseDirectory: (file as NSString).deletingLastPathComponent, environment: environment)
        #expect(again.diagnostics.isEmpty, "\(again.diagnostics.map(\.description))")
        #expect(again.model == vector)
        #expect(try JSONDecoder().decode(LoadVector.self, from: encoded) == vector)
    }

    @Test(arguments: Fixtures.jsonFiles(in: "config/profiles"))
    func profilesSurviveEncoding(file: String) throws {
        let profile = try #require(ProfileValidator.validateFile(atPath: file, knownVectors: nil).model)
        let encoded = try JSONEncoder().encode(profile)
        #expect(ProfileValidator.validate(Array(encoded), file: "encoded", knownVectors: nil).model == profile)
        #expect(try JSONDecoder().decode(ALVProfile.self, from: encoded) == profile)
    }

    @Test func defaultsApplyWhenOptionalFieldsAreAbsent() throws {
        let text = #"{"vector_id":"v","name":"V","duration_sec":5,"load":{"target_rps":10},"request_types":[{"name":"a","url":"/","frequency":100}]}"#
        let vector = try #require(VectorValidator.validate(Array(text.utf8), file: nil, baseDirectory: "/").model)
        #expect(vector.rampUpTimeSec == 0)
        #expect(vector.requestTypes[0].method == "GET")
        #expect(vector.load == .open(targetRPS: 10, arrival: .poisson, maxInFlight: nil))
        let profileText = #"{"profile_id":"p","name":"P","duration_sec":5,"vector_sequence":["v","v"],"adjustment":{}}"#
        let profile = try #require(ProfileValidator.validate(Array(profileText.utf8), file: nil, knownVectors: ["v"]).model)
        #expect(profile.startTime == .now && profile.transitionDelaySec == 0)
        #expect(profile.adjustment == Adjustment())
        #expect(profile.vectorSequence == ["v", "v"])
    }
}
