// Thin, honest wrappers over the POSIX calls the transports and the history store need:
// a monotonic clock, errno text, and a poll(2) wait that wakes for signals.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Nanoseconds from CLOCK_MONOTONIC: never jumps with the wall clock, so RTTs stay honest.
@inline(__always)
public func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Wall-clock time as (seconds, nanoseconds) since the epoch, for history timestamps.
func wallClock() -> (seconds: Int, nanoseconds: Int) {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return (Int(ts.tv_sec), Int(ts.tv_nsec))
}

/// The C library's text for an errno value ("Connection refused").
public func errnoText(_ code: Int32) -> String {
    guard let cString = strerror(code) else { return "error \(code)" }
    return String(cString: cString)
}

/// What a bounded wait on one descriptor ended with.
enum WaitResult: Equatable {
    case ready(revents: Int16)
    case timedOut
    /// A signal recorded by `Signals` arrived while waiting; the caller decides what it means.
    case signal(Int32)
    case failed(errno: Int32)
}

/// Waits for `events` on `fd` until `deadline` (monotonic nanoseconds), waking on EINTR to let a
/// pending SIGINT/SIGTERM/SIGHUP end the wait. `deadline == nil` waits without limit.
///
/// A process signal goes to any thread that does not block it — with `--serve`, often one of the
/// server's — and then this thread's poll is not interrupted. So the wait is cut into slices of at
/// most `signalCheckMilliseconds`, after each of which `Signals.pending` is looked at again.
func waitFor(fd: Int32, events: Int16, deadline: UInt64?) -> WaitResult {
    let signalCheckMilliseconds: UInt64 = 50
    while true {
        if let sig = Signals.pending { return .signal(sig) }
        var timeoutMs = Int32(signalCheckMilliseconds)
        if let deadline {
            let now = monotonicNanoseconds()
            if now >= deadline { return .timedOut }
            // Round up so that we never wake a hair early and spin.
            let remaining = (deadline - now + 999_999) / 1_000_000
            timeoutMs = Int32(clamping: min(remaining, signalCheckMilliseconds))
        }
        var pfd = pollfd(fd: fd, events: events, revents: 0)
        let rc = poll(&pfd, 1, timeoutMs)
        if rc > 0 { return .ready(revents: pfd.revents) }
        if rc == 0 {
            if let deadline, monotonicNanoseconds() >= deadline { return .timedOut }
            continue
        }
        let err = errno
        if err == EINTR { continue }
        return .failed(errno: err)
    }
}

/// Writes all of `bytes` to `fd`, retrying on EINTR and short writes. Returns errno on failure.
@discardableResult
func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32? {
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { raw in
            write(fd, raw.baseAddress! + offset, raw.count - offset)
        }
        if n < 0 {
            if errno == EINTR { continue }
            return errno
        }
        offset += n
    }
    return nil
}

/// True when `fd` refers to a terminal.
public func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

/// An environment variable, nil when unset.
public func environment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}

/// close(2), callable from types that have a `close()` method of their own.
func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}
