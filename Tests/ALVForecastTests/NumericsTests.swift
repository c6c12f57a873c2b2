import Foundation
import Testing
@testable import ALVForecast

/// The numerical building blocks against answers known in closed form.
@Suite struct NumericsTests {
    @Test func nelderMeadFindsTheRosenbrockMinimum() {
        let rosenbrock = { (x: [Double]) in 100 * pow(x[1] - x[0] * x[0], 2) + pow(1 - x[0], 2) }
        let result = NelderMead.minimise(rosenbrock, start: [-1.2, 1], step: 0.5, tolerance: 1e-14, maxEvaluations: 5_000)
        #expect(abs(result.point[0] - 1) < 1e-3 && abs(result.point[1] - 1) < 2e-3, "\(result.point)")
        #expect(result.value < 1e-6)
    }

    @Test func choleskyAndRidgeLeastSquares() throws {
        // [[4,2],[2,3]]·x = [2,1] → x = [0.5, 0]
        let x = try #require(LeastSquares.choleskySolve([4, 2, 2, 3], [2, 1], n: 2))
        #expect(abs(x[0] - 0.5) < 1e-12 && abs(x[1]) < 1e-12)
        #expect(LeastSquares.choleskySolve([1, 2, 2, 1], [1, 1], n: 2) == nil, "not positive definite")
        // An exact line y = 3 + 2t is recovered with a negligible penalty.
        let rows = 20
        var design = [Double]()
        var y = [Double]()
        for t in 0..<rows { design += [1, Double(t)]; y.append(3 + 2 * Double(t)) }
        let beta = try #require(LeastSquares.solve(x: design, rows: rows, columns: 2, y: y, penalty: [1e-12, 1e-12]))
        #expect(abs(beta[0] - 3) < 1e-8 && abs(beta[1] - 2) < 1e-9)
        // A large penalty on the slope shrinks it towards zero.
        let shrunk = try #require(LeastSquares.solve(x: design, rows: rows, columns: 2, y: y, penalty: [0, 1e9]))
        #expect(abs(shrunk[1]) < 0.01)
    }

    @Test func normalAndStudentQuantiles() {
        #expect(abs(Stats.normalQuantile(0.975) - 1.959963985) < 1e-8)
        #expect(abs(Stats.normalQuantile(0.9) - 1.281551566) < 1e-8)
        #expect(abs(Stats.normalQuantile(0.001) + 3.090232306) < 1e-8)
        #expect(abs(Stats.studentQuantile(0.975, degreesOfFreedom: 10) - 2.228139) < 0.01)
        #expect(abs(Stats.studentQuantile(0.9, degreesOfFreedom: 13) - 1.350171) < 0.005)
        #expect(Stats.quantile([4, 1, 3, 2], 0.5) == 2.5)
    }

    @Test func loessReproducesLinesAndSmoothsNoise() {
        let line = (0..<50).map { 2 + 0.5 * Double($0) }
        for jump in [1, 5] {
            let smoothed = Loess.smooth(line, span: 11, jump: jump)
            #expect(zip(line, smoothed).allSatisfy { abs($0 - $1) < 1e-9 }, "a local line reproduces a line (jump \(jump))")
        }
        line.withUnsafeBufferPointer { y in
            // Extrapolation one step beyond each end stays on the line.
            #expect(abs(Loess.estimate(y, at: -1, span: 7)! - 1.5) < 1e-9)
            #expect(abs(Loess.estimate(y, at: 50, span: 7)! - 27) < 1e-9)
            // Degree 0 is a weighted mean: on a line, symmetric about the point, it is the value there.
            #expect(abs(Loess.estimate(y, at: 25, span: 7, degree: 0)! - line[25]) < 1e-9)
        }
        #expect(Loess.movingAverage([1, 2, 3, 4, 5], 3) == [2, 3, 4])
    }

    @Test func stlSeparatesSeasonFromTrend() {
        // A linear trend plus a fixed season of 12: the decomposition recovers both.
        let season = (0..<12).map { sin(2 * Double.pi * Double($0) / 12) * 10 }
        let y = (0..<240).map { 100 + 0.2 * Double($0) + season[$0 % 12] }
        let (seasonal, trend) = STL(period: 12, seasonalWindow: 11).decompose(y)
        let middle = 24..<216
        #expect(middle.allSatisfy { abs(seasonal[$0] - season[$0 % 12]) < 0.5 }, "seasonal component")
        #expect(middle.allSatisfy { abs(trend[$0] - (100 + 0.2 * Double($0))) < 0.5 }, "trend component")
    }

    @Test func mstlSeparatesTwoSeasons() {
        let y = (0..<(24 * 7 * 5)).map { t -> Double in
            let day = 20 * sin(2 * Double.pi * Double(t) / 24)
            let week = 8 * cos(2 * Double.pi * Double(t) / 168)
            return 500 + day + week
        }
        let d = MSTLDecomposition(y, periods: [168, 24])
        #expect(d.seasonals.map(\.period) == [24, 168], "shortest season first")
        let middle = 168..<(y.count - 168)
        let dayError = middle.map { abs(d.seasonals[0].values[$0] - 20 * sin(2 * Double.pi * Double($0) / 24)) }.max()!
        let weekError = middle.map { abs(d.seasonals[1].values[$0] - 8 * cos(2 * Double.pi * Double($0) / 168)) }.max()!
        #expect(dayError < 1.5 && weekError < 2, "daily error \(dayError), weekly error \(weekError)")
        #expect(middle.allSatisfy { abs(y[$0] - d.trend[$0] - d.seasonals[0].values[$0] - d.seasonals[1].values[$0] - d.remainder[$0]) < 1e-9 })
    }

    @Test func arimaPolynomialsExpandAndStayStationary() {
        // (1 − 0.5B)(1 − 0.3B⁴) = 1 − 0.5B − 0.3B⁴ + 0.15B⁵ → lag coefficients [0.5, 0, 0, 0.3, −0.15]
        let expanded = ARIMA.expand([0.5], seasonal: [0.3], period: 4)
        #expect(expanded.count == 5)
        for (a, b) in zip(expanded, [0.5, 0, 0, 0.3, -0.15]) { #expect(abs(a - b) < 1e-12) }
        // Any unconstrained values map to partial autocorrelations inside (−1, 1), hence a stationary AR(2).
        for values in [[5.0, -5.0], [0.3, 0.1], [-3, 2]] {
            let phi = ARIMA.stationaryCoefficients(values[...])
            #expect(abs(phi[1]) < 1 && phi[1] + phi[0] < 1 && phi[1] - phi[0] < 1, "\(phi)")
        }
    }
}
