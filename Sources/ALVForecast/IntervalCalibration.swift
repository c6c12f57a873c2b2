import Foundation

/// Prediction intervals from backtest errors: how wide an interval must be at each step ahead (and at each
/// phase of the day) for it to cover what it says, whatever the model believes about its own errors.
///
/// `AutoForecaster` collects one `Sample` per backtest point and hands them here with the final forecast.
/// The methods:
/// - `model`: the model's own spread per step, times one factor per level from the standardised errors
///   (never narrower than the model's own interval).
/// - `modelScaled`: as `model`, and narrower than the model's own interval where its errors say so.
/// - `modelPhase`: as `modelScaled`, times a factor per phase of the shortest season from the standardised
///   errors, shrunk toward 1 by how much the phases really differ (empirical Bayes on the log variance
///   per phase): night and day get their own width where the errors say they differ, none otherwise.
/// - `step`: the spread per step ahead measured from the errors themselves (mean squared error per step,
///   made non-decreasing in the step: errors grow with the step), one factor per level on top.
/// - `stepPhase`: as `step`, times a factor per phase of the shortest season (night and day differ on
///   most demand series), shrunk toward 1 where a phase has few errors.
/// - `stepLevel`, `stepLevelPhase`: as `step` and `stepPhase` with errors scaled by the forecast level
///   to a power (0–1) fitted to them (a busy hour errs more than a quiet one).
///
/// The default was chosen on held-out origins of series alv does not report on (`scripts/bench-calibration`
/// prints that table); see `IntervalMethod.standard`.
public enum IntervalMethod: String, CaseIterable, Sendable {
    case model
    case modelScaled = "model-scaled"
    case modelPhase = "model-phase"
    case step
    case stepPhase = "step-phase"
    case stepLevel = "step-level"
    case stepLevelPhase = "step-level-phase"

    /// The method `auto` uses: the best score on `scripts/bench-calibration`'s tuning series (pooled 80%
    /// and 95% coverage closest to nominal plus the mean per-series deviation). Measured there on
    /// held-out origins, pooled 80%/95%: tuning set 0.783/0.936 (score 0.151; `model` 0.151,
    /// `model-phase` 0.188, `step` 0.273), check set 0.809/0.947 (`model-phase` 0.800/0.942). The
    /// model's spread carries the shape of the errors over the steps and the day (ETS and ARIMA spreads
    /// grow with the step, multiplicative ones with the level); the errors only set its scale.
    public static let standard: IntervalMethod = .modelScaled
}

public struct IntervalCalibration: Sendable {
    /// One backtest point: its step ahead (0 is one step), the index of its target in the history, the
    /// error (actual − forecast) and the model's own spread there.
    public struct Sample: Sendable {
        public var step: Int
        public var target: Int
        public var error: Double
        public var modelSD: Double
        /// The forecast mean there (errors of a busy hour or a high year are larger).
        public var mean: Double
    }

    public var samples: [Sample]
    /// The backtest horizon: errors within one horizon may be correlated (a whole day runs high or low);
    /// how much is measured (`intraHorizonCorrelation`) to count the independent errors.
    public var horizon: Int
    /// The season whose phases get a factor each (the shortest; nil or < 2: none).
    public var season: Int?

    /// Fewer errors than this and the forecast keeps the model's own intervals.
    public static let minimumSamples = 20
    /// Pseudo-errors of spread 1 added to each phase bucket (a phase with few errors stays near the
    /// step's spread).
    static let phasePrior = 10.0
    /// At most this many phase buckets (contiguous phases share one).
    static let maximumBuckets = 24

    public init(samples: [Sample], horizon: Int, season: Int?) {
        self.samples = samples
        self.horizon = max(1, horizon)
        self.season = season.flatMap { $0 >= 2 ? $0 : nil }
    }

