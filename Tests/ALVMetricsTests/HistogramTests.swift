@testable import ALVMetrics
import ALVTemplates
import Foundation
import Testing

@Suite struct HistogramTests {
    func sample(_ count: Int, seed: UInt64) -> [UInt64] {
        var random = SeededGenerator(seed: seed)
        // Log-uniform from 10 µs to 10 s: every bucket range gets exercised.
        return (0..<count).map { _ in UInt64(exp(log(10.0) + random.nextUnit() * (log(10_000_000.0) - log(10.0)))) }
    }

    @Test func percentilesAreWithinOneTenthOfAPercent() {
        let values = sample(100_000, seed: 1)
        var histogram = LatencyHistogram()
        values.forEach { histogram.record($0) }
        let sorted = values.sorted()
        for p in [1.0, 25, 50, 90, 95, 99, 99.9, 100] {
            let exact = sorted[max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1)]
            let reported = histogram.value(atPercentile: p)
            #expect(Double(reported) >= Double(exact) * 0.999 && Double(reported) <= Double(exact) * 1.001 + 1, "p\(p): exact \(exact), reported \(reported)")
        }
        #expect(histogram.totalCount == 100_000)
        #expect(histogram.minimum == sorted.first && histogram.maximum == sorted.last)
    }

    @Test func mergingEqualsRecordingEverything() {
        let a = sample(5000, seed: 2), b = sample(7000, seed: 3)
        var left = LatencyHistogram(), right = LatencyHistogram(), all = LatencyHistogram()
        a.forEach { left.record($0); all.record($0) }
        b.forEach { right.record($0); all.record($0) }
        left.merge(right)
        #expect(left == all)
    }

    @Test func valuesBeyondOneHourAreClamped() {
        var histogram = LatencyHistogram()
        histogram.record(UInt64.max)
        histogram.record(0)
        #expect(histogram.maximum == LatencyHistogram.highestTrackable)
        #expect(histogram.value(atPercentile: 100) == LatencyHistogram.highestTrackable)
        #expect(histogram.value(atPercentile: 50) == 0)
    }

    @Test func sparseEncodingRoundTripsAndIsSmall() throws {
        var histogram = LatencyHistogram()
        sample(3000, seed: 4).forEach { histogram.record($0) }
        let bytes = SparseHistogram.encode(histogram)
        #expect(bytes.count < 8000, "\(bytes.count) bytes")
        #expect(try SparseHistogram.decode(bytes) == histogram)
        #expect(try SparseHistogram.decode(SparseHistogram.encode(LatencyHistogram())).isEmpty)
    }

    /// Every strict prefix of an encoding must be rejected or decode to fewer counts, never crash.
    @Test func everySplitOfAnEncodingIsHandled() {
        var histogram = LatencyHistogram()
        sample(200, seed: 5).forEach { histogram.record($0) }
        let bytes = SparseHistogram.encode(histogram)
        for end in 0..<bytes.count {
            if let decoded = try? SparseHistogram.decode(bytes[0..<end]) {
                #expect(decoded.totalCount < histogram.totalCount || end == bytes.count)
            }
        }
    }

    @Test func hostileBytesNeverCrash() {
        var random = SeededGenerator(seed: 6)
        for _ in 0..<20_000 {
            let count = Int(random.next(upperBound: 40 as UInt64))
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            if !bytes.isEmpty && random.next(upperBound: 2 as UInt64) == 0 { bytes[0] = 1 }
            _ = try? SparseHistogram.decode(bytes)
        }
        #expect(throws: SparseHistogramError.unknownVersion(9)) { try SparseHistogram.decode([9]) }
        #expect(throws: SparseHistogramError.truncated) { try SparseHistogram.decode([1, 0x80]) }
    }

    @Test func deltasSurviveJSON() throws {
        var metrics = RequestMetrics()
        metrics.outcomes[.status2xx] = 10
        metrics.outcomes[.timeout] = 2
        metrics.bytesIn = 1234
        metrics.latency.record(1500)
        metrics.curlErrors[56] = 1
        let delta = MetricsDelta(second: 1_796_115_600, requestTypes: ["browse": RequestDelta(metrics)], cpuSeconds: 0.25, rssBytes: 1 << 20)
        let decoded = try JSONDecoder().decode(MetricsDelta.self, from: JSONEncoder().encode(delta))
        #expect(decoded == delta)
        #expect(try decoded.requestTypes["browse"]?.metrics() == metrics)
    }
}

