import ALVTransport
import Foundation
import Testing

/// The enrolment token: signed by the broker's key for one launcher until an expiry, checked statelessly.
struct EnrolmentTokenTests {
    @Test func aTokenIsValidForItsLauncherAndKeyUntilItExpires() throws {
        let broker = try CurveKeyPair.generate(), other = try CurveKeyPair.generate()
        let expires = Date().addingTimeInterval(3600)
        let token = try #require(EnrolmentToken.issue(launcher: "fleet.eu", expires: expires, brokerSecretKey: broker.secretKey))
        #expect(token.hasPrefix("v1.fleet.eu.") && !token.contains(broker.secretKey))
        #expect(EnrolmentToken.problem(token, launcher: "fleet.eu", brokerSecretKey: broker.secretKey) == nil)
        #expect(EnrolmentToken.problem(token, launcher: "gcp", brokerSecretKey: broker.secretKey)?.contains("for launcher fleet.eu") == true)
        #expect(EnrolmentToken.problem(token, launcher: "fleet.eu", brokerSecretKey: other.secretKey)?.contains("signature") == true)
        #expect(EnrolmentToken.problem(token, launcher: "fleet.eu", brokerSecretKey: broker.secretKey, now: expires.addingTimeInterval(1))?.contains("expired") == true)
        // A later expiry with the old signature, a flipped digit, garbage: all refused.
        let parts = token.split(separator: ".").map(String.init)
        let extended = (parts.dropLast(2) + [String(Int(parts[parts.count - 2])! + 86_400), parts.last!]).joined(separator: ".")
        #expect(EnrolmentToken.problem(extended, launcher: "fleet.eu", brokerSecretKey: broker.secretKey) != nil)
        var flipped = Array(token)
        flipped[flipped.count - 1] = flipped[flipped.count - 1] == "0" ? "1" : "0"
        #expect(EnrolmentToken.problem(String(flipped), launcher: "fleet.eu", brokerSecretKey: broker.secretKey) != nil)
        for junk in ["", "v1", "v1.fleet.eu.x.y", "v2.fleet.eu.1.00", String(repeating: ".", count: 100)] {
            #expect(EnrolmentToken.problem(junk, launcher: "fleet.eu", brokerSecretKey: broker.secretKey) != nil)
        }
    }

    @Test func theEnrolmentFileRoundTrips() throws {
        let key = try CurveKeyPair.generate().publicKey
        let line = EnrolmentToken.renderFile(serverPublicKey: key, launcher: "fleet", token: "v1.fleet.1.ab")
        let parsed = try #require(EnrolmentToken.parseFile(line))
        #expect(parsed.server == key && parsed.launcher == "fleet" && parsed.token == "v1.fleet.1.ab")
        #expect(EnrolmentToken.parseFile("alv-keys server=\(key)") == nil)
        #expect(EnrolmentToken.parseFile("alv-enrol server=short launcher=a token=b") == nil)
    }
}
