// TCP in two shapes: one persistent connection carrying a line and its reply each way (framed by a
// terminator, a newline by default), or the textbook client's connection per line (send,
// half-close, read to the end). A connection on which a reply was given up is never used for
// another line: it is kept aside for that late reply, so that it cannot pass for the next one.

import SystemPackage

public final class TCPTransport {
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
    /// changing it keeps the connection.
    public var lineFraming: any ReplyFraming
    private let attendant: Attendant
    private var connection: Attended?
    /// Why the previous persistent connection ended, said when the next line reconnects.
    private var endedBecause: ConnectionEnd?
    private var everConnected = false

    /// `framing`: where a reply ends on a persistent connection (per-line replies end with the connection).
    public init(addresses: [SocketAddress], mode: TCPMode, framing: any ReplyFraming = TerminatorFraming(),
                keepForLateReplies: Int = 8, interruption: @escaping @Sendable () -> Int32? = { nil }) {
        precondition(!addresses.isEmpty, "a transport needs an address")
        self.addresses = addresses
        self.mode = mode
        self.lineFraming = framing
        self.attendant = Attendant(keepAtMost: keepForLateReplies, interruption: interruption)
    }

    public var isConnected: Bool { connection?.socket.descriptor != nil }

    public func close() {
        dropConnection()
        attendant.closeAll()
    }

    private func dropConnection() {
        if let connection { attendant.close(connection) }
        connection = nil
    }

    /// Sends `line` and waits for its reply; `timeout` bounds the connect, and separately the
    /// whole of the send and the reply.
    public func exchange(_ line: Line, timeout: Duration) -> Exchange {
        var exchange = Exchange(line: line, transport: .tcp, tcpMode: mode, outcome: .lost(partialBytes: 0))
        var own: [TransportEvent] = []
        exchange.timeout = timeout
        attendant.drainKept()
        switch mode {
        case .persistent: persistent(&exchange, &own, timeout: timeout)
        case .perLine: perLine(&exchange, timeout: timeout)
        }
        exchange.events = attendant.takeEvents() + own
        return exchange
    }

    // MARK: persistent

    private func persistent(_ exchange: inout Exchange, _ own: inout [TransportEvent], timeout: Duration) {
        let payload: [UInt8]
        switch lineFraming.request(for: exchange.line.bytes) {
        case .send(let bytes): payload = bytes
        case .awaitDataBlock: payload = exchange.line.bytes + lineFraming.requestTerminator  // the session joins blocks first
        }
        let replyFraming = lineFraming.framing(for: exchange.line.bytes)
        exchange.bytesSent = payload.count
        if let connection {
            // Stray bytes and a close that came while the prompt waited.
            attendant.drainIdle(connection)
            if connection.socket.descriptor == nil {
                endedBecause = connection.end ?? .serverClosed
                attendant.close(connection)
                self.connection = nil
            }
        }
        // One retry: a connection the server closed between our look and our send fails on use.
        for attempt in 0..<2 {
            let reused = connection != nil
            let current: Attended
            if let connection {
                current = connection
            } else {
                switch connect(timeout: timeout) {
                case .success(let (attended, took)):
                    own.append(.connected(attended.peer, took: took, replacing: everConnected ? endedBecause : nil))
                    everConnected = true
                    endedBecause = nil
                    connection = attended
                    current = attended
                    if lineFraming.greetsOnConnect, let greeting = awaitGreeting(on: attended, connectTook: took, timeout: timeout) {
                        own.append(greeting)
                    }
                case .failure(let outcome):
                    exchange.outcome = outcome
                    return
                }
            }
            let deadline: ContinuousClock.Instant
            switch send(payload, of: &exchange, on: current, framing: replyFraming, timeout: timeout) {
            case .awaiting(let until):
                deadline = until
            case .failed(let failure):
                if attempt == 0, reused, case .failed(.sendFailed) = failure {
                    replaceConnection(because: current.end ?? .reset)
                    continue
                }
                exchange.outcome = failure
                replaceConnection(because: .replyAbandoned)
                return
            }
            switch attendant.awaitReply(on: current, until: deadline) {
            case .resolved(.reply(_, let reply)):
                exchange.outcome = .reply(reply)
                return
            case .resolved(.cut(_, let received, let end)):
                let why: ConnectionEnd = end == .reset ? .reset : (end == .closed ? .serverClosed : .replyAbandoned)
                replaceConnection(because: why)
                if received.isEmpty {
                    if attempt == 0 && reused { continue }
                    exchange.outcome = .failed(.closedBeforeReply(current.peer, end))
                } else {
                    exchange.outcome = .cut(received, end)
                }
                return
            case .resolved(.late):
                return  // never for the current line
            case .timedOut:
                exchange.outcome = .lost(partialBytes: setAside(current))
                return
            case .interrupted(let signal):
                setAside(current)
                exchange.outcome = .cancelled(signal: signal)
                return
            case .failed(let error):
                replaceConnection(because: .failed(error))
                exchange.outcome = .failed(.receiveFailed(current.peer, error))
                return
            }
        }
    }

    private func replaceConnection(because end: ConnectionEnd) {
        dropConnection()
        endedBecause = end
    }

    /// Gives up the reply on the current connection and keeps that connection for it alone.
    @discardableResult
    private func setAside(_ attended: Attended) -> Int {
        let partial = attendant.abandon(attended.ticket)
        if mode == .persistent, connection === attended {
            connection = nil
            endedBecause = .replyAbandoned
        }
        attendant.keep(attended)
        return partial
    }

    // MARK: per line

