// The one wrapper for the system calls swift-system does not make (sockets, poll, flock, fsync,
// rename, mkdir): each call site is one line, -1 comes back as a typed `Errno`, and EINTR is dealt
// with here and nowhere else — retried, or, for a wait that a signal must cut short, reported as
// nil so that the caller looks at the signal first. Every target that makes such a call uses it.

import Glibc
import SystemPackage

/// Calls `body` until it does not fail with EINTR; -1 becomes the thread's `Errno`.
@inline(__always)
public func retryingInterrupts<I: FixedWidthInteger>(_ body: () -> I) throws(Errno) -> I {
    while true {
        if let result = try interruptible(body) { return result }
    }
}

/// Calls `body` once: nil when a signal interrupted it (EINTR), so that a wait returns to its
/// caller, which decides what the signal means; otherwise -1 becomes the thread's `Errno`.
@inline(__always)
public func interruptible<I: FixedWidthInteger>(_ body: () -> I) throws(Errno) -> I? {
    let result = body()
    if result != -1 { return result }
    let error = Errno(rawValue: errno)
    if error == .interrupted { return nil }
    throw error
}

extension FileDescriptor {
    /// read(2) into `buffer`, once: nil when a signal interrupted it (see `interruptible`).
    public func readInterruptibly(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int? {
        try interruptible { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
    }
}

/// Wall-clock and monotonic readings taken together, to place a kernel receive timestamp
/// (CLOCK_REALTIME) on the monotonic timeline that the rest of netrepl uses.
public enum Clocks {
    public static func realtimeNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// The monotonic instant at which the kernel stamped a packet `kernelRealtime` (ns since the
    /// epoch): now, less how long ago that was by the wall clock. Never later than now.
    public static func instant(ofKernelStamp kernelRealtime: Int64) -> ContinuousClock.Instant {
        let now = ContinuousClock.now
        let ago = realtimeNanoseconds() - kernelRealtime
        guard ago > 0 else { return now }
        return now - .nanoseconds(ago)
    }
}
