import ALVModel
import ALVTemplates
import Foundation

/// Open-model arrival times: rate rising linearly over the ramp-up (from a share `from` of the rate),
/// then constant.
///
/// Times come from the cumulative intensity Λ(t) = ∫rate: the next arrival solves
/// Λ(t_next) = Λ(t) + E, with E exponential (Poisson) or 1 (uniform), so the ramp is exact.
///
/// With a shape (per-second multipliers of the rate, from a forecast), the rate is constant within each
/// second and Λ is piecewise linear; the ramp, if any, is applied at each second's midpoint.
public struct ArrivalSchedule: Sendable {
    let rate: Double
    let ramp: Double
    let process: ArrivalProcess
    let from: Double
    private var intensity: Double = 0
    /// Cumulative intensity at the start of each second of the shape, and each second's rate.
    private let steps: [(start: Double, rate: Double)]
    private var step = 0

    /// - Parameters: rate in req/s after the ramp; ramp in seconds; from: share of the rate at the start;
    ///   shape: per-second multipliers of the rate (the last one holds after the shape ends).
    public init(rate: Double, rampSeconds: Double, process: ArrivalProcess, from: Double = 0, shape: [Double]? = nil) {
        self.rate = rate
        self.ramp = max(0, rampSeconds)
        self.process = process
        self.from = min(1, max(0, from))
        var steps: [(Double, Double)] = []
        if let shape, !shape.isEmpty {
            var total = 0.0
            for (k, factor) in shape.enumerated() {
                let middle = Double(k) + 0.5
                let share = ramp > 0 && middle < ramp ? from + (1 - from) * middle / ramp : 1
                let r = max(0, rate * factor * share)
                steps.append((total, r))
                total += r
            }
        }
        self.steps = steps
    }

    /// Λ(t) for t seconds after the start: rate × (from·t + (1−from)·t²/2T) during the ramp.
    func cumulative(_ t: Double) -> Double {
        if !steps.isEmpty {
            let k = min(steps.count - 1, max(0, Int(t)))
            return steps[k].start + steps[k].rate * (t - Double(k))
        }
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
        if !steps.isEmpty {
            // Intensity only grows: move forward through the seconds.
            while step + 1 < steps.count && steps[step + 1].start <= intensity { step += 1 }
            let current = steps[step]
            guard current.rate > 0 else { return .infinity }
            return Double(step) + (intensity - current.start) / current.rate
        }
        return inverse(intensity)
    }

    /// Expected number of arrivals in the first `t` seconds.
    public func expectedArrivals(until t: Double) -> Double { cumulative(t) }
}
