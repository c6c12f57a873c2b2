/// The live page: one HTML document with a few lines of inline script that listen to `/events`
/// and swap in the status and the server-drawn SVG charts. No build step, no CDN.
enum DashboardPage {
    static func html(token: String?) -> String {
        let suffix = token.map { "?token=\($0.addingPercentEncodingForQuery)" } ?? ""
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>alv dashboard</title>
            <style>body{font-family:system-ui,sans-serif;margin:24px;max-width:1000px;color:#1a202c}
            #status{font-size:18px;font-weight:bold}.muted{color:#718096}h2{font-size:15px}
            table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #e2e8f0;padding:3px 8px;text-align:left}</style></head><body>
            <h1>alv</h1>
            <p id="status">waiting for a run…</p>
            <p class="muted">run <span id="run">–</span> · <span id="requests">0</span> requests · <a id="report" href="#" hidden>report</a> · <a href="/api/runs\(suffix)">stored runs</a></p>
            <p id="outcomes" class="muted"></p>
            <div id="charts"></div>
            <h2>Workers</h2><table id="workers"></table>
            <h2>ALV timeline</h2><table id="events"></table>
            <script>
            // The page's own query (token, once=1 for a snapshot) goes to the event stream too.
            const source = new EventSource("/events" + location.search);
            source.addEventListener("tick", (e) => {
              const d = JSON.parse(e.data);
              document.getElementById("status").textContent = d.status;
              document.getElementById("run").textContent = d.run_id || "–";
              document.getElementById("requests").textContent = d.requests_total;
              document.getElementById("charts").innerHTML = d.charts.join("");
              document.getElementById("outcomes").textContent = Object.entries(d.outcomes).map(([k, v]) => k + " " + v).join(" · ");
              const cell = (t) => { const td = document.createElement("td"); td.textContent = t; return td; };
              const fill = (id, head, rows) => {
                const table = document.getElementById(id);
                table.replaceChildren();
                const tr = document.createElement("tr");
                head.forEach((h) => { const th = document.createElement("th"); th.textContent = h; tr.appendChild(th); });
                table.appendChild(tr);
                rows.forEach((r) => { const row = document.createElement("tr"); r.forEach((c) => row.appendChild(cell(c))); table.appendChild(row); });
              };
              fill("workers", ["worker", "host", "requests", "CPU s", "RSS MB", ""], d.workers.map((w) => [w.id, w.host, w.requests, w.cpu_s.toFixed(1), w.rss_mb, w.lost ? "lost" : ""]));
              fill("events", ["at", "event", "detail"], d.events.map((e) => [e.at.slice(11, 23), e.kind, e.detail]));
              if (d.report) { const a = document.getElementById("report"); a.href = d.report + "\(suffix)"; a.hidden = false; }
            });
            source.addEventListener("end", () => source.close());
            </script>
            </body></html>
            """
    }
}

extension String {
    var addingPercentEncodingForQuery: String {
        var out = ""
        for byte in utf8 {
            if (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D || byte == 0x5F {
                out.unicodeScalars.append(UnicodeScalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded
            }
        }
        return out
    }

    var leftPadded: String { count < 2 ? "0" + self : self }
}
