// TCP in two shapes: one persistent connection carrying a line and its reply each way (framed by a
// terminator, a newline by default), lines going one at a time and the rest queued; or the
// textbook client's connection per line (send, half-close, read to the end), any number at once.
// A connection on which a reply was given up is never used for another line: it is kept aside for
// that late reply, so that it cannot pass for the next one. Every step is non-blocking: a connect
// or a send that cannot finish now waits for writability in the driver's poll.

import SystemPackage

public final class TCPTransport: Transport {
    /// How lines are carried; changing it closes the current connection without comment.
    public var mode: TCPMode {
        didSet {
            guard mode != oldValue else { return }
            dropConnection()
            everConnected = false
        }
    }
    private let addresses: [SocketAddress]
    /// Where a reply ends on a persistent connection, and what a typed line becomes on the wire;
    /// changing it keeps the connection (a line already under way keeps the framing it went with).
    public var lineFraming: any ReplyFraming
    private let attendant: Attendant
    public let interruption: @Sendable () -> Int32?
    /// The persistent connection, once open.
    private var connection: Attended?
    /// Why the previous persistent connection ended, said when the next line reconnects.
    private var endedBecause: ConnectionEnd?
    private var everConnected = false

    private struct Connecting {
        let socket: Socket
        let addressIndex: Int
        let started: ContinuousClock.Instant
        let deadline: ContinuousClock.Instant
    }

    private enum Phase {
        /// Not started (persistent: behind another line).
        case queued
        case connecting(Connecting)
        /// A new persistent connection whose server speaks first (SMTP): its greeting is read
        /// before the line goes; the greeting's time counts from the start of the connect.
        case greeting(Attended, deadline: ContinuousClock.Instant)
        /// `offset` bytes of `payload` went; the first at `sentAt`.
        case sending(Attended, payload: [UInt8], offset: Int, sentAt: ContinuousClock.Instant)
        case awaiting(Attended, deadline: ContinuousClock.Instant)
    }

    private final class Flight {
        let id: SubmissionID
        var exchange: Exchange
        var phase = Phase.queued
        /// The last refusal or error of a connect, reported if no address accepts.
        var connectFailure: TransportFailure?
        /// On a connection opened for an earlier line (which the server may have closed since).
        var reused = false
        /// A line whose reused connection failed before any reply is sent once more, on a new one.
        var retried = false

        init(id: SubmissionID, exchange: Exchange) {
            self.id = id
            self.exchange = exchange
        }

        /// Adds to the exchange what was done on the socket of the step under way since the last
        /// take: called as a step's socket is left (a retry, an abort) and as the line settles.
        func traceSocket() {
            switch phase {
            case .queued: break
            case .connecting(let c): exchange.trace(c.socket)
            case .greeting(let a, _), .sending(let a, _, _, _), .awaiting(let a, _): exchange.trace(a.socket)
            }
        }

        var deadline: ContinuousClock.Instant? {
            switch phase {
            case .queued: return nil
            case .connecting(let c): return c.deadline
            case .greeting(_, let deadline): return deadline
            case .sending(_, _, _, let sentAt): return sentAt + exchange.timeout
            case .awaiting(_, let deadline): return deadline
            }
        }
    }

    /// Lines not settled, in order; on a persistent connection only the first is under way.
    private var flights: [Flight] = []
    private var notices: [TransportNotice] = []

    /// `framing`: where a reply ends on a persistent connection (per-line replies end with the connection).
    public init(
        addresses: [SocketAddress], mode: TCPMode, framing: any ReplyFraming = TerminatorFraming(),
        keepForLateReplies: Int = 8, interruption: @escaping @Sendable () -> Int32? = { nil }
    ) {
        precondition(!addresses.isEmpty, "a transport needs an address")
        self.addresses = addresses
        self.mode = mode
        self.lineFraming = framing
        self.attendant = Attendant(keepAtMost: keepForLateReplies)
        self.interruption = interruption
        Socket.holdReceiveStampingOn()
    }

