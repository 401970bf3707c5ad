// UDP as the lecture's first program uses it: one line, one datagram. Each line goes out on a
// connected socket of its own, so an ICMP port unreachable comes back as ECONNREFUSED, replies
// from strangers are filtered out by the kernel, and a reply is attributed by the socket it
// arrives on: a late reply can never pass for the reply to a later line.

import SystemPackage

public final class UDPTransport {
    private let addresses: [SocketAddress]
    private var addressIndex = 0
    /// Set once a reply has come from the current address: from then on it is kept.
    private var addressConfirmed = false
    private let framing: any ReplyFraming
    private let attendant: Attendant

    /// `keepForLateReplies`: how many earlier lines' sockets stay open for late replies and duplicates.
    public init(addresses: [SocketAddress], framing: any ReplyFraming = DatagramFraming(), keepForLateReplies: Int = 32,
                interruption: @escaping @Sendable () -> Int32? = { nil }) {
        precondition(!addresses.isEmpty, "a transport needs an address")
        self.addresses = addresses
        self.framing = framing
        self.attendant = Attendant(keepAtMost: keepForLateReplies, interruption: interruption)
    }

    public var currentPeer: SocketAddress { addresses[addressIndex] }

    public func close() { attendant.closeAll() }

    /// Sends `line` as one datagram and waits for its reply until `timeout` has passed.
    public func exchange(_ line: Line, timeout: Duration) -> Exchange {
        var exchange = Exchange(line: line, transport: .udp, tcpMode: nil, outcome: .lost(partialBytes: 0))
        var fallbacks: [TransportEvent] = []
        exchange.timeout = timeout
        attendant.drainKept()
        send(&exchange, &fallbacks, timeout: timeout)
        exchange.events = attendant.takeEvents() + fallbacks
        return exchange
    }

    private func send(_ exchange: inout Exchange, _ fallbacks: inout [TransportEvent], timeout: Duration) {
        let line = exchange.line
        let payload = line.bytes + framing.requestTerminator
        exchange.bytesSent = payload.count
        while true {
            let address = currentPeer
            exchange.peer = address
            guard payload.count <= address.maximumDatagram else {
                exchange.outcome = .failed(.datagramTooLarge(size: payload.count, limit: address.maximumDatagram))
                return
            }
            let socket: Socket
            do {
                socket = try Socket(family: address.family, kind: .datagram)
            } catch {
                exchange.outcome = .failed(.cannotOpenSocket(error))
                return
            }
            defer { exchange.trace(socket) }
            do {
                try socket.connect(to: address)
            } catch {
                if moveToNextAddress(from: address, &fallbacks) { continue }
                exchange.outcome = .failed(.cannotConnect(address, error))
                return
            }
            let sentAt = ContinuousClock.now
            do {
                _ = try socket.send(payload)
            } catch .messageTooLong {
                exchange.outcome = .failed(.datagramTooLarge(size: payload.count, limit: address.maximumDatagram))
                return
            } catch {
                exchange.outcome = .failed(.sendFailed(address, error))
                return
            }
            let stamped = socket.lastSendStamp()
            let ticket = attendant.sent(line, framing: framing, at: stamped ?? sentAt, clock: stamped == nil ? .monotonic : .kernel)
            let attended = Attended(socket: socket, kind: .datagram, ticket: ticket, peer: address)
            switch attendant.awaitReply(on: attended, until: sentAt + timeout) {
            case .resolved(.reply(_, let reply)):
                addressConfirmed = true
                exchange.outcome = .reply(reply)
            case .resolved(.cut(_, let received, let end)):
                exchange.outcome = .truncated(received: received, end: end)
            case .resolved(.late):
                break  // never for the current line
            case .timedOut:
                exchange.outcome = .lost(partialBytes: attendant.abandon(ticket))
            case .interrupted(let signal):
                attendant.abandon(ticket)
                exchange.outcome = .cancelled(signal: signal)
            case .failed(.connectionRefused):
                attendant.close(attended)
                if moveToNextAddress(from: address, &fallbacks) { continue }
                if !addressConfirmed { addressIndex = 0 }
                exchange.outcome = .failed(.refused(address))
                return
            case .failed(let error):
                attendant.close(attended)
                exchange.outcome = .failed(.receiveFailed(address, error))
                return
            }
            // Kept after its line, for its late reply or its duplicates.
            attendant.keep(attended)
            return
        }
    }

    /// After a refusal from an address that never answered, moves on to the next resolved one.
    private func moveToNextAddress(from address: SocketAddress, _ events: inout [TransportEvent]) -> Bool {
        guard !addressConfirmed, addressIndex + 1 < addresses.count else { return false }
        addressIndex += 1
        events.append(.fellBack(from: address, to: currentPeer))
        return true
    }
}
