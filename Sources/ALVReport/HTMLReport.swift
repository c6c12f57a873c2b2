import ALVMetrics
import ALVProtocol
import ALVRun
import Foundation

/// A single self-contained HTML file: summary, thresholds, vectors, request types, charts over
/// time (inline SVG), workers and events. No script, no stylesheet or font from the network.
enum HTMLReport {
    /// Workers live each second (from join, leave and loss events) and the planner's target (from its
    /// decisions); nil for an in-process run.
    static func workerSeries(_ s: RunSummary, start: Int64, seconds: [Int64]) -> SVGChart? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var changes: [(Int64, Int)] = [], planned: [(Int64, Int)] = []
        for event in s.events {
            guard let at = formatter.date(from: event.at).map({ Int64($0.timeIntervalSince1970) }) else { continue }
            switch event.kind {
            case "worker_joined", "worker_rejoined": changes.append((at, 1))
            case "worker_left", "worker_lost": changes.append((at, -1))
            case "scaling_decision": if let n = event.detail["workers_after"]?.int { planned.append((at, n)) }
            default: break
            }
        }
        let initial = max(0, s.workers.count - changes.filter { $0.1 > 0 }.count)
        // In-process runs have one pseudo-worker, "local": nothing to chart.
        guard s.workers.contains(where: { $0.id != "local" }), let first = seconds.first, let last = seconds.last else { return nil }
        var live: [(x: Double, y: Double)] = [], plan: [(x: Double, y: Double)] = []
        for second in first...last {
            let count = initial + changes.filter { $0.0 <= second }.reduce(0) { $0 + $1.1 }
            live.append((Double(second - start), Double(max(0, count))))
            if let target = planned.last(where: { $0.0 <= second }) { plan.append((Double(second - start), Double(target.1))) }
        }
        var series: [SVGChart.Series] = [.init(name: "live", points: live, color: "#2b6cb0")]
        if !plan.isEmpty { series.append(.init(name: "planned", points: plan, color: "#b7791f")) }
        return SVGChart(title: "Workers: live and planned", unit: "workers", series: series)
    }

    static func render(_ report: RunReport) -> String {
        let s = report.summary
        let start = report.series.map(\.second).min() ?? 0
        let seconds = Array(Set(report.series.map(\.second))).sorted()
        func x(_ second: Int64) -> Double { Double(second - start) }

        // Requests per second per request type.
        var byType: [String: [RunReport.Point]] = [:]
        for point in report.series {
            byType["\(point.vectorID)/\(point.requestType)", default: []].append(point)
        }
        var rpsSeries: [SVGChart.Series] = []
        for (i, type) in byType.keys.sorted().enumerated() {
            let points = byType[type]!.map { (x: x($0.second), y: Double($0.requests)) }
            rpsSeries.append(.init(name: type, points: points, color: SVGChart.palette[i % SVGChart.palette.count]))
        }
        // Latency percentiles, failures, throughput and bytes per second, all types merged (one histogram a second).
        let merged = report.seconds
        let failed = merged.map { (x: x($0.second), y: Double($0.failed)) }
        let bands = vectorBands(s, start: start)
        rpsSeries.insert(.init(name: "all", points: merged.map { (x($0.second), Double($0.requests)) }, color: "#1a202c"), at: 0)
        var charts = [
            SVGChart(title: "Requests per second, all and by request type", unit: "req/s", series: rpsSeries),
            SVGChart(title: "Latency of all request types merged, from intended send time", unit: "ms", series: [
                .init(name: "p50", points: merged.map { (x($0.second), $0.p50) }, color: "#2f855a"),
                .init(name: "p95", points: merged.map { (x($0.second), $0.p95) }, color: "#b7791f"),
                .init(name: "p99", points: merged.map { (x($0.second), $0.p99) }, color: "#c53030"),
            ]),
        ]
        charts += TargetCharts.charts(report.targetMetrics, start: Double(start))
        charts.append(SVGChart(title: "Failed requests per second (4xx, 5xx, transport errors)", unit: "req/s", series: [.init(name: "failed", points: failed, color: "#c53030")]))
        charts.append(SVGChart(title: "Throughput: bytes per second received and sent", unit: "KiB/s", series: [
            .init(name: "received", points: merged.map { (x($0.second), Double($0.bytesIn) / 1024) }, color: "#2b6cb0"),
            .init(name: "sent", points: merged.map { (x($0.second), Double($0.bytesOut) / 1024) }, color: "#c05621"),
        ]))
        // What the generators did not keep of the schedule, when anything: the load asked for was not the load sent.
        if merged.contains(where: { $0.dropped + $0.late > 0 }) {
            charts.append(SVGChart(title: "Arrivals not kept on schedule: dropped at the in-flight cap, sent more than 10 ms late", unit: "req/s", series: [
                .init(name: "dropped", points: merged.map { (x($0.second), Double($0.dropped)) }, color: "#c53030"),
                .init(name: "late", points: merged.map { (x($0.second), Double($0.late)) }, color: "#b7791f"),
            ]))
        }
        if let workers = workerSeries(s, start: start, seconds: seconds) { charts.append(workers) }
        for i in charts.indices { charts[i].bands = bands }

        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>alv run \(xml(s.runID))</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:24px;color:#1a202c;max-width:1100px}
            h1{font-size:20px}h2{font-size:16px;margin-top:28px}
            table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border:1px solid #e2e8f0;padding:4px 8px;text-align:right}
            th{background:#f7fafc}td:first-child,th:first-child{text-align:left}
            .pass{color:#2f855a;font-weight:bold}.fail{color:#c53030;font-weight:bold}.muted{color:#718096}
            .cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #e2e8f0;border-radius:6px;padding:8px 12px;min-width:120px}
            .card b{display:block;font-size:18px}
            </style></head><body>
            <h1>alv run \(xml(s.runID)) <span class="\(s.status == "completed" && s.thresholdsPassed ? "pass" : "fail")">\(xml(s.status))\(s.thresholdsPassed ? "" : ", thresholds failed")</span></h1>
            <p class="muted">target \(xml(s.target))\(s.profileID.map { " · profile \(xml($0))" } ?? "") · \(format(s.durationS)) s · \(s.workers.count) worker\(s.workers.count == 1 ? "" : "s")</p>
            <div class="cards">
            <div class="card">requests<b>\(s.requestsTotal)</b></div>
            <div class="card">achieved<b>\(format(s.achievedRPS)) req/s</b></div>
            <div class="card">p50 / p99<b>\(format(s.latencyMs.p50)) / \(format(s.latencyMs.p99)) ms</b></div>
            <div class="card">failed<b>\((s.responses["4xx"] ?? 0) + (s.responses["5xx"] ?? 0) + s.errors.values.reduce(0, +))</b></div>
            <div class="card">dropped<b>\(s.dropped)</b></div>
            <div class="card">sent late<b>\(s.late)</b></div>
            <div class="card">metrics gaps<b>\(s.metricsGaps)</b></div>
            </div>

            """
        if !s.thresholds.isEmpty {
            html += "<h2>Thresholds</h2><table><tr><th>threshold</th><th>scope</th><th>measured</th><th>result</th></tr>"
            for t in s.thresholds {
                html += "<tr><td>\(xml("\(t.name) \(t.expression)"))</td><td>\(xml(t.vectorID ?? "run"))</td><td>\(format(t.value))</td><td class=\"\(t.passed ? "pass" : "fail")\">\(t.passed ? "pass" : "FAIL")</td></tr>"
            }
            html += "</table>\n"
        }
        if let b = s.scaling { html += "<p>Scaling: \(xml(b.sentence)).</p>\n" }
        html += "<h2>Over time</h2>\n" + charts.map { $0.render() }.joined(separator: "\n") + "\n"
        if let spectrum = distribution(report) { html += "<h2>Latency distribution</h2>\n" + spectrum.render() + "\n" }
        html += configuration(report)
        html += "<h2>Vectors</h2><table><tr><th>vector</th><th>status</th><th>started</th><th>ended</th><th>reason</th></tr>"
        for v in s.vectors {
            html += "<tr><td>\(xml(v.vectorID))</td><td class=\"\(["completed", "cut"].contains(v.status) ? "" : "fail")\">\(xml(v.status))</td><td>\(xml(v.startedAt ?? "–"))</td><td>\(xml(v.endedAt ?? "–"))</td><td style=\"text-align:left\">\(xml(v.reason ?? ""))</td></tr>"
        }
        html += "</table>\n<h2>Request types</h2><table><tr><th>request type</th><th>requests</th><th>req/s</th><th>2xx</th><th>4xx</th><th>5xx</th><th>errors</th><th>dropped</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>max ms</th></tr>"
        for t in s.requestTypes {
            let l = t.latencyMs
            html += "<tr><td>\(xml("\(t.vectorID)/\(t.name)"))</td><td>\(t.requestsTotal)</td><td>\(format(t.achievedRPS))</td><td>\(t.responses["2xx"] ?? 0)</td><td>\(t.responses["4xx"] ?? 0)</td><td>\(t.responses["5xx"] ?? 0)</td><td>\(t.errors.values.reduce(0, +))</td><td>\(t.dropped)</td><td>\(format(l.p50))</td><td>\(format(l.p90))</td><td>\(format(l.p95))</td><td>\(format(l.p99))</td><td>\(format(l.max))</td></tr>"
        }
        if s.requestTypes.contains(where: { $0.phasesMs != nil }) {
            html += "</table>\n<h2>Where the time went</h2><p>p50 / p99 ms per phase of completed requests (ttfb: from sending to the first byte; dns, connect and tls are 0 on a reused connection)</p><table><tr><th>request type</th>" + Phase.allCases.map { "<th>\($0.key)</th>" }.joined() + "</tr>"
            for t in s.requestTypes {
                guard let phases = t.phasesMs else { continue }
                html += "<tr><td>\(xml("\(t.vectorID)/\(t.name)"))</td>" + Phase.allCases.map { p in phases[p.key].map { "<td>\(format($0.p50)) / \(format($0.p99))</td>" } ?? "<td></td>" }.joined() + "</tr>"
            }
        }
        if s.checksPassed + s.checksFailed > 0 {
            html += "</table>\n<h2>Checks</h2><p>\(s.checksPassed) passed, \(s.checksFailed) failed</p><table><tr><th>step</th><th>passed</th><th>failed</th></tr>"
            for t in s.requestTypes where t.checksPassed != nil {
                html += "<tr><td>\(xml("\(t.vectorID)/\(t.name)"))</td><td>\(t.checksPassed ?? 0)</td><td>\(t.checksFailed ?? 0)</td></tr>"
            }
        }
        if !s.errorSamples.isEmpty {
            html += "</table>\n<h2>Error samples</h2><table><tr><th>request type</th><th>outcome</th><th>status</th><th>times</th><th>message</th><th>body (first bytes)</th></tr>"
            for e in s.errorSamples {
                let sample = e.sample
                html += "<tr><td>\(xml("\(e.vectorID)/\(sample.requestType)"))</td><td>\(xml(sample.outcome))</td><td>\(sample.status.map(String.init) ?? "")</td><td>\(sample.count)</td><td>\(xml(sample.message))</td><td><code>\(xml(sample.body))</code></td></tr>"
            }
        }
        html += "</table>\n<h2>Workers</h2><table><tr><th>worker</th><th>host</th><th>requests</th><th>CPU s</th><th>peak RSS MB</th><th>lost</th></tr>"
        for w in s.workers {
            html += "<tr><td>\(xml(w.id))</td><td>\(xml(w.host))</td><td>\(w.requestsTotal)</td><td>\(format(w.cpuSeconds))</td><td>\(w.peakRSSBytes / 1_048_576)</td><td class=\"\(w.lost ? "fail" : "")\">\(w.lost ? "lost" + (w.estimatedRequestsLost.map { " (~\(Int($0)) requests not sent)" } ?? "") : "")</td></tr>"
        }
        html += "</table>\n<h2>Events</h2><table><tr><th>at</th><th>event</th><th>detail</th></tr>"
        for e in s.events {
            let detail = e.detail.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " · ")
            html += "<tr><td>\(xml(e.at))</td><td>\(xml(e.kind))</td><td style=\"text-align:left\">\(xml(detail))</td></tr>"
        }
        html += "</table>\n<p class=\"muted\">Latency is measured from each request's intended send time. Generated by alv.</p>\n</body></html>\n"
        return html
    }

    /// The percentile spectrum of each request type and of all, over the run (HdrHistogram's plot): x is
    /// log10(1/(1−p)), so 1 is the 90th percentile, 2 the 99th, 3 the 99.9th.
    static func distribution(_ report: RunReport) -> SVGChart? {
        let keys = report.histograms.keys.sorted { ($0 == "all" ? "" : $0) < ($1 == "all" ? "" : $1) }
        guard !keys.isEmpty else { return nil }
        var percentiles: [Double] = []
        var nines = 0.0
        while nines <= 5 {
            percentiles.append(100 * (1 - pow(10, -nines)))
            nines += 0.05
        }
        var chart = SVGChart(title: "Latency by percentile (log scale of 1/(1−p)), over the whole run", unit: "ms", series: keys.prefix(8).enumerated().map { i, key in
            let h = report.histograms[key]!
            let values = h.values(atPercentiles: percentiles)
            // Beyond 1/count the percentiles repeat the maximum: stop there.
            let limit = log10(Double(max(1, h.totalCount)))
            let points = zip(percentiles, values).compactMap { p, v -> (x: Double, y: Double)? in
                let x = -log10(max(1e-12, 1 - p / 100))
                return x <= limit + 1e-9 ? (x, Double(v) / 1000) : nil
            }
            return .init(name: key, points: points, color: key == "all" ? "#1a202c" : SVGChart.palette[i % SVGChart.palette.count])
        })
        chart.xLabel = { x in
            let n = Int(x.rounded())
            return n == 0 ? "0%" : n == 1 ? "90%" : "99." + String(repeating: "9", count: max(0, n - 2)) + "%"
        }
        return chart
    }

    /// What ran: alv's version, the seed, the target, and each vector's load.
    static func configuration(_ report: RunReport) -> String {
        let s = report.summary
        var html = "<h2>Configuration</h2><table><tr><th>setting</th><th style=\"text-align:left\">value</th></tr>"
        func row(_ name: String, _ value: String) { html += "<tr><td>\(xml(name))</td><td style=\"text-align:left\">\(xml(value))</td></tr>" }
        row("target", s.target)
        if let profile = s.profileID { row("profile", profile) }
        if let c = s.configuration {
            row("alv", c.alvVersion)
            row("seed", c.seed + " (alv run --seed \(c.seed) replays the same choices)")
            row("workers", c.workers == 0 ? "in-process" : String(c.workers))
            for v in c.vectors {
                row("vector \(v.vectorID)", "\(v.name): \(v.load), \(formatNumber(v.rampUpTimeSec)) s ramp-up, \(formatNumber(v.durationSec)) s; request types \(v.requestTypes.joined(separator: ", "))")
            }
        } else {
            row("vectors", s.vectors.map(\.vectorID).joined(separator: ", "))
        }
        return html + "</table>\n"
    }

    /// Shaded spans for each vector that ran, on the chart's time axis.
    static func vectorBands(_ s: RunSummary, start: Int64) -> [(Double, Double, String)] {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return s.vectors.compactMap { v in
            guard let a = v.startedAt.flatMap(formatter.date), let b = v.endedAt.flatMap(formatter.date) else { return nil }
            return (a.timeIntervalSince1970 - Double(start), b.timeIntervalSince1970 - Double(start), v.vectorID)
        }
    }
}
