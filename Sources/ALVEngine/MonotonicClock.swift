import Foundation
import Synchronization

/// Nanosecond monotonic time, and its mapping to Unix time: fixed once per process, plus the offset of a
/// reference clock (a worker runs its units in the broker's time, whatever its own clock says).
public enum MonotonicClock {
    private static let reference = Atomic<Int64>(0)

    /// The reference clock minus this machine's, in nanoseconds (0 unless a worker has estimated it).
    public static var referenceOffsetNanos: Int64 { reference.load(ordering: .relaxed) }

    /// Sets the reference clock's offset: every Unix time the engine reads or schedules by shifts by it.
    public static func setReferenceOffset(ms: Double) {
        guard ms.isFinite, abs(ms) < 1e12 else { return }
        reference.store(Int64(ms * 1e6), ordering: .relaxed)
    }

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

    /// Monotonic nanoseconds of a Unix time (reference clock) in milliseconds.
    public static func monotonic(unixMs: Int64) -> UInt64 {
        let nanos = unixMs.multipliedReportingOverflow(by: 1_000_000)
        guard !nanos.overflow else { return unixMs < 0 ? 0 : UInt64.max / 2 }
        return UInt64(max(0, nanos.partialValue &- unixOffsetNanos &- referenceOffsetNanos))
    }

    /// Unix milliseconds (reference clock) of a monotonic time.
    public static func unixMs(_ monotonic: UInt64) -> Int64 {
        (Int64(truncatingIfNeeded: monotonic) &+ unixOffsetNanos &+ referenceOffsetNanos) / 1_000_000
    }

    public static func unixMsNow() -> Int64 { unixMs(now()) }
}
