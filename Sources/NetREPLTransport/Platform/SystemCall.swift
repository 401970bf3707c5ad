// The one place where the transports' system calls are made: each is wrapped once, EINTR is
// retried here and nowhere else, and a failure comes back as a typed `Errno`, never as -1.

import Glibc
import SystemPackage

/// Calls `body` until it does not fail with EINTR; -1 becomes the thread's `Errno`.
@inline(__always)
func retryingInterrupts<I: FixedWidthInteger>(_ body: () -> I) throws(Errno) -> I {
    while true {
        let result = body()
        if result != -1 { return result }
        let error = Errno(rawValue: errno)
        if error != .interrupted { throw error }
    }
}

/// Wall-clock and monotonic readings taken together, to place a kernel receive timestamp
/// (CLOCK_REALTIME) on the monotonic timeline that the rest of netrepl uses.
enum Clocks {
    static func realtimeNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// The monotonic instant at which the kernel stamped a packet `kernelRealtime` (ns since the
    /// epoch): now, less how long ago that was by the wall clock. Never later than now.
    static func instant(ofKernelStamp kernelRealtime: Int64) -> ContinuousClock.Instant {
        let now = ContinuousClock.now
        let ago = realtimeNanoseconds() - kernelRealtime
        guard ago > 0 else { return now }
        return now - .nanoseconds(ago)
    }
}
