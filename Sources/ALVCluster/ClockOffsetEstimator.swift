/// A worker's estimate of the broker's clock minus its own, NTP-style: each hello and heartbeat carries the
/// worker's send time t1, the broker answers at once with its time t2, and the answer arrives at t4. With
/// the network delay split evenly, offset = t2 − (t1 + t4) / 2, wrong by at most half the round trip. Of the
/// last eight samples the one with the shortest round trip is trusted (queueing only ever adds delay), and
/// the estimate moves a third of the way to it each time, or jumps when a clock was stepped.
struct ClockOffsetEstimator {
    private var samples: [(offset: Double, roundTrip: Double)] = []
    /// The broker's clock minus this one, in ms; nil before the first answer.
    private(set) var offsetMs: Double?
    /// The round trip of the sample trusted last, in ms.
    private(set) var roundTripMs: Double?

    static let window = 8
    /// A change this large is a stepped clock, taken at once rather than smoothed.
    static let stepMs = 250.0

    /// - Parameters: all in Unix milliseconds; `sentMs` and `receivedMs` on this clock, `brokerMs` on the broker's.
    /// - Returns: false for an answer that cannot be right (from the future of this clock, not finite).
    @discardableResult
    mutating func add(sentMs: Double, brokerMs: Double, receivedMs: Double) -> Bool {
        guard sentMs.isFinite, brokerMs.isFinite, receivedMs.isFinite, receivedMs >= sentMs, receivedMs - sentMs < 60_000 else { return false }
        let latest = (offset: brokerMs - (sentMs + receivedMs) / 2, roundTrip: receivedMs - sentMs)
        // A sample this far from the estimate, beyond what its own round trip could explain, is a stepped clock.
        if let current = offsetMs, abs(latest.offset - current) > Self.stepMs + latest.roundTrip / 2 {
            samples = [latest]
            offsetMs = latest.offset
            roundTripMs = latest.roundTrip
            return true
        }
        samples.append(latest)
        if samples.count > Self.window { samples.removeFirst(samples.count - Self.window) }
        let best = samples.min { $0.roundTrip < $1.roundTrip }!
        roundTripMs = best.roundTrip
        offsetMs = offsetMs.map { $0 + (best.offset - $0) / 3 } ?? best.offset
        return true
    }
}
