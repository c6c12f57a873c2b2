/// A regular time series: one value per `step` seconds from `start`.
public struct TimeSeries: Sendable, Equatable {
    /// Epoch seconds of the first value.
    public var start: Int64
    /// Seconds between consecutive values (> 0).
    public var step: Int64
    /// The values, oldest first.
    public var values: [Double]
    /// How timestamps were written in the input; output uses the same form.
    public var timestampFormat: TimestampFormat
    /// Steps that had no observation and were filled by linear interpolation.
    public var filledSteps: Int

    public init(start: Int64, step: Int64, values: [Double], timestampFormat: TimestampFormat = .epochSeconds,
                filledSteps: Int = 0) {
        self.start = start
        self.step = step
        self.values = values
        self.timestampFormat = timestampFormat
        self.filledSteps = filledSteps
    }

    /// Epoch seconds of value `index` (which may lie past the end, for forecasts).
    public func timestamp(at index: Int) -> Int64 { start + Int64(index) * step }

    /// How values are combined when several fall into one step.
    public enum Aggregation: String, Sendable, CaseIterable {
        /// Counts (requests per interval): values add up.
        case sum
        /// Gauges (a rate, a latency, a utilisation): values average.
        case mean
    }

    /// A copy at a coarser step (a multiple of this one), combining values with `aggregation`. A trailing
    /// partial bucket is dropped, so that a sum is never understated.
    public func resampled(toStep newStep: Int64, aggregation: Aggregation) throws(ForecastError) -> TimeSeries {
        guard newStep > 0, newStep % step == 0 else {
            throw .badInput("cannot resample a series with a step of \(step) s to \(newStep) s: the new step must be a multiple")
        }
        let factor = Int(newStep / step)
        let buckets = values.count / factor
        var result = [Double](repeating: 0, count: buckets)
        for bucket in 0..<buckets {
            var total = 0.0
            for i in (bucket * factor)..<((bucket + 1) * factor) { total += values[i] }
            result[bucket] = aggregation == .sum ? total : total / Double(factor)
        }
        return TimeSeries(start: start, step: newStep, values: result, timestampFormat: timestampFormat)
    }

    /// Builds a regular series from observations at irregular or missing times.
    ///
    /// - Parameters:
    ///   - points: `(epoch seconds, value)` in any order.
    ///   - step: the sampling interval; nil detects it as the most common gap between distinct times.
    ///   - duplicates: how observations sharing one time combine.
    ///   - maxGapShare: the largest share of filled (interpolated) steps accepted.
    /// - Throws: `ForecastError.badInput` when fewer than two distinct times exist, when times do not fall on
    ///   the step grid, or when more than `maxGapShare` of the steps would have to be filled.
    public static func regularised(
        _ points: [(Int64, Double)], step: Int64? = nil, duplicates: Aggregation = .sum,
        timestampFormat: TimestampFormat = .epochSeconds, maxGapShare: Double = 0.2
    ) throws(ForecastError) -> TimeSeries {
        let sorted = points.sorted { $0.0 < $1.0 }
        var times: [Int64] = []
        var values: [Double] = []
        var counts: [Int] = []
        for (time, value) in sorted {
            if let last = times.last, last == time {
                values[values.count - 1] += value
                counts[counts.count - 1] += 1
            } else {
                times.append(time)
                values.append(value)
                counts.append(1)
            }
        }
        if duplicates == .mean {
            for i in values.indices { values[i] /= Double(counts[i]) }
        }
        guard times.count >= 2 else { throw .badInput("need at least two distinct timestamps, found \(times.count)") }
        let interval = step ?? mostCommonGap(times)
        guard interval > 0 else { throw .badInput("the sampling step must be positive") }
        let start = times[0]
        // Everything is checked before anything is allocated: a few rows far apart must not ask for a huge grid.
        let span = times[times.count - 1].subtractingReportingOverflow(start)
        guard !span.overflow, span.partialValue / interval < Int64(Self.maximumSteps) else {
            throw .badInput("the timestamps span more than \(Self.maximumSteps) steps of \(interval) s (\(timestampFormat.format(start)) to \(timestampFormat.format(times[times.count - 1])))")
        }
        let length = Int(span.partialValue / interval) + 1
        for time in times where (time - start) % interval != 0 {
            throw .badInput("timestamp \(timestampFormat.format(time)) is not on the \(interval)-second grid that starts at \(timestampFormat.format(start))")
        }
        let missing = length - times.count
        guard Double(missing) <= maxGapShare * Double(length) else {
            throw .badInput("\(missing) of \(length) steps of \(interval) s have no value; at most \(Int(maxGapShare * 100))% may be filled")
        }
        var filled = [Double?](repeating: nil, count: length)
        for (time, value) in zip(times, values) { filled[Int((time - start) / interval)] = value }
        var result = [Double](repeating: 0, count: length)
        var lastKnown = 0
        for i in 0..<length {
            if let value = filled[i] {
                if i - lastKnown > 1, let from = filled[lastKnown] {
                    for j in (lastKnown + 1)..<i {
                        let share = Double(j - lastKnown) / Double(i - lastKnown)
                        result[j] = from + (value - from) * share
                    }
                }
                result[i] = value
                lastKnown = i
            }
        }
        return TimeSeries(start: start, step: interval, values: result, timestampFormat: timestampFormat, filledSteps: missing)
    }

    /// The longest regular series built from observations: ten million steps (115 days of seconds).
    public static let maximumSteps = 10_000_000

    static func mostCommonGap(_ times: [Int64]) -> Int64 {
        var counts: [Int64: Int] = [:]
        for i in 1..<times.count {
            let gap = times[i].subtractingReportingOverflow(times[i - 1])
            if !gap.overflow { counts[gap.partialValue, default: 0] += 1 }
        }
        return counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key ?? 0
    }
}

/// What forecasting rejects or cannot do.
public enum ForecastError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The input is unusable; the message says where and why.
    case badInput(String)

    public var description: String {
        switch self {
        case .badInput(let message): return message
        }
    }
}
