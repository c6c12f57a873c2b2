import Foundation

/// A line chart drawn as inline SVG: no library, no network. Used by the HTML report.
public struct SVGChart {
    public struct Series {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public var color: String

        public init(name: String, points: [(x: Double, y: Double)], color: String) {
            self.name = name
            self.points = points
            self.color = color
        }
    }

    public var title: String
    public var unit: String
    public var series: [Series]
    public var width = 860.0
    public var height = 220.0
    /// Shaded bands on the x axis (vector phases), as (from, to, label).
    public var bands: [(Double, Double, String)] = []
    /// Labels for the x axis ticks; nil labels seconds from the first point ("12 s").
    public var xLabel: ((Double) -> String)?
    /// Hover values: a transparent band per x with a tooltip (`<title>`) of every series' value there; no script.
    public var hover = true

    public init(title: String, unit: String, series: [Series]) {
        self.title = title
        self.unit = unit
        self.series = series
    }

    public static let palette = ["#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b7791f", "#c53030", "#2c7a7b", "#4a5568"]

    public func render() -> String {
        let left = 56.0, right = 12.0, top = 44.0, bottom = 30.0
        let plotW = width - left - right, plotH = height - top - bottom
        let xs = series.flatMap { $0.points.map(\.x) }
        let ys = series.flatMap { $0.points.map(\.y) }
        guard let minX = xs.min(), let maxX = xs.max() else {
            return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"40\"><text x=\"4\" y=\"24\" font-size=\"13\">\(xml(title)): no data</text></svg>"
        }
        let maxY = niceCeiling(max(ys.max() ?? 1, (ys.max() ?? 0) > 0 ? 1e-9 : 1))
        let spanX = max(maxX - minX, 1)
        func px(_ x: Double) -> Double { left + (x - minX) / spanX * plotW }
        func py(_ y: Double) -> Double { top + plotH - y / maxY * plotH }
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"100%\" role=\"img\" aria-label=\"\(xml(title))\" font-family=\"sans-serif\" font-size=\"11\">"
        out += "<text x=\"\(left)\" y=\"16\" font-size=\"13\" font-weight=\"bold\">\(xml(title))</text>"
        for (from, to, label) in bands {
            let x0 = px(max(from, minX)), x1 = px(min(to, maxX))
            guard x1 > x0 else { continue }
            out += "<rect x=\"\(r(x0))\" y=\"\(top)\" width=\"\(r(x1 - x0))\" height=\"\(plotH)\" fill=\"#edf2f7\"/><text x=\"\(r(x0 + 3))\" y=\"\(top + 11)\" fill=\"#718096\">\(xml(label))</text>"
        }
        for i in 0...4 {
            let value = maxY * Double(i) / 4
            let y = py(value)
            out += "<line x1=\"\(left)\" y1=\"\(r(y))\" x2=\"\(left + plotW)\" y2=\"\(r(y))\" stroke=\"#e2e8f0\"/><text x=\"\(left - 6)\" y=\"\(r(y + 4))\" text-anchor=\"end\">\(format(value))</text>"
        }
        out += "<text x=\"4\" y=\"\(top - 8)\" fill=\"#718096\">\(xml(unit))</text>"
        for i in 0...5 {
            let x = minX + spanX * Double(i) / 5
            let label = xLabel.map { $0(x) } ?? ((spanX < 10 ? format(((x - minX) * 10).rounded() / 10) : String(Int((x - minX).rounded()))) + " s")
            // The last label ends at the right edge rather than running past it.
            out += "<text x=\"\(r(px(x)))\" y=\"\(height - 10)\" text-anchor=\"\(i == 5 ? "end" : "middle")\">\(xml(label))</text>"
        }
        var legendX = left
        for s in series {
            let path = s.points.enumerated().map { "\($0.offset == 0 ? "M" : "L")\(r(px($0.element.x))),\(r(py($0.element.y)))" }.joined()
            out += "<path d=\"\(path)\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.6\"/>"
            out += "<rect x=\"\(r(legendX))\" y=\"22\" width=\"10\" height=\"10\" fill=\"\(s.color)\"/><text x=\"\(r(legendX + 14))\" y=\"31\">\(xml(s.name))</text>"
            legendX += 24 + Double(s.name.count) * 6.5
        }
        // On top of the lines, so that the tooltip shows wherever the pointer is.
        if hover {
            // One band per distinct x, as wide as the gap to its neighbours; at most 1,200 of them.
            let xsSorted = Array(Set(xs)).sorted()
            if xsSorted.count <= 1_200 {
                let values: [[Double: Double]] = series.map { s in Dictionary(s.points.map { ($0.x, $0.y) }, uniquingKeysWith: { a, _ in a }) }
                out += "<g fill=\"transparent\">"
                for (i, x) in xsSorted.enumerated() {
                    let x0 = i == 0 ? px(x) : (px(xsSorted[i - 1]) + px(x)) / 2
                    let x1 = i == xsSorted.count - 1 ? px(x) + 1 : (px(x) + px(xsSorted[i + 1])) / 2
                    let label = xLabel.map { $0(x) } ?? (format(((x - minX) * 10).rounded() / 10) + " s")
                    let lines = series.indices.compactMap { k in values[k][x].map { "\(series[k].name): \(format($0)) \(unit)" } }
                    out += "<rect x=\"\(r(x0))\" y=\"\(top)\" width=\"\(r(max(1, x1 - x0)))\" height=\"\(plotH)\"><title>\(xml(([label] + lines).joined(separator: "\n")))</title></rect>"
                }
                out += "</g>"
            }
        }
        return out + "</svg>"
    }

    private func r(_ v: Double) -> String { String(format: "%.1f", v) }

    private func niceCeiling(_ value: Double) -> Double {
        let magnitude = pow(10, floor(log10(value)))
        for step in [1.0, 2, 2.5, 5, 10] where step * magnitude >= value { return step * magnitude }
        return 10 * magnitude
    }
}
