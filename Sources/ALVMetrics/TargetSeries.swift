/// One metric of the target's side (a node_exporter, the service's own `/metrics`) over a run: counters
/// already turned into per-second rates, gauges as scraped. Points are `[seconds since the epoch, value]`.
public struct TargetSeries: Sendable, Equatable, Codable {
    /// Where it was scraped: the URL's host and port.
    public var source: String
    public var name: String
    public var labels: [String: String]
    /// "rate" (a counter, per second) or "gauge".
    public var kind: String
    public var points: [[Double]]

    public init(source: String, name: String, labels: [String: String], kind: String, points: [[Double]] = []) {
        self.source = source
        self.name = name
        self.labels = labels
        self.kind = kind
        self.points = points
    }

    /// CPU modes that are not work: idle, waiting for I/O, or taken by the hypervisor.
    public static let idleCPUModes: Set<String> = ["idle", "iowait", "steal"]

    /// A `node_cpu_seconds_total` mode in which the CPU worked (summed, the cores busy).
    public var isBusyCPU: Bool { name == "node_cpu_seconds_total" && !Self.idleCPUModes.contains(labels["mode"] ?? "") }

    /// `name{a="x",b="y"}` with labels sorted, for keys and legends.
    public var key: String {
        labels.isEmpty ? name : name + "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ",") + "}"
    }
}