@Suite struct PercentileBatchTests {
    @Test func onePassAgreesWithOneAtATime() {
        var random = SeededGenerator(seed: 11)
        var histogram = LatencyHistogram()
        for _ in 0..<20_000 { histogram.record(UInt64(exp(5 + 6 * random.nextUnit()))) }
        let asked = [99.9, 50, 0, 95, 100, 90]
        #expect(histogram.values(atPercentiles: asked) == asked.map { histogram.value(atPercentile: $0) })
        #expect(LatencyHistogram().values(atPercentiles: [50]) == [0])
    }
}

@Suite struct ErrorSampleTests {
    @Test func theSameFailureIsCountedOnceWhateverItsNumbersAndEachTypeKeepsFive() {
        var samples: [ErrorSample] = []
        samples.note(ErrorSample(requestType: "a", outcome: "connect", status: nil, message: "Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server", body: ""))
        samples.note(ErrorSample(requestType: "a", outcome: "connect", status: nil, message: "Failed to connect to 127.0.0.1 port 1 after 12 ms: Couldn't connect to server", body: ""))
        #expect(samples.count == 1 && samples[0].count == 2 && samples[0].message.contains("after 0 ms"), "the first text is kept")
        // Another status or outcome is another failure.
        samples.note(ErrorSample(requestType: "a", outcome: "5xx", status: 503, message: "HTTP 503", body: "x"))
        samples.note(ErrorSample(requestType: "a", outcome: "5xx", status: 500, message: "HTTP 500", body: "x"))
        #expect(samples.count == 3)
        for name in ["t", "u", "v", "w", "x", "y", "z"] { samples.note(ErrorSample(requestType: "a", outcome: "check", status: 200, message: "capture \(name) found nothing", body: "")) }
        #expect(samples.filter { $0.requestType == "a" }.count == ErrorSample.perRequestType, "five distinct per request type")
        samples.note(ErrorSample(requestType: "b", outcome: "timeout", status: nil, message: "Operation timed out", body: "", count: 4))
        #expect(samples.last?.requestType == "b" && samples.last?.count == 4, "another type has room of its own")
        let long = ErrorSample(requestType: "a", outcome: "5xx", status: 502, message: String(repeating: "m", count: 2_000), body: String(repeating: "b", count: 2_000))
        #expect(long.message.utf8.count == ErrorSample.messageLimit && long.body.utf8.count == ErrorSample.bodyLimit)
    }
}

@Suite struct CumulativeCountTests {
    /// One pass over the counts for many `le` bounds gives the bucket-by-bucket sums.
    @Test func countsAtManyBoundsMatchOneAtATime() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            var h = LatencyHistogram()
            for _ in 0..<Int.random(in: 0...2_000, using: &random) { h.record(UInt64.random(in: 1...20_000_000, using: &random)) }
            let bounds: [UInt64] = [0, 1, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000, 1_000_000, 10_000_000, 30_000_000, .max]
            // The reference: every bucket whose highest value is within the bound, summed bucket by bucket.
            let reference = bounds.map { bound in
                h.counts.indices.reduce(UInt64(0)) { $0 + (LatencyHistogram.highestValue(at: $1) <= bound ? h.counts[$1] : 0) }
            }
            #expect(h.counts(atOrBelow: bounds) == reference)
        }
        #expect(LatencyHistogram().counts(atOrBelow: [1, 2]) == [0, 0])
    }
}
