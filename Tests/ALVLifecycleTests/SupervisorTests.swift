import ALVLifecycle
import Foundation
import Synchronization
import Testing

final class Recorder: Sendable {
    let lines = Mutex<[String]>([])
    func add(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

final class LoopService: Service {
    let name: String
    let recorder: Recorder
    let failAfter: Double?
    init(_ name: String, recorder: Recorder, failAfter: Double? = nil) {
        self.name = name
        self.recorder = recorder
        self.failAfter = failAfter
    }
    struct Failure: Error, CustomStringConvertible { var description: String { "scripted failure" } }
    func run(stop: CancellationFlag) throws {
        let began = Date()
        recorder.add("\(name) started")
        while !stop.isCancelled {
            if let failAfter, Date().timeIntervalSince(began) > failAfter { throw Failure() }
            usleep(5_000)
        }
        recorder.add("\(name) stopped")
    }
}

struct SupervisorTests {
    @Test func servicesStopNewestFirstWhenTheMainWorkEnds() throws {
        let recorder = Recorder()
        let supervisor = Supervisor(handleSignals: false)
        supervisor.start(LoopService("a", recorder: recorder))
        supervisor.start(LoopService("b", recorder: recorder))
        #expect(waitUntil { recorder.all.count == 2 })
        let value = supervisor.run { stop in
            #expect(!stop.isCancelled)
            return 42
        }
        #expect(value == 42)
        #expect(Array(recorder.all.suffix(2)) == ["b stopped", "a stopped"])
        #expect(supervisor.states == ["a": .stopped, "b": .stopped])
    }

    @Test func aFailingServiceStopsTheMainWorkAndIsReported() throws {
        let recorder = Recorder()
        let supervisor = Supervisor(handleSignals: false)
        supervisor.start(LoopService("flaky", recorder: recorder, failAfter: 0.1))
        supervisor.start(LoopService("steady", recorder: recorder))
        let began = Date()
        supervisor.run { stop in
            while !stop.isCancelled && Date().timeIntervalSince(began) < 10 { usleep(5_000) }
        }
        #expect(Date().timeIntervalSince(began) < 5, "the main work saw the failure")
        #expect(supervisor.failed == "flaky: scripted failure")
        #expect(supervisor.states["flaky"] == .failed("scripted failure"))
        #expect(supervisor.states["steady"] == .stopped)
    }

    @Test func mainWorkThatThrowsStillStopsEveryService() throws {
        struct Boom: Error {}
        let recorder = Recorder()
        let supervisor = Supervisor(handleSignals: false)
        supervisor.start(LoopService("a", recorder: recorder))
        #expect(throws: Boom.self) { try supervisor.run { _ in throw Boom() } }
        #expect(recorder.all.last == "a stopped")
    }

    func waitUntil(_ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(5)
        while !condition() && Date() < deadline { usleep(5_000) }
        return condition()
    }
}
