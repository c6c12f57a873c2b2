/// The live page: one HTML document with a few lines of inline script that listen to `/events`
/// and swap in the status and the server-drawn SVG charts. No build step, no CDN.
enum DashboardPage {
    /// The page holds no data and no token: it reads the token from its URL's fragment (`#token=…`, which
    /// the browser sends to no server), keeps it in the tab's session storage, takes it out of the address
    /// bar, and sends it as `Authorization: Bearer` on every request (the event stream too, read with fetch).
    static let html = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>alv dashboard</title>
        <meta name="referrer" content="no-referrer">
        <style>body{font-family:system-ui,sans-serif;margin:24px;color:#1a202c}
        #status{font-size:18px;font-weight:bold}.muted{color:#718096}h2{font-size:15px}
        table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #e2e8f0;padding:3px 8px;text-align:left}</style></head><body>
        <h1>alv</h1>
        <p id="status">waiting for a run…</p>
        <p class="muted">run <span id="run">–</span> · <span id="requests">0</span> requests · <a href="/runs">stored runs</a><span id="report-link" hidden> · <a id="report" href="#">report</a></span></p>
        <p id="load" class="muted"></p>
        <p id="outcomes" class="muted"></p>
        <div id="charts"></div>
        <h2>Thresholds (so far)</h2><table id="thresholds"></table>
        <h2>Request types</h2><table id="types"></table>
        <h2>Workers</h2><table id="workers"></table>
        <h2>Error samples</h2><table id="errors"></table>
        <h2>ALV timeline</h2><table id="events"></table>
        <script>
        const token = (() => {
          const found = location.hash.match(/(?:^#|&)token=([^&]+)/);
          if (found) {
            sessionStorage.setItem("alv-token", decodeURIComponent(found[1]));
            const after = location.hash.match(/(?:^#|&)next=([^&]+)/);
            if (after) sessionStorage.setItem("alv-next", after[1]);
            history.replaceState(null, "", location.pathname + location.search);
          }
          return sessionStorage.getItem("alv-token") || "";
        })();
        const authorised = { headers: { Authorization: "Bearer " + token } };
        // A session cookie (HttpOnly, SameSite=Strict) so that plain links (stored runs, reports, comparisons) work.
        const session = fetch("/session", { method: "POST", headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" }, body: "{}" });
        // #token=…&next=/runs opens a page of this server once the cookie is set (a path here only).
        const next = (location.hash.match(/(?:^#|&)next=([^&]+)/) || [])[1] || sessionStorage.getItem("alv-next");
        sessionStorage.removeItem("alv-next");
        if (next) {
          const path = decodeURIComponent(next);
          if (path.startsWith("/") && !path.startsWith("//")) session.then(() => location.replace(path));
        }
        const statusLine = document.getElementById("status");
        // Links to the API and reports go through fetch (they need the token), then show what came back.
        document.addEventListener("click", async (e) => {
          const a = e.target.closest("a[data-api]");
          if (!a) return;
          e.preventDefault();
          const response = await fetch(a.getAttribute("href"), authorised);
          const blob = new Blob([await response.text()], { type: response.headers.get("content-type") || "text/plain" });
          location.href = URL.createObjectURL(blob);
        });
        function render(d) {
          statusLine.textContent = d.status;
          document.getElementById("run").textContent = d.run_id || "–";
          document.getElementById("requests").textContent = d.requests_total;
          document.getElementById("charts").innerHTML = d.charts.join("");
          document.getElementById("load").textContent = ["in flight " + (d.in_flight ?? 0)].concat(d.users != null ? ["virtual users " + d.users] : []).concat(d.planned_rps != null && d.planned_rps !== "0" ? ["planned " + d.planned_rps + " req/s"] : []).join(" · ");
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
          fill("thresholds", ["threshold", "value", ""], (d.thresholds || []).map((t) => [t.name, t.value, t.passed ? "pass" : "FAIL"]));
          fill("types", ["request type", "requests", "req/s (last second)", "p50 ms", "p95 ms", "p99 ms", "errors"], (d.types || []).map((t) => [t.name, t.requests, t.rate, t.p50, t.p95, t.p99, t.errors]));
          fill("workers", ["worker", "host", "requests", "CPU s", "RSS MB", ""], d.workers.map((w) => [w.id, w.host, w.requests, w.cpu_s.toFixed(1), w.rss_mb, w.lost ? "lost" : ""]));
          fill("events", ["at", "event", "detail"], d.events.map((e) => [e.at.slice(11, 23), e.kind, e.detail]));
          fill("errors", ["request type", "outcome", "status", "times", "message", "body"], (d.error_samples || []).map((e) => [e.request_type, e.outcome, e.status, e.count, e.message, e.body]));
          if (d.report) { document.getElementById("report").href = d.report; document.getElementById("report-link").hidden = false; }
        }
        // Server-Sent Events read with fetch (EventSource cannot send a header); the page's own query
        // (once=1 for a snapshot) goes to the stream too. Reconnects after a dropped stream until "end".
        async function follow() {
          const response = await fetch("/events" + location.search, authorised);
          if (response.status === 401) {
            statusLine.textContent = "this page needs the dashboard's token: open the URL alv printed (…/#token=…)";
            return true;
          }
          const reader = response.body.getReader(), decoder = new TextDecoder();
          let buffer = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return false;
            buffer += decoder.decode(value, { stream: true });
            let end;
            while ((end = buffer.indexOf("\\n\\n")) >= 0) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              let name = "message", data = "";
              for (const line of block.split("\\n")) {
                if (line.startsWith("event: ")) name = line.slice(7);
                else if (line.startsWith("data: ")) data += line.slice(6);
              }
              if (name === "tick") render(JSON.parse(data));
              if (name === "end") return true;
            }
          }
        }
        // The first frame, drawn by the server when the request carried the session cookie: charts before any event.
        const first = document.getElementById("first-frame");
        if (first) render(JSON.parse(first.textContent));
        (async () => {
          for (let tries = 0; tries < 1000; tries++) {
            if (await follow().catch(() => false)) return;
            await new Promise((r) => setTimeout(r, 2000));
          }
        })();
        </script>
        </body></html>
        """

    /// The page with `tick` (the tick's JSON) embedded as its first frame.
    static func withFirstFrame(_ tick: String) -> String {
        // JSON inside <script type="application/json">: only "</" could end the element early.
        let safe = tick.replacingOccurrences(of: "</", with: "<\\/")
        return html.replacingOccurrences(of: "<div id=\"charts\"></div>", with: "<script type=\"application/json\" id=\"first-frame\">\(safe)</script><div id=\"charts\"></div>")
    }
}
