import Foundation

/// Nanosecond monotonic time, and its mapping to Unix time fixed once per process.
public enum MonotonicClock {
    @inline(__always)
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Unix time in nanoseconds at monotonic zero.
    public static let unixOffsetNanos: Int64 = {
        var real = timespec()
        clock_gettime(CLOCK_REALTIME, &real)
        let unix = Int64(real.tv_sec) * 1_000_000_000 + Int64(real.tv_nsec)
        return unix - Int64(now())
    }()

    /// Monotonic nanoseconds of a Unix time in milliseconds.
    public static func monotonic(unixMs: Int64) -> UInt64 {
        UInt64(max(0, unixMs * 1_000_000 - unixOffsetNanos))
    }

    /// Unix milliseconds of a monotonic time.
    public static func unixMs(_ monotonic: UInt64) -> Int64 {
        (Int64(monotonic) + unixOffsetNanos) / 1_000_000
    }

    public static func unixMsNow() -> Int64 { unixMs(now()) }
}
