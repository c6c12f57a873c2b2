/// An HdrHistogram-style log-linear histogram of latencies in microseconds, with three significant
/// digits from 1 µs to one hour.
///
/// Merging adds counts bucket by bucket, so percentiles over any merged window are exact to the
/// bucket (never an average of averages). The sparse encoding (`SparseHistogram`) carries only
/// non-empty buckets, for the wire and the store.
public struct LatencyHistogram: Sendable, Equatable {
    /// Largest value recorded without clamping: one hour in microseconds.
    public static let highestTrackable: UInt64 = 3_600_000_000
    static let subBucketHalfCountMagnitude = 10
    static let subBucketHalfCount = 1 << subBucketHalfCountMagnitude  // 1024
    public static let subBucketCount = subBucketHalfCount * 2  // 2048: three significant digits
    static let subBucketMask = UInt64(subBucketCount - 1)
    static let leadingZeroCountBase = 64 - subBucketHalfCountMagnitude - 1
    public static let bucketCount: Int = {
        var smallestUntrackable = UInt64(subBucketCount)
        var buckets = 1
        while smallestUntrackable <= highestTrackable {
            smallestUntrackable <<= 1
            buckets += 1
        }
        return buckets
    }()
    /// Number of counters.
    public static let countsLength = (bucketCount + 1) * subBucketHalfCount

    public internal(set) var counts: [UInt64]
    public internal(set) var totalCount: UInt64 = 0
    public internal(set) var minimum: UInt64 = .max
    public internal(set) var maximum: UInt64 = 0

    public init() {
        counts = Array(repeating: 0, count: Self.countsLength)
    }

    public var isEmpty: Bool { totalCount == 0 }

    @inline(__always)
    static func index(of value: UInt64) -> Int {
        let bucket = leadingZeroCountBase - (value | subBucketMask).leadingZeroBitCount
        let subBucket = Int(value >> UInt64(bucket))
        return ((bucket + 1) << subBucketHalfCountMagnitude) + (subBucket - subBucketHalfCount)
    }

    /// The lowest value that lands in counter `index`.
    public static func lowestValue(at index: Int) -> UInt64 {
        var bucket = (index >> subBucketHalfCountMagnitude) - 1
        var subBucket = (index & (subBucketHalfCount - 1)) + subBucketHalfCount
        if bucket < 0 {
            subBucket -= subBucketHalfCount
            bucket = 0
        }
        return UInt64(subBucket) << UInt64(bucket)
    }

    /// The highest value equivalent to the lowest value of counter `index` (within its resolution).
    public static func highestValue(at index: Int) -> UInt64 {
        let bucket = max(0, (index >> subBucketHalfCountMagnitude) - 1)
        return lowestValue(at: index) + (UInt64(1) << UInt64(bucket)) - 1
    }

    /// Records one value (clamped to `highestTrackable`).
    @inline(__always)
    public mutating func record(_ microseconds: UInt64, count: UInt64 = 1) {
        let value = min(microseconds, Self.highestTrackable)
        counts[Self.index(of: value)] &+= count
        totalCount &+= count
        if value < minimum { minimum = value }
        if value > maximum { maximum = value }
    }

    /// Adds every count of `other`.
    public mutating func merge(_ other: LatencyHistogram) {
        guard !other.isEmpty else { return }
        // Every count of `other` lies between the counters of its minimum and maximum: only those are read.
        let low = Self.index(of: other.minimum), high = Self.index(of: min(other.maximum, Self.highestTrackable))
        counts.withUnsafeMutableBufferPointer { mine in
            other.counts.withUnsafeBufferPointer { theirs in
                guard low <= high, high < mine.count else {
                    for i in 0..<mine.count where theirs[i] != 0 { mine[i] &+= theirs[i] }
                    return
                }
                for i in low...high where theirs[i] != 0 { mine[i] &+= theirs[i] }
            }
        }
        totalCount &+= other.totalCount
        minimum = min(minimum, other.minimum)
        maximum = max(maximum, other.maximum)
    }

    /// The value at `percentile` (0–100): the highest value of the bucket holding that rank, capped
    /// at the recorded maximum, as HdrHistogram reports it.
    public func value(atPercentile percentile: Double) -> UInt64 {
        guard totalCount > 0 else { return 0 }
        let clamped = min(max(percentile, 0), 100)
        let rank = max(UInt64(1), UInt64((clamped / 100 * Double(totalCount)).rounded(.up)))
        var seen: UInt64 = 0
        for (index, count) in counts.enumerated() where count != 0 {
            seen &+= count
            if seen >= rank { return min(Self.highestValue(at: index), maximum) }
        }
        return maximum
    }

    /// Several percentiles in one pass over the counters (ascending `percentiles` not required).
    public func values(atPercentiles percentiles: [Double]) -> [UInt64] {
        guard totalCount > 0 else { return percentiles.map { _ in 0 } }
        let ranks = percentiles.map { max(UInt64(1), UInt64((min(max($0, 0), 100) / 100 * Double(totalCount)).rounded(.up))) }
        let order = ranks.indices.sorted { ranks[$0] < ranks[$1] }
        var result = Array(repeating: maximum, count: percentiles.count)
        var next = 0
        var seen: UInt64 = 0
        counts.withUnsafeBufferPointer { counts in
            for index in 0..<counts.count where counts[index] != 0 {
                seen &+= counts[index]
                while next < order.count && seen >= ranks[order[next]] {
                    result[order[next]] = min(Self.highestValue(at: index), maximum)
                    next += 1
                }
                if next == order.count { break }
            }
        }
        return result
    }

    /// How many recorded values are at or below `microseconds` (to bucket resolution), for
    /// cumulative buckets such as Prometheus's `le`.
    public func count(atOrBelow microseconds: UInt64) -> UInt64 {
        counts(atOrBelow: [microseconds])[0]
    }

    /// `count(atOrBelow:)` for each of `bounds` (ascending) in one pass over the counts.
    public func counts(atOrBelow bounds: [UInt64]) -> [UInt64] { cumulative(atOrBelow: bounds).counts }

    /// `counts(atOrBelow:)` and the sum of recorded values (from bucket midpoints, as `mean` has it), in one
    /// pass: what a Prometheus histogram's `_bucket` and `_sum` need.
    public func cumulative(atOrBelow bounds: [UInt64]) -> (counts: [UInt64], sum: Double) {
        var result = [UInt64](repeating: 0, count: bounds.count)
        var next = 0
        var total: UInt64 = 0
        var sum = 0.0
        counts.withUnsafeBufferPointer { c in
            for index in c.indices where c[index] != 0 {
                let high = Self.highestValue(at: index)
                while next < bounds.count, high > bounds[next] {
                    result[next] = total
                    next += 1
                }
                total &+= c[index]
                sum += Double(c[index]) * Double(Self.lowestValue(at: index) + high) / 2
            }
        }
        while next < bounds.count {
            result[next] = total
            next += 1
        }
        return (result, sum)
    }

    /// The mean of recorded values, from bucket midpoints.
    public var mean: Double {
        guard totalCount > 0 else { return 0 }
        var sum = 0.0
        counts.withUnsafeBufferPointer { c in
            for index in c.indices where c[index] != 0 {
                sum += Double(c[index]) * Double(Self.lowestValue(at: index) + Self.highestValue(at: index)) / 2
            }
        }
        return sum / Double(totalCount)
    }

    /// Resets every count, keeping the storage.
    public mutating func reset() {
        guard totalCount > 0 else { return }
        for i in counts.indices where counts[i] != 0 { counts[i] = 0 }
        totalCount = 0
        minimum = .max
        maximum = 0
    }
}
