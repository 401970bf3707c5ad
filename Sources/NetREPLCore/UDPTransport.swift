// UDP as the lecture's first program uses it — one line, one datagram — on a connected socket, so
// that ICMP port-unreachable comes back as ECONNREFUSED and replies from strangers are filtered out.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Opens a socket of `type` for `family` with close-on-exec set.
func openSocket(family: Int32, type: Int32) -> Int32 {
    #if canImport(Glibc)
    return socket(family, type | Int32(SOCK_CLOEXEC.rawValue), 0)
    #else
    return socket(family, type, 0)
    #endif
}

#if canImport(Glibc)
let datagramSocket = Int32(SOCK_DGRAM.rawValue)
let streamSocket = Int32(SOCK_STREAM.rawValue)
let noSignal = Int32(MSG_NOSIGNAL)
let dontWait = Int32(MSG_DONTWAIT)
#else
let datagramSocket = SOCK_DGRAM
let streamSocket = SOCK_STREAM
let noSignal: Int32 = 0
let dontWait = MSG_DONTWAIT
#endif

/// The reply a well-behaved server sends for `line`: its Unicode uppercase. Used only to tell a
/// late reply to an earlier line from the reply to the current one (the protocol has no header).
func expectedReply(_ line: String) -> [UInt8] {
    Array(line.uppercased().utf8)
}

final class UDPTransport: Transport {
    let kind = TransportKind.udp
    private let addresses: [SocketAddress]
    private var addressIndex = 0
    /// Set once a reply has come from the current address: from then on it is kept.
    private var addressConfirmed = false
    private var fd: Int32 = -1
    private var buffer = [UInt8](repeating: 0, count: 65_536)

    private struct Outstanding {
        let line: String
        let expected: [UInt8]
        let sentAt: UInt64
    }
    /// Lines declared lost whose replies may still come, oldest first.
    private var outstanding: [Outstanding] = []
    /// Recent replies, to recognise duplicates.
    private var recentReplies: [[UInt8]] = []
    private static let memory = 64

    init(addresses: [SocketAddress]) {
        self.addresses = addresses
    }

    deinit { close() }

    var currentPeer: String { addresses.indices.contains(addressIndex) ? addresses[addressIndex].description : "?" }

    func close() {
        if fd >= 0 { closeDescriptor(fd) }
        fd = -1
    }

    private func openConnected() -> (errno: Int32, message: String)? {
        close()
        let address = addresses[addressIndex]
        let s = openSocket(family: address.family, type: datagramSocket)
        guard s >= 0 else {
            let e = errno
            return (e, "cannot open a UDP socket: \(errnoText(e))")
        }
        let rc = address.withSockaddr { connect(s, $0, $1) }
        if rc != 0 {
            let e = errno
            closeDescriptor(s)
            return (e, "cannot reach udp \(address): \(errnoText(e))")
        }
        fd = s
        return nil
    }

