// An owned, non-blocking socket: every system call the transports make on one, wrapped once and
// typed. The descriptor is closed exactly once, when the socket goes away or `close()` is called.

import Glibc
import SystemPackage

/// One received chunk: how many bytes, and when the kernel took them off the wire.
struct Received {
    var count: Int
    /// From the kernel's receive timestamp, so that a reply that arrived while netrepl was
    /// stopped (Ctrl-Z) or descheduled keeps its true arrival time. Nil for end of stream.
    var arrival: ContinuousClock.Instant
}

final class Socket {
    enum Kind {
        case datagram, stream

        var rawValue: Int32 {
            switch self {
            case .datagram: return Int32(SOCK_DGRAM.rawValue)
            case .stream: return Int32(SOCK_STREAM.rawValue)
            }
        }
    }

    private(set) var descriptor: FileDescriptor?

    /// Opens a non-blocking, close-on-exec socket that records receive timestamps.
    init(family: Int32, kind: Kind) throws(Errno) {
        let flags = Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        let raw = try retryingInterrupts { Glibc.socket(family, kind.rawValue | flags, 0) }
        descriptor = FileDescriptor(rawValue: raw)
        setOption(SOL_SOCKET, SO_TIMESTAMPNS, 1)
        if kind == .stream { setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1) }
    }

    deinit { close() }

    var rawDescriptor: Int32 { descriptor?.rawValue ?? -1 }

    func close() {
        guard let descriptor else { return }
        self.descriptor = nil
        try? descriptor.close()
    }

    private func setOption(_ level: Int32, _ name: Int32, _ value: Int32) {
        var value = value
        _ = setsockopt(rawDescriptor, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Starts connecting; `.nowInProgress` means the answer comes with writability (`pendingError`).
    func connect(to address: SocketAddress) throws(Errno) {
        let fd = rawDescriptor
        let rc = address.withSockaddr { sa, length in Glibc.connect(fd, sa, length) }
        guard rc == 0 else {
            let error = Errno(rawValue: errno)
            // A connect interrupted by a signal goes on in the background, as EINPROGRESS would.
            throw error == .interrupted ? .nowInProgress : error
        }
    }

    /// SO_ERROR: the outcome of a non-blocking connect, or an asynchronous error (ICMP).
    func pendingError() -> Errno? {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(rawDescriptor, SOL_SOCKET, SO_ERROR, &value, &length) != 0 { return Errno(rawValue: errno) }
        return value == 0 ? nil : Errno(rawValue: value)
    }

    /// Sends what the kernel takes now of `bytes[offset...]` (`.wouldBlock` when it takes nothing).
    /// Never raises SIGPIPE.
    func send(_ bytes: [UInt8], from offset: Int = 0) throws(Errno) -> Int {
        let fd = rawDescriptor
        return try retryingInterrupts {
            bytes.withUnsafeBytes { raw in Glibc.send(fd, raw.baseAddress.map { $0 + offset }, raw.count - offset, Int32(MSG_NOSIGNAL)) }
        }
    }

    /// Whether a non-blocking connect has finished (the socket is writable, or in error) now. A
    /// readiness seen in a wait may belong to an earlier socket that had the same descriptor.
    func connectFinished() -> Bool {
        var fd = pollfd(fd: rawDescriptor, events: Int16(POLLOUT), revents: 0)
        return poll(&fd, 1, 0) > 0
    }

    func shutdownWrite() {
        _ = Glibc.shutdown(rawDescriptor, Int32(SHUT_WR))
    }

    /// Receives what is there now into `buffer`, with the kernel's timestamp; `.wouldBlock` when
    /// nothing is. A count of 0 on a stream is the end of it.
    func receive(into buffer: inout [UInt8]) throws(Errno) -> Received {
        let fd = rawDescriptor
        // Room for one struct timespec control message.
        var control = [UInt64](repeating: 0, count: 8)
        var stamp: Int64?
        let count = try retryingInterrupts { () -> Int in
            buffer.withUnsafeMutableBytes { data in
                control.withUnsafeMutableBytes { controlBytes in
                    var iov = iovec(iov_base: data.baseAddress, iov_len: data.count)
                    return withUnsafeMutablePointer(to: &iov) { iovPointer in
                        var message = msghdr()
                        message.msg_iov = iovPointer
                        message.msg_iovlen = 1
                        message.msg_control = controlBytes.baseAddress
                        message.msg_controllen = controlBytes.count
                        let n = recvmsg(fd, &message, Int32(MSG_DONTWAIT))
                        if n >= 0 { stamp = Self.timestamp(in: message) }
                        return n
                    }
                }
            }
        }
        let arrival = stamp.map(Clocks.instant(ofKernelStamp:)) ?? .now
        return Received(count: count, arrival: arrival)
    }

    /// The SCM_TIMESTAMPNS control message of a received message, as nanoseconds since the epoch.
    private static func timestamp(in message: msghdr) -> Int64? {
        guard message.msg_controllen >= MemoryLayout<cmsghdr>.size, let base = message.msg_control else { return nil }
        var offset = 0
        while offset + MemoryLayout<cmsghdr>.size <= message.msg_controllen {
            let header = base.load(fromByteOffset: offset, as: cmsghdr.self)
            guard header.cmsg_len >= MemoryLayout<cmsghdr>.size else { return nil }
            if header.cmsg_level == SOL_SOCKET && header.cmsg_type == SO_TIMESTAMPNS {
                let dataOffset = offset + MemoryLayout<cmsghdr>.size
                guard dataOffset + MemoryLayout<timespec>.size <= message.msg_controllen else { return nil }
                var ts = timespec()
                withUnsafeMutableBytes(of: &ts) { $0.copyMemory(from: UnsafeRawBufferPointer(start: base + dataOffset, count: MemoryLayout<timespec>.size)) }
                return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
            }
            // CMSG_NXTHDR: lengths are aligned to the size of a word.
            let aligned = (Int(header.cmsg_len) + MemoryLayout<Int>.size - 1) & ~(MemoryLayout<Int>.size - 1)
            offset += aligned
        }
        return nil
    }
}
