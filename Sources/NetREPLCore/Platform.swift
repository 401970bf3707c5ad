// The few C library calls the session layer needs (the transports have their own, in
// NetREPLTransport/Platform): errno text, the wall clock, the environment, terminals.

import Glibc

/// The C library's text for an errno value ("Connection refused").
public func errnoText(_ code: Int32) -> String {
    guard let cString = strerror(code) else { return "error \(code)" }
    return String(cString: cString)
}

/// Wall-clock time as (seconds, nanoseconds) since the epoch, for history timestamps.
func wallClock() -> (seconds: Int, nanoseconds: Int) {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return (Int(ts.tv_sec), Int(ts.tv_nsec))
}

/// True when `fd` refers to a terminal.
public func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

/// An environment variable, nil when unset.
public func environment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}

/// Writes all of `bytes` to `fd`, retrying on EINTR and short writes. Returns errno on failure.
/// (Kept for the history store until it moves to swift-system.)
@discardableResult
func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32? {
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { raw in write(fd, raw.baseAddress! + offset, raw.count - offset) }
        if n < 0 {
            if errno == EINTR { continue }
            return errno
        }
        offset += n
    }
    return nil
}

func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}
