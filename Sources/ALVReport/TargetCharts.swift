import ALVMetrics

/// Charts of the target's side (`--observe`), drawn under the latency chart: CPU in cores busy, memory in
/// MiB, then one chart per other metric. x is seconds since `start`.
public enum TargetCharts {
    public static func charts(_ series: [TargetSeries], start: Double) -> [SVGChart] {
        guard !series.isEmpty else { return [] }
        let sources = Array(Set(series.map(\.source))).sorted()
        var colors = 0
        func color() -> String {
            defer { colors += 1 }
            return SVGChart.palette[colors % SVGChart.palette.count]
        }
        func points(_ s: TargetSeries, scale: Double = 1) -> [(x: Double, y: Double)] {
            s.points.compactMap { $0.count == 2 ? ($0[0] - start, $0[1] * scale) : nil }
        }
        /// Point-wise sums of series sampled together (same scrapes), matched by time.
        func sum(_ list: [TargetSeries], scale: Double = 1, sign: [Double]? = nil) -> [(x: Double, y: Double)] {
            var byTime: [Double: (Double, Int)] = [:]
            for (i, s) in list.enumerated() {
                for p in s.points where p.count == 2 {
                    let v = byTime[p[0]] ?? (0, 0)
                    byTime[p[0]] = (v.0 + p[1] * (sign?[i] ?? 1), v.1 + 1)
                }
            }
            return byTime.filter { $0.value.1 == list.count }.sorted { $0.key < $1.key }.map { ($0.key - start, $0.value.0 * scale) }
        }
        var cpu: [SVGChart.Series] = [], memory: [SVGChart.Series] = []
        var used: Set<String> = ["node_cpu_seconds_total", "process_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes", "process_resident_memory_bytes"]
        for source in sources {
            let mine = series.filter { $0.source == source }
            let busy = mine.filter(\.isBusyCPU)
            if !busy.isEmpty { cpu.append(.init(name: "\(source) host CPU busy", points: sum(busy), color: color())) }
            for s in mine where s.name == "process_cpu_seconds_total" { cpu.append(.init(name: "\(source) process CPU", points: points(s), color: color())) }
            if let total = mine.first(where: { $0.name == "node_memory_MemTotal_bytes" }), let available = mine.first(where: { $0.name == "node_memory_MemAvailable_bytes" }) {
                memory.append(.init(name: "\(source) host memory used", points: sum([total, available], scale: 1 / 1_048_576, sign: [1, -1]), color: color()))
            }
            for s in mine where s.name == "process_resident_memory_bytes" { memory.append(.init(name: "\(source) process RSS", points: points(s, scale: 1 / 1_048_576), color: color())) }
        }
        var charts: [SVGChart] = []
        if !cpu.isEmpty { charts.append(SVGChart(title: "Target CPU (cores busy)", unit: "cores", series: cpu)) }
        if !memory.isEmpty { charts.append(SVGChart(title: "Target memory", unit: "MiB", series: memory)) }
        var others: [String: [TargetSeries]] = [:]
        for s in series where !used.contains(s.name) { others[s.name, default: []].append(s) }
        for name in others.keys.sorted() {
            let list = others[name]!.prefix(8)
            used.insert(name)
            let kind = list.first?.kind == "rate" ? " (per second)" : ""
            charts.append(SVGChart(title: "Target \(name)\(kind)", unit: "", series: list.map { s in
                let labels = s.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                return .init(name: labels.isEmpty ? s.source : "\(s.source) \(labels)", points: points(s), color: color())
            }))
        }
        return charts
    }
}
