/// A worker's estimate of the broker's clock minus its own, NTP-style: each hello and heartbeat carries the
/// worker's send time t1, the broker answers with its time t2, and the answer arrives at t4. With the delay
/// split evenly, offset = t2 − (t1 + t4) / 2, wrong by at most half the round trip (a broker that answers
/// late, because it was busy, makes one side long).
///
/// Of the last 32 samples the one with the shortest round trip is trusted. An offset smaller than that
/// sample's own uncertainty (half its round trip) is no evidence that the clocks differ, and counts as 0.
/// The estimate moves a third of the way to the trusted value each time, and jumps when the difference is
/// beyond any delay (a stepped clock).
struct ClockOffsetEstimator {
    private var samples: [(offset: Double, roundTrip: Double)] = []
    /// The broker's clock minus this one, in ms; nil before the first answer.
    private(set) var offsetMs: Double?
    /// The round trip of the sample trusted last, in ms.
    private(set) var roundTripMs: Double?

    static let window = 32
    /// A change this much beyond the trusted sample's uncertainty is a stepped clock, taken at once.
    static let stepMs = 250.0

    /// - Parameters: all in Unix milliseconds; `sentMs` and `receivedMs` on this clock, `brokerMs` on the broker's.
    /// - Returns: false for an answer that cannot be right (received before it was sent, not finite, a minute late).
    @discardableResult
    mutating func add(sentMs: Double, brokerMs: Double, receivedMs: Double) -> Bool {
        guard sentMs.isFinite, brokerMs.isFinite, receivedMs.isFinite, receivedMs >= sentMs, receivedMs - sentMs < 60_000 else { return false }
        let latest = (offset: brokerMs - (sentMs + receivedMs) / 2, roundTrip: receivedMs - sentMs)
        samples.append(latest)
        if samples.count > Self.window { samples.removeFirst(samples.count - Self.window) }
        var best = samples.min { $0.roundTrip < $1.roundTrip }!
        // A clock stepped since the best sample: the latest disagrees with it beyond both their delays.
        if abs(latest.offset - best.offset) > Self.stepMs + (latest.roundTrip + best.roundTrip) / 2 {
            samples = [latest]
            best = latest
        }
        roundTripMs = best.roundTrip
        let trusted = abs(best.offset) <= best.roundTrip / 2 ? 0 : best.offset
        if let current = offsetMs, abs(trusted - current) <= Self.stepMs + best.roundTrip / 2 {
            offsetMs = current + (trusted - current) / 3
        } else {
            offsetMs = trusted
        }
        return true
    }
}
