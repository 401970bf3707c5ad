// UDP as the lecture's first program uses it: one line, one datagram. Each line goes out on a
// connected socket of its own, so an ICMP port unreachable comes back as ECONNREFUSED, replies
// from strangers are filtered out by the kernel, and a reply is attributed by the socket it
// arrives on: a late reply can never pass for the reply to a later line, and any number of
// lines can wait at once, each for its own reply.

import SystemPackage

public final class UDPTransport: Transport {
    private let addresses: [SocketAddress]
    private var addressIndex = 0
    /// Set once a reply has come from the current address: from then on it is kept.
    private var addressConfirmed = false
    private let framing: any ReplyFraming
    private let attendant: Attendant
    public let interruption: @Sendable () -> Int32?

    /// A line sent and waiting for its reply.
    private struct Flight {
        let id: SubmissionID
        var exchange: Exchange
        let attended: Attended
        let deadline: ContinuousClock.Instant

        /// The exchange with its socket's calls so far (the send, and each receive since); takes them.
        func tracedExchange() -> Exchange {
            var exchange = exchange
            exchange.trace(attended.socket)
            return exchange
        }
    }

    private var flights: [Flight] = []
    private var notices: [TransportNotice] = []

    /// `keepForLateReplies`: how many earlier lines' sockets stay open for late replies and duplicates.
    public init(
        addresses: [SocketAddress], framing: any ReplyFraming = DatagramFraming(), keepForLateReplies: Int = 32,
        interruption: @escaping @Sendable () -> Int32? = { nil }
    ) {
        precondition(!addresses.isEmpty, "a transport needs an address")
        self.addresses = addresses
        self.framing = framing
        self.attendant = Attendant(keepAtMost: keepForLateReplies)
        self.interruption = interruption
        Socket.holdReceiveStampingOn()
    }

    public var kind: TransportKind { .udp }
    public var tcpMode: TCPMode? { nil }
    public var currentPeer: SocketAddress { addresses[addressIndex] }
    public var waiting: Int { flights.count }

    public func close() {
        for flight in flights { attendant.close(flight.attended) }
        flights = []
        attendant.closeAll()
    }

    @discardableResult
    public func submit(_ line: Line, timeout: Duration) -> SubmissionID {
        let id = Submissions.next()
        // What already waits answers earlier lines, and is said before this one goes.
        attendant.serviceKept(ready: nil)
        flushEvents()
        var exchange = Exchange(line: line, transport: .udp, tcpMode: nil, outcome: .lost(partialBytes: 0))
        exchange.timeout = timeout
        launch(id, exchange)
        return id
    }

    /// Sends the line of `exchange` to the current address, or settles it if it cannot go.
    private func launch(_ id: SubmissionID, _ exchange: Exchange) {
        var exchange = exchange
        let payload = exchange.line.bytes + framing.requestTerminator
        while true {
            let address = currentPeer
            exchange.peer = address
            guard payload.count <= address.maximumDatagram else {
                return settle(id, exchange, .failed(.datagramTooLarge(size: payload.count, limit: address.maximumDatagram)))
            }
            let socket: Socket
            do {
                socket = try Socket(family: address.family, kind: .datagram)
            } catch {
                return settle(id, exchange, .failed(.cannotOpenSocket(error)))
            }
            do {
                try socket.connect(to: address)
            } catch {
                exchange.trace(socket)
                if moveToNextAddress(from: address) { continue }
                return settle(id, exchange, .failed(.cannotConnect(address, error)))
            }
            let sentAt = ContinuousClock.now
            do {
                _ = try socket.send(payload)
            } catch .messageTooLong {
                exchange.trace(socket)
                return settle(id, exchange, .failed(.datagramTooLarge(size: payload.count, limit: address.maximumDatagram)))
            } catch {
                exchange.trace(socket)
                return settle(id, exchange, .failed(.sendFailed(address, error)))
            }
            // Counted once the datagram left: one too large, or unsendable, has sent nothing.
            exchange.bytesSent = payload.count
            // The socket's calls go into the exchange when its flight settles (`settle(_:_:)`),
            // so that they include the receives that brought the reply.
            let stamped = socket.lastSendStamp()
            let ticket = attendant.sent(
                exchange.line, framing: framing, at: stamped ?? sentAt,
                clock: stamped == nil ? .monotonic : .kernel)
            let attended = Attended(socket: socket, kind: .datagram, ticket: ticket, peer: address)
            flights.append(Flight(id: id, exchange: exchange, attended: attended, deadline: sentAt + exchange.timeout))
            return
        }
    }

