import ALVRun
import Foundation

/// A comparison of a run with its baseline as text, JSON (for CI) or HTML (a table and overlaid charts).
public enum ComparisonReport {
    public static func text(_ c: RunComparison) -> String {
        var lines = ["run \(c.run) against baseline \(c.baseline) (\(RunComparison.method))"]
        let header = ["REQUEST TYPE", "METRIC", "BASELINE", "RUN", "CHANGE", "VERDICT"]
        var rows: [[String]] = []
        for r in c.rows {
            let relative = r.relativeChange.map { String(format: " (%+.1f%%)", $0 * 100) } ?? ""
            rows.append([r.requestType, r.metric, "\(format(r.baseline)) \(r.unit)", "\(format(r.run)) \(r.unit)",
                         (r.change >= 0 ? "+" : "") + format(r.change) + relative, r.verdict.rawValue + (r.pValue.map { String(format: " (p=%.2g)", $0) } ?? "")])
        }
        let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max() ?? 0 }
        for row in [header] + rows {
            lines.append(row.indices.map { row[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
        if !c.onlyInRun.isEmpty { lines.append("only in the run: " + c.onlyInRun.joined(separator: ", ")) }
        if !c.onlyInBaseline.isEmpty { lines.append("only in the baseline: " + c.onlyInBaseline.joined(separator: ", ")) }
        return lines.joined(separator: "\n") + "\n"
    }

    public static func json(_ c: RunComparison, failOver limit: Double?) throws -> String {
        func row(_ r: RunComparison.Row) -> [String: Any] {
            ["request_type": r.requestType, "metric": r.metric, "unit": r.unit, "baseline": r.baseline, "run": r.run, "change": r.change,
             "relative_change": r.relativeChange ?? NSNull(), "p_value": r.pValue ?? NSNull(), "verdict": r.verdict.rawValue]
        }
        var object: [String: Any] = [
            "run": c.run, "baseline": c.baseline, "method": RunComparison.method, "rows": c.rows.map(row),
            "only_in_run": c.onlyInRun, "only_in_baseline": c.onlyInBaseline,
        ]
        if let limit {
            object["fail_on_regression"] = limit
            object["regressions"] = c.regressions(over: limit).map(row)
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    public static func html(_ c: RunComparison, run a: RunReport, baseline b: RunReport) -> String {
        func relative(_ r: RunReport) -> (Int64) -> Double {
            let start = r.seconds.first?.second ?? 0
            return { Double($0 - start) }
        }
        let xa = relative(a), xb = relative(b)
        let latency = SVGChart(title: "Latency over the run, all request types merged (run vs baseline, seconds from each start)", unit: "ms", series: [
            .init(name: "run p50", points: a.seconds.map { (xa($0.second), $0.p50) }, color: "#2b6cb0"),
            .init(name: "run p95", points: a.seconds.map { (xa($0.second), $0.p95) }, color: "#6b46c1"),
            .init(name: "baseline p50", points: b.seconds.map { (xb($0.second), $0.p50) }, color: "#a0aec0"),
            .init(name: "baseline p95", points: b.seconds.map { (xb($0.second), $0.p95) }, color: "#cbd5e0"),
        ])
        let throughput = SVGChart(title: "Requests per second (run vs baseline)", unit: "req/s", series: [
            .init(name: "run", points: a.seconds.map { (xa($0.second), Double($0.requests)) }, color: "#2b6cb0"),
            .init(name: "baseline", points: b.seconds.map { (xb($0.second), Double($0.requests)) }, color: "#a0aec0"),
        ])
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>alv: \(xml(c.run)) vs \(xml(c.baseline))</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:24px;color:#1a202c}
            h1{font-size:20px}table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border:1px solid #e2e8f0;padding:4px 8px;text-align:right}
            th{background:#f7fafc}td:first-child,th:first-child,td:nth-child(2){text-align:left}
            .worse{color:#c53030;font-weight:bold}.better{color:#2f855a;font-weight:bold}.same{color:#718096}.muted{color:#718096}
            </style></head><body>
            <h1>Run <a href="/runs/\(xml(c.run))">\(xml(c.run))</a> against baseline <a href="/runs/\(xml(c.baseline))">\(xml(c.baseline))</a></h1>
            <p class="muted">Verdicts: \(xml(RunComparison.method)).</p>
            <table><tr><th>request type</th><th>metric</th><th>baseline</th><th>run</th><th>change</th><th>verdict</th><th>p</th></tr>

            """
        for r in c.rows {
            let relative = r.relativeChange.map { String(format: " (%+.1f%%)", $0 * 100) } ?? ""
            html += "<tr><td>\(xml(r.requestType))</td><td>\(xml(r.metric))</td><td>\(format(r.baseline)) \(xml(r.unit))</td><td>\(format(r.run)) \(xml(r.unit))</td><td>\((r.change >= 0 ? "+" : "") + format(r.change))\(relative)</td><td class=\"\(r.verdict.rawValue)\">\(r.verdict.rawValue)</td><td>\(r.pValue.map { String(format: "%.2g", $0) } ?? "–")</td></tr>\n"
        }
        html += "</table>\n"
        if !c.onlyInRun.isEmpty { html += "<p>Only in the run: \(xml(c.onlyInRun.joined(separator: ", ")))</p>\n" }
        if !c.onlyInBaseline.isEmpty { html += "<p>Only in the baseline: \(xml(c.onlyInBaseline.joined(separator: ", ")))</p>\n" }
        html += latency.render() + "\n" + throughput.render() + "\n</body></html>\n"
        return html
    }
}
