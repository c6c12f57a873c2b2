@testable import ALVCluster
import ALVModel
import ALVProtocol
import ALVRun
import Foundation
import Testing

/// The broker's parts without sockets: membership and the unit scheduler.
struct WorkerRegistryTests {
    func message(_ worker: String, incarnation: Int = 0, seq: UInt64, _ body: WorkerMessage.Body) -> WorkerMessage {
        WorkerMessage(worker: worker, incarnation: incarnation, seq: seq, body)
    }
    let beat = WorkerMessage.Body.heartbeat(.init(cpuSeconds: 0, rssBytes: 0, runningUnits: 0))

    @Test func onlyLegalMovesHappen() {
        let all: [WorkerState] = [.live, .retiring, .lost, .left]
        let legal: Set<String> = ["live>retiring", "live>lost", "live>left", "retiring>left", "retiring>lost", "lost>live", "left>live"]
        for from in all {
            for to in all { #expect(from.canMove(to: to) == legal.contains("\(from.rawValue)>\(to.rawValue)"), "\(from) → \(to)") }
        }
        var registry = WorkerRegistry()
        _ = registry.hello(message("a", seq: 1, .hello(.init(host: "h", pid: 1))), .init(host: "h", pid: 1), now: Date())
        do {
            let result = registry.move("a", to: .retiring)
            #expect(result)
        }
        do {
            let result = registry.move("a", to: .live)
            #expect(!result, "a retiring worker does not take windows again")
        }
        #expect(registry.live.isEmpty)
        do {
            let result = registry.move("a", to: .left)
            #expect(result)
        }
        do {
            let result = registry.move("a", to: .lost)
            #expect(!result)
        }
        do {
            let result = registry.move("ghost", to: .live)
            #expect(!result)
        }
    }

    @Test func incarnationsAndGaps() {
        var registry = WorkerRegistry()
        let now = Date()
        let hello = WorkerMessage.Hello(host: "h", pid: 1)
        do {
            let result = registry.hello(message("a", incarnation: 1, seq: 1, .hello(hello)), hello, now: now)
            #expect(result == .joined)
        }
        do {
            let result = registry.hello(message("a", incarnation: 0, seq: 1, .hello(hello)), hello, now: now)
            #expect(result == .stale)
        }
        do {
            let result = registry.admit(message("a", incarnation: 0, seq: 2, beat), now: now)
            #expect(!result, "an older incarnation is dropped")
        }
        do {
            let result = registry.admit(message("ghost", seq: 2, beat), now: now)
            #expect(!result)
        }
        do {
            let result = registry.admit(message("a", incarnation: 1, seq: 2, beat), now: now)
            #expect(result)
        }
        do {
            let result = registry.admit(message("a", incarnation: 1, seq: 5, beat), now: now)
            #expect(result)
        }
        #expect(registry.gaps == 2)
        // Reordered or repeated numbers are not gaps; a forged maximum counts, and does not trap.
        do {
            let result = registry.admit(message("a", incarnation: 1, seq: 4, beat), now: now)
            #expect(result)
        }
        #expect(registry.gaps == 2)
        do {
            let result = registry.admit(message("a", incarnation: 1, seq: .max, beat), now: now)
            #expect(result)
        }
        #expect(registry.gaps == Int.max)
        do {
            let result = registry.admit(message("a", incarnation: 1, seq: .max, beat), now: now)
            #expect(result)
        }
        // Evicted, then back as a new incarnation: live again.
        do {
            let result = registry.move("a", to: .lost)
            #expect(result)
        }
        do {
            let result = registry.hello(message("a", incarnation: 2, seq: 1, .hello(hello)), hello, now: now)
            #expect(result == .rejoined)
        }
        #expect(registry.state(of: "a") == .live && registry.record("a")?.wasLost == true)
    }

    @Test func silenceIsNoticedForLiveAndRetiringWorkersOnly() {
        var registry = WorkerRegistry()
        let start = Date()
        for id in ["a", "b", "c"] {
            let hello = WorkerMessage.Hello(host: "h", pid: 1)
            _ = registry.hello(message(id, seq: 1, .hello(hello)), hello, now: start)
        }
        registry.move("b", to: .retiring)
        registry.move("c", to: .left)
        #expect(registry.silent(for: 2.5, now: start.addingTimeInterval(2)).isEmpty)
        #expect(registry.silent(for: 2.5, now: start.addingTimeInterval(3)) == ["a", "b"])
    }
}

struct UnitSchedulerTests {
    func step(_ load: String) throws -> RunPlan.Step {
        let json = #"{"vector_id": "v", "name": "V", "duration_sec": 10, "load": \#(load), "request_types": [{"name": "a", "url": "/a", "frequency": 100}]}"#
        return RunPlan.Step(vector: try #require(VectorValidator.validate(Array(json.utf8), file: nil, baseDirectory: "/").model), dataDirectory: nil)
    }

    func scheduler(options: EngineOptions = EngineOptions(), sent: @escaping (UnitMessage) -> Void, events: @escaping (String, EventDetail) -> Void = { _, _ in }) -> UnitScheduler {
        UnitScheduler(runID: "r", target: "http://127.0.0.1:1", options: options, seed: 1, lead: 0.5,
                      send: { sent($0); return nil }, event: events)
    }

    @Test func aWindowSplitsTheLoadExactly() throws {
        var sent: [UnitMessage] = []
        var s = scheduler { sent.append($0) }
        s.issue(step: try step(#"{"target_rps": 1000}"#), vectorIndex: 0, vectorStartMs: 0, from: 0, to: 2000, epoch: 0, workers: ["a", "b", "c"])
        #expect(sent.count == 3)
        #expect(abs(sent.compactMap(\.unit.load.openRate).reduce(0, +) - 1000) < 1e-9)
        sent = []
        s.issue(step: try step(#"{"virtual_users": 10}"#), vectorIndex: 0, vectorStartMs: 0, from: 0, to: 2000, epoch: 0, workers: ["a", "b", "c"])
        let users = sent.map { unit -> Int in if case .closed(let n) = unit.unit.load { return n } else { return -1 } }
        #expect(users == [4, 3, 3] && sent.map(\.unit.firstUserIndex) == [0, 4, 7], "users spread without overlap: \(users)")
        sent = []
        s.issue(step: try step(#"{"virtual_users": 2}"#), vectorIndex: 0, vectorStartMs: 0, from: 0, to: 2000, epoch: 0, workers: ["a", "b", "c"])
        #expect(sent.count == 2, "no unit with zero users")
        // Cut from the middle of a ramp, a window starts where the ramp stands.
        let json = #"{"vector_id": "ramp", "name": "R", "ramp_up_time_sec": 4, "duration_sec": 10, "load": {"target_rps": 100}, "request_types": [{"name": "a", "url": "/a", "frequency": 100}]}"#
        let ramped = RunPlan.Step(vector: try #require(VectorValidator.validate(Array(json.utf8), file: nil, baseDirectory: "/").model), dataDirectory: nil)
        sent = []
        s.issue(step: ramped, vectorIndex: 0, vectorStartMs: 0, from: 2000, to: 4000, epoch: 0, workers: ["a"])
        #expect(sent.first?.unit.rampFrom == 0.5 && sent.first?.unit.rampUpSec == 2)
    }

    @Test func aReissueCarriesTheRunsOptionsAndAvoidsTheRefuser() throws {
        var sent: [UnitMessage] = []
        var events: [String] = []
        var options = EngineOptions()
        options.requestTimeoutMs = 77
        options.httpVersion = .http2
        var s = scheduler(options: options, sent: { sent.append($0) }, events: { kind, _ in events.append(kind) })
        let now = Date()
        let startMs = Int64(now.timeIntervalSince1970 * 1000)
        s.issue(step: try step(#"{"target_rps": 100}"#), vectorIndex: 0, vectorStartMs: startMs, from: startMs, to: startMs + 4000, epoch: 0, workers: ["a", "b"], now: now)
        let first = try #require(sent.first?.unit.unitID)
        s.held(first, by: "a")
        sent = []
        s.reissue(first, lastSeen: now, epoch: 1, workers: ["a", "b"], refusedBy: "a", now: now)
        #expect(sent.count == 1 && sent.allSatisfy { $0.options == options && $0.unit.epoch == 1 }, "\(sent.map(\.options))")
        #expect(abs((sent.first?.unit.load.openRate ?? 0) - 50) < 1e-9, "the refused half, all to b")
        #expect(events == ["unit_reassigned"])
        // b refuses its part too: nobody is left to take it.
        let second = try #require(sent.first?.unit.unitID)
        sent = []
        s.reissue(second, lastSeen: now, epoch: 1, workers: ["a", "b"], refusedBy: "b", now: now)
        #expect(sent.isEmpty && events.last == "unit_dropped")
        #expect(!s.isOpen(first) && !s.isOpen(second))
    }

    @Test func rateShapesAreSlicedPerWindow() {
        #expect(UnitScheduler.slice([1, 2, 3, 4], fromSecond: 1, seconds: 2) == [2, 3])
        #expect(UnitScheduler.slice([1, 2, 3, 4], fromSecond: 3.5, seconds: 3) == [4, 4, 4])
        #expect(UnitScheduler.slice([1, 2], fromSecond: 0, seconds: 0.5) == [1])
    }
}

/// The worker's clock-offset estimate, fed answers with known offsets and delays.
struct ClockOffsetEstimatorTests {
    /// An answer from a broker `offset` ms ahead, with `out` ms to get there and `back` ms to return.
    func answer(_ estimator: inout ClockOffsetEstimator, at sent: Double, offset: Double, out: Double, back: Double) {
        estimator.add(sentMs: sent, brokerMs: sent + out + offset, receivedMs: sent + out + back)
    }

    @Test func theShortestRoundTripWinsAndTheEstimateSettles() {
        var e = ClockOffsetEstimator()
        #expect(e.offsetMs == nil)
        answer(&e, at: 1_000, offset: -3000, out: 1, back: 1)
        #expect(e.offsetMs == -3000)
        // A queued answer (40 ms back, 1 ms out) alone would say −3019.5; the quick sample is trusted instead.
        answer(&e, at: 2_000, offset: -3000, out: 1, back: 40)
        #expect(e.offsetMs == -3000 && e.roundTripMs == 2)
        // The true offset drifts to −2990: the estimate moves towards it, a third at a time.
        for i in 0..<12 { answer(&e, at: 3_000 + Double(i) * 1000, offset: -2990, out: 0.5, back: 0.5) }
        #expect(abs(e.offsetMs! + 2990) < 0.1, "\(e.offsetMs!)")
    }

    /// A broker that was busy (or paused) answers late: every sample for a while has one long side. With
    /// equal clocks the estimate stays at 0, and a real offset is still found.
    @Test func aBrokerThatAnswersLateMovesNothing() {
        var e = ClockOffsetEstimator()
        // The hello waited 900 ms in the broker's queue: alone it says +450 ms ± 450.
        answer(&e, at: 1_000, offset: 0, out: 900, back: 1)
        #expect(e.offsetMs == 0, "an offset inside its own uncertainty is not applied: \(e.offsetMs!)")
        // Quick answers, then a pause of eight heartbeats answered together.
        for i in 0..<5 { answer(&e, at: 2_000 + Double(i) * 1000, offset: 0, out: 0.5, back: 0.5) }
        for i in 0..<8 { answer(&e, at: 7_000 + Double(i) * 1000, offset: 0, out: 8_000 - Double(i) * 1000, back: 1) }
        #expect(abs(e.offsetMs!) < 0.5, "\(e.offsetMs!)")
        var ahead = ClockOffsetEstimator()
        answer(&ahead, at: 1_000, offset: -3000, out: 900, back: 1)
        #expect(abs(ahead.offsetMs! + 3000 - 449.5) < 0.01, "a first late sample is used, within its uncertainty")
        for i in 0..<6 { answer(&ahead, at: 2_000 + Double(i) * 1000, offset: -3000, out: 1, back: 1) }
        #expect(abs(ahead.offsetMs! + 3000) < 2, "\(ahead.offsetMs!)")
    }

    @Test func aSteppedClockIsTakenAtOnceAndNonsenseIsRefused() {
        var e = ClockOffsetEstimator()
        answer(&e, at: 1_000, offset: 0, out: 1, back: 1)
        answer(&e, at: 2_000, offset: 5_000, out: 3, back: 3)
        #expect(e.offsetMs == 5_000, "a 5 s step is not smoothed")
        let backwards = e.add(sentMs: 10, brokerMs: 0, receivedMs: 5)
        let notANumber = e.add(sentMs: .nan, brokerMs: 0, receivedMs: 5)
        let infinite = e.add(sentMs: 0, brokerMs: .infinity, receivedMs: 5)
        #expect(!backwards && !notANumber && !infinite)
        #expect(e.offsetMs == 5_000)
    }
}

/// Loopback is decided by parsing the address, not by its first characters.
struct LoopbackTests {
    @Test func loopbackAddressesAndNamesThatOnlyLookLikeThem() {
        for host in ["127.0.0.1", "127.9.8.7", "localhost", "::1", "[::1]"] { #expect(BrokerEndpoints.isLoopback(host), "\(host)") }
        for host in ["127.evil.example", "127.0.0.1.example", "10.0.0.1", "::2", "0.0.0.0", "128.0.0.1", ""] { #expect(!BrokerEndpoints.isLoopback(host), "\(host)") }
    }
}
