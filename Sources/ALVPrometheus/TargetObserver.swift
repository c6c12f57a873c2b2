import ALVHTTPClient
import ALVMetrics
import Foundation
import Synchronization

/// Scrapes the target's side each second during a run (node_exporter, the service's own `/metrics`) and
/// keeps the named metrics as series: counters become per-second rates, gauges are kept as they are.
/// `node_cpu_seconds_total` is summed over CPUs (one series per mode). A source that does not answer is an
/// event, then another when it answers again; it never stops the run.
public final class TargetObserver: Sendable {
    public struct Configuration: Sendable {
        public var urls: [String]
        /// Metric names to keep; empty keeps `defaultMetrics`.
        public var metrics: [String]
        public var interval = 1.0
        /// Series kept per source and metric name (labels beyond it are dropped and counted).
        public var maxSeriesPerMetric = 64
        public init(urls: [String], metrics: [String] = []) {
            self.urls = urls
            self.metrics = metrics
        }
    }

    /// CPU and memory of a node_exporter and of any Prometheus client's own process.
    public static let defaultMetrics = [
        "node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes", "node_load1",
        "process_cpu_seconds_total", "process_resident_memory_bytes",
    ]

    struct Previous {
        var t: Double
        var value: Double
    }

    struct State {
        var running = true
        var series: [String: TargetSeries] = [:]
        var order: [String] = []
        var previous: [String: Previous] = [:]
        var failing: Set<String> = []
        var droppedSeries = 0
        var scrapes = 0
        var failures = 0
    }

    public let configuration: Configuration
    private let keep: Set<String>
    private let state = Mutex(State())
    private let exited = DispatchSemaphore(value: 0)
    private let event: @Sendable (_ kind: String, _ detail: [String: String]) -> Void

    /// - Parameter event: `observe_failed` (source, error) and `observe_recovered` (source), as they happen.
    public init(_ configuration: Configuration, event: @escaping @Sendable (_ kind: String, _ detail: [String: String]) -> Void) {
        self.configuration = configuration
        keep = Set(configuration.metrics.isEmpty ? Self.defaultMetrics : configuration.metrics)
        self.event = event
    }

    public func start() {
        let thread = Thread { [self] in
            loop()
            exited.signal()
        }
        thread.name = "alv-observe"
        thread.start()
    }

    /// Stops scraping and returns every series, in the order first seen.
    public func stop() -> [TargetSeries] {
        state.withLock { $0.running = false }
        exited.wait()
        return series
    }

    /// The series so far (for the live page).
    public var series: [TargetSeries] { state.withLock { s in s.order.compactMap { s.series[$0] } } }

    public var counts: (scrapes: Int, failures: Int, droppedSeries: Int) { state.withLock { ($0.scrapes, $0.failures, $0.droppedSeries) } }

    /// The URL's host and port, as sources are named.
    public static func source(_ url: String) -> String {
        guard let c = URLComponents(string: url), let host = c.host else { return url }
        return c.port.map { "\(host):\($0)" } ?? host
    }

    private func loop() {
        let client = HTTPClient(timeoutMs: Int(configuration.interval * 800), connectTimeoutMs: 500, maxBodyBytes: 16 << 20)
        while state.withLock({ $0.running }) {
            let began = Date().timeIntervalSince1970
            for url in configuration.urls {
                guard state.withLock({ $0.running }) else { break }
                scrape(url, client: client)
            }
            let next = (began / configuration.interval).rounded(.down) * configuration.interval + configuration.interval
            while state.withLock({ $0.running }), Date().timeIntervalSince1970 < next { Thread.sleep(forTimeInterval: 0.02) }
        }
    }

    private func scrape(_ url: String, client: HTTPClient) {
        let source = Self.source(url)
        let t = Date().timeIntervalSince1970
        let text: String
        do throws(HTTPClient.Failure) {
            let response = try client.get(url, headers: ["Accept: text/plain;version=0.0.4"])
            guard response.status == 200 else { throw HTTPClient.Failure(url: url, message: "HTTP \(response.status)") }
            text = response.text
        } catch {
            let first = state.withLock { s in
                s.scrapes += 1
                s.failures += 1
                return s.failing.insert(url).inserted
            }
            if first { event("observe_failed", ["source": source, "url": url, "error": error.message]) }
            return
        }
        let recovered = state.withLock { s in
            s.scrapes += 1
            return s.failing.remove(url) != nil
        }
        if recovered { event("observe_recovered", ["source": source, "url": url]) }
        let parsed = ExpositionParser(text) { keep.contains($0) }
        // Sum node_cpu_seconds_total over CPUs: one series per mode.
        var values: [(name: String, labels: [String: String], value: Double, counter: Bool)] = []
        var cpu: [String: Double] = [:]
        for sample in parsed.samples {
            let counter = parsed.type(of: sample.name) == "counter" || sample.name.hasSuffix("_total")
            if sample.name == "node_cpu_seconds_total" {
                cpu[sample.labels["mode"] ?? "", default: 0] += sample.value
            } else {
                values.append((sample.name, sample.labels, sample.value, counter))
            }
        }
        for (mode, value) in cpu.sorted(by: { $0.key < $1.key }) { values.append(("node_cpu_seconds_total", ["mode": mode], value, true)) }
        state.withLock { s in
            for v in values where v.value.isFinite {
                var entry = TargetSeries(source: source, name: v.name, labels: v.labels, kind: v.counter ? "rate" : "gauge")
                let key = source + " " + entry.key
                if s.series[key] == nil {
                    let sameName = s.order.lazy.filter { $0.hasPrefix(source + " " + v.name) }.count
                    guard sameName < configuration.maxSeriesPerMetric else {
                        s.droppedSeries += 1
                        continue
                    }
                    s.order.append(key)
                    s.series[key] = entry
                }
                entry = s.series[key]!
                let time = (t * 1000).rounded() / 1000
                if v.counter {
                    // A rate needs two scrapes; a counter that went down was reset and starts over.
                    if let previous = s.previous[key], t > previous.t, v.value >= previous.value {
                        entry.points.append([time, (v.value - previous.value) / (t - previous.t)])
                    }
                    s.previous[key] = Previous(t: t, value: v.value)
                } else {
                    entry.points.append([time, v.value])
                }
                s.series[key] = entry
            }
        }
    }
}
