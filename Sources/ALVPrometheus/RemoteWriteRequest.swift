import ALVMetrics
/// One sample of one series, as remote write and the text exposition carry it.
public struct PromSeries: Sendable, Equatable {
    public var name: String
    /// Label pairs without `__name__`, in any order (the encoders sort them).
    public var labels: [(String, String)]
    public var value: Double

    public init(name: String, labels: [(String, String)], value: Double) {
        self.name = name
        self.labels = labels
        self.value = value
    }

    public static func == (a: PromSeries, b: PromSeries) -> Bool {
        a.name == b.name && a.value.bitPattern == b.value.bitPattern && a.labels.map(\.0) == b.labels.map(\.0) && a.labels.map(\.1) == b.labels.map(\.1)
    }

    /// `__name__` and the labels, sorted by label name as Prometheus requires.
    public var sortedLabels: [(String, String)] { ([("__name__", name)] + labels).sorted { $0.0 < $1.0 } }
}

/// The remote-write 1.0 body before compression: a protobuf `prometheus.WriteRequest` of time series, each
/// with its labels and samples (`Label{name=1, value=2}`, `Sample{value=1 double, timestamp=2 int64 ms}`).
public enum RemoteWriteRequest {
    /// One batch: every series sampled at one timestamp (milliseconds since the epoch).
    public struct Batch: Sendable {
        public var timestampMs: Int64
        public var series: [PromSeries]
        public init(timestampMs: Int64, series: [PromSeries]) {
            self.timestampMs = timestampMs
            self.series = series
        }
    }

    /// Batches merged into one request: a series present in several batches gets one sample per batch, in
    /// timestamp order.
    public static func encode(_ batches: [Batch]) -> [UInt8] {
        // One batch (each second's, when the endpoint keeps up): every series once, no grouping needed.
        if batches.count == 1 {
            var out: [UInt8] = []
            out.reserveCapacity(batches[0].series.count * 120)
            var series: [UInt8] = []
            var field: [UInt8] = []
            for s in batches[0].series {
                appendSeries(s.sortedLabels, [(s.value, batches[0].timestampMs)], into: &out, series: &series, field: &field)
            }
            return out
        }
        var order: [String] = []
        var grouped: [String: (labels: [(String, String)], samples: [(Double, Int64)])] = [:]
        for batch in batches.sorted(by: { $0.timestampMs < $1.timestampMs }) {
            for s in batch.series {
                let labels = s.sortedLabels
                let key = labels.map { "\($0.0)\u{0}\($0.1)" }.joined(separator: "\u{1}")
                if grouped[key] == nil {
                    order.append(key)
                    grouped[key] = (labels, [])
                }
                grouped[key]!.samples.append((s.value, batch.timestampMs))
            }
        }
        var out: [UInt8] = []
        var series: [UInt8] = []
        var field: [UInt8] = []
        for key in order {
            let entry = grouped[key]!
            appendSeries(entry.labels, entry.samples, into: &out, series: &series, field: &field)
        }
        return out
    }

    /// One `TimeSeries` message; `series` and `field` are scratch buffers reused across calls.
    static func appendSeries(_ labels: [(String, String)], _ samples: [(Double, Int64)], into out: inout [UInt8], series: inout [UInt8], field: inout [UInt8]) {
        series.removeAll(keepingCapacity: true)
        for (name, value) in labels {
            field.removeAll(keepingCapacity: true)
            appendString(1, name, to: &field)
            appendString(2, value, to: &field)
            appendBytes(1, field, to: &series)
        }
        for (value, timestamp) in samples {
            field.removeAll(keepingCapacity: true)
            field.append(0x09)
            withUnsafeBytes(of: value.bitPattern.littleEndian) { field.append(contentsOf: $0) }
            field.append(0x10)
            appendVarint(UInt64(bitPattern: timestamp), to: &field)
            appendBytes(2, field, to: &series)
        }
        appendBytes(1, series, to: &out)
    }

    static func appendString(_ field: UInt64, _ text: String, to out: inout [UInt8]) {
        appendVarint(field << 3 | 2, to: &out)
        appendVarint(UInt64(text.utf8.count), to: &out)
        out.append(contentsOf: text.utf8)
    }

    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) { Varint.append(value, to: &out) }

    static func appendBytes(_ field: UInt64, _ bytes: [UInt8], to out: inout [UInt8]) {
        appendVarint(field << 3 | 2, to: &out)
        appendVarint(UInt64(bytes.count), to: &out)
        out.append(contentsOf: bytes)
    }
}
