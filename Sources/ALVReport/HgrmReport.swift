import ALVMetrics
import Foundation

/// HdrHistogram's percentile distribution text (`.hgrm`, as `outputPercentileDistribution` writes it, values in
/// milliseconds): Value, Percentile, TotalCount, 1/(1-Percentile), five ticks per half-distance to 100%, with
/// the report's own percentiles (50, 90, 95, 99, 99.9, 99.99) among the rows, and the mean/max footer.
public enum HgrmReport {
    public static func render(_ h: LatencyHistogram) -> String {
        var lines = ["       Value     Percentile TotalCount 1/(1-Percentile)", ""]
        guard !h.isEmpty else { return lines.joined(separator: "\n") + "\n#[Mean    =        0.000, StdDeviation   =        0.000]\n#[Max     =        0.000, Total count    =            0]\n" }
        var percentiles: [Double] = []
        var p = 0.0
        while p < 100 && percentiles.count < 10_000 {
            percentiles.append(p)
            let halfDistance = pow(2, (log2(100 / (100 - p))).rounded(.down) + 1)
            p += 100 / (halfDistance * 5)
            if 100 - p < 1e-9 { break }
        }
        percentiles += [50, 90, 95, 99, 99.9, 99.99]
        let sorted = Array(Set(percentiles)).sorted()
        let values = h.values(atPercentiles: sorted)
        let counts = h.counts(atOrBelow: values)
        for (i, percentile) in sorted.enumerated() {
            let inverse = 1 / (1 - percentile / 100)
            lines.append(String(format: "%12.3f %2.12f %10d %14.2f", Double(values[i]) / 1000, percentile / 100, counts[i], inverse))
        }
        lines.append(String(format: "%12.3f %2.12f %10d", Double(h.maximum) / 1000, 1.0, h.totalCount))
        // The mean and standard deviation from bucket midpoints, as the histogram keeps them.
        var sum = 0.0, squares = 0.0
        for (index, count) in h.counts.enumerated() where count != 0 {
            let mid = Double(LatencyHistogram.lowestValue(at: index) + LatencyHistogram.highestValue(at: index)) / 2 / 1000
            sum += mid * Double(count)
            squares += mid * mid * Double(count)
        }
        let n = Double(h.totalCount)
        let mean = sum / n
        let deviation = (max(0, squares / n - mean * mean)).squareRoot()
        lines.append(String(format: "#[Mean    = %12.3f, StdDeviation   = %12.3f]", mean, deviation))
        lines.append(String(format: "#[Max     = %12.3f, Total count    = %12d]", Double(h.maximum) / 1000, h.totalCount))
        lines.append(String(format: "#[Buckets = %12d, SubBuckets     = %12d]", LatencyHistogram.bucketCount, LatencyHistogram.subBucketCount))
        return lines.joined(separator: "\n") + "\n"
    }

    /// File names for a report's histograms: `all.hgrm` and `VECTOR.TYPE.hgrm`.
    public static func files(_ report: RunReport) -> [(name: String, text: String)] {
        report.histograms.keys.sorted { ($0 == "all" ? "" : $0) < ($1 == "all" ? "" : $1) }.map { key in
            let name = key.map { $0 == "/" || $0 == " " ? "." : $0 }.map(String.init).joined() + ".hgrm"
            return (name, render(report.histograms[key]!))
        }
    }
}
