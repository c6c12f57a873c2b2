/// Derivative-free minimisation (Nelder–Mead simplex with the standard coefficients), used for likelihoods
/// whose parameters are mapped to unconstrained space by the caller.
enum NelderMead {
    struct Result {
        var point: [Double]
        var value: Double
        var evaluations: Int
    }

    /// Minimises `f` from `start`, with an initial simplex of `step` along each axis.
    static func minimise(
        _ f: ([Double]) -> Double, start: [Double], step: Double = 0.5,
        tolerance: Double = 1e-7, maxEvaluations: Int = 2_000
    ) -> Result {
        let n = start.count
        func eval(_ x: [Double]) -> Double {
            let v = f(x)
            return v.isFinite ? v : .greatestFiniteMagnitude
        }
        guard n > 0 else { return Result(point: start, value: eval(start), evaluations: 1) }
        var simplex: [[Double]] = [start]
        for i in 0..<n {
            var p = start
            p[i] += step
            simplex.append(p)
        }
        var values = simplex.map(eval)
        var evaluations = n + 1
        while evaluations < maxEvaluations && !FitBudget.expired {
            let order = values.indices.sorted { values[$0] < values[$1] }
            simplex = order.map { simplex[$0] }
            values = order.map { values[$0] }
            if abs(values[n] - values[0]) <= tolerance * (abs(values[0]) + tolerance) { break }
            var centroid = [Double](repeating: 0, count: n)
            for p in simplex[0..<n] { for j in 0..<n { centroid[j] += p[j] / Double(n) } }
            func along(_ t: Double) -> [Double] { (0..<n).map { centroid[$0] + t * (simplex[n][$0] - centroid[$0]) } }
            let reflected = along(-1)
            let fr = eval(reflected); evaluations += 1
            if fr < values[0] {
                let expanded = along(-2)
                let fe = eval(expanded); evaluations += 1
                if fe < fr { simplex[n] = expanded; values[n] = fe } else { simplex[n] = reflected; values[n] = fr }
            } else if fr < values[n - 1] {
                simplex[n] = reflected; values[n] = fr
            } else {
                let outside = fr < values[n]
                let contracted = along(outside ? -0.5 : 0.5)
                let fc = eval(contracted); evaluations += 1
                if fc < (outside ? fr : values[n]) {
                    simplex[n] = contracted; values[n] = fc
                } else {
                    for i in 1...n {
                        simplex[i] = (0..<n).map { simplex[0][$0] + 0.5 * (simplex[i][$0] - simplex[0][$0]) }
                        values[i] = eval(simplex[i])
                    }
                    evaluations += n
                }
            }
        }
        let best = values.indices.min { values[$0] < values[$1] }!
        return Result(point: simplex[best], value: values[best], evaluations: evaluations)
    }
}
