import CSodium
import CZmq
import Foundation

/// The token in an instance group's user data: `v1.LAUNCHER.EXPIRY.MAC`, where MAC is HMAC-SHA256 over
/// the launcher's name and the expiry (Unix seconds) under a key derived from the broker's CURVE secret key.
/// The broker checks it without keeping any state; it names one launcher and stops working at its expiry.
///
/// It lets a machine's worker have its own key admitted (the key pair is made on the machine and never
/// travels); it is not a worker key itself, and it is only accepted for machines the group reports.
public enum EnrolmentToken {
    /// - Returns: nil when the secret key is not a Z85 CURVE key.
    public static func issue(launcher: String, expires: Date, brokerSecretKey: String) -> String? {
        let expiry = Int64(expires.timeIntervalSince1970.rounded(.down))
        guard let mac = mac(launcher: launcher, expiry: expiry, secret: brokerSecretKey) else { return nil }
        return "v1.\(launcher).\(expiry).\(mac)"
    }

    /// - Returns: nil when the token is valid for `launcher` at `now`, else what is wrong with it.
    public static func problem(_ token: String, launcher: String, brokerSecretKey: String, now: Date = Date()) -> String? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        // The launcher name may hold dots: version first, MAC and expiry last.
        guard parts.count >= 4, parts[0] == "v1", let expiry = Int64(parts[parts.count - 2]) else { return "not an alv enrolment token" }
        let name = parts[1..<(parts.count - 2)].joined(separator: ".")
        guard name == launcher else { return "the token is for launcher \(name.prefix(64)), not \(launcher.prefix(64))" }
        guard let expected = mac(launcher: name, expiry: expiry, secret: brokerSecretKey) else { return "the broker has no usable key" }
        let given = Array(parts[parts.count - 1].utf8), wanted = Array(expected.utf8)
        guard given.count == wanted.count, sodium_memcmp(given, wanted, given.count) == 0 else { return "the token's signature does not match this broker's key" }
        guard Double(expiry) > now.timeIntervalSince1970 else { return "the token expired at \(Date(timeIntervalSince1970: Double(expiry)))" }
        return nil
    }

    static func mac(launcher: String, expiry: Int64, secret: String) -> String? {
        _ = sodiumReady
        var secretBytes = [UInt8](repeating: 0, count: 32)
        guard secret.utf8.count == 40, zmq_z85_decode(&secretBytes, secret) != nil else { return nil }
        defer { sodium_memzero(&secretBytes, 32) }
        // A key of its own for tokens, derived from the broker's secret (never the CURVE key itself).
        var key = [UInt8](repeating: 0, count: Int(crypto_auth_hmacsha256_KEYBYTES))
        let context = Array("alv enrolment token v1".utf8)
        guard crypto_generichash(&key, key.count, context, UInt64(context.count), secretBytes, 32) == 0 else { return nil }
        defer { sodium_memzero(&key, key.count) }
        let message = Array("\(launcher)\n\(expiry)".utf8)
        var out = [UInt8](repeating: 0, count: Int(crypto_auth_hmacsha256_BYTES))
        guard crypto_auth_hmacsha256(&out, message, UInt64(message.count), key) == 0 else { return nil }
        return out.map { String(format: "%02x", $0) }.joined()
    }

    private static let sodiumReady: Bool = sodium_init() >= 0

    /// The file the user data writes on the machine: `alv-enrol server=KEY launcher=NAME token=TOKEN`.
    public static func renderFile(serverPublicKey: String, launcher: String, token: String) -> String {
        "alv-enrol server=\(serverPublicKey) launcher=\(launcher) token=\(token)\n"
    }

    /// - Returns: (server key, launcher, token), or nil when the text is not such a line.
    public static func parseFile(_ text: String) -> (server: String, launcher: String, token: String)? {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.first == "alv-enrol" else { return nil }
        var values: [String: String] = [:]
        for f in fields.dropFirst() {
            guard let eq = f.firstIndex(of: "=") else { return nil }
            values[String(f[..<eq])] = String(f[f.index(after: eq)...])
        }
        guard let server = values["server"], CurveKeyPair.isValidKey(server), let launcher = values["launcher"], let token = values["token"] else { return nil }
        return (server, launcher, token)
    }
}