    /// `forecast` with its spread and interval factors replaced by the calibrated ones; `start` is the
    /// history index of its first step (for the phases). Unchanged with too few samples.
    public func apply(_ method: IntervalMethod, to forecast: Forecast, start: Int, levels: [Double]) -> Forecast {
        var result = forecast
        let usable = samples.filter { $0.error.isFinite && $0.modelSD.isFinite && $0.modelSD > 0 && $0.step >= 0 && $0.step < horizon }
        guard usable.count >= Self.minimumSamples else { return result }
        // The signed standardised errors (their sizes set the factors; their signs show how correlated they
        // are within one origin's horizon).
        let signed: [(origin: Int, target: Int, value: Double)]
        switch method {
        case .model, .modelScaled:
            signed = usable.map { ($0.target - $0.step, $0.target, $0.error / $0.modelSD) }
        case .modelPhase:
            let z = usable.map { ($0.target - $0.step, $0.target, $0.error / $0.modelSD) }
            let factor = phaseFactors(z, correlation: Self.intraHorizonCorrelation(z))
            signed = z.map { ($0.0, $0.1, $0.2 / factor($0.1)) }
            result.sd = forecast.sd.indices.map { forecast.sd[$0] * factor(start + $0) }
        case .step, .stepPhase, .stepLevel, .stepLevelPhase:
            let withLevel = method == .stepLevel || method == .stepLevelPhase
            let power = withLevel ? levelPower(usable) : 0
            func levelFactor(_ mean: Double) -> Double { power > 0 ? pow(max(mean, levelFloor(usable)), power) : 1 }
            let scaled = usable.map { s -> Sample in var s = s; s.error /= levelFactor(s.mean); return s }
            let (stepSpread, phaseFactor) = spreads(scaled, withPhases: method == .stepPhase || method == .stepLevelPhase)
            signed = scaled.compactMap { sample in
                let s = stepSpread[sample.step] * phaseFactor(sample.target)
                return s > 0 ? (sample.target - sample.step, sample.target, sample.error / s) : nil
            }
            if power > 0 { result.statistics["calibration_level_power"] = power }
            // Beyond the backtest horizon the last step's spread grows as the model's does.
            let last = max(0, min(horizon, forecast.sd.count) - 1)
            result.sd = forecast.sd.indices.map { h in
                let base = h < horizon ? stepSpread[h]
                    : stepSpread[last] * (forecast.sd[last] > 0 ? forecast.sd[h] / forecast.sd[last] : 1)
                return base * phaseFactor(start + h) * levelFactor(h < forecast.mean.count ? forecast.mean[h] : 0)
            }
        }
        let standardised = signed.map { abs($0.value) }
        guard standardised.count >= Self.minimumSamples else { return forecast }
        // The quantile is widened as a predictive interval from few samples is: Student's t over the normal
        // quantile, times √(1 + 1/B), with B the effective number of independent errors: the horizons
        // covered when a whole horizon errs together (a day runs high), up to every error when the errors
        // within a horizon are uncorrelated (design effect 1 + (horizon − 1)ρ).
        let rho = Self.intraHorizonCorrelation(signed)
        let designEffect = 1 + Double(horizon - 1) * rho
        let blocks = max(2.0, Double(standardised.count) / designEffect)
        // And widened again by how much the errors' scale moved between the older and the newer half of
        // them: the next horizon's scale is one more draw.
        let tau2 = Self.scaleVariance(signed, designEffect: designEffect)
        result.statistics["calibration_scale_variance"] = tau2
        result.statistics["calibration_correlation"] = rho
        result.intervalScale = [:]
        for level in levels {
            let p = 0.5 + level / 200
            let z = Stats.normalQuantile(p)
            let smallSample = Stats.studentQuantile(p, degreesOfFreedom: blocks - 1) / z * (1 + 1 / blocks).squareRoot()
            var factor = Stats.quantile(standardised, level / 100) / z * smallSample * Self.mixtureWidening(level: level, scaleVariance: tau2)
            if method == .model { factor = max(factor, 1) }
            if factor.isFinite && factor > 0 { result.intervalScale[level] = min(factor, method == .model ? 8 : 1e6) }
        }
        result.statistics["calibration_errors"] = Double(standardised.count)
        result.statistics["calibration_method_" + method.rawValue] = 1
        return result
    }

