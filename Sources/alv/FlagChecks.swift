import ArgumentParser
import Foundation

/// Checks of flag values shared by several commands, each naming the flag and what it expects.
enum FlagChecks {
    /// An http:// or https:// URL with a host and, if given, a port 1–65535 (no other scheme reaches libcurl).
    static func targetURL(_ value: String, flag: String = "--target") throws {
        guard let url = URL(string: value), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = url.host, !host.isEmpty else {
            throw ValidationError("\(flag) expects an http:// or https:// URL such as http://127.0.0.1:8080, got \"\(value)\"")
        }
        if let port = url.port, !(1...65_535).contains(port) {
            throw ValidationError("\(flag) has port \(port); expected 1–65535")
        }
    }

    /// A `--duration`: finite seconds above 0, at most a year.
    static func duration(_ value: Double?, flag: String = "--duration") throws {
        guard let value else { return }
        guard value.isFinite, value > 0, value <= 31_536_000 else {
            throw ValidationError("\(flag) expects seconds above 0 and at most a year, got \(value)")
        }
    }

    /// Seconds that are a finite number in `range`.
    static func seconds(_ value: Double, flag: String, in range: ClosedRange<Double>) throws {
        guard value.isFinite, range.contains(value) else {
            throw ValidationError("\(flag) expects seconds from \(range.lowerBound.formatted()) to \(range.upperBound.formatted()), got \(value)")
        }
    }
}

private extension Double {
    func formatted() -> String { self == rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self) }
}
