import ALVHTTPClient
import ALVPlanner
import ALVPrometheus
import Foundation

/// Debian's Prometheus on 127.0.0.1 with the remote-write receiver on, its storage in a directory of the test;
/// `stop()` and `start()` again keep the data (a restart mid-run).
public final class PrometheusServer {
    public let port: Int
    public let directory = TemporaryDirectory("alv-prometheus")
    private var process: ChildProcess?
    public var url: String { "http://127.0.0.1:\(port)" }
    public var writeURL: String { url + "/api/v1/write" }

    public init() throws {
        port = freePort()
        _ = directory.write("prometheus.yml", "global:\n  scrape_interval: 15s\n")
        try start()
    }

    public func start() throws {
        process = try ChildProcess(
            ["/usr/bin/prometheus", "--config.file=\(directory.file("prometheus.yml"))", "--storage.tsdb.path=\(directory.file("data"))",
             "--web.listen-address=127.0.0.1:\(port)", "--web.enable-remote-write-receiver", "--log.level=warn"],
            stderrPath: directory.file("prometheus.log"))
        let deadline = Date().addingTimeInterval(20)
        let client = HTTPClient(timeoutMs: 1_000)
        while Date() < deadline {
            if let response = try? client.get(url + "/-/ready"), response.status == 200 { return }
            usleep(100_000)
        }
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "prometheus did not become ready: \(log)"])
    }

    /// SIGTERM (Prometheus writes its head block out), then waits for it to exit.
    public func stop() {
        process?.signalGroup(SIGTERM)
        process?.stop(grace: 10)
        process = nil
    }

    public var log: String { (try? String(contentsOfFile: directory.file("prometheus.log"), encoding: .utf8)) ?? "" }

    /// An instant query's result: each series' labels and value.
    public func query(_ promql: String) throws -> [(labels: [String: String], value: Double)] {
        var components = URLComponents(string: url + "/api/v1/query")!
        components.queryItems = [URLQueryItem(name: "query", value: promql)]
        // URLComponents leaves "+" alone, which a server reads as a space.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        let response = try HTTPClient().get(components.url!.absoluteString)
        guard let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
              let data = object["data"] as? [String: Any], let result = data["result"] as? [[String: Any]]
        else { throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "query \(promql): \(response.text)"]) }
        return result.map { entry in
            let value = (entry["value"] as? [Any])?.last as? String
            return ((entry["metric"] as? [String: String]) ?? [:], value.flatMap(Double.init) ?? .nan)
        }
    }

    /// Sends samples by remote write (alv's own encoder), as a known history.
    public func write(_ batches: [RemoteWriteRequest.Batch]) throws {
        let body = Snappy.compress(RemoteWriteRequest.encode(batches))
        let response = try HTTPClient().post(writeURL, body: body, headers: ["Content-Type: application/x-protobuf", "Content-Encoding: snappy", "X-Prometheus-Remote-Write-Version: 0.1.0"])
        guard (200..<300).contains(response.status) else { throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "remote write: HTTP \(response.status) \(response.text)"]) }
    }

    deinit { stop() }
}

/// Debian's node_exporter on 127.0.0.1.
public final class NodeExporter: TestDaemon {
    public let port: Int
    public var url: String { "http://127.0.0.1:\(port)/metrics" }

    public init() throws {
        let directory = TemporaryDirectory("alv-node-exporter")
        port = freePort()
        try super.init("/usr/bin/prometheus-node-exporter", ["--web.listen-address=127.0.0.1:\(port)"], directory: directory)
        guard waitForListener(port: port) else { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "node_exporter did not start: \(log)"]) }
    }
}
