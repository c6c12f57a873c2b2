import ALVModel
import ALVTemplates
import Foundation

/// Open-model arrival times: rate rising linearly over the ramp-up (from a share `from` of the rate),
/// then constant.
///
/// Times come from the cumulative intensity Λ(t) = ∫rate: the next arrival solves
/// Λ(t_next) = Λ(t) + E, with E exponential (Poisson) or 1 (uniform), so the ramp is exact.
public struct ArrivalSchedule: Sendable {
    let rate: Double
    let ramp: Double
    let process: ArrivalProcess
    let from: Double
    private var intensity: Double = 0

    /// - Parameters: rate in req/s after the ramp; ramp in seconds; from: share of the rate at the start.
    public init(rate: Double, rampSeconds: Double, process: ArrivalProcess, from: Double = 0) {
        self.rate = rate
        self.ramp = max(0, rampSeconds)
        self.process = process
        self.from = min(1, max(0, from))
    }

    /// Λ(t) for t seconds after the start: rate × (from·t + (1−from)·t²/2T) during the ramp.
    func cumulative(_ t: Double) -> Double {
        if ramp > 0 && t < ramp { return rate * (from * t + (1 - from) * t * t / (2 * ramp)) }
        return rate * ramp * (1 + from) / 2 + rate * (t - ramp)
    }

    func inverse(_ lambda: Double) -> Double {
        let rampIntensity = rate * ramp * (1 + from) / 2
        if ramp > 0 && lambda < rampIntensity {
            let a = (1 - from) / (2 * ramp)
            if a < 1e-12 { return lambda / rate / max(from, 1e-12) }
            return (-from + (from * from + 4 * a * lambda / rate).squareRoot()) / (2 * a)
        }
        return ramp + (lambda - rampIntensity) / rate
    }

    /// Seconds after the start of the next arrival.
    public mutating func next(_ random: inout SeededGenerator) -> Double {
        switch process {
        case .uniform: intensity += 1
        case .poisson: intensity += -log(1 - random.nextUnit())
        }
        return inverse(intensity)
    }

    /// Expected number of arrivals in the first `t` seconds.
    public func expectedArrivals(until t: Double) -> Double { cumulative(t) }
}
