import ALVPrometheus
import Testing

/// A protobuf reader just big enough to read a WriteRequest back.
struct ProtoReader {
    var bytes: [UInt8]
    var i = 0

    mutating func varint() -> UInt64 {
        var v: UInt64 = 0, shift: UInt64 = 0
        while true {
            let b = bytes[i]
            i += 1
            v |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return v }
            shift += 7
        }
    }

    /// Fields as (number, wire type, payload bytes or the value as 8 bytes).
    mutating func fields() -> [(Int, Int, [UInt8])] {
        var out: [(Int, Int, [UInt8])] = []
        while i < bytes.count {
            let key = varint()
            switch key & 7 {
            case 0: out.append((Int(key >> 3), 0, withUnsafeBytes(of: varint().littleEndian) { Array($0) }))
            case 1:
                out.append((Int(key >> 3), 1, Array(bytes[i..<(i + 8)])))
                i += 8
            default:
                let n = Int(varint())
                out.append((Int(key >> 3), 2, Array(bytes[i..<(i + n)])))
                i += n
            }
        }
        return out
    }

    static func decode(_ body: [UInt8]) -> [(labels: [(String, String)], samples: [(Double, Int64)])] {
        var request = ProtoReader(bytes: body)
        return request.fields().map { field in
            var ts = ProtoReader(bytes: field.2)
            var labels: [(String, String)] = []
            var samples: [(Double, Int64)] = []
            for f in ts.fields() {
                var inner = ProtoReader(bytes: f.2)
                let parts = inner.fields()
                if f.0 == 1 {
                    labels.append((String(decoding: parts[0].2, as: UTF8.self), String(decoding: parts[1].2, as: UTF8.self)))
                } else {
                    let value = Double(bitPattern: parts[0].2.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
                    let timestamp = parts[1].2.withUnsafeBytes { $0.loadUnaligned(as: Int64.self) }
                    samples.append((value, timestamp))
                }
            }
            return (labels, samples)
        }
    }
}

@Suite struct RemoteWriteRequestTests {
    @Test func batchesBecomeOneSeriesEachWithSamplesInTimeOrder() {
        let a = PromSeries(name: "alv_requests_total", labels: [("run", "r1"), ("outcome", "2xx")], value: 10)
        let b = PromSeries(name: "alv_workers", labels: [("run", "r1")], value: 2)
        var a2 = a
        a2.value = 25.5
        let body = RemoteWriteRequest.encode([
            .init(timestampMs: 1_764_000_001_000, series: [a2]),
            .init(timestampMs: 1_764_000_000_000, series: [a, b]),
        ])
        let decoded = ProtoReader.decode(body)
        #expect(decoded.count == 2)
        // Labels sorted by name, __name__ first.
        #expect(decoded[0].labels.map(\.0) == ["__name__", "outcome", "run"])
        #expect(decoded[0].labels.map(\.1) == ["alv_requests_total", "2xx", "r1"])
        #expect(decoded[0].samples.map(\.0) == [10, 25.5])
        #expect(decoded[0].samples.map(\.1) == [1_764_000_000_000, 1_764_000_001_000])
        #expect(decoded[1].labels.map(\.1) == ["alv_workers", "r1"])
        #expect(decoded[1].samples.map(\.0) == [2])
    }

    @Test func textExpositionEscapesAndFormats() {
        var family = MetricFamily(name: "m", help: "h", kind: .gauge)
        family.series = [.init(name: "m", labels: [("a", "x\"y\\z\nw")], value: 3), .init(name: "m", labels: [], value: 0.25)]
        #expect(Exposition.render([family]) == "# HELP m h\n# TYPE m gauge\nm{a=\"x\\\"y\\\\z\\nw\"} 3\nm 0.25\n")
        #expect(Exposition.number(.nan) == "NaN")
        #expect(Exposition.number(-.infinity) == "-Inf")
    }
}