    /// How much the errors' scale moves between periods: the variance τ² of the log mean square, from the
    /// squared log ratio of the later half's to the earlier half's, less its sampling noise (positive part),
    /// over 2 (each half a draw). 0 for errors whose scale stays put.
    static func scaleVariance(_ values: [(origin: Int, target: Int, value: Double)], designEffect: Double) -> Double {
        let sorted = values.sorted { $0.origin < $1.origin }
        guard sorted.count >= 2 * minimumSamples else { return 0 }
        let middle = sorted.count / 2
        let halves = [sorted[..<middle], sorted[middle...]]
        let meanSquare = halves.map { half in half.reduce(0) { $0 + $1.value * $1.value } / Double(half.count) }
        guard meanSquare[0] > 0, meanSquare[1] > 0 else { return 0 }
        let kurtosis = Self.kurtosisWithin(sorted.indices.map { ($0 < middle ? 0 : 1, sorted[$0].value) })
        let noise = (kurtosis - 1) * designEffect * (1 / Double(halves[0].count) + 1 / Double(halves[1].count))
        let logRatio = log(meanSquare[1] / meanSquare[0])
        let tau2 = max(0, logRatio * logRatio - noise) / 2
        return tau2.isFinite ? min(tau2, 4) : 0
    }

    /// The factor on a normal quantile that keeps `level` coverage when the scale is uncertain: x with
    /// E[2Φ(x·e^(−u/2)) − 1] = level for u ~ N(0, τ²) (Gauss–Hermite over u, bisection over x), over the
    /// normal quantile.
    static func mixtureWidening(level: Double, scaleVariance tau2: Double) -> Double {
        guard tau2 > 1e-6 else { return 1 }
        let nodes: [(x: Double, w: Double)] = [(-2.0201828704560856, 0.019953242059045913), (-0.9585724646138185, 0.39361932315224116),
                                               (0, 0.9453087204829419), (0.9585724646138185, 0.39361932315224116), (2.0201828704560856, 0.019953242059045913)]
        let norm = nodes.reduce(0) { $0 + $1.w }
        let target = level / 100, z = Stats.normalQuantile(0.5 + level / 200)
        func coverage(_ x: Double) -> Double {
            nodes.reduce(0) { acc, n in
                let u = (2 * tau2).squareRoot() * n.x
                return acc + n.w / norm * (2 * Stats.normalCDF(x * exp(-u / 2)) - 1)
            }
        }
        var lo = z, hi = z * 20
        for _ in 0..<60 { let mid = (lo + hi) / 2; if coverage(mid) < target { lo = mid } else { hi = mid } }
        return (lo + hi) / 2 / z
    }

    /// The kurtosis of errors within groups (each squared error over its group's mean square), at least 1.5:
    /// pooled over groups of different spread it would count their difference as tails.
    static func kurtosisWithin(_ values: [(group: Int, value: Double)]) -> Double {
        var sum2: [Int: (sum: Double, count: Double)] = [:]
        for v in values { sum2[v.group, default: (0, 0)].sum += v.value * v.value; sum2[v.group, default: (0, 0)].count += 1 }
        var fourth = 0.0
        for v in values {
            guard let g = sum2[v.group], g.sum > 0 else { continue }
            let r = v.value * v.value / (g.sum / g.count)
            fourth += r * r
        }
        return max(1.5, fourth / Double(max(1, values.count)))
    }

    /// The intra-class correlation of the errors within one origin's forecast (one-way ANOVA estimator over
    /// the origins, clamped to 0–1): 1 when a whole horizon errs together, 0 when its errors are independent.
    static func intraHorizonCorrelation(_ values: [(origin: Int, target: Int, value: Double)]) -> Double {
        var groups: [Int: (sum: Double, count: Double)] = [:]
        for v in values { groups[v.origin, default: (0, 0)].sum += v.value; groups[v.origin, default: (0, 0)].count += 1 }
        let n = Double(values.count), k = Double(groups.count)
        guard k >= 2, n > k else { return 1 }
        let grand = values.reduce(0) { $0 + $1.value } / n
        var between = 0.0, within = 0.0
        for g in groups.values { between += g.count * (g.sum / g.count - grand) * (g.sum / g.count - grand) }
        for v in values { let g = groups[v.origin]!; within += (v.value - g.sum / g.count) * (v.value - g.sum / g.count) }
        let msb = between / (k - 1), msw = within / (n - k)
        let n0 = (n - groups.values.reduce(0) { $0 + $1.count * $1.count } / n) / (k - 1)
        let rho = (msb - msw) / (msb + (n0 - 1) * msw)
        return rho.isFinite ? min(1, max(0, rho)) : 1
    }