    public var kind: TransportKind { .tcp }
    public var tcpMode: TCPMode? { mode }
    public var waiting: Int { flights.count }
    public var isConnected: Bool { connection?.isOpen ?? false }

    public func close() {
        for flight in flights { abort(flight) }
        flights = []
        dropConnection()
        attendant.closeAll()
    }

    private func dropConnection() {
        if let connection { attendant.close(connection) }
        connection = nil
    }

    private func replaceConnection(because end: ConnectionEnd) {
        dropConnection()
        endedBecause = end
    }

    // MARK: submitting

    @discardableResult
    public func submit(_ line: Line, timeout: Duration) -> SubmissionID {
        let id = Submissions.next()
        attendant.serviceKept(ready: nil)
        if flights.isEmpty, let connection {
            // Stray bytes and a close that came while nothing watched (a script between lines).
            _ = attendant.service(connection, awaited: false, passes: 4)
            if !connection.isOpen { replaceConnection(because: connection.end ?? .serverClosed) }
        }
        flushEvents()
        var exchange = Exchange(line: line, transport: .tcp, tcpMode: mode, outcome: .lost(partialBytes: 0))
        exchange.timeout = timeout
        let flight = Flight(id: id, exchange: exchange)
        if mode == .persistent && !flights.isEmpty { notices.append(.queued(id, line, ahead: flights.count)) }
        flights.append(flight)
        pump()
        return id
    }

    /// Starts the flights that may start: the first on a persistent connection, all per line.
    private func pump() {
        while true {
            let startable = mode == .persistent ? Array(flights.prefix(1)) : flights
            guard
                let flight = startable.first(where: {
                    if case .queued = $0.phase { return true }; return false
                })
            else { return }
            start(flight)
        }
    }

    private func start(_ flight: Flight) {
        if mode == .persistent, let connection, connection.isOpen {
            flight.reused = true
            beginSending(flight, on: connection)
        } else {
            if mode == .persistent { dropConnection() }
            flight.reused = false
            connect(flight, from: 0)
        }
    }

    // MARK: connecting

    /// Tries the addresses from `index` on until one accepts or is in progress.
    private func connect(_ flight: Flight, from index: Int) {
        for index in index..<addresses.count {
            let address = addresses[index]
            // The address tried, as UDP has it: a refused line's trace and JSON name where it went.
            flight.exchange.peer = address
            let socket: Socket
            do {
                socket = try Socket(family: address.family, kind: .stream)
            } catch {
                flight.connectFailure = .cannotOpenSocket(error)
                continue
            }
            let started = ContinuousClock.now
            do {
                try socket.connect(to: address)
                flight.phase = .connecting(Connecting(socket: socket, addressIndex: index, started: started, deadline: started + flight.exchange.timeout))
                return connected(flight)
            } catch .nowInProgress {
                flight.phase = .connecting(Connecting(socket: socket, addressIndex: index, started: started, deadline: started + flight.exchange.timeout))
                return
            } catch {
                flight.connectFailure = Self.failure(error, address)
                socket.close()
                flight.exchange.trace(socket)
            }
        }
        settle(flight, .failed(flight.connectFailure ?? .refused(addresses[0])))
    }

    private static func failure(_ error: Errno, _ address: SocketAddress) -> TransportFailure {
        switch error {
        case .connectionRefused: return .refused(address)
        case .timedOut: return .connectTimedOut(address)
        default: return .cannotConnect(address, error)
        }
    }

    /// The connect of `flight` finished (or failed, or its deadline passed).
    private func connectFinished(_ flight: Flight, _ c: Connecting, error: Errno?) {
        if let error {
            c.socket.close()
            flight.exchange.trace(c.socket)
            flight.connectFailure = Self.failure(error, addresses[c.addressIndex])
            if c.addressIndex + 1 < addresses.count { return connect(flight, from: c.addressIndex + 1) }
            return settle(flight, .failed(flight.connectFailure ?? .refused(addresses[0])))
        }
        connected(flight)
    }

