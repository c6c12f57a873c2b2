/// The live page: one HTML document with a few lines of inline script that listen to `/events`
/// and swap in the status and the server-drawn SVG charts. No build step, no CDN.
enum DashboardPage {
    static func html(token: String?) -> String {
        let suffix = token.map { "?token=\($0.addingPercentEncodingForQuery)" } ?? ""
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>alv dashboard</title>
            <style>body{font-family:system-ui,sans-serif;margin:24px;max-width:1000px;color:#1a202c}
            #status{font-size:18px;font-weight:bold}.muted{color:#718096}</style></head><body>
            <h1>alv</h1>
            <p id="status">waiting for a run…</p>
            <p class="muted">run <span id="run">–</span> · <span id="requests">0</span> requests · <a id="report" href="#" hidden>report</a> · <a href="/api/runs\(suffix)">stored runs</a></p>
            <div id="charts"></div>
            <script>
            // The page's own query (token, once=1 for a snapshot) goes to the event stream too.
            const source = new EventSource("/events" + location.search);
            source.addEventListener("tick", (e) => {
              const d = JSON.parse(e.data);
              document.getElementById("status").textContent = d.status;
              document.getElementById("run").textContent = d.run_id || "–";
              document.getElementById("requests").textContent = d.requests_total;
              document.getElementById("charts").innerHTML = d.charts.join("");
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
