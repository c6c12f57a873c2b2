import Foundation

/// Reads demand history written as `timestamp,value` CSV: an optional header, one observation per line,
/// timestamps strictly increasing. Every rejection names the file, the line and what was expected.
public enum SeriesCSV {
    /// Parses `text` read from `file` (the name is only used in messages).
    ///
    /// - Parameters:
    ///   - column: the value column, by header name or 1-based index; nil takes the second column.
    ///   - step: the sampling interval in seconds; nil detects it.
    /// - Throws: `ForecastError.badInput` naming `file:line` for an empty file, a malformed row, a value that is
    ///   not a finite number, a timestamp that is unreadable, out of order or repeated, or too many gaps.
    public static func parse(_ text: String, file: String, column: String? = nil, step: Int64? = nil) throws(ForecastError) -> TimeSeries {
        var points: [(Int64, Double)] = []
        var format: TimestampFormat?
        var valueIndex = 1
        var lineNumber = 0
        var sawHeader = false
        var previous: (Int64, Int)?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            var line = rawLine
            if line.last == "\r" { line = line.dropLast() }
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if points.isEmpty && !sawHeader, TimestampFormat.parse(Substring(fields[0])) == nil {
                sawHeader = true
                if let column {
                    if let index = Int(column), index >= 1, index <= fields.count {
                        valueIndex = index - 1
                    } else if let index = fields.firstIndex(of: column) {
                        valueIndex = index
                    } else {
                        throw .badInput("\(file):\(lineNumber): no column '\(column)' in the header (columns: \(fields.joined(separator: ", ")))")
                    }
                }
                continue
            }
            guard fields.count > valueIndex, fields.count >= 2 else {
                throw .badInput("\(file):\(lineNumber): expected 'timestamp,value', found '\(line.prefix(60))'")
            }
            guard let (time, lineFormat) = TimestampFormat.parse(Substring(fields[0])) else {
                throw .badInput("\(file):\(lineNumber): '\(fields[0].prefix(40))' is not a timestamp (expected epoch seconds or YYYY-MM-DD HH:MM:SS)")
            }
            guard let value = Double(fields[valueIndex]), value.isFinite else {
                throw .badInput("\(file):\(lineNumber): value '\(fields[valueIndex].prefix(40))' is not a finite number")
            }
            // Rates and gauges; beyond 1e15 sums and squares in the models would overflow to infinity.
            guard abs(value) <= 1e15 else {
                throw .badInput("\(file):\(lineNumber): value \(fields[valueIndex].prefix(40)) is outside ±1e15")
            }
            if let (last, lastLine) = previous {
                if time == last {
                    throw .badInput("\(file):\(lineNumber): timestamp \(fields[0]) repeats line \(lastLine); merge duplicates before forecasting")
                }
                if time < last {
                    throw .badInput("\(file):\(lineNumber): timestamp \(fields[0]) is earlier than line \(lastLine)'s; rows must be sorted by time")
                }
            }
            previous = (time, lineNumber)
            format = format ?? lineFormat
            points.append((time, value))
        }
        guard !points.isEmpty else { throw .badInput("\(file): no observations (expected lines of 'timestamp,value')") }
        do {
            return try TimeSeries.regularised(points, step: step, timestampFormat: format ?? .epochSeconds)
        } catch {
            throw .badInput("\(file): \(error.description)")
        }
    }

    /// Reads and parses the file at `path`.
    public static func read(path: String, column: String? = nil, step: Int64? = nil) throws(ForecastError) -> TimeSeries {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .badInput("\(path): cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw .badInput("\(path): not UTF-8 text") }
        return try parse(text, file: path, column: column, step: step)
    }
}
