import ALVEngine
import ALVMetrics
import ALVModel
import ALVProtocol
import ALVTarget
import ALVTesting
import Foundation
import Testing

/// Flows against `alv target`'s login routes, which count every request that comes without the token or
/// cookie it issued: ordered steps, captures of each kind feeding the next request, the cookie jar, checks.
@Suite(.serialized) struct FlowTests {
    /// A login → me → cart flow; `capture` says where the token comes from, `me` how it is sent.
    func loginFlow(users: Int = 20, seconds: Int = 3, capture: String = #""token": "json:$.token""#,
                   meExpect: String = #"{"status": [200], "body_contains": "\"ok\""}"#, cookies: Bool = true, load: String? = nil) throws -> LoadVector {
        try vector(#"""
            {"vector_id": "flow", "name": "Flow", "duration_sec": \#(seconds), "load": \#(load ?? "{\"virtual_users\": \(users)}"),
             \#(cookies ? "" : #""cookies": false,"#)
             "request_types": [{"name": "journey", "frequency": 100, "think_time_ms": {"min": 30, "max": 90}, "steps": [
                {"name": "login", "method": "POST", "url": "/login", "headers": {"Content-Type": "application/json"},
                 "payload_template": "{\"user\": \"u{{random_int(1,100000)}}\"}", "expect": {"status": [200]}, "capture": {\#(capture)}},
                {"name": "me", "url": "/me", "headers": {"Authorization": "Bearer {{vars.token}}"}, "expect": \#(meExpect)},
                {"name": "cart", "url": "/cart", "expect": {"status": [200, 204]}}]}]}
            """#)
    }

    @Test func aLoginFlowWithAHundredUsersPassesEveryCheckAndSendsEachUsersOwnTokenAndCookie() throws {
        let target = try LiveTarget()
        let (collector, _) = try execute(try loginFlow(users: 100), target: target.url)
        let sessions = target.server.sessions.counts
        let byType = collector.byType
        let login = try #require(byType["journey/login"]), me = try #require(byType["journey/me"]), cart = try #require(byType["journey/cart"])
        #expect(login.outcomes[.status2xx] > 300, "\(login.outcomes)")
        for (name, m) in byType { #expect(m.outcomes[.check] == 0 && m.outcomes.errors == 0, "\(name): \(m.outcomes)") }
        #expect(sessions.meWithoutToken == 0 && sessions.meCookieMismatch == 0 && sessions.cartWithoutCookie == 0, "\(sessions)")
        #expect(UInt64(sessions.logins) == login.requestsTotal && UInt64(sessions.meOK) == me.requestsTotal && UInt64(sessions.cartOK) == cart.requestsTotal)
        // Steps run in order: no user reaches a step before the one ahead of it.
        #expect(login.requestsTotal >= me.requestsTotal && me.requestsTotal >= cart.requestsTotal)
        #expect(login.requestsTotal - cart.requestsTotal <= 100, "at most one unfinished iteration per user")
    }

    @Test func withoutCookiesTheCartStepFailsItsCheckAndOnlyIt() throws {
        let target = try LiveTarget()
        let (collector, _) = try execute(try loginFlow(cookies: false), target: target.url)
        let cart = try #require(collector.byType["journey/cart"])
        #expect(cart.requestsTotal > 50)
        #expect(cart.outcomes[.check] == cart.requestsTotal, "\(cart.outcomes)")
        #expect(UInt64(target.server.sessions.counts.cartWithoutCookie) == cart.requestsTotal)
        #expect(collector.byType["journey/me"]?.outcomes[.check] == 0)
    }

    @Test(arguments: [#""token": "json:$.token""#, #""token": "header:X-Token""#, #""token": "regex:\"token\":\"([0-9a-f]+)\"""#])
    func eachCaptureKindFeedsTheNextRequest(capture: String) throws {
        let target = try LiveTarget()
        let (collector, _) = try execute(try loginFlow(users: 5, seconds: 2, capture: capture), target: target.url)
        let me = try #require(collector.byType["journey/me"])
        #expect(me.outcomes[.status2xx] > 20 && me.outcomes[.check] == 0, "\(capture): \(me.outcomes)")
        #expect(target.server.sessions.counts.meWithoutToken == 0, "\(capture): \(target.server.sessions.counts)")
    }

    @Test func aCookieCaptureReadsTheJar() throws {
        let target = try LiveTarget()
        let v = try vector(#"""
            {"vector_id": "jar", "name": "Jar", "duration_sec": 2, "load": {"virtual_users": 3},
             "request_types": [{"name": "j", "frequency": 100, "steps": [
                {"name": "login", "method": "POST", "url": "/login", "payload_template": "{}", "capture": {"sid": "cookie:sid"}},
                {"name": "echo", "url": "/echo/{{vars.sid}}", "expect": {"json": {"$.path": "exists"}}}]}]}
            """#)
        let (collector, _) = try execute(v, target: target.url)
        let echoes = target.stats.counts.filter { $0.key.hasPrefix("GET /echo/") }
        #expect(collector.byType["j/echo"]?.outcomes[.check] == 0)
        #expect(!echoes.isEmpty && echoes.keys.allSatisfy { $0.count == "GET /echo/".count + 32 }, "\(echoes.keys.prefix(3))")
    }

    @Test func aWrongExpectationFailsExactlyTheRequestsOfItsStep() throws {
        let target = try LiveTarget()
        let (collector, _) = try execute(try loginFlow(users: 10, seconds: 2, meExpect: #"{"status": [201], "json": {"$.ok": true}}"#), target: target.url)
        let me = try #require(collector.byType["journey/me"])
        #expect(me.requestsTotal > 20)
        #expect(me.outcomes[.check] == me.requestsTotal && me.outcomes[.status2xx] == 0, "\(me.outcomes)")
        #expect(UInt64(target.server.sessions.counts.meOK) == me.requestsTotal, "the target answered them all 200")
        // The flow goes on after a failed check.
        #expect(collector.byType["journey/cart"]?.outcomes[.status2xx] ?? 0 > 0)
        // A JSON value that differs fails; the same value passes.
        let (wrong, _) = try execute(try loginFlow(users: 5, seconds: 1, meExpect: #"{"json": {"$.ok": false}}"#), target: target.url)
        let (right, _) = try execute(try loginFlow(users: 5, seconds: 1, meExpect: #"{"json": {"$.ok": true, "$.user": "exists"}}"#), target: target.url)
        #expect(wrong.byType["journey/me"].map { $0.outcomes[.check] == $0.requestsTotal && $0.requestsTotal > 0 } == true)
        #expect(right.byType["journey/me"].map { $0.outcomes[.check] == 0 && $0.requestsTotal > 0 } == true)
    }

    @Test func aCaptureThatFindsNothingFailsItsStepAndLaterUsesRenderEmptyAndAreCounted() throws {
        let target = try LiveTarget()
        let (collector, _) = try execute(try loginFlow(users: 5, seconds: 2, capture: #""token": "json:$.missing""#), target: target.url)
        let login = try #require(collector.byType["journey/login"]), me = try #require(collector.byType["journey/me"])
        #expect(login.outcomes[.check] == login.requestsTotal && login.requestsTotal > 0, "\(login.outcomes)")
        // "Bearer " with nothing after it: the target refuses every one, and each was counted as an empty render.
        #expect(UInt64(target.server.sessions.counts.meWithoutToken) == me.requestsTotal && me.outcomes[.check] == me.requestsTotal)
        #expect(me.emptyVariables == me.requestsTotal && login.emptyVariables == 0)
    }

    @Test func openModelArrivalsEachRunTheWholeFlowWithAJarOfTheirOwn() throws {
        let target = try LiveTarget()
        let (collector, _) = try execute(try loginFlow(seconds: 3, load: #"{"target_rps": 100}"#), target: target.url)
        let login = try #require(collector.byType["journey/login"]), cart = try #require(collector.byType["journey/cart"])
        #expect(abs(Double(login.requestsTotal) - 300) < 60, "\(login.requestsTotal) arrivals")
        // Arrivals whose flow is still going when the window closes end there: at 100 a second, those of the
        // flow's last tens of milliseconds (more on a loaded machine), never a large share.
        #expect(Double(login.requestsTotal - cart.requestsTotal) < 0.1 * Double(login.requestsTotal), "\(login.requestsTotal - cart.requestsTotal) of \(login.requestsTotal) arrivals did not finish")
        let sessions = target.server.sessions.counts
        #expect(sessions.meWithoutToken == 0 && sessions.meCookieMismatch == 0 && sessions.cartWithoutCookie == 0, "\(sessions)")
        for (name, m) in collector.byType { #expect(m.outcomes[.check] == 0, "\(name): \(m.outcomes)") }
    }
}