    /// What goes on the wire for `line`. On a persistent connection, the rule's request (a line
    /// opening a data block goes as typed: the session joins the block to it first). Per line,
    /// the textbook client sends the bare line; a rule that speaks CR LF (the presets, --crlf)
    /// sends its request, so that redis or memcached see a whole command before the half-close.
    private func payload(for line: Line) -> [UInt8] {
        let request = lineFraming.request(for: line.bytes)
        switch (mode, request) {
        case (.persistent, .send(let bytes)): return bytes
        case (.persistent, .awaitDataBlock): return line.bytes + lineFraming.requestTerminator
        case (.perLine, .send(let bytes)) where lineFraming.requestTerminator != [Scan.lf]: return bytes
        case (.perLine, _): return line.bytes
        }
    }

    private func connected(_ flight: Flight) {
        guard case .connecting(let c) = flight.phase else { return }
        let took = ContinuousClock.now - c.started
        let attended = Attended(socket: c.socket, kind: .stream, ticket: .unassigned, peer: addresses[c.addressIndex])
        switch mode {
        case .persistent:
            attendant.record(.connected(attended.peer, took: took, replacing: everConnected ? endedBecause : nil))
            everConnected = true
            endedBecause = nil
            connection = attended
            flight.exchange.openedConnection = took
            if lineFraming.greetsOnConnect {
                attended.ticket = attendant.sent(Line(""), framing: lineFraming, at: c.started, clock: .monotonic)
                flight.phase = .greeting(attended, deadline: .now + flight.exchange.timeout)
                return
            }
        case .perLine:
            flight.exchange.connectTime = took
        }
        beginSending(flight, on: attended)
    }

    // MARK: sending

    private func beginSending(_ flight: Flight, on attended: Attended) {
        flight.exchange.peer = attended.peer
        flight.phase = .sending(attended, payload: payload(for: flight.exchange.line), offset: 0, sentAt: .now)
        continueSending(flight)
    }

    /// Sends what the kernel takes now; when all went, gives the line to the tracker at the
    /// instant of the first send: its deadline is that instant plus the timeout.
    private func continueSending(_ flight: Flight) {
        guard case .sending(let attended, let payload, var offset, let sentAt) = flight.phase else { return }
        while offset < payload.count {
            do {
                offset += try attended.socket.send(payload, from: offset)
            } catch .wouldBlock {
                flight.phase = .sending(attended, payload: payload, offset: offset, sentAt: sentAt)
                return
            } catch {
                attended.end = error == .brokenPipe ? .serverClosed : (error == .connectionReset ? .reset : .failed(error))
                // Only what left counts as sent.
                flight.exchange.bytesSent = offset
                return sendFailed(flight, attended, .failed(.sendFailed(attended.peer, error)))
            }
        }
        // Counted once it all left: a line refused at connect has sent nothing.
        flight.exchange.bytesSent = payload.count
        attendant.retire(attended.ticket)
        // The round trip starts at the kernel's stamp of the last byte when it gives one; the
        // deadline stays from the first send.
        let stamped = attended.socket.lastSendStamp()
        let framing = mode == .persistent ? lineFraming.framing(for: flight.exchange.line.bytes) : EndOfStreamFraming()
        attended.ticket = attendant.sent(
            flight.exchange.line, framing: framing,
            at: stamped ?? sentAt, clock: stamped == nil ? .monotonic : .kernel,
            listensAfterReply: mode == .persistent)
        // The half-close tells a streaming server (netrepl-server) that the request is complete;
        // a read-once server (the textbook's) has its bytes already and does not care.
        if mode == .perLine { attended.socket.shutdownWrite() }
        flight.phase = .awaiting(attended, deadline: sentAt + flight.exchange.timeout)
    }

