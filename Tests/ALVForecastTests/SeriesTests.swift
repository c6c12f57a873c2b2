import Foundation
import Testing
@testable import ALVForecast

@Suite struct SeriesTests {
    @Test func regularisesGapsAndDuplicates() throws {
        let points: [(Int64, Double)] = [(0, 1), (60, 2), (180, 4), (240, 5), (240, 1)]
        let series = try TimeSeries.regularised(points)
        #expect(series.step == 60)
        #expect(series.values == [1, 2, 3, 4, 6], "the gap at 120 s is interpolated, duplicates at 240 s add up")
        #expect(series.filledSteps == 1)
        let averaged = try TimeSeries.regularised(points, duplicates: .mean)
        #expect(averaged.values.last == 3)
        #expect(throws: ForecastError.self) { try TimeSeries.regularised([(0, 1), (60, 2), (90, 3), (120, 4)], step: 60) }
        #expect(throws: ForecastError.self) { try TimeSeries.regularised([(0, 1), (600, 2), (660, 3)]) }
    }

    @Test func resamplesCountsAndGauges() throws {
        let series = TimeSeries(start: 0, step: 60, values: [1, 2, 3, 4, 5, 6, 7])
        #expect(try series.resampled(toStep: 180, aggregation: .sum).values == [6, 15])
        #expect(try series.resampled(toStep: 120, aggregation: .mean).values == [1.5, 3.5, 5.5])
        #expect(throws: ForecastError.self) { try series.resampled(toStep: 90, aggregation: .sum) }
    }

    @Test func csvRejectionsNameTheLine() {
        func message(_ text: String) -> String {
            do { _ = try SeriesCSV.parse(text, file: "h.csv"); return "" } catch { return error.description }
        }
        #expect(message("").contains("h.csv: no observations"))
        #expect(message("timestamp,value\n").contains("no observations"))
        #expect(message("timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 01:00:00,abc\n").contains("h.csv:3: value 'abc' is not a finite number"))
        #expect(message("timestamp,value\n2024-01-01 01:00:00,1\n2024-01-01 00:00:00,2\n").contains("h.csv:3:") )
        #expect(message("timestamp,value\n2024-01-01 01:00:00,1\n2024-01-01 00:00:00,2\n").contains("sorted"))
        #expect(message("timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:00:00,2\n").contains("repeats line 2"))
        #expect(message("timestamp,value\n2024-01-01 00:00:00,1\nnot-a-time,2\n").contains("h.csv:3: 'not-a-time' is not a timestamp"))
        #expect(message("timestamp,value\n2024-01-01 00:00:00\n").contains("h.csv:2: expected 'timestamp,value'"))
        #expect(message("timestamp,value\n2024-01-01 00:00:00,nan\n").contains("not a finite number"))
        #expect(message("timestamp,value\n2024-01-01 00:00:00,1e308\n2024-01-01 01:00:00,1\n").contains("h.csv:2: value 1e308 is outside ±1e15"))
    }

    @Test func csvColumnsAndFormats() throws {
        let text = "time,region,rate\r\n1700000000,eu,5\r\n1700000060,eu,7\r\n\r\n1700000120,eu,9\r\n"
        let series = try SeriesCSV.parse(text, file: "r.csv", column: "rate")
        #expect(series.values == [5, 7, 9] && series.step == 60 && series.timestampFormat == .epochSeconds)
        #expect(throws: ForecastError.self) { try SeriesCSV.parse(text, file: "r.csv", column: "nope") }
    }

    @Test func detectsDailyAndWeeklySeasons() {
        let hourly = TimeSeries(start: 0, step: 3600, values: syntheticDemand(weeks: 4))
        #expect(Seasonality.detect(hourly) == [24, 168])
        let noise = TimeSeries(start: 0, step: 3600, values: (0..<400).map { _ in 1.0 })
        #expect(Seasonality.detect(noise).isEmpty)
        // No calendar cycle (a 10-second step that does not show a day): the ACF peak is found.
        let cycle = TimeSeries(start: 0, step: 7, values: (0..<300).map { sin(2 * Double.pi * Double($0) / 17) })
        #expect(Seasonality.detect(cycle) == [17])
    }

    /// Four rows 10^9 s apart ask for a grid of 10^9 steps: refused before anything is allocated.
    @Test func aHugeGridIsRefusedBeforeAllocation() {
        let points: [(Int64, Double)] = [(0, 1), (1, 2), (1_000_000_000, 3), (2_000_000_000, 4)]
        #expect(throws: ForecastError.self) { try TimeSeries.regularised(points, step: 1) }
        do { _ = try TimeSeries.regularised(points, step: 1) } catch { #expect(error.description.contains("more than 10000000 steps"), "\(error)") }
        let wide: [(Int64, Double)] = [(Int64.min + 10, 1), (Int64.max - 10, 2)]
        #expect(throws: ForecastError.self) { try TimeSeries.regularised(wide, step: 1) }
    }
}