    /// A factor per phase of the season for standardised errors `z`: the log of each phase's mean square,
    /// shrunk toward the pooled one by its sampling noise against the spread between phases (method of
    /// moments). The noise of a phase's log mean square is (kurtosis − 1) / n_eff with n_eff its errors
    /// over the design effect of their origins (1 + (errors per origin − 1)ρ). All 1 without a season.
    func phaseFactors(_ z: [(origin: Int, target: Int, value: Double)], correlation rho: Double) -> (Int) -> Double {
        guard let season else { return { _ in 1 } }
        let buckets = min(season, Self.maximumBuckets)
        func bucket(_ target: Int) -> Int { (((target % season) + season) % season) * buckets / season }
        var sum2 = [Double](repeating: 0, count: buckets), count = [Double](repeating: 0, count: buckets)
        var origins = [Set<Int>](repeating: [], count: buckets)
        var pooled2 = 0.0
        for v in z {
            let b = bucket(v.target), v2 = v.value * v.value
            sum2[b] += v2; count[b] += 1; origins[b].insert(v.origin)
            pooled2 += v2
        }
        let n = Double(z.count)
        guard n > 0, pooled2 > 0 else { return { _ in 1 } }
        let kurtosis = Self.kurtosisWithin(z.map { (bucket($0.target), $0.value) })
        let logPooled = log(pooled2 / n)
        var deviation = [Double](repeating: 0, count: buckets), noise = [Double](repeating: 0, count: buckets)
        var used: [Int] = []
        for b in 0..<buckets where count[b] >= 2 && sum2[b] > 0 {
            let perOrigin = count[b] / Double(max(1, origins[b].count))
            let effective = count[b] / (1 + (perOrigin - 1) * rho)
            deviation[b] = log(sum2[b] / count[b]) - logPooled
            noise[b] = (kurtosis - 1) / effective
            used.append(b)
        }
        guard used.count >= 2 else { return { _ in 1 } }
        let meanDeviation = used.reduce(0) { $0 + deviation[$1] } / Double(used.count)
        let spread = used.reduce(0) { $0 + (deviation[$1] - meanDeviation) * (deviation[$1] - meanDeviation) } / Double(used.count - 1)
        let tau2 = max(0, spread - used.reduce(0) { $0 + noise[$1] } / Double(used.count))
        var factor2 = [Double](repeating: 1, count: buckets)
        for b in used { factor2[b] = exp(tau2 / (tau2 + noise[b]) * (deviation[b] - meanDeviation)) }
        // Factors average to 1 over the errors (the quantile of the rescaled errors sets the scale).
        let mean = z.reduce(0) { $0 + factor2[bucket($1.target)] } / n
        let factor = factor2.map { ($0 / mean).squareRoot() }
        return { target in factor[bucket(target)] }
    }

    /// The smallest level errors are scaled by: a tenth of the mean level (night hours near zero must not
    /// get zero-width intervals).
    func levelFloor(_ usable: [Sample]) -> Double {
        0.1 * usable.reduce(0) { $0 + abs($1.mean) } / Double(max(1, usable.count))
    }

