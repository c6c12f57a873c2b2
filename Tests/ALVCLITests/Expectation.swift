import ALVTesting
import Foundation

/// Entries of Tests/Fixtures/invalid/expectations.json, as the CLI tests need them.
struct Expectation: Sendable {
    var fixture: String
    var paths: [String]
    var isProfile: Bool { fixture.hasPrefix("profiles/") }
    var path: String { Fixtures.path("Tests/Fixtures/invalid/" + fixture) }

    static let all: [Expectation] = {
        let data = FileManager.default.contents(atPath: Fixtures.path("Tests/Fixtures/invalid/expectations.json"))!
        let object = try! JSONSerialization.jsonObject(with: data) as! [String: Any]
        return object.keys.filter { !$0.hasPrefix("_") }.sorted().map {
            Expectation(fixture: $0, paths: (object[$0] as! [String: Any])["paths"] as! [String])
        }
    }()
}
