// Which line a received byte belongs to. Each line is sent on a socket of its own (a UDP socket,
// a TCP connection, or a persistent connection no line was abandoned on), so arrivals are
// attributed by where they come in, never by what they say: a reply is a line's reply only if it
// came on that line's socket and completed within its deadline. A pure value: fed arrivals and
// instants, tested without sockets.

/// Identifies one line sent, for as long as its socket is kept.
public struct Ticket: Hashable, Sendable {
    let value: UInt64

    /// No line yet (a connection opened before its first send): whatever comes is unexpected.
    static let unassigned = Ticket(value: 0)
}

/// What an arrival or an end of stream settled.
public enum Resolution: Sendable, Equatable {
    /// The awaited reply of the line with this ticket.
    case reply(Ticket, Reply)
    /// The reply of a line already given up.
    case late(LateReply)
    /// The awaited reply was cut short (`received` may be empty: nothing came at all).
    case cut(Ticket, received: [UInt8], end: StreamEnd)
}

public struct ReplyTracker: Sendable {
    /// The most kept of one reply: a server that never ends one cannot take all memory.
    public let maximumReply: Int
    /// The most kept of a reply already given up, per line.
    public let maximumLateReply: Int

    private enum State: Equatable {
        /// The line's sender is waiting for this reply.
        case awaited
        /// Given up (lost or cancelled): a completion is a late reply.
        case abandoned
        /// Answered: what comes after is a duplicate or unexpected.
        case answered(fingerprint: Int, length: Int)
        /// The stream ended or the tracker gave up on it: anything more is unexpected.
        case closed
    }

    private struct Entry {
        let line: Line
        var sentAt: ContinuousClock.Instant
        var sendClock: RTTClock
        let framing: any ReplyFraming
        /// After its reply, what comes is framed as replies sent unasked (a persistent connection).
        let listens: Bool
        var state: State
        var buffer: [UInt8] = []
        /// When the first and the latest byte of the reply came.
        var firstArrival: ContinuousClock.Instant?
        var lastArrival: ContinuousClock.Instant?

        /// Kernel only when the kernel stamped both ends.
        func clock(receiveStamped: Bool) -> RTTClock {
            sendClock == .kernel && receiveStamped ? .kernel : .monotonic
        }
    }

    private var entries: [Ticket: Entry] = [:]
    private var nextTicket: UInt64 = 0
    /// Duplicates and unexpected data since it was last taken.
    public private(set) var noise = Noise()
    /// Replies sent unasked since they were last taken.
    public private(set) var unasked = Unasked()

    public init(maximumReply: Int = 4 << 20, maximumLateReply: Int = 256 << 10) {
        self.maximumReply = maximumReply
        self.maximumLateReply = maximumLateReply
    }

    /// Lines whose socket is still kept.
    public var count: Int { entries.count }

    /// Records a line sent at `instant` (read from `clock`), whose reply is framed by `framing`.
    /// With `listensAfterReply` (a persistent connection), whole replies that come after this
    /// line's are replies sent unasked, not noise.
    public mutating func sent(
        _ line: Line, framing: any ReplyFraming, at instant: ContinuousClock.Instant,
        clock: RTTClock = .monotonic, listensAfterReply: Bool = false
    ) -> Ticket {
        nextTicket += 1
        let ticket = Ticket(value: nextTicket)
        entries[ticket] = Entry(
            line: line, sentAt: instant, sendClock: clock, framing: framing, listens: listensAfterReply,
            state: .awaited)
        return ticket
    }

    /// Whether the awaited line of `ticket` is still timed from the monotonic clock, so that a
    /// kernel send stamp that came after its send returned can still start its round trip.
    public func awaitsSendStamp(_ ticket: Ticket) -> Bool {
        guard let entry = entries[ticket] else { return false }
        return entry.sendClock == .monotonic && entry.state == .awaited
    }

    /// The kernel's stamp of the send of `ticket`'s line, read after the send returned: its round
    /// trip starts there.
    public mutating func restamp(_ ticket: Ticket, sentAt instant: ContinuousClock.Instant) {
        guard entries[ticket] != nil else { return }
        entries[ticket]?.sentAt = instant
        entries[ticket]?.sendClock = .kernel
    }

