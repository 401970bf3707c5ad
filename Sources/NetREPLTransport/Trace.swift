// What one exchange did at the socket level, for :trace and :capture: the calls made on the
// line's socket, with their results, and the local address the kernel chose (the ephemeral port).
// Recorded by Socket as it makes each call, bounded, and handed to the exchange.

import Glibc
import SystemPackage

/// One system call on a line's socket, as made.
public enum SocketCall: Sendable, Equatable {
    case socket(family: Int32, stream: Bool)
    /// nil when it connected at once; `.nowInProgress` for a non-blocking connect under way.
    case connect(SocketAddress, failed: Errno?)
    /// The outcome of a connect under way, read with SO_ERROR once the socket is writable.
    case connectCompleted(failed: Errno?)
    case send(bytes: Int)
    case sendFailed(Errno)
    /// 0 on a stream: the end of it.
    case receive(bytes: Int)
    case receiveFailed(Errno)
    case shutdownWrite
    case close
}

/// The socket side of one exchange.
public struct SocketTrace: Sendable, Equatable {
    public var calls: [SocketCall] = []
    /// Calls beyond `limit`, counted only (a flood of receives).
    public var omitted = 0
    /// The line's socket's own address: the ephemeral port the kernel chose at connect.
    public var local: SocketAddress?

    public static let limit = 64

    public init() {}

    /// Receives that brought bytes: how many reads assembled the reply (and anything after it).
    public var reads: Int {
        calls.reduce(0) { n, call in
            if case .receive(let bytes) = call, bytes > 0 { return n + 1 }
            return n
        }
    }

    mutating func append(_ call: SocketCall) {
        if calls.count < Self.limit { calls.append(call) } else { omitted += 1 }
    }

    mutating func append(_ other: SocketTrace) {
        for call in other.calls { append(call) }
        omitted += other.omitted
        local = other.local ?? local
    }
}

extension Exchange {
    /// Adds what `socket` did since it was last asked (the line's own socket).
    mutating func trace(_ socket: Socket) {
        trace.append(socket.takeTrace())
    }
}

extension SocketAddress {
    /// The numeric host, `127.0.0.1` or `::1`.
    public var hostText: String { numeric.host }
    public var portNumber: Int { numeric.port }

    /// The address of `fd`'s own end (getsockname), nil when it has none.
    static func local(of fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard rc == 0 else { return nil }
        return withUnsafePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress(copying: $0, length: length) }
        }
    }
}