    func exchange(line: String, payload: [UInt8], timeout: UInt64) -> Exchange {
        var result = Exchange(transport: .udp, line: line, peer: currentPeer, outcome: .error)
        result.bytesSent = payload.count
        if payload.count > 65_507 {
            result.error = "line too long for one UDP datagram (\(payload.count) bytes, at most 65507); use :tcp"
            result.failure = .exchange
            return result
        }
        if fd < 0, let failure = openWithFallback(&result) {
            result.error = failure
            result.failure = .connection
            return result
        }
        drain(into: &result)
        let expected = expectedReply(line)

        while true {
            result.peer = currentPeer
            let sentAt = monotonicNanoseconds()
            let n = payload.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, noSignal) }
            if n < 0 {
                let e = errno
                if e == ECONNREFUSED, tryNextAddress(&result) { continue }
                result.error = sendError(e)
                result.failure = (e == EMSGSIZE) ? .exchange : .connection
                return result
            }
            let deadline = sentAt &+ timeout
            waiting: while true {
                switch waitFor(fd: fd, events: Int16(POLLIN), deadline: deadline) {
                case .timedOut:
                    result.outcome = .lost
                    result.error = "no reply from udp \(currentPeer) within \(formatDuration(timeout))"
                    remember(Outstanding(line: line, expected: expected, sentAt: sentAt))
                    return result
                case .signal(let sig):
                    result.interruptedBy = sig
                    result.error = "interrupted while waiting for the reply"
                    result.failure = .exchange
                    return result
                case .failed(let e):
                    result.error = "waiting for the reply from udp \(currentPeer) failed: \(errnoText(e))"
                    result.failure = .exchange
                    return result
                case .ready:
                    let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, dontWait) }
                    let arrival = monotonicNanoseconds()
                    if got < 0 {
                        let e = errno
                        if e == EAGAIN || e == EWOULDBLOCK || e == EINTR { continue waiting }
                        if e == ECONNREFUSED {
                            if tryNextAddress(&result) { break waiting }
                            result.error = "nothing listening on udp \(currentPeer); start netrepl-server there, or :connect to another host or port"
                            result.failure = .connection
                            return result
                        }
                        result.error = "receiving from udp \(currentPeer) failed: \(errnoText(e))"
                        result.failure = .exchange
                        return result
                    }
                    let datagram = Array(buffer[0..<got])
                    if datagram != expected, let late = matchOutstanding(datagram, arrival: arrival) {
                        result.events.append(.late(late))
                        continue waiting
                    }
                    if datagram != expected, recentReplies.contains(datagram) {
                        result.events.append(.late(LateReply(payload: datagram, line: nil, rttNanoseconds: nil, duplicate: true)))
                        continue waiting
                    }
                    addressConfirmed = true
                    result.outcome = .ok
                    result.reply = datagram
                    result.bytesReceived = datagram.count
                    result.rttNanoseconds = arrival &- sentAt
                    result.error = nil
                    recentReplies.append(datagram)
                    if recentReplies.count > Self.memory { recentReplies.removeFirst() }
                    return result
                }
            }
        }
    }

    private func sendError(_ e: Int32) -> String {
        switch e {
        case ECONNREFUSED:
            return "nothing listening on udp \(currentPeer); start netrepl-server there, or :connect to another host or port"
        case EMSGSIZE:
            return "line too long for one UDP datagram to \(currentPeer); use :tcp"
        default:
            return "sending to udp \(currentPeer) failed: \(errnoText(e)); check the address and your network"
        }
    }

    /// Opens the socket, falling back through the resolved addresses when one cannot be reached.
    private func openWithFallback(_ result: inout Exchange) -> String? {
        var lastError = ""
        while addressIndex < addresses.count {
            guard let failure = openConnected() else {
                result.peer = currentPeer
                return nil
            }
            lastError = failure.message
            guard addressIndex + 1 < addresses.count else { break }
            addressIndex += 1
        }
        addressIndex = 0
        return lastError
    }

    /// After ECONNREFUSED from an address that never answered, moves to the next resolved address.
    private func tryNextAddress(_ result: inout Exchange) -> Bool {
        guard !addressConfirmed, addressIndex + 1 < addresses.count else { return false }
        let refused = currentPeer
        addressIndex += 1
        if openConnected() != nil { return false }
        result.events.append(.notice("nothing listening on udp \(refused); trying \(currentPeer)"))
        return true
    }

    /// Datagrams waiting before a send answer earlier lines: they are late, never the next reply.
    private func drain(into result: inout Exchange) {
        while true {
            let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, dontWait) }
            if got < 0 {
                let e = errno
                // A refusal left over from an earlier send says nothing about this one.
                if e == EINTR || e == ECONNREFUSED { continue }
                return
            }
            let datagram = Array(buffer[0..<got])
            if let late = matchOutstanding(datagram, arrival: nil) {
                result.events.append(.late(late))
            } else if recentReplies.contains(datagram) {
                result.events.append(.late(LateReply(payload: datagram, line: nil, rttNanoseconds: nil, duplicate: true)))
            } else if !outstanding.isEmpty {
                // Not the uppercase of any lost line (a server that answers differently): the oldest
                // lost line is the best guess, as replies on one path mostly keep their order.
                let oldest = outstanding.removeFirst()
                result.events.append(.late(LateReply(payload: datagram, line: oldest.line, rttNanoseconds: nil, duplicate: false)))
            } else {
                result.events.append(.late(LateReply(payload: datagram, line: nil, rttNanoseconds: nil, duplicate: false)))
            }
        }
    }

    private func matchOutstanding(_ datagram: [UInt8], arrival: UInt64?) -> LateReply? {
        guard let i = outstanding.firstIndex(where: { $0.expected == datagram }) else { return nil }
        let lost = outstanding.remove(at: i)
        return LateReply(payload: datagram, line: lost.line, rttNanoseconds: arrival.map { $0 &- lost.sentAt }, duplicate: false)
    }

    private func remember(_ lost: Outstanding) {
        outstanding.append(lost)
        if outstanding.count > Self.memory { outstanding.removeFirst() }
    }
}
