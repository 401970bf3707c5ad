// What the server needs from Linux that NIO and swift-system do not offer: SO_REUSEPORT and the
// open-file limit. A port to another system starts in this folder.

import Glibc
import NIOCore

extension NIOBSDSocket.Option {
    /// SO_REUSEPORT: several UDP sockets on one port, the kernel spreading datagrams over them.
    static let reusePort = NIOBSDSocket.Option(rawValue: SO_REUSEPORT)
}

/// Raising the soft limit on open files to the hard limit, so that thousands of connections fit.
public enum ResourceLimits {
    @discardableResult
    public static func raiseOpenFileLimit() -> (soft: UInt64, hard: UInt64)? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }
}
