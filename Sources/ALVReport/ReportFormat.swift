import ALVRun
import Foundation

/// The report formats `alv report` writes.
public enum ReportFormat: String, CaseIterable, Sendable {
    case html, json, junit, csv

    /// File name used by `alv run --report DIR`.
    public var fileName: String {
        switch self {
        case .html: return "report.html"
        case .json: return "report.json"
        case .junit: return "junit.xml"
        case .csv: return "series.csv"
        }
    }

    public func render(_ report: RunReport) throws -> String {
        switch self {
        case .json: return try JSONReport.render(report)
        case .csv: return CSVReport.render(report)
        case .junit: return JUnitReport.render(report)
        case .html: return HTMLReport.render(report)
        }
    }
}

/// The run summary's keys (those ARCHITECTURE.md fixes) at the top level, as `alv run --json` prints them,
/// with `format_version` and `series` beside them; each series entry is one second of one request type.
enum JSONReport {
    static func render(_ report: RunReport) throws -> String {
        guard var object = try JSONSerialization.jsonObject(with: report.summary.jsonData()) as? [String: Any] else { return "{}\n" }
        let series: [[String: Any]] = report.series.map { p in
            [
                "second": p.second, "vector_id": p.vectorID, "request_type": p.requestType, "requests": p.requests, "outcomes": p.outcomes,
                "failed": p.failed, "bytes_in": p.bytesIn, "bytes_out": p.bytesOut,
                "latency_ms": ["p50": p.p50, "p90": p.p90, "p95": p.p95, "p99": p.p99, "max": p.max],
            ]
        }
        object["format_version"] = 2
        object["series"] = series
        object["target_metrics"] = report.targetMetrics.map { t in
            ["source": t.source, "name": t.name, "labels": t.labels, "kind": t.kind, "points": t.points] as [String: Any]
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// One row per second and request type.
enum CSVReport {
    static let outcomeKeys = ["2xx", "3xx", "4xx", "5xx", "timeout", "connect", "reset", "dns", "tls", "other", "cancelled", "dropped"]

    static func render(_ report: RunReport) -> String {
        var lines = [(["second", "time", "vector_id", "request_type", "requests"] + outcomeKeys + ["bytes_in", "bytes_out", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms"]).joined(separator: ",")]
        let formatter = ISO8601DateFormatter()
        for p in report.series {
            var fields = [String(p.second), formatter.string(from: Date(timeIntervalSince1970: Double(p.second))), quote(p.vectorID), quote(p.requestType), String(p.requests)]
            fields += outcomeKeys.map { String(p.outcomes[$0] ?? 0) }
            fields += [String(p.bytesIn), String(p.bytesOut)] + [p.p50, p.p90, p.p95, p.p99, p.max].map { String(format: "%.3f", $0) }
            lines.append(fields.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func quote(_ value: String) -> String {
        value.contains(where: { ",\"\n".contains($0) }) ? "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : value
    }
}

/// One test case per threshold (a failed threshold is a failure with the measured value) and one per vector.
/// The meaning matches the exit code: a failed threshold or an aborted profile fails (exit 1); a vector the
/// controller shortened or skipped did what the profile's `adjustment` asked, and is reported `skipped`
/// with the reason, not failed (the run exits 0 unless a threshold says otherwise).
enum JUnitReport {
    static func render(_ report: RunReport) -> String {
        let s = report.summary
        var cases: [String] = []
        var failures = 0
        for t in s.thresholds {
            let name = xml((t.vectorID.map { "\($0): " } ?? "") + "\(t.name) \(t.expression)")
            if t.passed {
                cases.append("    <testcase classname=\"alv.thresholds\" name=\"\(name)\"/>")
            } else {
                failures += 1
                cases.append("    <testcase classname=\"alv.thresholds\" name=\"\(name)\">\n      <failure message=\"\(xml("measured \(format(t.value)), expected \(t.expression)"))\" type=\"threshold\"/>\n    </testcase>")
            }
        }
        var skipped = 0
        for v in s.vectors {
            let name = xml(v.vectorID)
            switch v.status {
            case "completed", "cut":
                cases.append("    <testcase classname=\"alv.vectors\" name=\"\(name)\"/>")
            case "shortened", "skipped":
                skipped += 1
                cases.append("    <testcase classname=\"alv.vectors\" name=\"\(name)\">\n      <skipped message=\"\(xml("\(v.status): \(v.reason ?? "")"))\"/>\n    </testcase>")
            default:
                failures += 1
                cases.append("    <testcase classname=\"alv.vectors\" name=\"\(name)\">\n      <failure message=\"\(xml("\(v.status): \(v.reason ?? "")"))\" type=\"\(xml(v.status))\"/>\n    </testcase>")
            }
        }
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <testsuites name="alv" tests="\(cases.count)" failures="\(failures)" skipped="\(skipped)">
              <testsuite name="\(xml("alv run \(s.runID)"))" tests="\(cases.count)" failures="\(failures)" skipped="\(skipped)" time="\(format(s.durationS))">
            \(cases.joined(separator: "\n"))
              </testsuite>
            </testsuites>

            """
    }
}

public func xml(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        default:
            if scalar.value < 0x20 && scalar != "\n" && scalar != "\t" { continue }
            out.unicodeScalars.append(scalar)
        }
    }
    return out
}

func format(_ value: Double) -> String { formatNumber(value) }