    private func sendFailed(_ flight: Flight, _ attended: Attended, _ outcome: ExchangeOutcome) {
        switch mode {
        case .persistent:
            if flight.reused, !flight.retried, case .failed(.sendFailed) = outcome {
                // A connection the server closed between our look and our send fails on use.
                flight.retried = true
                replaceConnection(because: attended.end ?? .reset)
                flight.traceSocket()
                flight.phase = .queued
                return start(flight)
            }
            replaceConnection(because: .replyAbandoned)
        case .perLine:
            attendant.close(attended)
        }
        settle(flight, outcome)
    }

    // MARK: servicing

    public var interests: [PollInterest] {
        var interests = attendant.keptInterests
        var busy: Attended?
        for flight in flights {
            switch flight.phase {
            case .queued: break
            case .connecting(let c): interests.append(PollInterest(descriptor: c.socket.rawDescriptor, writable: true))
            case .greeting(let a, _):
                busy = a
                interests.append(PollInterest(descriptor: a.socket.rawDescriptor))
            case .sending(let a, _, _, _):
                busy = a
                interests.append(PollInterest(descriptor: a.socket.rawDescriptor, writable: true))
            case .awaiting(let a, _):
                busy = a
                interests.append(PollInterest(descriptor: a.socket.rawDescriptor))
            }
        }
        if let connection, connection.isOpen, busy !== connection {
            interests.append(PollInterest(descriptor: connection.socket.rawDescriptor))
        }
        return interests
    }

    /// The nearest line deadline, or sooner the instant a reply framed by quiet (idle=D) is complete.
    public var nextDeadline: ContinuousClock.Instant? {
        flights.compactMap { flight -> ContinuousClock.Instant? in
            guard let deadline = flight.deadline else { return nil }
            guard case .awaiting(let attended, _) = flight.phase, let quiet = attendant.quietDeadline(attended) else { return deadline }
            return min(quiet, deadline)
        }.min()
    }

    public func service(ready: Set<Int32>) {
        attendant.serviceKept(ready: ready)
        serviceIdleConnection(ready: ready)
        for flight in flights {
            let now = ContinuousClock.now
            let due = flight.deadline.map { $0 <= now } ?? false
            switch flight.phase {
            case .queued:
                break
            case .connecting(let c):
                if ready.contains(c.socket.rawDescriptor) && c.socket.connectFinished() {
                    connectFinished(flight, c, error: c.socket.pendingError())
                } else if due {
                    connectFinished(flight, c, error: .timedOut)
                }
            case .greeting(let attended, let deadline):
                guard due || ready.contains(attended.socket.rawDescriptor) else { continue }
                greeted(flight, attended, deadline: deadline, due: due)
            case .sending(let attended, _, _, _):
                if ready.contains(attended.socket.rawDescriptor) { continueSending(flight) }
                if case .sending = flight.phase, due { sendFailed(flight, attended, .failed(.sendTimedOut(attended.peer))) }
            case .awaiting(let attended, let deadline):
                let quiet = attendant.quietDeadline(attended).map { $0 <= now } ?? false
                guard due || quiet || ready.contains(attended.socket.rawDescriptor) else { continue }
                awaited(flight, attended, deadline: deadline, due: due)
            }
        }
        pump()
        flushEvents()
    }

    /// The persistent connection while no line is on it: data sent unasked, or its end, said at once.
    private func serviceIdleConnection(ready: Set<Int32>) {
        guard let connection, connection.isOpen, ready.contains(connection.socket.rawDescriptor) else { return }
        let busy = flights.contains {
            switch $0.phase {
            case .greeting(let a, _), .sending(let a, _, _, _), .awaiting(let a, _): return a === connection
            default: return false
            }
        }
        guard !busy else { return }
        _ = attendant.service(connection, awaited: false)
        if !connection.isOpen {
            let end = connection.end ?? .serverClosed
            attendant.record(.connectionEnded(connection.peer, end))
            replaceConnection(because: end)
        }
    }

