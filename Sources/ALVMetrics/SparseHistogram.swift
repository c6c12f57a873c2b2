/// The non-empty counters of a `LatencyHistogram`, encoded compactly for the wire and the store:
/// a version byte, then LEB128 varints: min, max, then (index gap, count) pairs.
///
/// A typical per-second histogram of a few thousand requests takes tens to a few hundred bytes
/// instead of the dense 188 KB.
public enum SparseHistogram {
    static let version: UInt8 = 1

    public static func encode(_ histogram: LatencyHistogram) -> [UInt8] {
        var out: [UInt8] = [version]
        guard !histogram.isEmpty else { return out }
        appendVarint(histogram.minimum, to: &out)
        appendVarint(histogram.maximum, to: &out)
        var previous = -1
        histogram.counts.withUnsafeBufferPointer { counts in
            for index in 0..<counts.count where counts[index] != 0 {
                appendVarint(UInt64(index - previous), to: &out)
                appendVarint(counts[index], to: &out)
                previous = index
            }
        }
        return out
    }

    /// Decodes bytes made by `encode`.
    /// - Throws: `SparseHistogramError` for a wrong version, truncated input or an index out of range.
    public static func decode<Bytes: Collection<UInt8>>(_ bytes: Bytes) throws(SparseHistogramError) -> LatencyHistogram where Bytes.Index == Int {
        var histogram = LatencyHistogram()
        try merge(bytes, into: &histogram)
        return histogram
    }

    /// Adds the counts encoded in `bytes` to `histogram` without building a dense copy: the broker
    /// merges thousands of these a second.
    /// - Throws: `SparseHistogramError` (and leaves `histogram` unchanged) for bad bytes.
    public static func merge<Bytes: Collection<UInt8>>(_ bytes: Bytes, into histogram: inout LatencyHistogram) throws(SparseHistogramError) where Bytes.Index == Int {
        try parse(bytes as? [UInt8] ?? Array(bytes)).add(to: &histogram)
    }

    /// One encoded histogram, checked, ready to add: parse several first, then add them all, and a bad one
    /// changes none of the histograms. Checking reads the bytes once and adding once more; nothing is
    /// allocated (the broker does this for every request type of every message).
    public struct Counters: Sendable {
        let bytes: [UInt8]
        /// Where the (gap, count) pairs start.
        let pairsStart: Int
        let total: UInt64
        let minimum: UInt64
        let maximum: UInt64

        public func add(to histogram: inout LatencyHistogram) {
            guard total > 0 else { return }
            var position = pairsStart
            var index = -1
            histogram.counts.withUnsafeMutableBufferPointer { counts in
                while position < bytes.endIndex {
                    // Checked by `parse`: these reads cannot fail.
                    let gap = (try? SparseHistogram.readVarint(bytes, &position)) ?? 0
                    let count = (try? SparseHistogram.readVarint(bytes, &position)) ?? 0
                    index += Int(gap)
                    counts[index] &+= count
                }
            }
            histogram.totalCount &+= total
            histogram.minimum = Swift.min(histogram.minimum, minimum)
            histogram.maximum = Swift.max(histogram.maximum, maximum)
        }
    }

    /// - Throws: `SparseHistogramError` for a wrong version, truncated input or an index out of range.
    public static func parse(_ bytes: [UInt8]) throws(SparseHistogramError) -> Counters {
        var position = bytes.startIndex
        guard position < bytes.endIndex else { throw .truncated }
        guard bytes[position] == version else { throw .unknownVersion(bytes[position]) }
        position += 1
        guard position < bytes.endIndex else { return Counters(bytes: bytes, pairsStart: position, total: 0, minimum: 0, maximum: 0) }
        let minimum = try readVarint(bytes, &position)
        let maximum = try readVarint(bytes, &position)
        let pairsStart = position
        var index = -1
        var total: UInt64 = 0
        while position < bytes.endIndex {
            let gap = try readVarint(bytes, &position)
            let count = try readVarint(bytes, &position)
            guard gap > 0, gap <= UInt64(LatencyHistogram.countsLength), count > 0, count <= MetricsDelta.plausibleCount else { throw .corrupt }
            index += Int(gap)
            guard index < LatencyHistogram.countsLength else { throw .corrupt }
            total &+= count
        }
        guard total > 0, total <= MetricsDelta.plausibleCount, minimum <= maximum, maximum <= LatencyHistogram.highestTrackable else { throw .corrupt }
        return Counters(bytes: bytes, pairsStart: pairsStart, total: total, minimum: minimum, maximum: maximum)
    }

    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) { Varint.append(value, to: &out) }

    static func readVarint<Bytes: Collection<UInt8>>(_ bytes: Bytes, _ position: inout Int) throws(SparseHistogramError) -> UInt64 where Bytes.Index == Int {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < bytes.endIndex else { throw .truncated }
            let byte = bytes[position]
            position += 1
            guard shift < 64 else { throw .corrupt }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }
}

public enum SparseHistogramError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownVersion(UInt8)
    case truncated
    case corrupt

    public var description: String {
        switch self {
        case .unknownVersion(let v): return "histogram encoding version \(v) is not known"
        case .truncated: return "histogram bytes end early"
        case .corrupt: return "histogram bytes are corrupt"
        }
    }
}

extension LatencyHistogram {

}
