import ALVHTTPClient
import ALVModel
import Foundation

/// `GET /api/v1/query_range` in chunks that stay under the server's limit of 11,000 points per series,
/// merged back into one series per label set.
public struct RangeQuery: Sendable {
    public struct Series: Sendable, Equatable {
        /// Labels without `__name__` (kept apart in `name`).
        public var labels: [String: String]
        public var name: String?
        /// (seconds since the epoch, value), oldest first; NaN and infinite values are left out.
        public var points: [(Int64, Double)]

        public static func == (a: Series, b: Series) -> Bool {
            a.labels == b.labels && a.name == b.name && a.points.map(\.0) == b.points.map(\.0) && a.points.map(\.1) == b.points.map(\.1)
        }
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var message: String
        public var description: String { message }
    }

    public var server: String
    public var query: String
    public var start: Int64
    public var end: Int64
    public var step: Int64
    /// Points per request and series (Prometheus refuses more than 11,000).
    public var pointsPerRequest: Int64 = 10_000

    public init(server: String, query: String, start: Int64, end: Int64, step: Int64) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.query = query
        self.start = start
        self.end = end
        self.step = step
    }

    /// The requests' (start, end) pairs, each at most `pointsPerRequest` points, covering [start, end].
    public var chunks: [(Int64, Int64)] {
        var out: [(Int64, Int64)] = []
        var from = start
        while from <= end {
            let to = min(end, from + step * (pointsPerRequest - 1))
            out.append((from, to))
            from = to + step
        }
        return out
    }

    /// Runs every chunk, with `progress(done, total)` after each.
    /// - Throws: `Failure` naming the server and what it answered.
    public func run(progress: (Int, Int) -> Void = { _, _ in }) throws(Failure) -> [Series] {
        let client = HTTPClient(timeoutMs: 60_000, connectTimeoutMs: 3_000, maxBodyBytes: 256 << 20)
        var merged: [String: Series] = [:]
        var order: [String] = []
        let chunks = self.chunks
        for (i, (from, to)) in chunks.enumerated() {
            var components = URLComponents(string: server + "/api/v1/query_range")
            components?.queryItems = [
                URLQueryItem(name: "query", value: query), URLQueryItem(name: "start", value: String(from)),
                URLQueryItem(name: "end", value: String(to)), URLQueryItem(name: "step", value: String(step)),
            ]
            let encoded = components?.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
            components?.percentEncodedQuery = encoded
            guard let url = components?.url?.absoluteString else { throw Failure(message: "\(server): not a URL") }
            let response: HTTPClient.Response
            do { response = try client.get(url) } catch { throw Failure(message: "\(server): \(error.message)") }
            let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
            guard let object else {
                throw Failure(message: "\(server) answered HTTP \(response.status) without the JSON of the Prometheus API: \(response.text.prefix(200))")
            }
            guard object["status"] as? String == "success", let data = object["data"] as? [String: Any] else {
                throw Failure(message: "\(server) refused the query (HTTP \(response.status), \(object["errorType"] as? String ?? "error")): \(object["error"] as? String ?? "no reason given")")
            }
            guard data["resultType"] as? String == "matrix", let result = data["result"] as? [[String: Any]] else {
                throw Failure(message: "\(server): the query gives a \(data["resultType"] as? String ?? "?"), not a range of series (a matrix)")
            }
            for entry in result {
                var labels = entry["metric"] as? [String: String] ?? [:]
                let name = labels.removeValue(forKey: "__name__")
                let key = (name ?? "") + "\u{0}" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\u{1}")
                var series = merged[key] ?? Series(labels: labels, name: name, points: [])
                if merged[key] == nil { order.append(key) }
                for value in entry["values"] as? [[Any]] ?? [] {
                    guard value.count == 2, let t = value[0] as? Double ?? (value[0] as? NSNumber)?.doubleValue,
                          let text = value[1] as? String, let v = Double(text), v.isFinite else { continue }
                    series.points.append((Int64(t.rounded()), v))
                }
                merged[key] = series
            }
            progress(i + 1, chunks.count)
        }
        return order.compactMap { merged[$0] }
    }

    /// The endpoint each series is stored under: `name` alone for one series, `name/<label values>` (sorted by
    /// label name, comma-joined, spaces as `_`) for several.
    public static func endpointNames(_ series: [Series], base: String) -> [String] {
        guard series.count > 1 else { return series.map { _ in base } }
        var seen: [String: Int] = [:]
        return series.map { s in
            var values = s.labels.sorted { $0.key < $1.key }.map(\.value)
            if values.isEmpty, let name = s.name { values = [name] }
            var name = base + "/" + values.joined(separator: ",").map { $0.isWhitespace ? "_" : $0 }.map(String.init).joined()
            seen[name, default: 0] += 1
            if let n = seen[name], n > 1 { name += "#\(n)" }
            return name
        }
    }

    /// Parses a time: seconds since the epoch, RFC 3339 (`2026-12-01T00:00:00Z`), `now`, or `now-7d` (s, m, h, d, w).
    public static func parseTime(_ text: String, now: Date = Date()) -> Int64? {
        if let seconds = Double(text), seconds.isFinite, abs(seconds) < 1e11 { return Int64(seconds.rounded()) }
        if text == "now" { return Int64(now.timeIntervalSince1970.rounded()) }
        if text.hasPrefix("now-"), let d = parseDuration(String(text.dropFirst(4))) { return Int64(now.timeIntervalSince1970.rounded()) - d }
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return Int64(date.timeIntervalSince1970) }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text).map { Int64($0.timeIntervalSince1970) }
    }

    /// Parses a duration in whole seconds: `300`, `30s`, `5m`, `1h`, `1d`, `1w`.
    public static func parseDuration(_ text: String) -> Int64? { VectorValidator.parseDuration(text) }
}
