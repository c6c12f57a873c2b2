import ALVReport
import ALVRun
import ALVStore
import Foundation

/// The pages of `alv serve` drawn on the server (no script needed): the stored runs, newest first, with
/// filters and a form that compares two of them.
enum ServePages {
    static let style = """
        body{font-family:system-ui,sans-serif;margin:24px;color:#1a202c}h1{font-size:20px}
        table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border:1px solid #e2e8f0;padding:4px 8px;text-align:right}
        th{background:#f7fafc}td:first-child,th:first-child,td.l{text-align:left}.pass{color:#2f855a;font-weight:bold}.fail{color:#c53030;font-weight:bold}
        .muted{color:#718096}nav a{margin-right:12px}
        """

    static func nav() -> String { "<nav><a href=\"/\">live</a><a href=\"/runs\">runs</a><a href=\"/repository\">repository</a></nav>" }

    /// `/runs?vector=ID&profile=ID`.
    /// - Parameter startable: "profile ID" / "vector ID" entries a run can start from (`alv serve`); nil hides the form.
    static func runs(_ store: MetricsStore, query: [String: String], startable: [String]?) throws -> String {
        let vectorFilter = query["vector"].flatMap { $0.isEmpty ? nil : $0 }, profileFilter = query["profile"].flatMap { $0.isEmpty ? nil : $0 }
        var rows = ""
        var shown = 0
        for id in try store.runIDs(limit: 500) {
            guard let record = try store.run(id) else { continue }
            let summary = record.summaryJSON.flatMap { try? JSONDecoder().decode(RunSummary.self, from: Data($0.utf8)) }
            let vectors = summary?.vectors.map(\.vectorID) ?? []
            if let vectorFilter, !vectors.contains(vectorFilter) { continue }
            if let profileFilter, record.profileID != profileFilter { continue }
            shown += 1
            let status = summary.map { $0.status + ($0.thresholdsPassed ? "" : ", thresholds failed") } ?? record.status
            let good = summary.map { $0.status == "completed" && $0.thresholdsPassed } ?? (record.status == "running")
            let thresholds = summary.map { s in s.thresholds.isEmpty ? "–" : "\(s.thresholds.filter(\.passed).count)/\(s.thresholds.count) passed" } ?? "–"
            rows += "<tr><td><a href=\"/runs/\(xml(id))\">\(xml(id))</a></td><td class=\"l\">\(xml(record.startedAt))</td>"
            rows += "<td class=\"l \(good ? "pass" : "fail")\">\(xml(status))</td><td class=\"l\">\(xml(record.profileID ?? ""))</td><td class=\"l\">\(xml(vectors.joined(separator: ", ")))</td>"
            rows += "<td>\(summary.map { String($0.requestsTotal) } ?? "")</td><td>\(summary.map { formatNumber($0.latencyMs.p95) } ?? "")</td>"
            rows += "<td>\(xml(thresholds))</td><td>\(summary.map { formatNumber($0.durationS) } ?? "")</td>"
            rows += "<td><input type=\"radio\" name=\"a\" value=\"\(xml(id))\"></td><td><input type=\"radio\" name=\"b\" value=\"\(xml(id))\"></td></tr>\n"
        }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>alv: stored runs</title><meta name="referrer" content="no-referrer">
            <style>\(style)</style></head><body>
            \(nav())
            <h1>Stored runs <span class="muted">(\(shown))</span></h1>
            <form method="get" action="/runs">vector <input name="vector" value="\(xml(vectorFilter ?? ""))"> profile <input name="profile" value="\(xml(profileFilter ?? ""))"> <button>filter</button></form>
            <form method="get" action="/compare">
            <table id="runs"><tr><th>run</th><th>started</th><th>status</th><th>profile</th><th>vectors</th><th>requests</th><th>p95 ms</th><th>thresholds</th><th>duration s</th><th>run</th><th>baseline</th></tr>
            \(rows)</table>
            <button>compare run with baseline</button>
            </form>
            \(startable.map(startForm) ?? "")
            </body></html>

            """
    }

    /// Start a stored profile or vector against a target; stop the one running. The request goes with the session
    /// cookie (SameSite=Strict) from this page, whose Origin the server checks.
    static func startForm(_ documents: [String]) -> String {
        let options = documents.map { entry -> String in
            let id = entry.split(separator: " ", maxSplits: 1).last.map(String.init) ?? entry
            return "<option value=\"\(xml(id))\">\(xml(entry))</option>"
        }.joined()
        return """
            <h2>Start a run</h2>
            <p><select id="input">\(options)</select> against <input id="target" size="40" placeholder="http://127.0.0.1:8080">
            <button id="start">start</button> <button id="stop">stop</button> <span id="launch" class="muted"></span></p>
            <script>
            async function post(path, body) {
              const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
              document.getElementById("launch").textContent = r.status + " " + await r.text();
            }
            document.getElementById("start").onclick = () => post("/api/runs", { input: document.getElementById("input").value, target: document.getElementById("target").value });
            document.getElementById("stop").onclick = () => post("/api/runs/stop", {});
            </script>
            """
    }

    /// Splits a query string into its (percent-decoded) parameters.
    static func parameters(_ query: String) -> [String: String] {
        var result: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0) }
            if kv.count == 2 { result[kv[0]] = kv[1] } else if kv.count == 1 { result[kv[0]] = "" }
        }
        return result
    }
}