    public var interests: [PollInterest] {
        flights.map { PollInterest(descriptor: $0.attended.socket.rawDescriptor) } + attendant.keptInterests
    }

    public var nextDeadline: ContinuousClock.Instant? { flights.map(\.deadline).min() }

    public func service(ready: Set<Int32>) {
        attendant.serviceKept(ready: ready)
        for flight in flights {
            let now = ContinuousClock.now
            let due = flight.deadline <= now
            guard due || ready.contains(flight.attended.socket.rawDescriptor) else { continue }
            // A reply the kernel received in time still counts, even if netrepl was stopped
            // (Ctrl-Z) or descheduled until after the deadline.
            let news = attendant.service(flight.attended, awaited: true, deadline: flight.deadline)
            switch news {
            case .resolved(.reply(_, let reply)):
                addressConfirmed = true
                finish(flight, .reply(reply))
            case .resolved(.cut(_, let received, let end)):
                finish(flight, .cut(received, end))
            case .resolved(.late), .none:
                if due { finish(flight, .lost(partialBytes: attendant.abandon(flight.attended.ticket))) }
            case .expired(let late, let partial):
                finish(flight, .lost(partialBytes: partial))
                if let late { attendant.record(.late(late)) }
            case .failed(.connectionRefused):
                remove(flight)
                attendant.close(flight.attended)
                let address = flight.attended.peer
                if moveToNextAddress(from: address) {
                    launch(flight.id, flight.tracedExchange())
                    continue
                }
                if !addressConfirmed { addressIndex = 0 }
                settle(flight, .failed(.refused(address)))
            case .failed(let error):
                remove(flight)
                attendant.close(flight.attended)
                settle(flight, .failed(.receiveFailed(flight.attended.peer, error)))
            }
        }
        flushEvents()
    }

    public func cancelWaiting(signal: Int32) {
        for flight in flights {
            attendant.abandon(flight.attended.ticket)
            finish(flight, .cancelled(signal: signal))
        }
    }

    public func takeNotices() -> [TransportNotice] {
        flushEvents()
        defer { notices = [] }
        return notices
    }

    /// Settles `flight` with `outcome` and keeps its socket for a late reply or duplicates.
    private func finish(_ flight: Flight, _ outcome: ExchangeOutcome) {
        remove(flight)
        attendant.keep(flight.attended)
        settle(flight, outcome)
    }

    /// Settles `flight`'s line, with what was done on its socket.
    private func settle(_ flight: Flight, _ outcome: ExchangeOutcome) {
        settle(flight.id, flight.tracedExchange(), outcome)
    }

    private func remove(_ flight: Flight) {
        flights.removeAll { $0.id == flight.id }
    }

    private func settle(_ id: SubmissionID, _ exchange: Exchange, _ outcome: ExchangeOutcome) {
        flushEvents()
        var exchange = exchange
        exchange.outcome = outcome
        notices.append(.settled(id, exchange))
    }

    private func flushEvents() {
        notices += attendant.takeEvents().map(TransportNotice.event)
    }

    /// After a refusal from an address that never answered, moves on to the next resolved one.
    private func moveToNextAddress(from address: SocketAddress) -> Bool {
        guard !addressConfirmed, addressIndex + 1 < addresses.count else { return false }
        addressIndex += 1
        attendant.record(.fellBack(from: address, to: currentPeer))
        return true
    }
}