    /// The greeting of a new connection came, or did not by its deadline, or the connection
    /// failed: either way the line goes, and whatever went wrong is the line's own exchange's.
    private func greeted(_ flight: Flight, _ attended: Attended, deadline: ContinuousClock.Instant, due: Bool) {
        switch attendant.service(attended, awaited: true, deadline: deadline) {
        case .resolved(.reply(_, let reply)):
            attendant.record(.greeting(reply.bytes, after: reply.roundTrip))
        case .none where !due:
            return
        default:
            attendant.abandon(attended.ticket)
        }
        beginSending(flight, on: attended)
    }

    private func awaited(_ flight: Flight, _ attended: Attended, deadline: ContinuousClock.Instant, due: Bool) {
        switch attendant.service(attended, awaited: true, deadline: deadline) ?? attendant.quiet(attended) {
        case .resolved(.reply(_, let reply)):
            if mode == .perLine { attendant.close(attended) }
            settle(flight, .reply(reply))
        case .resolved(.cut(_, let received, let end)):
            switch mode {
            case .persistent:
                replaceConnection(because: end == .reset ? .reset : (end == .closed ? .serverClosed : .replyAbandoned))
                if received.isEmpty && flight.reused && !flight.retried {
                    flight.retried = true
                    flight.traceSocket()
                    flight.phase = .queued
                    return start(flight)
                }
            case .perLine:
                attendant.close(attended)
            }
            settle(flight, received.isEmpty ? .failed(.closedBeforeReply(attended.peer, end)) : .cut(received, end))
        case .expired(let late, let partial):
            setAside(attended)
            settle(flight, .lost(partialBytes: partial))
            if let late { attendant.record(.late(late)) }
        case .resolved(.late), .none:
            if due { settle(flight, .lost(partialBytes: setAside(attended))) }
        case .failed(let error):
            if mode == .persistent { replaceConnection(because: .failed(error)) } else { attendant.close(attended) }
            settle(flight, .failed(.receiveFailed(attended.peer, error)))
        }
    }

    /// Gives up the reply on `attended` and keeps that connection for it alone.
    @discardableResult
    private func setAside(_ attended: Attended) -> Int {
        let partial = attendant.abandon(attended.ticket)
        if connection === attended {
            connection = nil
            endedBecause = .replyAbandoned
        }
        attendant.keep(attended)
        return partial
    }

    public func cancelWaiting(signal: Int32) {
        for flight in flights {
            if case .queued = flight.phase {
                flights.removeAll { $0 === flight }
                notices.append(.unsent(flight.id, flight.exchange.line))
                continue
            }
            abort(flight)
            settle(flight, .cancelled(signal: signal))
        }
    }

    /// Stops what `flight` is doing; a reply it awaited may still come, as a late one.
    private func abort(_ flight: Flight) {
        switch flight.phase {
        case .queued: break
        case .connecting(let c): c.socket.close()
        case .greeting(let attended, _):
            attendant.abandon(attended.ticket)
            replaceConnection(because: .replyAbandoned)
        case .sending(let attended, _, _, _):
            if mode == .persistent { replaceConnection(because: .replyAbandoned) } else { attendant.close(attended) }
        case .awaiting(let attended, _): setAside(attended)
        }
        flight.traceSocket()
        flight.phase = .queued
    }

    public func takeNotices() -> [TransportNotice] {
        flushEvents()
        defer { notices = [] }
        return notices
    }

    private func settle(_ flight: Flight, _ outcome: ExchangeOutcome) {
        flushEvents()
        flights.removeAll { $0 === flight }
        flight.traceSocket()
        flight.exchange.outcome = outcome
        // A connect that failed names the address it tried, though no line went there.
        if flight.exchange.peer == nil, case .failed(let failure) = outcome { flight.exchange.peer = failure.address }
        notices.append(.settled(flight.id, flight.exchange))
    }

    private func flushEvents() {
        notices += attendant.takeEvents().map(TransportNotice.event)
    }
}
