// An owned, non-blocking socket: every system call the transports make on one, wrapped once and
// typed. The descriptor is closed exactly once, when the socket goes away or `close()` is called.

import Glibc
import SystemCalls
import SystemPackage

/// One received chunk: how many bytes, and when the kernel took them off the wire.
struct Received {
    var count: Int
    /// From the kernel's receive timestamp, so that a reply that arrived while netrepl was
    /// stopped (Ctrl-Z) or descheduled keeps its true arrival time; the time of the call when
    /// the kernel gave none (the end of a stream).
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
        // A connect interrupted by a signal goes on in the background, as EINPROGRESS would.
        guard try interruptible({ address.withSockaddr { sa, length in Glibc.connect(fd, sa, length) } }) != nil else {
            throw .nowInProgress
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

/// What a bounded wait on some sockets ended with.
enum WaitOutcome: Equatable {
    /// The indexes, in the array given, of the sockets that are ready (or in error).
    case ready([Int])
    case timedOut
    /// A signal the caller cares about arrived while waiting.
    case interrupted(signal: Int32)
    case failed(Errno)
}

enum Readiness {
    enum Interest {
        case readable, writable

        var events: Int16 { Int16(self == .readable ? POLLIN : POLLOUT) }
    }

    /// Waits until one of `sockets` is ready for `interest` (or in error) or `deadline` passes.
    ///
    /// A process signal may be delivered to another thread (with `--serve`, one of the server's),
    /// and then this thread's poll is not interrupted: so the wait is cut into slices of at most
    /// 50 ms, after each of which `interruption` is asked again.
    static func wait(_ sockets: [Socket], for interest: Interest, until deadline: ContinuousClock.Instant?,
                     interruption: () -> Int32?) -> WaitOutcome {
        let slice = Duration.milliseconds(50)
        var fds = sockets.map { pollfd(fd: $0.rawDescriptor, events: interest.events, revents: 0) }
        while true {
            if let signal = interruption() { return .interrupted(signal: signal) }
            var wait = slice
            if let deadline {
                let remaining = deadline - .now
                if remaining <= .zero { return .timedOut }
                wait = min(remaining, slice)
            }
            // Rounded up, so that a wait never wakes a hair early and spins.
            let milliseconds = Int32((wait.components.seconds * 1000) + (wait.components.attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
            for i in fds.indices { fds[i].revents = 0 }
            do {
                // Interrupted: the loop asks `interruption` what the signal was.
                let ready = try interruptible { poll(&fds, nfds_t(fds.count), milliseconds) }
                if let ready, ready > 0 { return .ready(fds.indices.filter { fds[$0].revents != 0 }) }
            } catch {
                return .failed(error)
            }
        }
    }
}
