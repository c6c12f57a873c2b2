import ALVProtocol
import ALVTransport
import Foundation
import Synchronization

/// A worker written out by hand on real sockets, for what a real worker never does: refuse every unit, or
/// speak under an old incarnation. Runs on a thread of its own until `stop`.
final class ScriptedWorker: Sendable {
    enum Behaviour: Sendable {
        /// Answers every unit with `unit_rejected`.
        case rejectUnits
        /// Says hello as incarnation 1, then heartbeats as incarnation 0 (what an evicted incarnation had queued).
        case staleHeartbeats
    }

    let id: String
    private let stopFlag = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    let unitsSeen = Atomic<Int>(0)
    let staleSent = Atomic<Int>(0)

    init(id: String, metricsPort: Int, workPort: Int, behaviour: Behaviour) {
        self.id = id
        let thread = Thread { [self] in
            defer { finished.signal() }
            let context = ZMQContext()
            guard let pub = try? ZMQSocket(context, .xpub), let pull = try? ZMQSocket(context, .pull) else { return }
            try? pub.connect("tcp://127.0.0.1:\(metricsPort)")
            var subscribed = false
            let patience = Date().addingTimeInterval(10)
            while !subscribed && Date() < patience && !stopFlag.load(ordering: .relaxed) {
                if ZMQPoller.readable([pub], timeoutMs: 50)[0], let frames = try? pub.receive(dontWait: true), frames.first?.first == 1 { subscribed = true }
            }
            try? pull.connect("tcp://127.0.0.1:\(workPort)")
            var seq: UInt64 = 0
            let incarnation = behaviour == .staleHeartbeats ? 1 : 0
            func send(_ body: WorkerMessage.Body, incarnation: Int) {
                seq += 1
                if let frames = try? WireCodec.encode(WorkerMessage(worker: id, incarnation: incarnation, seq: seq, body)) { _ = try? pub.send(frames) }
            }
            send(.hello(.init(host: "scripted", pid: getpid())), incarnation: incarnation)
            var nextBeat = Date()
            while !stopFlag.load(ordering: .relaxed) {
                if ZMQPoller.readable([pull], timeoutMs: 20)[0] {
                    while let frames = try? pull.receive(dontWait: true) {
                        guard let (_, unit) = try? WireCodec.decode(frames, topics: ["unit"], as: UnitMessage.self) else { continue }
                        unitsSeen.add(1, ordering: .relaxed)
                        send(.unitRejected(.init(unitID: unit.unit.unitID, runID: unit.unit.runID, reason: "scripted refusal")), incarnation: incarnation)
                    }
                }
                if Date() >= nextBeat {
                    nextBeat = Date().addingTimeInterval(0.5)
                    send(.heartbeat(.init(cpuSeconds: 0, rssBytes: 0, runningUnits: 0)), incarnation: incarnation)
                    if behaviour == .staleHeartbeats {
                        send(.heartbeat(.init(cpuSeconds: 0, rssBytes: 0, runningUnits: 0)), incarnation: 0)
                        staleSent.add(1, ordering: .relaxed)
                    }
                }
            }
        }
        thread.start()
    }

    func stop() {
        stopFlag.store(true, ordering: .relaxed)
        finished.wait()
    }
}
