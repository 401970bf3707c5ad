// TCP in two shapes: one persistent connection carrying a line and its reply each way (newline
// framed), or the textbook client's connection per line (send, half-close, read to EOF).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

final class TCPTransport: Transport {
    let kind = TransportKind.tcp
    var mode: TCPMode {
        didSet { if mode != oldValue { close() } }
    }
    private let addresses: [SocketAddress]
    private var fd: Int32 = -1
    private var peer: SocketAddress?
    /// Bytes that came after the newline ending the previous reply.
    private var leftover: [UInt8] = []
    /// Why the connection ended, told when the next line reconnects.
    private var endedBecause: String?
    private var everConnected = false
    /// A server that streams without ever sending a newline must not exhaust memory.
    static let maximumReply = 16 << 20

    init(addresses: [SocketAddress], mode: TCPMode) {
        self.addresses = addresses
        self.mode = mode
    }

    deinit { close() }

    var isConnected: Bool { fd >= 0 }

    func close() {
        if fd >= 0 { closeDescriptor(fd) }
        fd = -1
        leftover = []
    }

    private var peerText: String { (peer ?? addresses.first)?.description ?? "?" }

    private enum ConnectFailure: Error {
        case failed(message: String, interruptedBy: Int32?)
    }

    /// Connects to the first resolved address that accepts, within `timeout` for each.
    private func connectAny(timeout: UInt64) -> Result<(fd: Int32, peer: SocketAddress, nanoseconds: UInt64), ConnectFailure> {
        var lastError = "no address to connect to"
        for address in addresses {
            let s = openSocket(family: address.family, type: streamSocket)
            guard s >= 0 else {
                lastError = "cannot open a TCP socket: \(errnoText(errno))"
                continue
            }
            _ = fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK)
            var one: Int32 = 1
            _ = setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let started = monotonicNanoseconds()
            var rc = address.withSockaddr { connect(s, $0, $1) }
            var err: Int32 = rc == 0 ? 0 : errno
            if rc != 0 && (err == EINPROGRESS || err == EINTR) {
                switch waitFor(fd: s, events: Int16(POLLOUT), deadline: started &+ timeout) {
                case .ready:
                    var soError: Int32 = 0
                    var len = socklen_t(MemoryLayout<Int32>.size)
                    rc = getsockopt(s, SOL_SOCKET, SO_ERROR, &soError, &len)
                    err = rc == 0 ? soError : errno
                case .timedOut:
                    err = ETIMEDOUT
                case .signal(let sig):
                    closeDescriptor(s)
                    return .failure(.failed(message: "interrupted while connecting to tcp \(address)", interruptedBy: sig))
                case .failed(let e):
                    err = e
                }
            }
            let finished = monotonicNanoseconds()
            if err == 0 {
                return .success((s, address, finished &- started))
            }
            closeDescriptor(s)
            switch err {
            case ECONNREFUSED:
                lastError = "nothing listening on tcp \(address); start netrepl-server there, or :connect to another host or port"
            case ETIMEDOUT:
                lastError = "no answer from tcp \(address) within \(formatDuration(timeout)); check the host, or raise :timeout"
            default:
                lastError = "cannot connect to tcp \(address): \(errnoText(err)); check the address and your network"
            }
        }
        return .failure(.failed(message: lastError, interruptedBy: nil))
    }

    func exchange(line: String, payload: [UInt8], timeout: UInt64) -> Exchange {
        switch mode {
        case .persistent: return persistentExchange(line: line, payload: payload, timeout: timeout)
        case .perLine: return perLineExchange(line: line, payload: payload, timeout: timeout)
        }
    }

    // MARK: persistent

    /// Before a send: notices a connection the server closed, and bytes nobody asked for.
    private func checkIdleConnection(_ result: inout Exchange) {
        if !leftover.isEmpty {
            result.events.append(.late(LateReply(payload: leftover, line: nil, rttNanoseconds: nil, duplicate: false)))
            leftover = []
        }
        guard fd >= 0 else { return }
        var stray: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, dontWait) }
            if n > 0 {
                stray += chunk[0..<n]
                if stray.count > Self.maximumReply { break }
                continue
            }
            if n == 0 {
                endedBecause = "the server closed the connection"
                close()
            } else if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                endedBecause = "the connection failed (\(errnoText(errno)))"
                close()
            }
            break
        }
        if !stray.isEmpty {
            result.events.append(.late(LateReply(payload: stray, line: nil, rttNanoseconds: nil, duplicate: false)))
        }
    }

    private func ensureConnected(_ result: inout Exchange, timeout: UInt64) -> Bool {
        if fd >= 0 { return true }
        switch connectAny(timeout: timeout) {
        case .success(let c):
            fd = c.fd
            peer = c.peer
            leftover = []
            let reason = everConnected ? (endedBecause ?? "the previous connection ended") : nil
            everConnected = true
            endedBecause = nil
            result.events.append(.connected(peer: c.peer.description, nanoseconds: c.nanoseconds, reconnectReason: reason))
            result.peer = c.peer.description
            return true
        case .failure(.failed(let message, let sig)):
            result.error = message
            result.failure = sig == nil ? .connection : .exchange
            result.interruptedBy = sig
            result.peer = peerText
            return false
        }
    }

    private func persistentExchange(line: String, payload: [UInt8], timeout: UInt64) -> Exchange {
        var result = Exchange(transport: .tcp, tcpMode: .persistent, line: line, peer: peerText, outcome: .error)
        let payload = payload + [UInt8(ascii: "\n")]
        result.bytesSent = payload.count
        checkIdleConnection(&result)
        // One retry: a connection the server closed between our check and our send fails on use.
        for attempt in 0..<2 {
            let reused = fd >= 0
            guard ensureConnected(&result, timeout: timeout) else { return result }
            result.peer = peerText
            let sentAt = monotonicNanoseconds()
            if let failure = sendAll(payload, deadline: sentAt &+ timeout) {
                if case .signal(let sig) = failure {
                    result.interruptedBy = sig
                    result.error = "interrupted while sending"
                    result.failure = .exchange
                    close()
                    return result
                }
                close()
                endedBecause = "the connection failed (\(failure.text))"
                if attempt == 0 && reused { continue }
                result.error = "sending to tcp \(peerText) failed: \(failure.text)"
                result.failure = .exchange
                return result
            }
            switch readReply(sentAt: sentAt, timeout: timeout, untilNewline: true) {
            case .reply(let bytes, let arrival, let endedWithEOF):
                result.outcome = .ok
                result.reply = bytes.last == UInt8(ascii: "\n") ? Array(bytes.dropLast()) : bytes
                result.bytesReceived = bytes.count
                result.rttNanoseconds = arrival &- sentAt
                if endedWithEOF {
                    endedBecause = "the server closed the connection after its reply"
                    close()
                }
                return result
            case .closedEmpty(let why):
                close()
                endedBecause = why
                if attempt == 0 && reused { continue }
                result.error = "tcp \(peerText): \(why) before replying"
                result.failure = .exchange
                return result
            case .timedOut:
                close()
                endedBecause = "no reply within the timeout; the connection was closed so a late reply cannot pass for the next one"
                result.outcome = .lost
                result.error = "no reply from tcp \(peerText) within \(formatDuration(timeout)); the connection was closed"
                return result
            case .interrupted(let sig):
                close()
                result.interruptedBy = sig
                result.error = "interrupted while waiting for the reply"
                result.failure = .exchange
                return result
            case .failed(let message):
                close()
                endedBecause = message
                result.error = "tcp \(peerText): \(message)"
                result.failure = .exchange
                return result
            }
        }
        return result
    }

    // MARK: per line

    private func perLineExchange(line: String, payload: [UInt8], timeout: UInt64) -> Exchange {
        var result = Exchange(transport: .tcp, tcpMode: .perLine, line: line, peer: peerText, outcome: .error)
        result.bytesSent = payload.count
        close()
        switch connectAny(timeout: timeout) {
        case .success(let c):
            fd = c.fd
            peer = c.peer
            result.peer = c.peer.description
            result.connectNanoseconds = c.nanoseconds
        case .failure(.failed(let message, let sig)):
            result.error = message
            result.failure = sig == nil ? .connection : .exchange
            result.interruptedBy = sig
            return result
        }
        defer { close() }
        let sentAt = monotonicNanoseconds()
        if let failure = sendAll(payload, deadline: sentAt &+ timeout) {
            if case .signal(let sig) = failure { result.interruptedBy = sig }
            result.error = "sending to tcp \(peerText) failed: \(failure.text)"
            result.failure = .exchange
            return result
        }
        // The half-close tells a streaming server (netrepl-server) that the request is complete;
        // a read-once server (the textbook's) has its bytes already and does not care.
        _ = shutdown(fd, Int32(SHUT_WR))
        switch readReply(sentAt: sentAt, timeout: timeout, untilNewline: false) {
        case .reply(let bytes, let arrival, _):
            result.outcome = .ok
            result.reply = bytes
            result.bytesReceived = bytes.count
            result.rttNanoseconds = arrival &- sentAt
        case .closedEmpty:
            // An empty reply to an empty line is a reply; to anything else it is a failure.
            if payload.isEmpty {
                result.outcome = .ok
                result.reply = []
                result.rttNanoseconds = monotonicNanoseconds() &- sentAt
            } else {
                result.error = "tcp \(peerText): the server closed the connection without replying"
                result.failure = .exchange
            }
        case .timedOut:
            result.outcome = .lost
            result.error = "no reply from tcp \(peerText) within \(formatDuration(timeout))"
        case .interrupted(let sig):
            result.interruptedBy = sig
            result.error = "interrupted while waiting for the reply"
            result.failure = .exchange
        case .failed(let message):
            result.error = "tcp \(peerText): \(message)"
            result.failure = .exchange
        }
        return result
    }

    // MARK: I/O

    private enum SendFailure {
        case errno(Int32)
        case timedOut
        case signal(Int32)

        var text: String {
            switch self {
            case .errno(let e): return errnoText(e)
            case .timedOut: return "the server stopped reading (timed out)"
            case .signal: return "interrupted"
            }
        }
    }

    private func sendAll(_ bytes: [UInt8], deadline: UInt64) -> SendFailure? {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, noSignal) }
            if n >= 0 {
                offset += n
                continue
            }
            let e = errno
            if e == EINTR { continue }
            guard e == EAGAIN || e == EWOULDBLOCK else { return .errno(e) }
            switch waitFor(fd: fd, events: Int16(POLLOUT), deadline: deadline) {
            case .ready: continue
            case .timedOut: return .timedOut
            case .signal(let sig): return .signal(sig)
            case .failed(let e): return .errno(e)
            }
        }
        return nil
    }

    private enum ReadOutcome {
        case reply(bytes: [UInt8], arrival: UInt64, endedWithEOF: Bool)
        case closedEmpty(String)
        case timedOut
        case interrupted(Int32)
        case failed(String)
    }

    /// Reads the reply: up to and including the first newline (persistent), or to EOF (per line).
    /// The timeout bounds each wait for more bytes, so a long reply that keeps coming is not cut.
    private func readReply(sentAt: UInt64, timeout: UInt64, untilNewline: Bool) -> ReadOutcome {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        var deadline = sentAt &+ timeout
        while true {
            switch waitFor(fd: fd, events: Int16(POLLIN), deadline: deadline) {
            case .timedOut:
                return .timedOut
            case .signal(let sig):
                return .interrupted(sig)
            case .failed(let e):
                return .failed("waiting for the reply failed: \(errnoText(e))")
            case .ready:
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, dontWait) }
                let arrival = monotonicNanoseconds()
                if n > 0 {
                    let start = bytes.count
                    bytes += chunk[0..<n]
                    if untilNewline, let nl = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
                        leftover = Array(bytes[(nl + 1)...])
                        return .reply(bytes: Array(bytes[...nl]), arrival: arrival, endedWithEOF: false)
                    }
                    if bytes.count > Self.maximumReply {
                        return .failed("reply longer than \(Self.maximumReply >> 20) MiB without a newline; closed the connection")
                    }
                    deadline = arrival &+ timeout
                    continue
                }
                if n == 0 {
                    if bytes.isEmpty { return .closedEmpty("the server closed the connection") }
                    return .reply(bytes: bytes, arrival: arrival, endedWithEOF: true)
                }
                let e = errno
                if e == EAGAIN || e == EWOULDBLOCK || e == EINTR { continue }
                if e == ECONNRESET {
                    // The textbook server closes with unread bytes left, which resets: keep what came.
                    if !bytes.isEmpty { return .reply(bytes: bytes, arrival: arrival, endedWithEOF: true) }
                    return .closedEmpty("the server reset the connection")
                }
                return .failed("receiving failed: \(errnoText(e))")
            }
        }
    }
}
