import ALVRun
import Foundation

/// The human-readable run summary.
enum SummaryText {
    static func render(_ s: RunSummary) -> String {
        var lines: [String] = []
        lines.append("run \(s.runID) \(s.status) in \(format(s.durationS)) s against \(s.target)")
        let errors = s.errors.values.reduce(0, +)
        lines.append(
            "  requests  \(s.requestsTotal) (\(format(s.achievedRPS))/s): "
                + ["2xx", "3xx", "4xx", "5xx"].map { "\($0) \(s.responses[$0] ?? 0)" }.joined(separator: ", ")
                + ", errors \(errors), dropped \(s.dropped)")
        if errors > 0 {
            lines.append("  errors    " + s.errors.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        let l = s.latencyMs
        lines.append("  latency   p50 \(format(l.p50)) ms  p90 \(format(l.p90))  p95 \(format(l.p95))  p99 \(format(l.p99))  max \(format(l.max)) (from intended send time)")
        if let phases = s.phasesMs {
            lines.append("  phases    " + ["dns", "connect", "tls", "ttfb", "transfer"].compactMap { key in
                phases[key].map { "\(key) p50 \(format($0.p50)) p99 \(format($0.p99))" }
            }.joined(separator: ", ") + " ms")
        }
        lines.append("  lag       mean \(format(s.lagMs["mean"] ?? 0)) ms, max \(format(s.lagMs["max"] ?? 0)) ms behind schedule"
                     + (s.late > 0 ? "; \(s.late) sent more than 10 ms late" : ""))
        if s.workers.count == 1, let worker = s.workers.first {
            lines.append("  generator \(format(worker.cpuSeconds)) CPU s, peak RSS \(worker.peakRSSBytes / 1_048_576) MB")
        } else {
            for w in s.workers {
                var line = "  worker    \(w.id) (\(w.host)): \(w.requestsTotal) requests, \(format(w.cpuSeconds)) CPU s, peak RSS \(w.peakRSSBytes / 1_048_576) MB"
                if w.lost { line += ", LOST" + (w.estimatedRequestsLost.map { " (about \(Int($0)) requests not sent before its load moved)" } ?? "") }
                lines.append(line)
            }
        }
        if s.metricsGaps > 0 { lines.append("  metrics   \(s.metricsGaps) messages missing (sequence gaps)") }
        if let w = s.remoteWrite {
            lines.append("  remote    \(w.sent) samples written to \(w.url)" + (w.failed + w.dropped > 0 ? ", \(w.failed) refused, \(w.dropped) dropped" : ""))
        }
        if let b = s.scaling { lines.append("  scaling   " + b.sentence) }
        let unreachable = Set(s.events.filter { $0.kind == "observe_failed" }.compactMap { $0.detail["url"]?.description })
        if !unreachable.isEmpty { lines.append("  observe   could not scrape " + unreachable.sorted().joined(separator: ", ")) }
        let rows = s.requestTypes.map { t -> [String] in
            let typeErrors = t.errors.values.reduce(0, +) + (t.responses["4xx"] ?? 0) + (t.responses["5xx"] ?? 0)
            return ["  \(t.vectorID)/\(t.name)", String(t.requestsTotal), format(t.achievedRPS), String(typeErrors), format(t.latencyMs.p50), format(t.latencyMs.p99)]
        }
        lines.append(table(["  REQUEST TYPE", "REQUESTS", "REQ/S", "FAILED", "P50 MS", "P99 MS"], rows))
        if s.vectors.count > 1 || s.vectors.contains(where: { $0.status != "completed" }) {
            for v in s.vectors { lines.append("  vector \(v.vectorID): \(v.status)" + (v.reason.map { " (\($0))" } ?? "")) }
        }
        if s.checksPassed + s.checksFailed > 0 {
            let total = Double(s.checksPassed + s.checksFailed)
            lines.append("  checks    \(s.checksPassed) passed, \(s.checksFailed) failed (\(format((Double(s.checksPassed) / total * 1000).rounded() / 10))% passed)")
        }
        for sample in s.errorSamples.prefix(8) {
            lines.append("  error     " + describe(sample))
        }
        for t in s.thresholds {
            lines.append("  \(t.passed ? "pass" : "FAIL")  \(t.vectorID.map { "\($0): " } ?? "")\(t.name) \(t.expression) (value \(format(t.value)))")
        }
        return lines.joined(separator: "\n")
    }

    /// `checkout/buy: 5xx ×12: HTTP 503 — {"error":"injected"}`
    static func describe(_ entry: RunSummary.ErrorSampleSummary) -> String {
        let sample = entry.sample
        let body = sample.body.replacingOccurrences(of: "\n", with: " ").prefix(80)
        return "\(entry.vectorID)/\(sample.requestType): \(sample.outcome) ×\(sample.count): \(sample.message)" + (body.isEmpty ? "" : " — \(body)")
    }
}
