import ALVForecast
import Foundation

/// Interval coverage of `auto` under each calibration method on held-out origins of the series in a
/// manifest (scripts/lib/calibration_corpus.py writes it): per series, then pooled per set, with the
/// score the default method was chosen by.
func benchCalibration(manifest: String) throws {
    struct Entry { var name, set, file: String; var periods: [Int]; var horizon, origins: Int }
    let entries = try String(contentsOfFile: manifest, encoding: .utf8).split(separator: "\n").compactMap { line -> Entry? in
        let f = line.split(separator: "\t").map(String.init)
        guard f.count == 6, let h = Int(f[4]), let k = Int(f[5]) else { return nil }
        return Entry(name: f[0], set: f[1], file: f[2], periods: f[3].split(separator: ",").compactMap { Int($0) }, horizon: h, origins: k)
    }
    let methods = IntervalMethod.allCases
    struct Tally { var points = 0, in80 = 0, in95 = 0; var width95 = 0.0, scale = 0.0
        var cov80: Double { Double(in80) / Double(max(1, points)) }
        var cov95: Double { Double(in95) / Double(max(1, points)) }
    }
    // [set: [method: [series tally]]]
    var bySet: [String: [IntervalMethod: [(String, Tally)]]] = [:]
    print("series\tset\tpoints\tseconds, ρ\t" + methods.map { "\($0.rawValue) cov80/cov95 width95" }.joined(separator: "\t"))
    for entry in entries {
        let values = try SeriesCSV.read(path: entry.file).values
        let auto = AutoForecaster(periods: entry.periods, budget: AutoForecaster.defaultBudget)
        var tallies = [IntervalMethod: Tally]()
        var seconds: [Double] = []
        var rhoSum = 0.0, rhoN = 0.0
        for k in (1...entry.origins).reversed() {
            let origin = values.count - k * entry.horizon
            guard origin > 2 * (entry.periods.last ?? 1) else { continue }
            let started = Date()
            guard let forecasts = try? auto.forecasts(Array(values[..<origin]), horizon: entry.horizon, methods: methods) else { continue }
            seconds.append(Date().timeIntervalSince(started))
            // Width relative to the series' mean absolute one-season change, so series compare.
            let m = entry.periods.first ?? 1
            let training = values[max(m, origin - 4 * (entry.periods.last ?? m))..<origin]
            let scale = training.indices.map { abs(values[$0] - values[$0 - m]) }.reduce(0, +) / Double(max(1, training.count))
            if let r = forecasts[.modelScaled]?.statistics["calibration_correlation"] { rhoSum += r; rhoN += 1 }
            for method in methods {
                guard let f = forecasts[method] else { continue }
                let i80 = f.interval(level: 80), i95 = f.interval(level: 95)
                var t = tallies[method] ?? Tally()
                for h in 0..<entry.horizon {
                    let y = values[origin + h]
                    t.points += 1
                    if y >= i80.lower[h] && y <= i80.upper[h] { t.in80 += 1 }
                    if y >= i95.lower[h] && y <= i95.upper[h] { t.in95 += 1 }
                    t.width95 += scale > 0 ? (i95.upper[h] - i95.lower[h]) / scale : 0
                }
                tallies[method] = t
            }
        }
        let points = tallies[methods[0]]?.points ?? 0
        let cells = methods.map { method -> String in
            let t = tallies[method] ?? Tally()
            bySet[entry.set, default: [:]][method, default: []].append((entry.name, t))
            return String(format: "%.3f/%.3f %.2f", t.cov80, t.cov95, t.width95 / Double(max(1, t.points)))
        }
        print("\(entry.name)\t\(entry.set)\t\(points)\t" + String(format: "%.2f, %.2f", seconds.max() ?? 0, rhoSum / max(1, rhoN)) + "\t" + cells.joined(separator: "\t"))
    }
    print("\nset\tmethod\tpooled cov80\tpooled cov95\tper-series cov80 min–max\tcov95 min–max\tmean |cov−nominal|\tscore")
    for set in bySet.keys.sorted(by: >) {
        for method in methods {
            let rows = bySet[set]?[method] ?? []
            let pooled = rows.reduce(Tally()) { var a = $0; a.points += $1.1.points; a.in80 += $1.1.in80; a.in95 += $1.1.in95; return a }
            let c80 = rows.map(\.1.cov80), c95 = rows.map(\.1.cov95)
            let meanDeviation = rows.map { abs($0.1.cov80 - 0.80) + abs($0.1.cov95 - 0.95) }.reduce(0, +) / Double(max(1, rows.count))
            // The method is chosen on the tune set by: pooled miss on both levels plus the mean per-series miss.
            let score = abs(pooled.cov80 - 0.80) + abs(pooled.cov95 - 0.95) + meanDeviation
            print("\(set)\t\(method.rawValue)\t" + String(format: "%.3f\t%.3f\t%.2f–%.2f\t%.3f–%.3f\t%.3f\t%.3f",
                  pooled.cov80, pooled.cov95, c80.min() ?? 0, c80.max() ?? 0, c95.min() ?? 0, c95.max() ?? 0, meanDeviation, score))
        }
    }
}