    /// How errors grow with the level: spread ∝ mean^power, the power in 0, ¼, ½, ¾, 1 that makes the
    /// errors most likely (Gaussian, one variance per step once scaled). 0 when any mean is not positive.
    func levelPower(_ usable: [Sample]) -> Double {
        guard usable.allSatisfy({ $0.mean > 0 && $0.mean.isFinite }) else { return 0 }
        let floor = levelFloor(usable)
        var best = (power: 0.0, likelihood: -Double.infinity)
        for power in [0, 0.25, 0.5, 0.75, 1.0] {
            var sum = [Double](repeating: 0, count: horizon), count = [Double](repeating: 0, count: horizon)
            var logScale = 0.0
            for s in usable {
                let f = pow(max(s.mean, floor), power)
                sum[s.step] += (s.error / f) * (s.error / f)
                count[s.step] += 1
                logScale += log(f)
            }
            // Profile log-likelihood: −½ Σ log σ_h² per point − Σ log f (the Jacobian of the scaling).
            var likelihood = -logScale
            for (s2, c) in zip(sum, count) where c > 0 { likelihood -= 0.5 * c * log(max(s2 / c, 1e-300)) }
            if likelihood > best.likelihood { best = (power, likelihood) }
        }
        return best.power
    }

    /// Root mean squared error per step (non-decreasing in the step) and, with phases, a factor per phase
    /// of the season, fitted together: error² ≈ spread(step)² × factor(phase)².
    func spreads(_ usable: [Sample], withPhases: Bool) -> ([Double], (Int) -> Double) {
        let buckets = withPhases ? season.map { min($0, Self.maximumBuckets) } : nil
        func bucket(_ target: Int) -> Int? {
            guard let buckets, let season else { return nil }
            let phase = ((target % season) + season) % season
            return phase * buckets / season
        }
        var factor2 = [Double](repeating: 1, count: buckets ?? 0)
        var spread2 = [Double](repeating: 0, count: horizon)
        // Alternating fits converge in a few rounds: each only rescales the other.
        for _ in 0..<(buckets == nil ? 1 : 4) {
            var sum = [Double](repeating: 0, count: horizon), count = [Double](repeating: 0, count: horizon)
            for s in usable {
                let f = bucket(s.target).map { factor2[$0] } ?? 1
                sum[s.step] += s.error * s.error / f
                count[s.step] += 1
            }
            spread2 = Self.nonDecreasing(sum, weights: count)
            guard let buckets else { break }
            var bucketSum = [Double](repeating: Self.phasePrior, count: buckets), bucketCount = [Double](repeating: Self.phasePrior, count: buckets)
            for s in usable where spread2[s.step] > 0 {
                guard let b = bucket(s.target) else { continue }
                bucketSum[b] += s.error * s.error / spread2[s.step]
                bucketCount[b] += 1
            }
            factor2 = zip(bucketSum, bucketCount).map { $0 / $1 }
            // Factors average to 1 over the errors, so the step spread keeps its scale.
            var weighted = 0.0, total = 0.0
            for s in usable { if let b = bucket(s.target) { weighted += factor2[b]; total += 1 } }
            let mean = total > 0 ? weighted / total : 1
            if mean > 0 { factor2 = factor2.map { $0 / mean } }
        }
        let spread = spread2.map { $0.squareRoot() }
        let factor = factor2.map { $0.squareRoot() }
        return (spread, { target in bucket(target).map { factor[$0] } ?? 1 })
    }

    /// Weighted means per step made non-decreasing (pool adjacent violators); a step without errors takes
    /// its neighbours' value.
    static func nonDecreasing(_ sums: [Double], weights: [Double]) -> [Double] {
        var blocks: [(value: Double, weight: Double, count: Int)] = []
        for (sum, weight) in zip(sums, weights) {
            blocks.append(weight > 0 ? (sum / weight, weight, 1) : (blocks.last?.value ?? 0, 0, 1))
            while blocks.count >= 2 {
                let b = blocks[blocks.count - 1], a = blocks[blocks.count - 2]
                guard a.value > b.value else { break }
                let w = a.weight + b.weight
                let merged = w > 0 ? (a.value * a.weight + b.value * b.weight) / w : max(a.value, b.value)
                blocks.removeLast(2)
                blocks.append((merged, w, a.count + b.count))
            }
        }
        var result: [Double] = []
        for block in blocks { result += Array(repeating: block.value, count: block.count) }
        // Leading steps with no errors: the first measured value.
        if let first = result.first(where: { $0 > 0 }) { result = result.map { $0 > 0 ? $0 : first } }
        return result
    }
}
