import Foundation
import Synchronization

/// The target's login flow, for testing flows against it: `POST /login` with `{"user": NAME}` issues a token
/// (in the JSON body and the `X-Token` header) and a `sid` session cookie; `GET /me` needs `Authorization:
/// Bearer TOKEN` of an issued token and, when a `sid` cookie comes with it, the one issued with that token;
/// `GET /cart` needs an issued `sid` cookie. Every refusal and mismatch is counted (`/__stats` → `sessions`).
public final class TargetSessions: Sendable {
    public struct Counts: Sendable, Codable, Equatable {
        public var logins = 0
        public var meOK = 0
        public var meWithoutToken = 0
        public var meCookieMismatch = 0
        public var cartOK = 0
        public var cartWithoutCookie = 0

        enum CodingKeys: String, CodingKey {
            case logins, meOK = "me_ok", meWithoutToken = "me_without_token", meCookieMismatch = "me_cookie_mismatch"
            case cartOK = "cart_ok", cartWithoutCookie = "cart_without_cookie"
        }
    }

    struct State {
        var counts = Counts()
        /// token → (user, sid); sid → user.
        var tokens: [String: (user: String, sid: String)] = [:]
        var sids: [String: String] = [:]
    }

    /// Logins remembered at most; beyond, the oldest half is forgotten (a long soak cannot exhaust memory).
    static let capacity = 1_000_000
    private let state = Mutex(State())

    public var counts: Counts { state.withLock { $0.counts } }

    /// The response to a session route, or nil when `path` is not one.
    func respond(method: String, path: String, headers: [(String, String)], body: String) -> (status: Int, json: String, headers: [(String, String)])? {
        switch (method, path) {
        case ("POST", "/login"):
            let user = (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["user"] as? String ?? "anonymous"
            let token = Self.random(), sid = Self.random()
            state.withLock { state in
                if state.tokens.count >= Self.capacity {
                    state.tokens.removeAll(keepingCapacity: true)
                    state.sids.removeAll(keepingCapacity: true)
                }
                state.tokens[token] = (user, sid)
                state.sids[sid] = user
                state.counts.logins += 1
            }
            return (200, TargetHandler.json(["token": token, "user": user]), [("X-Token", token), ("Set-Cookie", "sid=\(sid); Path=/; HttpOnly")])
        case ("GET", "/me"):
            let token = header("authorization", in: headers).flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
            let sid = cookie("sid", in: headers)
            return state.withLock { state in
                guard let token, let issued = state.tokens[token] else {
                    state.counts.meWithoutToken += 1
                    return (401, "{\"error\":\"no valid token\"}", [])
                }
                if let sid, sid != issued.sid {
                    state.counts.meCookieMismatch += 1
                    return (409, "{\"error\":\"the sid cookie belongs to another login\"}", [])
                }
                state.counts.meOK += 1
                return (200, TargetHandler.json(["ok": true, "user": issued.user]), [])
            }
        case ("GET", "/cart"):
            let sid = cookie("sid", in: headers)
            return state.withLock { state in
                guard let sid, let user = state.sids[sid] else {
                    state.counts.cartWithoutCookie += 1
                    return (401, "{\"error\":\"no session cookie\"}", [])
                }
                state.counts.cartOK += 1
                return (200, TargetHandler.json(["items": [String](), "user": user]), [])
            }
        default:
            return nil
        }
    }

    private func header(_ name: String, in headers: [(String, String)]) -> String? {
        headers.first { $0.0.lowercased() == name }?.1
    }

    private func cookie(_ name: String, in headers: [(String, String)]) -> String? {
        for (key, value) in headers where key.lowercased() == "cookie" {
            for pair in value.split(separator: ";") {
                let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0] == name { return String(parts[1]) }
            }
        }
        return nil
    }

    static func random() -> String {
        (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }
}