    /// Feeds bytes that came on the socket of `ticket` (one whole datagram, or a chunk of a stream);
    /// `kernelStamped`: `arrival` is the kernel's receive stamp.
    public mutating func received<C: Collection>(
        _ bytes: C, for ticket: Ticket, at arrival: ContinuousClock.Instant,
        kernelStamped: Bool = false
    ) -> Resolution?
    where C.Element == UInt8 {
        guard var entry = entries[ticket] else {
            noise.countUnexpected(bytes)
            return nil
        }
        switch entry.state {
        case .answered where entry.listens:
            entry.buffer.append(contentsOf: bytes)
            takeUnasked(from: &entry)
            entries[ticket] = entry
            return nil
        case .answered(let fingerprint, let length):
            if entry.framing.recognisesDuplicates, bytes.count == length, Self.fingerprint(bytes) == fingerprint {
                noise.countDuplicate(bytes.count)
            } else {
                noise.countUnexpected(bytes)
            }
            return nil
        case .closed:
            noise.countUnexpected(bytes)
            return nil
        case .awaited, .abandoned:
            break
        }
        let awaited = entry.state == .awaited
        if entry.buffer.isEmpty { entry.firstArrival = arrival }
        entry.lastArrival = arrival
        entry.buffer.append(contentsOf: bytes)
        defer { entries[ticket] = entry }
        var verdict = entry.framing.frame(entry.buffer[...])
        // Messages the framing knows were sent unasked (RESP3 pushes) before the reply are not
        // the reply: they are replies sent unasked, as whole replies after it are.
        while case .unasked(let length) = verdict {
            unasked.append(entry.buffer[..<length])
            entry.buffer.removeFirst(length)
            entry.firstArrival = entry.buffer.isEmpty ? nil : arrival
            verdict = entry.framing.frame(entry.buffer[...])
        }
        let length: Int, terminator: Int
        switch verdict {
        case .complete(let l, let t):
            (length, terminator) = (l, t)
        case .malformed(let problem):
            let received = entry.buffer
            entry.buffer = []
            entry.state = .closed
            if awaited { return .cut(ticket, received: received, end: .malformed(problem)) }
            noise.countUnexpected(received)
            return nil
        case .needMore, .unasked:
            let limit = awaited ? maximumReply : maximumLateReply
            guard entry.buffer.count > limit else { return nil }
            let received = entry.buffer
            entry.buffer = []
            entry.state = .closed
            if awaited { return .cut(ticket, received: received, end: .tooLarge(limit: limit)) }
            noise.countUnexpected(received)
            return nil
        }
        return complete(
            &entry, ticket, length: length, terminator: terminator, at: arrival, kernelStamped: kernelStamped,
            awaited: awaited)
    }

    /// Settles the reply of `entry` as its first `length` bytes; what follows them is noise, or
    /// replies sent unasked on a connection that listens.
    private mutating func complete(
        _ entry: inout Entry, _ ticket: Ticket, length: Int, terminator: Int,
        at arrival: ContinuousClock.Instant, kernelStamped: Bool, awaited: Bool
    ) -> Resolution {
        let replyBytes = Array(entry.buffer[..<(length - terminator)])
        let rest = Array(entry.buffer[length...])
        let firstByte = Self.firstByte(entry, lastAt: arrival)
        entry.buffer = []
        entry.firstArrival = nil
        entry.state = .answered(fingerprint: Self.fingerprint(replyBytes), length: length)
        if entry.listens {
            entry.buffer = rest
            takeUnasked(from: &entry)
        } else if !rest.isEmpty {
            noise.countUnexpected(rest)
        }
        let roundTrip = max(arrival - entry.sentAt, .zero)
        let clock = entry.clock(receiveStamped: kernelStamped)
        if awaited {
            return .reply(ticket, Reply(bytes: replyBytes, roundTrip: roundTrip, bytesReceived: length, clock: clock, firstByte: firstByte))
        }
        return .late(LateReply(line: entry.line, bytes: replyBytes, roundTrip: roundTrip))
    }

    /// Moves the whole messages at the start of `entry`'s buffer to `unasked` (replies, and what
    /// the framing itself calls unasked); a part that grows past what is kept of a late reply
    /// without ending, or that cannot be a reply, is counted as noise and dropped.
    private mutating func takeUnasked(from entry: inout Entry) {
        var start = entry.buffer.startIndex
        scan: while start < entry.buffer.endIndex {
            switch entry.framing.frame(entry.buffer[start...]) {
            case .complete(let length, let terminator) where length > 0:
                unasked.append(entry.buffer[start..<(start + length - terminator)])
                start += length
            case .unasked(let length) where length > 0:
                unasked.append(entry.buffer[start..<(start + length)])
                start += length
            case .malformed:
                noise.countUnexpected(entry.buffer[start...])
                start = entry.buffer.endIndex
            case .complete, .unasked, .needMore:
                break scan
            }
        }
        entry.buffer.removeFirst(start - entry.buffer.startIndex)
        if entry.buffer.count > maximumLateReply {
            noise.countUnexpected(entry.buffer)
            entry.buffer = []
        }
    }

