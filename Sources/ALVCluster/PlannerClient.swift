import ALVLifecycle
import ALVProtocol
import ALVTransport
import Foundation

/// A planner outside the broker (`alv planner`): reads the broker's aggregates (topic `agg` on its control
/// channel) and answers on its metrics channel (topic `planner`) with graceful retirements and the events
/// to record. Sockets live on the thread that calls `run`.
public final class PlannerClient: ScalingContext {
    public let endpoints: BrokerEndpoints
    public private(set) var latest: BrokerAggregate?
    private let context = ZMQContext()
    private var publisher: ZMQSocket?
    private var outbox: [PlannerMessage] = []
    private let log: (String) -> Void
    private let curve: CurveClientKeys?

    public init(endpoints: BrokerEndpoints, curve: CurveClientKeys? = nil, log: @escaping (String) -> Void = { _ in }) {
        self.endpoints = endpoints
        self.curve = curve
        self.log = log
    }

    // MARK: ScalingContext

    public func plannedPeak(from: Date, to: Date) -> (rps: Double, users: Int) {
        guard let latest, !latest.demandAhead.isEmpty else { return (0, 0) }
        let base = Date(timeIntervalSince1970: latest.at)
        let first = max(0, Int(from.timeIntervalSince(base)))
        let last = min(latest.demandAhead.count - 1, Int(to.timeIntervalSince(base)))
        guard first <= last else { return (latest.demandAhead.last ?? 0, latest.usersAhead.last ?? 0) }
        return (latest.demandAhead[first...last].max() ?? 0, latest.usersAhead[first...last].max() ?? 0)
    }

    public func plannedRate(at time: Date) -> (mean: Double, upper: Double) {
        let rate = plannedPeak(from: time, to: time).rps
        return (rate, rate)
    }

    public var lastSecondRate: Double? { latest?.observedRPS }
    public var cpuPerRequest: Double? { latest?.cpuPerRequest }
    public var saturation: (droppedShare: Double, lagMs: Double)? {
        guard let latest, let dropped = latest.droppedShare, let lag = latest.lagMs else { return nil }
        return (dropped, lag)
    }
    public var issueLead: Double { latest?.issueLead ?? 0.5 }
    public var lastSchedule: ScheduleKept? { latest?.schedule }

    public func record(_ kind: String, _ detail: EventDetail) {
        outbox.append(PlannerMessage(kind: .event, event: kind, detail: detail))
        log("\(kind) " + detail.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
    }

    /// The broker notices an exited worker by its silence; nothing to add from here.
    public func workerExited(_ id: String) {}

    /// Asks the broker to retire a worker (it finishes its units and leaves).
    public func retire(worker: String) { outbox.append(PlannerMessage(kind: .retire, worker: worker)) }

    /// Connects, then calls `tick` after each aggregate (and at least every `interval` seconds) until `stop`.
    public func run(interval: Double = 0.25, stop: () -> Bool, tick: (PlannerClient) -> Void) throws {
        let control = try ZMQSocket(context, .sub)
        let publisher = try ZMQSocket(context, .xpub)
        if let curve {
            try curve.apply(to: control)
            try curve.apply(to: publisher)
        }
        try control.subscribe("agg")
        try control.connect(endpoints.control)
        try publisher.connect(endpoints.metrics)
        self.publisher = publisher
        var subscribed = false
        var lastTick = Date.distantPast
        while !stop() {
            let ready = ZMQPoller.readable([control, publisher], timeoutMs: 50)
            if ready[1] { while let frames = try publisher.receive(dontWait: true) { if frames.first?.first == 1 { subscribed = true } } }
            if ready[0] {
                while let frames = try control.receive(dontWait: true) {
                    if let (_, aggregate) = try? WireCodec.decode(frames, topics: ["agg"], as: BrokerAggregate.self) {
                        latest = aggregate
                    }
                }
            }
            if Date().timeIntervalSince(lastTick) >= interval {
                lastTick = Date()
                tick(self)
            }
            // The broker hears us only once its subscription has arrived.
            if subscribed {
                for message in outbox { if let frames = try? WireCodec.encode(topic: "planner", message) { _ = try publisher.send(frames, dontWait: true) } }
                outbox.removeAll()
            }
        }
    }
}
