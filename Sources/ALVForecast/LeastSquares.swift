/// Ridge-regularised linear least squares by the normal equations and a Cholesky factorisation; the models
/// here have at most a few hundred columns, so forming XᵀX is cheap and well-conditioned enough with a penalty.
enum LeastSquares {
    /// Solves min ‖y − Xβ‖² + Σ penalty[j]·β[j]², with `x` row-major (`rows` × `columns`).
    /// Returns nil when the system is singular even with the penalty.
    static func solve(x: [Double], rows: Int, columns: Int, y: [Double], penalty: [Double]) -> [Double]? {
        precondition(x.count == rows * columns && y.count == rows && penalty.count == columns)
        var a = [Double](repeating: 0, count: columns * columns)
        var b = [Double](repeating: 0, count: columns)
        x.withUnsafeBufferPointer { xp in
            for r in 0..<rows {
                let base = r * columns
                let yr = y[r]
                for i in 0..<columns {
                    let xi = xp[base + i]
                    if xi == 0 { continue }
                    b[i] += xi * yr
                    for j in i..<columns { a[i * columns + j] += xi * xp[base + j] }
                }
            }
        }
        for i in 0..<columns {
            a[i * columns + i] += penalty[i]
            for j in 0..<i { a[i * columns + j] = a[j * columns + i] }
        }
        return choleskySolve(a, b, n: columns)
    }

    /// Solves A·x = b for symmetric positive definite A (row-major n × n).
    static func choleskySolve(_ a: [Double], _ b: [Double], n: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var sum = a[i * n + j]
                for k in 0..<j { sum -= l[i * n + k] * l[j * n + k] }
                if i == j {
                    guard sum > 0 else { return nil }
                    l[i * n + i] = sum.squareRoot()
                } else {
                    l[i * n + j] = sum / l[j * n + j]
                }
            }
        }
        var z = [Double](repeating: 0, count: n)
        for i in 0..<n {
            var sum = b[i]
            for k in 0..<i { sum -= l[i * n + k] * z[k] }
            z[i] = sum / l[i * n + i]
        }
        var x = [Double](repeating: 0, count: n)
        for i in stride(from: n - 1, through: 0, by: -1) {
            var sum = z[i]
            for k in (i + 1)..<n { sum -= l[k * n + i] * x[k] }
            x[i] = sum / l[i * n + i]
        }
        return x
    }
}
