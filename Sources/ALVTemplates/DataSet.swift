import Foundation

/// A CSV data file for `{{data.FILE.COLUMN}}`: a header row, then rows of values.
///
/// Quoting follows RFC 4180 (fields in double quotes may hold commas, quotes as `""`, and line breaks).
public struct DataSet: Sendable, Equatable {
    public var name: String
    public var columns: [String]
    public var rows: [[String]]

    public init(name: String, columns: [String], rows: [[String]]) {
        self.name = name
        self.columns = columns
        self.rows = rows
    }

    /// Parses and checks CSV text (a file's, read by the caller); `path` is only used in messages.
    /// - Throws: `DataSetError` naming the file and line: empty header, duplicate column, a row with the wrong
    ///   number of fields, an unclosed quote, no data rows.
    public static func parse(name: String, text: String, path: String) throws(DataSetError) -> DataSet {
        var records: [(line: Int, fields: [String])] = []
        var fields: [String] = []
        var field = ""
        var inQuotes = false
        var line = 1
        var recordLine = 1
        var fieldStarted = false
        var iterator = Array(text.unicodeScalars)
        if iterator.first == "\u{FEFF}" { iterator.removeFirst() }
        var i = 0
        while i < iterator.count {
            let c = iterator[i]
            if inQuotes {
                if c == "\"" {
                    if i + 1 < iterator.count, iterator[i + 1] == "\"" {
                        field.unicodeScalars.append("\"")
                        i += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
            } else if c == "\"" && !fieldStarted {
                inQuotes = true
                fieldStarted = true
            } else if c == "," {
                fields.append(field)
                field = ""
                fieldStarted = false
            } else if c == "\n" || c == "\r" {
                if c == "\r", i + 1 < iterator.count, iterator[i + 1] == "\n" { i += 1 }
                fields.append(field)
                if !(fields.count == 1 && fields[0].isEmpty) { records.append((recordLine, fields)) }
                fields = []
                field = ""
                fieldStarted = false
                line += 1
                recordLine = line
            } else {
                field.unicodeScalars.append(c)
                fieldStarted = true
            }
            i += 1
        }
        if inQuotes { throw DataSetError(path: path, line: recordLine, message: "a quoted field is never closed") }
        if fieldStarted || !fields.isEmpty {
            fields.append(field)
            records.append((recordLine, fields))
        }
        guard let header = records.first else {
            throw DataSetError(path: path, line: 1, message: "the file is empty; expected a header row naming the columns")
        }
        let columns = header.fields.map { $0.trimmingSpaces }
        var seen = Set<String>()
        for column in columns {
            if column.isEmpty { throw DataSetError(path: path, line: 1, message: "the header has an empty column name") }
            if !seen.insert(column).inserted {
                throw DataSetError(path: path, line: 1, message: "column '\(column)' appears twice in the header")
            }
        }
        var rows: [[String]] = []
        for record in records.dropFirst() {
            guard record.fields.count == columns.count else {
                throw DataSetError(
                    path: path, line: record.line,
                    message: "expected \(columns.count) fields as in the header, found \(record.fields.count)")
            }
            rows.append(record.fields)
        }
        if rows.isEmpty { throw DataSetError(path: path, line: 2, message: "the file has a header but no data rows") }
        return DataSet(name: name, columns: columns, rows: rows)
    }
}

/// A data file that cannot be used, with the file and line.
public struct DataSetError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var line: Int?
    public var message: String

    public var description: String {
        if let line { return "\(path):\(line): \(message)" }
        return "\(path): \(message)"
    }
}

/// How a data file hands out rows to virtual users.
public enum DataOrder: String, Sendable, CaseIterable, Codable {
    /// Each user walks the rows in order, wrapping at the end; users start spread over the file.
    case sequential
    /// Each iteration takes a uniformly random row.
    case random
    /// User *i* keeps row *i* (wrapping): one account per virtual user.
    case perUser = "per_user"
}
