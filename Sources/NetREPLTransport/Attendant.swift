// Waits for one line's reply while still listening on the sockets of earlier lines, so that a
// late reply, a duplicate or a flood is seen, attributed by the tracker and counted — in bounded
// memory and without ever holding the wait past its deadline.

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
}

/// How the wait for the current line's reply ended.
enum AwaitResult {
    case resolved(Resolution)
    /// The deadline passed; `partial` bytes of the reply had come.
    case timedOut
    case interrupted(signal: Int32)
    /// Receiving on the line's own socket failed (for UDP, ECONNREFUSED: nothing listening).
    case failed(Errno)
}

final class Attendant {
    private(set) var tracker: ReplyTracker
    /// Sockets of earlier lines, oldest first, kept for their late replies and duplicates.
    private var kept: [Attended] = []
    private let keepAtMost: Int
    private var buffer = [UInt8](repeating: 0, count: 65_536)
    /// What the current exchange saw on the way: late replies, then noise.
    private var events: [TransportEvent] = []
    /// Late replies to the line just given up, shown with the next exchange rather than before
    /// that line's own outcome.
    private var carried: [TransportEvent] = []
    let interruption: @Sendable () -> Int32?

    /// Receives per socket per wake-up: a flood on one socket cannot starve the deadline check.
    private static let receivesPerPass = 64

    init(keepAtMost: Int, tracker: ReplyTracker = ReplyTracker(), interruption: @escaping @Sendable () -> Int32?) {
        self.keepAtMost = keepAtMost
        self.tracker = tracker
        self.interruption = interruption
    }

    deinit { closeAll() }

    /// The events gathered since the last call, with the noise summed up last.
    func takeEvents() -> [TransportEvent] {
        var taken = events
        events = []
        if let noise = tracker.takeNoise() { taken.append(.noise(noise)) }
        return taken
    }

    func sent(_ line: Line, framing: any ReplyFraming, at instant: ContinuousClock.Instant) -> Ticket {
        tracker.sent(line, framing: framing, at: instant)
    }

    @discardableResult
    func abandon(_ ticket: Ticket) -> Int { tracker.abandon(ticket) }

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

    /// Reads what already waits on the kept sockets (before a send: it answers earlier lines).
    func drainKept() {
        events += carried
        carried = []
        for attended in kept { _ = service(attended, current: nil, passes: 4) }
        kept.removeAll { $0.socket.descriptor == nil }
    }

    /// Reads what waits on `attended` between lines (stray bytes, or the end of the connection).
    func drainIdle(_ attended: Attended) {
        _ = service(attended, current: nil, passes: 4)
    }

    /// Waits for the reply of `current` until `deadline`, servicing the kept sockets meanwhile.
    func awaitReply(on current: Attended, until deadline: ContinuousClock.Instant) -> AwaitResult {
        while true {
            let sockets = [current.socket] + kept.map(\.socket)
            // A reply framed by quiet (idle=D) is complete once its connection is quiet that long.
            let quietBy = tracker.quietDeadline(current.ticket).map { min($0, deadline) }
            switch Readiness.wait(sockets, for: .readable, until: quietBy ?? deadline, interruption: interruption) {
            case .interrupted(let signal):
                return .interrupted(signal: signal)
            case .failed(let error):
                return .failed(error)
            case .timedOut:
                // A reply the kernel received in time still counts, even if netrepl was stopped
                // (Ctrl-Z) or descheduled until after the deadline.
                if let result = service(current, current: current.ticket, passes: 1, arrivedBy: deadline) { return result }
                if let quietBy, let result = settle(tracker.quiet(current.ticket, at: quietBy), current: current.ticket) {
                    return result
                }
                if let quietBy, quietBy < deadline { continue }
                return .timedOut
            case .ready(let indexes):
                for index in indexes where index > 0 { _ = service(kept[index - 1], current: nil, passes: 1) }
                kept.removeAll { $0.socket.descriptor == nil }
                if indexes.first == 0, let result = service(current, current: current.ticket, passes: 1, arrivedBy: deadline) {
                    return result
                }
            }
        }
    }

    /// Receives from `attended` until it has nothing more (at most `passes` × 64 receives).
    /// Returns a result only when it settles the line `current`.
    private func service(_ attended: Attended, current: Ticket?, passes: Int,
                         arrivedBy deadline: ContinuousClock.Instant? = nil) -> AwaitResult? {
        let isCurrent = current == attended.ticket
        for _ in 0..<(passes * Self.receivesPerPass) {
            guard attended.socket.descriptor != nil else { return nil }
            let received: Received
            do {
                received = try attended.socket.receive(into: &buffer)
            } catch .wouldBlock {
                return nil
            } catch .connectionRefused where attended.kind == .datagram {
                // An ICMP port unreachable: for the current line, nothing listens; for an old one, it
                // answers a send long done.
                if isCurrent { return .failed(.connectionRefused) }
                continue
            } catch .connectionReset where attended.kind == .stream {
                attended.socket.close()
                attended.end = .reset
                return settle(tracker.ended(attended.ticket, by: .reset, at: .now), current: current)
            } catch {
                attended.socket.close()
                attended.end = .failed(error)
                return isCurrent ? .failed(error) : nil
            }
            if received.count == 0 && attended.kind == .stream {
                attended.socket.close()
                attended.end = .serverClosed
                return settle(tracker.ended(attended.ticket, by: .closed, at: received.arrival), current: current)
            }
            if let deadline, isCurrent, received.arrival > deadline {
                // Came after the deadline: the line is lost, and this is its late reply.
                tracker.abandon(attended.ticket)
                if case .late(let late) = tracker.received(buffer[0..<received.count], for: attended.ticket, at: received.arrival) {
                    carried.append(.late(late))
                }
                continue
            }
            let resolution = tracker.received(buffer[0..<received.count], for: attended.ticket, at: received.arrival)
            if let result = settle(resolution, current: current) { return result }
        }
        return nil
    }

    private func settle(_ resolution: Resolution?, current: Ticket?) -> AwaitResult? {
        switch resolution {
        case .none:
            return nil
        case .late(let late):
            events.append(.late(late))
            return nil
        case .reply(let ticket, _), .cut(let ticket, _, _):
            guard ticket == current, let resolution else { return nil }
            return .resolved(resolution)
        }
    }
}
