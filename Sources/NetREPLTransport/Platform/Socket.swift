// An owned, non-blocking socket: every system call the transports make on one, wrapped once and
// typed. The descriptor is closed exactly once, when the socket goes away or `close()` is called.
// It keeps the kernel's stamps of its sends and receipts, and a trace of its calls for :trace.

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
    /// False when the kernel gave no stamp (a bare FIN) and `arrival` is the monotonic clock's now.
    var kernelStamped: Bool
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
        self.kind = kind
        trace.append(.socket(family: family, stream: kind == .stream))
        Self.holdReceiveStampingOn()
        setOption(SOL_SOCKET, SO_TIMESTAMPNS, 1)
        if kind == .stream { setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1) }
        // A stream refuses OPT_ID until it is connected (EINVAL in CLOSE): it asks at its first send.
        if kind == .datagram { enableSendStamps() }
    }

    let kind: Kind

    deinit { close() }

    /// The kernel stamps arriving packets only while some socket on the machine asks for stamps,
    /// and it turns that on and off through deferred work (net_enable_timestamp): a TCP segment
    /// that arrives before the work has run carries no stamp, and TCP, unlike UDP, does not stamp
    /// it at recvmsg instead. A socket of netrepl's own, opened once and never closed, keeps the
    /// stamping on for the life of the process, so that it does not go off between one line's
    /// socket and the next. Transports call this when they are made, before their first line.
    static func holdReceiveStampingOn() { _ = receiveStampingHolder }

    private static let receiveStampingHolder: Int32 = {
        let raw = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var on: Int32 = 1
        if raw >= 0 { _ = setsockopt(raw, SOL_SOCKET, SO_TIMESTAMPNS, &on, socklen_t(MemoryLayout<Int32>.size)) }
        return raw
    }()

    var rawDescriptor: Int32 { descriptor?.rawValue ?? -1 }

    func close() {
        guard let descriptor else { return }
        self.descriptor = nil
        try? descriptor.close()
        trace.append(.close)
    }

    /// What was done on this socket since the last call (see Trace.swift).
    private var trace = SocketTrace()

    func takeTrace() -> SocketTrace {
        defer { trace = SocketTrace(); trace.local = localAddress }
        trace.local = localAddress
        return trace
    }

    /// This end's address, once connect has bound it.
    private(set) var localAddress: SocketAddress?

    private func setOption(_ level: Int32, _ name: Int32, _ value: Int32) {
        var value = value
        _ = setsockopt(rawDescriptor, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Starts connecting; `.nowInProgress` means the answer comes with writability (`pendingError`).
    func connect(to address: SocketAddress) throws(Errno) {
        let fd = rawDescriptor
        let failure: Errno?
        do {
            // nil: interrupted by a signal, after which the connect goes on in the background.
            failure = try interruptible({ address.withSockaddr { sa, length in Glibc.connect(fd, sa, length) } }) == nil ? .interrupted : nil
        } catch {
            failure = error
        }
        // The kernel binds the ephemeral port at connect, even one still in progress.
        localAddress = SocketAddress.local(of: fd)
        trace.append(.connect(address, failed: failure))
        guard let failure else { return }
        // A connect interrupted by a signal goes on in the background, as EINPROGRESS would.
        throw failure == .interrupted ? .nowInProgress : failure
    }

    /// SO_ERROR: the outcome of a non-blocking connect, or an asynchronous error (ICMP).
    func pendingError() -> Errno? {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(rawDescriptor, SOL_SOCKET, SO_ERROR, &value, &length) != 0 { return Errno(rawValue: errno) }
        trace.append(.connectCompleted(failed: value == 0 ? nil : Errno(rawValue: value)))
        return value == 0 ? nil : Errno(rawValue: value)
    }

    /// Sends what the kernel takes now of `bytes[offset...]` (`.wouldBlock` when it takes nothing).
    /// Never raises SIGPIPE.
    func send(_ bytes: [UInt8], from offset: Int = 0) throws(Errno) -> Int {
        let fd = rawDescriptor
        if kind == .stream && !sendStampsAsked { enableSendStamps() }
        do {
            let sent = try retryingInterrupts {
                bytes.withUnsafeBytes { raw in Glibc.send(fd, raw.baseAddress.map { $0 + offset }, raw.count - offset, Int32(MSG_NOSIGNAL)) }
            }
            noteSent(sent)
            trace.append(.send(bytes: sent))
            return sent
        } catch .wouldBlock {
            // A stamp waiting in the error queue makes poll report POLLERR at once: collect it, or
            // the wait for room would spin.
            collectSendStamps()
            throw .wouldBlock
        } catch {
            trace.append(.sendFailed(error))
            throw error
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
        trace.append(.shutdownWrite)
    }

    /// Receives what is there now into `buffer`, with the kernel's timestamp; `.wouldBlock` when
    /// nothing is. A count of 0 on a stream is the end of it.
    func receive(into buffer: inout [UInt8]) throws(Errno) -> Received {
        let fd = rawDescriptor
        // Room for SCM_TIMESTAMPNS and the SCM_TIMESTAMPING that SO_TIMESTAMPING's SOFTWARE
        // reporting adds beside it (three timespecs).
        var control = [UInt64](repeating: 0, count: 32)
        var stamp: Int64?
        let count: Int
        do {
            count = try retryingInterrupts {
                Self.receiveMessage(fd, into: &buffer, control: &control, flags: Int32(MSG_DONTWAIT)) { message in
                    stamp = Self.receiveStamp(in: message)
                }
            }
        } catch .wouldBlock {
            // A send stamp in the error queue wakes poll (POLLERR) as data would: collect it, so
            // that the next wait sleeps.
            collectSendStamps()
            throw .wouldBlock
        } catch {
            trace.append(.receiveFailed(error))
            throw error
        }
        trace.append(.receive(bytes: count))
        let arrival = stamp.map(Clocks.instant(ofKernelStamp:)) ?? .now
        return Received(count: count, arrival: arrival, kernelStamped: stamp != nil)
    }

    /// One recvmsg(2) into `buffer` with room for control messages, which `inspect` reads when it succeeds.
    private static func receiveMessage(
        _ fd: Int32, into buffer: inout [UInt8], control: inout [UInt64], flags: Int32,
        inspect: (msghdr) -> Void
    ) -> Int {
        buffer.withUnsafeMutableBytes { data in
            control.withUnsafeMutableBytes { controlBytes in
                var iov = iovec(iov_base: data.baseAddress, iov_len: data.count)
                return withUnsafeMutablePointer(to: &iov) { iovPointer in
                    var message = msghdr()
                    message.msg_iov = iovPointer
                    message.msg_iovlen = 1
                    message.msg_control = controlBytes.baseAddress
                    message.msg_controllen = controlBytes.count
                    let n = recvmsg(fd, &message, flags)
                    if n >= 0 { inspect(message) }
                    return n
                }
            }
        }
    }

    /// The SCM_TIMESTAMPNS control message of a received message, as nanoseconds since the epoch.
    private static func receiveStamp(in message: msghdr) -> Int64? {
        var stamp: Int64?
        forEachControlMessage(in: message) { level, type, data in
            if level == SOL_SOCKET && type == SO_TIMESTAMPNS, let ts = data.load(timespec.self) { stamp = ts.nanoseconds }
        }
        return stamp
    }

    /// Calls `body` with the level, type and data of each control message (CMSG_FIRSTHDR/NXTHDR).
    private static func forEachControlMessage(in message: msghdr, _ body: (Int32, Int32, UnsafeRawBufferPointer) -> Void) {
        guard let base = message.msg_control else { return }
        let end = Int(message.msg_controllen)
        var offset = 0
        while offset + MemoryLayout<cmsghdr>.size <= end {
            let header = base.load(fromByteOffset: offset, as: cmsghdr.self)
            guard header.cmsg_len >= MemoryLayout<cmsghdr>.size, offset + Int(header.cmsg_len) <= end else { return }
            let dataOffset = offset + MemoryLayout<cmsghdr>.size
            body(
                header.cmsg_level, header.cmsg_type,
                UnsafeRawBufferPointer(start: base + dataOffset, count: Int(header.cmsg_len) - MemoryLayout<cmsghdr>.size))
            // CMSG_NXTHDR: lengths are aligned to the size of a word.
            offset += (Int(header.cmsg_len) + MemoryLayout<Int>.size - 1) & ~(MemoryLayout<Int>.size - 1)
        }
    }

    // MARK: kernel send stamps

    // The send side of a round trip, stamped by the kernel as the receive side already is
    // (timestamping.rst): SO_TIMESTAMPING with TX_SOFTWARE asks for a stamp when the packet is
    // handed to the device, SOFTWARE reports it, OPT_ID says which send it belongs to, OPT_TSONLY
    // keeps the packet itself out of the error queue where the stamp is read (MSG_ERRQUEUE).
    //
    // On TCP (§1.4) one stamp covers a whole send(): it is taken for the send's last byte, which
    // with TCP_NODELAY (set above) leaves at once instead of waiting to be coalesced. TX_SOFTWARE,
    // not TX_ACK: the ACK stamp is when the server's kernel acknowledged the bytes, which is half a
    // round trip later, not when the line left. Where no stamp comes (a segment held back by the
    // congestion window, a kernel without the option) the caller keeps its monotonic reading.
    private static let timestampingOption: Int32 = 37  // SO_TIMESTAMPING (SO_TIMESTAMPING_OLD, 64-bit time_t)
    private static let stampFlags: Int32 = 1 << 1 | 1 << 4 | 1 << 7 | 1 << 11  // TX_SOFTWARE|SOFTWARE|OPT_ID|OPT_TSONLY
    private static let errorQueueFlag: Int32 = 0x2000  // MSG_ERRQUEUE
    private static let originTimestamping: UInt8 = 4  // SO_EE_ORIGIN_TIMESTAMPING
    private static let recvErrIPv4: (level: Int32, type: Int32) = (0, 11)  // SOL_IP, IP_RECVERR
    private static let recvErrIPv6: (level: Int32, type: Int32) = (41, 25)  // SOL_IPV6, IPV6_RECVERR

    private var sendStampsAsked = false
    /// The kernel accepted SO_TIMESTAMPING: sends are stamped.
    private(set) var sendStampsOn = false
    /// The OPT_ID key the next send's last byte gets: a datagram count, or a stream's byte offset.
    private var nextKey: UInt32 = 0
    private var lastKey: UInt32?
    /// Send stamps read from the error queue, by OPT_ID key, in nanoseconds since the epoch.
    private var sendStamps: [UInt32: Int64] = [:]

    private func enableSendStamps() {
        sendStampsAsked = true
        var flags = Self.stampFlags
        sendStampsOn = setsockopt(rawDescriptor, SOL_SOCKET, Self.timestampingOption, &flags, socklen_t(MemoryLayout<Int32>.size)) == 0
    }

    private func noteSent(_ count: Int) {
        guard sendStampsOn else { return }
        switch kind {
        case .datagram:
            lastKey = nextKey
            nextKey &+= 1
        case .stream:
            guard count > 0 else { return }
            nextKey &+= UInt32(truncatingIfNeeded: count)
            lastKey = nextKey &- 1
        }
    }

    /// When the kernel handed the last send's last byte to the device, on the monotonic timeline;
    /// nil when it gave no stamp (yet). Forgets the stamps read so far. `waiting`: give the stamp
    /// a millisecond to come when it is not there yet.
    func lastSendStamp(waiting: Bool = true) -> ContinuousClock.Instant? {
        guard sendStampsOn, let lastKey else { return nil }
        collectSendStamps()
        if sendStamps[lastKey] == nil && waiting {
            // The stamp is queued as the packet reaches the device, nearly always before send()
            // returns; on a busy machine TCP may hand the segment on a moment later. Wait for it
            // (POLLERR) at most a millisecond: the reply's own stamp does not depend on this wait.
            var fd = pollfd(fd: rawDescriptor, events: 0, revents: 0)
            if poll(&fd, 1, 1) > 0 { collectSendStamps() }
        }
        defer { sendStamps = [:] }
        return sendStamps[lastKey].map(Clocks.instant(ofKernelStamp:))
    }

    /// Reads what waits in the error queue (bounded), keeping the send stamps.
    private func collectSendStamps() {
        guard sendStampsOn else { return }
        var payload = [UInt8](repeating: 0, count: 64)
        var control = [UInt64](repeating: 0, count: 32)
        for _ in 0..<64 {
            var key: UInt32?
            var stamp: Int64?
            let n = Self.receiveMessage(
                rawDescriptor, into: &payload, control: &control,
                flags: Self.errorQueueFlag | Int32(MSG_DONTWAIT)
            ) { message in
                Self.forEachControlMessage(in: message) { level, type, data in
                    if level == SOL_SOCKET && type == Self.timestampingOption, let ts = data.load(timespec.self) {
                        stamp = ts.nanoseconds  // ts[0] of struct scm_timestamping: the software stamp
                    } else if (level, type) == Self.recvErrIPv4 || (level, type) == Self.recvErrIPv6, data.count >= 16,
                        // struct sock_extended_err: ee_origin at 4, ee_info at 8, ee_data at 12.
                        data[4] == Self.originTimestamping, data.loadUnaligned(fromByteOffset: 8, as: UInt32.self) == 0 /* SCM_TSTAMP_SND */
                    {
                        key = data.loadUnaligned(fromByteOffset: 12, as: UInt32.self)
                    }
                }
            }
            guard n >= 0 else { return }
            if let key, let stamp, stamp != 0 { sendStamps[key] = stamp }
        }
    }
}

extension UnsafeRawBufferPointer {
    /// A copy of the `T` at the start of these bytes, or nil when they are too few.
    fileprivate func load<T>(_ type: T.Type) -> T? {
        guard count >= MemoryLayout<T>.size, let baseAddress else { return nil }
        return baseAddress.loadUnaligned(as: T.self)
    }
}

extension timespec {
    fileprivate var nanoseconds: Int64 { Int64(tv_sec) * 1_000_000_000 + Int64(tv_nsec) }
}