    /// Replies sent unasked since the last call, if any.
    public mutating func takeUnasked() -> Unasked? {
        guard !unasked.isEmpty else { return nil }
        defer { unasked = Unasked() }
        return unasked
    }

    /// When the reply of `ticket` is complete by quiet (`idle=D`): its last byte plus the period;
    /// nil when its framing does not end replies by quiet or nothing has come.
    public func quietDeadline(_ ticket: Ticket) -> ContinuousClock.Instant? {
        guard let entry = entries[ticket], let period = entry.framing.quietPeriod, let last = entry.lastArrival,
            !entry.buffer.isEmpty, entry.state == .awaited || entry.state == .abandoned
        else { return nil }
        return last + period
    }

    /// The connection of `ticket` was quiet until `instant`: a reply framed by quiet is complete
    /// (its round trip is to its last byte, not to the end of the quiet).
    public mutating func quiet(_ ticket: Ticket, at instant: ContinuousClock.Instant) -> Resolution? {
        guard var entry = entries[ticket], let deadline = quietDeadline(ticket), instant >= deadline,
            let last = entry.lastArrival
        else { return nil }
        defer { entries[ticket] = entry }
        return complete(
            &entry, ticket, length: entry.buffer.count, terminator: 0, at: last, kernelStamped: false,
            awaited: entry.state == .awaited)
    }

    /// The stream of `ticket` ended (`.closed` or `.reset`) at `instant`.
    public mutating func ended(
        _ ticket: Ticket, by end: StreamEnd, at instant: ContinuousClock.Instant,
        kernelStamped: Bool = false
    ) -> Resolution? {
        guard var entry = entries[ticket] else { return nil }
        defer { entries[ticket] = entry }
        let state = entry.state
        let received = entry.buffer
        entry.buffer = []
        entry.state = .closed
        switch state {
        case .answered, .closed:
            if case .answered = state { entry.state = state }
            if !received.isEmpty { noise.countUnexpected(received) }
            return nil
        case .awaited, .abandoned:
            // An empty reply to an empty line is a reply, when the end of the stream frames it.
            let complete = end == .closed && entry.framing.endOfStreamCompletes(received[...]) && (!received.isEmpty || entry.line.bytes.isEmpty)
            let roundTrip = max(instant - entry.sentAt, .zero)
            if state == .awaited {
                if complete {
                    entry.state = .answered(fingerprint: Self.fingerprint(received), length: received.count)
                    let firstByte = entry.lastArrival.flatMap { Self.firstByte(entry, lastAt: $0) }
                    return .reply(
                        ticket,
                        Reply(
                            bytes: received, roundTrip: roundTrip, bytesReceived: received.count,
                            clock: entry.clock(receiveStamped: kernelStamped), firstByte: firstByte))
                }
                return .cut(ticket, received: received, end: end)
            }
            if complete { return .late(LateReply(line: entry.line, bytes: received, roundTrip: roundTrip)) }
            if !received.isEmpty { noise.countUnexpected(received) }
            return nil
        }
    }

    /// The line's sender stopped waiting (lost or cancelled): a later completion is late.
    /// Returns how many bytes of the reply had come.
    @discardableResult
    public mutating func abandon(_ ticket: Ticket) -> Int {
        guard var entry = entries[ticket] else { return 0 }
        if entry.state == .abandoned { return entry.buffer.count }
        guard entry.state == .awaited else { return 0 }
        entry.state = .abandoned
        if entry.buffer.count > maximumLateReply {
            noise.countUnexpected(entry.buffer)
            entry.buffer = []
            entry.state = .closed
        }
        entries[ticket] = entry
        return entry.buffer.count
    }

    /// The socket of `ticket` was closed: forget the line.
    public mutating func retire(_ ticket: Ticket) {
        entries[ticket] = nil
    }

    /// Duplicates and unexpected data counted since the last call, if any.
    public mutating func takeNoise() -> Noise? {
        guard !noise.isEmpty else { return nil }
        defer { noise = Noise() }
        return noise
    }

    /// The first byte's time, when it came before the last (a reply in one piece has none).
    private static func firstByte(_ entry: Entry, lastAt last: ContinuousClock.Instant) -> Duration? {
        guard let first = entry.firstArrival, first < last else { return nil }
        return max(first - entry.sentAt, .zero)
    }

    private static func fingerprint<C: Collection>(_ bytes: C) -> Int where C.Element == UInt8 {
        var hasher = Hasher()
        for byte in bytes { hasher.combine(byte) }
        return hasher.finalize()
    }
}
