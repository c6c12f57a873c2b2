/// Timestamps of demand series: epoch seconds, or naive civil time `YYYY-MM-DD HH:MM[:SS]` (a `T` may
/// stand for the space, a trailing `Z` is accepted). Civil times are handled as UTC so that arithmetic on
/// them never meets a daylight-saving jump; they are printed back in the form they were read.
public enum TimestampFormat: Sendable, Equatable {
    /// Seconds since 1970-01-01, written as an integer.
    case epochSeconds
    /// `YYYY-MM-DD HH:MM:SS`, naive.
    case civil

    /// Parses `text`, returning epoch seconds and the form it was written in, or nil.
    public static func parse(_ text: Substring) -> (seconds: Int64, format: TimestampFormat)? {
        let bytes = Array(text.utf8)
        if !bytes.isEmpty, bytes.allSatisfy({ ($0 >= 48 && $0 <= 57) || $0 == 46 || $0 == 45 }),
           bytes.count < 10 || bytes[4] != 45 {
            guard let value = Double(text), value.isFinite, abs(value) < 1e13 else { return nil }
            return (Int64(value.rounded()), .epochSeconds)
        }
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= bytes.count else { return nil }
            var result = 0
            for byte in bytes[from..<(from + count)] {
                guard byte >= 48 && byte <= 57 else { return nil }
                result = result * 10 + Int(byte - 48)
            }
            return result
        }
        guard bytes.count >= 10, bytes[4] == 45, bytes[7] == 45,
              let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year) else { return nil }
        var hour = 0, minute = 0, second = 0
        var rest = bytes.count
        if bytes.last == 90 { rest -= 1 }  // trailing Z
        if rest > 10 {
            guard bytes[10] == 32 || bytes[10] == 84, rest >= 16, bytes[13] == 58,
                  let h = number(11, 2), let m = number(14, 2), h < 24, m < 60 else { return nil }
            hour = h; minute = m
            if rest > 16 {
                guard rest == 19, bytes[16] == 58, let s = number(17, 2), s < 60 else { return nil }
                second = s
            }
        }
        let days = daysFromCivil(year: year, month: month, day: day)
        return (days * 86_400 + Int64(hour * 3600 + minute * 60 + second), .civil)
    }

    /// Writes `seconds` in this form.
    public func format(_ seconds: Int64) -> String {
        switch self {
        case .epochSeconds: return String(seconds)
        case .civil:
            var days = seconds / 86_400
            var rest = seconds % 86_400
            if rest < 0 { rest += 86_400; days -= 1 }
            let (y, m, d) = TimestampFormat.civilFromDays(days)
            func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
            let year = String(y)
            return "\(String(repeating: "0", count: max(0, 4 - year.count)))\(year)-\(two(m))-\(two(d)) "
                + "\(two(rest / 3600)):\(two(rest % 3600 / 60)):\(two(rest % 60))"
        }
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    // Howard Hinnant's days-from-civil algorithm (proleptic Gregorian calendar).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64((month + 9) % 12)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