    private func perLine(_ exchange: inout Exchange, timeout: Duration) {
        // The textbook client sends the bare line; a rule that speaks CR LF (the presets, --crlf)
        // sends its request, so that redis or memcached see a whole command before the half-close.
        var payload = exchange.line.bytes
        if lineFraming.requestTerminator != [Scan.lf], case .send(let bytes) = lineFraming.request(for: exchange.line.bytes) { payload = bytes }
        exchange.bytesSent = payload.count
        let current: Attended
        switch connect(timeout: timeout) {
        case .success(let (attended, took)):
            current = attended
            exchange.connectTime = took
        case .failure(let outcome):
            exchange.outcome = outcome
            return
        }
        let deadline: ContinuousClock.Instant
        switch send(payload, of: &exchange, on: current, framing: EndOfStreamFraming(), timeout: timeout) {
        case .awaiting(let until):
            deadline = until
        case .failed(let failure):
            exchange.outcome = failure
            attendant.close(current)
            return
        }
        // The half-close tells a streaming server (netrepl-server) that the request is complete;
        // a read-once server (the textbook's) has its bytes already and does not care.
        current.socket.shutdownWrite()
        switch attendant.awaitReply(on: current, until: deadline) {
        case .resolved(.reply(_, let reply)):
            exchange.outcome = .reply(reply)
            attendant.close(current)
        case .resolved(.cut(_, let received, let end)):
            exchange.outcome = received.isEmpty ? .failed(.closedBeforeReply(current.peer, end)) : .cut(received, end)
            attendant.close(current)
        case .resolved(.late):
            attendant.close(current)
        case .timedOut:
            exchange.outcome = .lost(partialBytes: setAside(current))
        case .interrupted(let signal):
            setAside(current)
            exchange.outcome = .cancelled(signal: signal)
        case .failed(let error):
            attendant.close(current)
            exchange.outcome = .failed(.receiveFailed(current.peer, error))
        }
    }

    /// Reads what a server says first on a new connection (SMTP's greeting), framed as a reply.
    /// Nothing by the deadline, or a connection that fails, is left to the line's own exchange.
    /// Its time is from the start of the connect, as a person waiting for it counts.
    private func awaitGreeting(on attended: Attended, connectTook: Duration, timeout: Duration) -> TransportEvent? {
        let connected = ContinuousClock.now
        attended.ticket = attendant.sent(Line(""), framing: lineFraming, at: connected - connectTook)
        defer { attended.ticket = .unassigned }
        guard case .resolved(.reply(_, let reply)) = attendant.awaitReply(on: attended, until: connected + timeout) else {
            attendant.abandon(attended.ticket)
            return nil
        }
        return .greeting(reply.bytes, after: reply.roundTrip)
    }

    // MARK: connect and send

    /// Connects to the first resolved address that accepts, each within `timeout`.
    private enum Connected {
        case success((Attended, Duration))
        case failure(ExchangeOutcome)
    }

    private func connect(timeout: Duration) -> Connected {
        var failure = TransportFailure.refused(addresses[0])
        for address in addresses {
            let socket: Socket
            do {
                socket = try Socket(family: address.family, kind: .stream)
            } catch {
                failure = .cannotOpenSocket(error)
                continue
            }
            let started = ContinuousClock.now
            var error: Errno?
            do {
                try socket.connect(to: address)
            } catch .nowInProgress {
                switch Readiness.wait([socket], for: .writable, until: started + timeout, interruption: attendant.interruption) {
                case .ready: error = socket.pendingError()
                case .timedOut: error = .timedOut
                case .interrupted(let signal): return .failure(.cancelled(signal: signal))
                case .failed(let e): error = e
                }
            } catch let e {
                error = e
            }
            let took = ContinuousClock.now - started
            switch error {
            case .none:
                let attended = Attended(socket: socket, kind: .stream, ticket: .unassigned, peer: address)
                return .success((attended, took))
            case .connectionRefused?: failure = .refused(address)
            case .timedOut?: failure = .connectTimedOut(address)
            case let e?: failure = .cannotConnect(address, e)
            }
            socket.close()
        }
        return .failure(.failed(failure))
    }

    private enum Sent {
        /// All went; the reply is awaited until this deadline.
        case awaiting(until: ContinuousClock.Instant)
        case failed(ExchangeOutcome)
    }

    /// Sends `payload` for `exchange` on `current` and, when all went, gives the line to the
    /// tracker at the instant of the send: its deadline is that instant plus `timeout`.
    private func send(_ payload: [UInt8], of exchange: inout Exchange, on current: Attended,
                      framing: any ReplyFraming, timeout: Duration) -> Sent {
        exchange.peer = current.peer
        let sentAt = ContinuousClock.now
        let deadline = sentAt + timeout
        if let failure = sendAll(payload, on: current, until: deadline) { return .failed(failure) }
        current.ticket = attendant.sent(exchange.line, framing: framing, at: sentAt)
        return .awaiting(until: deadline)
    }

    /// Sends all of `bytes`, waiting for room until `deadline`; nil when all went.
    private func sendAll(_ bytes: [UInt8], on attended: Attended, until deadline: ContinuousClock.Instant) -> ExchangeOutcome? {
        var offset = 0
        while offset < bytes.count {
            do {
                offset += try attended.socket.send(bytes, from: offset)
            } catch .wouldBlock {
                switch Readiness.wait([attended.socket], for: .writable, until: deadline, interruption: attendant.interruption) {
                case .ready: continue
                case .timedOut: return .failed(.sendTimedOut(attended.peer))
                case .interrupted(let signal): return .cancelled(signal: signal)
                case .failed(let error): return .failed(.sendFailed(attended.peer, error))
                }
            } catch {
                attended.end = error == .brokenPipe ? .serverClosed : (error == .connectionReset ? .reset : .failed(error))
                return .failed(.sendFailed(attended.peer, error))
            }
        }
        return nil
    }
}
