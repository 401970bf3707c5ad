// Reads what comes on a transport's sockets — the lines waiting for their reply, and the sockets
// of earlier lines kept for their late replies and duplicates — and hands each arrival to the
// tracker, in bounded memory and a bounded number of receives per wake-up, so that a flood on
// one socket can starve neither the others, nor the terminal, nor a deadline.

import SystemPackage

/// A socket and the line it was opened (or last used) for.
final class Attended {
    let socket: Socket
    let kind: Socket.Kind
    var ticket: Ticket
    let peer: SocketAddress
    /// Why the socket was closed, once it has been by the other side or an error.
    var end: ConnectionEnd?

    init(socket: Socket, kind: Socket.Kind, ticket: Ticket, peer: SocketAddress) {
        self.socket = socket
        self.kind = kind
        self.ticket = ticket
        self.peer = peer
    }

    var isOpen: Bool { socket.descriptor != nil }
}

/// What servicing the socket of an awaited line came to.
enum News {
    /// The tracker settled the awaited line: its reply, or its reply cut short.
    case resolved(Resolution)
    /// Something came after the deadline, so the line is lost; `late` is its reply, if whole.
    /// `partialBytes`: what had come of the reply by the deadline.
    case expired(late: LateReply?, partialBytes: Int)
    /// Receiving failed (for UDP, ECONNREFUSED: nothing listening).
    case failed(Errno)
}

final class Attendant {
    private(set) var tracker: ReplyTracker
    /// Sockets of earlier lines, oldest first, kept for their late replies and duplicates.
    private var kept: [Attended] = []
    private let keepAtMost: Int
    private var buffer = [UInt8](repeating: 0, count: 65_536)
    /// What was seen since the last take, in order (noise and unasked replies are summed at the take).
    private var events: [TransportEvent] = []

    /// Receives, and bytes, per socket per wake-up: a flood on one socket cannot starve the
    /// others, the keyboard or a deadline.
    static let receivesPerPass = 64
    static let bytesPerPass = 256 << 10

    init(keepAtMost: Int, tracker: ReplyTracker = ReplyTracker()) {
        self.keepAtMost = keepAtMost
        self.tracker = tracker
    }

    deinit { closeAll() }

    /// The events gathered since the last call: in order, then unasked replies, then noise.
    func takeEvents() -> [TransportEvent] {
        var taken = events
        events = []
        if let unasked = tracker.takeUnasked() { taken.append(.unasked(unasked)) }
        if let noise = tracker.takeNoise() { taken.append(.noise(noise)) }
        return taken
    }

    func record(_ event: TransportEvent) { events.append(event) }

    func sent(
        _ line: Line, framing: any ReplyFraming, at instant: ContinuousClock.Instant, clock: RTTClock,
        listensAfterReply: Bool = false
    ) -> Ticket {
        tracker.sent(line, framing: framing, at: instant, clock: clock, listensAfterReply: listensAfterReply)
    }

    @discardableResult
    func abandon(_ ticket: Ticket) -> Int { tracker.abandon(ticket) }

    func retire(_ ticket: Ticket) { tracker.retire(ticket) }

    /// Keeps `attended` listening after its line; the oldest kept socket is closed beyond the bound.
    func keep(_ attended: Attended) {
        kept.append(attended)
        while kept.count > keepAtMost { close(kept.removeFirst()) }
    }

    func close(_ attended: Attended) {
        attended.socket.close()
        tracker.retire(attended.ticket)
    }

    func closeAll() {
        for attended in kept { close(attended) }
        kept = []
    }

    var keptInterests: [PollInterest] { kept.map { PollInterest(descriptor: $0.socket.rawDescriptor) } }

    /// Reads what waits on the kept sockets that are `ready` (nil: all of them, as before a send
    /// in a script, where it answers earlier lines).
    func serviceKept(ready: Set<Int32>?) {
        for attended in kept where ready?.contains(attended.socket.rawDescriptor) ?? true {
            _ = service(attended, awaited: false, passes: ready == nil ? 4 : 1)
        }
        kept.removeAll { !$0.isOpen }
    }

    /// Reads what waits on `attended` (at most `passes` × 64 receives). With `awaited`, returns
    /// what settles its line; with `deadline`, an arrival after it is that line's late reply.
    /// A stream that ends while no line waits on it is closed, its `end` set.
    func service(_ attended: Attended, awaited: Bool, passes: Int = 1, deadline: ContinuousClock.Instant? = nil) -> News? {
        var bytes = 0
        for _ in 0..<(passes * Self.receivesPerPass) {
            guard attended.isOpen, bytes < passes * Self.bytesPerPass else { return nil }
            let received: Received
            do {
                received = try attended.socket.receive(into: &buffer)
            } catch .wouldBlock {
                return nil
            } catch .connectionRefused where attended.kind == .datagram {
                // An ICMP port unreachable: for the awaited line, nothing listens; for an old one,
                // it answers a send long done.
                if awaited { return .failed(.connectionRefused) }
                events.append(.unreachable(attended.peer))
                continue
            } catch .connectionReset where attended.kind == .stream {
                attended.socket.close()
                attended.end = .reset
                if let news = settle(tracker.ended(attended.ticket, by: .reset, at: .now), awaited: awaited) { return news }
                return nil
            } catch {
                attended.socket.close()
                attended.end = .failed(error)
                return awaited ? .failed(error) : nil
            }
            bytes += received.count
            if received.count == 0 && attended.kind == .stream {
                attended.socket.close()
                attended.end = .serverClosed
                return settle(
                    tracker.ended(attended.ticket, by: .closed, at: received.arrival, kernelStamped: received.kernelStamped),
                    awaited: awaited)
            }
            if awaited, let deadline, received.arrival > deadline {
                let partial = tracker.abandon(attended.ticket)
                if case .late(let late) = tracker.received(
                    buffer[0..<received.count], for: attended.ticket, at: received.arrival,
                    kernelStamped: received.kernelStamped)
                {
                    return .expired(late: late, partialBytes: partial)
                }
                return .expired(late: nil, partialBytes: partial)
            }
            if awaited, tracker.awaitsSendStamp(attended.ticket), let stamped = attended.socket.lastSendStamp(waiting: false) {
                // The send's stamp came after send() returned (a busy machine): by the reply, it is there.
                tracker.restamp(attended.ticket, sentAt: stamped)
            }
            let resolution = tracker.received(
                buffer[0..<received.count], for: attended.ticket, at: received.arrival,
                kernelStamped: received.kernelStamped)
            if let news = settle(resolution, awaited: awaited) { return news }
        }
        return nil
    }

    /// When the awaited reply on `attended`, framed by quiet (idle=D), is complete if nothing more comes.
    func quietDeadline(_ attended: Attended) -> ContinuousClock.Instant? { tracker.quietDeadline(attended.ticket) }

    /// The awaited reply on `attended`, if its quiet period has passed.
    func quiet(_ attended: Attended) -> News? {
        settle(tracker.quiet(attended.ticket, at: .now), awaited: true)
    }

    private func settle(_ resolution: Resolution?, awaited: Bool) -> News? {
        switch resolution {
        case .none:
            return nil
        case .late(let late):
            events.append(.late(late))
            return nil
        case .reply, .cut:
            return awaited ? resolution.map(News.resolved) : nil
        }
    }
}
