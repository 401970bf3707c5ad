// The pinger lab as an engine of its own, over one connected UDP socket: probes leave on a fixed
// schedule (open loop, so a slow or lost reply never delays the next probe and there is no
// coordinated omission), replies are matched by the sequence number they carry, and each probe
// is settled once, as answered or timed out. Typed events only; the wording is the caller's.

import Glibc
import SystemCalls
import SystemPackage

/// What the pinger is asked to do.
public struct PingPlan: Sendable, Equatable {
    public var count: Int
    public var interval: Duration
    /// Bytes in each probe's payload.
    public var size: Int
    /// How long each probe's reply is waited for, from its send.
    public var timeout: Duration

    public static let defaultCount = 10
    public static let defaultInterval = Duration.seconds(1)
    public static let defaultSize = 56
    /// The probe's header (`Ping 99999 `) must fit; ping(8)'s default payload is 56 bytes.
    public static let minimumSize = 16
    public static let maximumCount = 100_000
    /// A bound on the rate, so that a typo cannot flood a network.
    public static let minimumInterval = Duration.milliseconds(1)

    public init(count: Int = defaultCount, interval: Duration = defaultInterval, size: Int = defaultSize, timeout: Duration) {
        self.count = count
        self.interval = interval
        self.size = size
        self.timeout = timeout
    }
}

/// One thing that happened to a probe, in the order it happened.
public enum PingEvent: Sendable, Equatable {
    /// The reply to probe `sequence` (numbered from 1) came in time. `reordered`: a later probe's
    /// reply came before it.
    case reply(sequence: Int, roundTrip: Duration, clock: RTTClock, bytes: Int, reordered: Bool)
    /// No reply within the timeout.
    case timedOut(sequence: Int)
    /// Another copy of a reply already taken.
    case duplicate(sequence: Int)
    /// A reply that came after its probe had timed out.
    case late(sequence: Int, roundTrip: Duration)
    /// A datagram that answers no probe.
    case unexpected(bytes: Int)
}

/// How a ping run ended.
public enum PingEnd: Sendable, Equatable {
    /// Every probe was sent and settled.
    case completed
    /// A signal (Ctrl-C) stopped it; probes still awaited count as not answered.
    case interrupted(signal: Int32)
    case failed(TransportFailure)
}

public enum Pinger {
    /// Runs `plan` against `address`, reporting each event to `report` as it happens.
    /// Returns how it ended, how many probes were sent, and how long the run took.
    public static func run(
        _ plan: PingPlan, to address: SocketAddress, interruption: () -> Int32?,
        report: (PingEvent) -> Void
    ) -> (end: PingEnd, sent: Int, elapsed: Duration) {
        let started = ContinuousClock.now
        let socket: Socket
        do {
            socket = try Socket(family: address.family, kind: .datagram)
            try socket.connect(to: address)
        } catch {
            return (.failed(.cannotOpenSocket(error)), 0, .zero)
        }
        defer { socket.close() }
        var state = PingState(plan: plan)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !state.isDone {
            let next = state.nextWake(start: started)
            if let signal = interruption() { return (.interrupted(signal: signal), state.sent, .now - started) }
            // One slice at most: the signal is looked for again after it.
            _ = Poller.wait([PollInterest(descriptor: socket.rawDescriptor)], until: next)
            // Replies first, so that one the kernel received in time is not taken for a timeout.
            for _ in 0..<256 {
                let received: Received
                do {
                    received = try socket.receive(into: &buffer)
                } catch .wouldBlock {
                    break
                } catch .connectionRefused {
                    return (.failed(.refused(address)), state.sent, .now - started)
                } catch {
                    return (.failed(.receiveFailed(address, error)), state.sent, .now - started)
                }
                for event in state.received(buffer[0..<received.count], at: received.arrival, kernelStamped: received.kernelStamped) {
                    report(event)
                }
            }
            for event in state.expire(at: .now) { report(event) }
            // Every probe whose time has come leaves now, however many replies are outstanding.
            while state.sent < plan.count, started + plan.interval * state.sent <= .now {
                let sequence = state.sent + 1
                let payload = PingPayload.make(sequence: sequence, size: plan.size)
                let before = ContinuousClock.now
                do {
                    _ = try socket.send(payload)
                } catch .connectionRefused {
                    return (.failed(.refused(address)), state.sent, .now - started)
                } catch .messageTooLong {
                    return (.failed(.datagramTooLarge(size: payload.count, limit: address.maximumDatagram)), state.sent, .now - started)
                } catch {
                    return (.failed(.sendFailed(address, error)), state.sent, .now - started)
                }
                let stamped = socket.lastSendStamp()
                state.sentProbe(at: stamped ?? before, clock: stamped == nil ? .monotonic : .kernel, deadline: before + plan.timeout)
            }
        }
        return (.completed, state.sent, .now - started)
    }
}

/// The probe's payload: `Ping 3 1765000000.123456` (the textbook's form, with the send's wall
/// clock time), padded with dots to the size asked for.
public enum PingPayload {
    public static func make(sequence: Int, size: Int) -> [UInt8] {
        let now = Clocks.realtimeNanoseconds()
        let micros = String(now / 1_000 % 1_000_000)
        var text = Array("Ping \(sequence) \(now / 1_000_000_000).\(String(repeating: "0", count: 6 - micros.count))\(micros)".utf8)
        if text.count > size { text = Array(text.prefix(size)) }
        return text + [UInt8](repeating: UInt8(ascii: "."), count: size - text.count)
    }

    /// The sequence number a reply carries (`PING 3 …`, in any case), or nil.
    public static func sequence<C: Collection>(in reply: C) -> Int? where C.Element == UInt8 {
        let head = Array(reply.prefix(16))
        guard head.count > 5, head[0..<5].map({ $0 | 0x20 }) == Array("ping ".utf8) else { return nil }
        let digits = head[5...].prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        guard !digits.isEmpty, digits.count <= 9 else { return nil }
        return Int(String(decoding: digits, as: UTF8.self))
    }
}

/// The pinger's bookkeeping, a pure value: fed sends, arrivals and instants.
struct PingState {
    let plan: PingPlan
    private(set) var sent = 0

    private struct Probe {
        var sentAt: ContinuousClock.Instant
        var clock: RTTClock
        var deadline: ContinuousClock.Instant
        var settled: Settled?
    }

    private enum Settled { case answered, timedOut }

    private var probes: [Probe] = []
    private var highestAnswered = 0
    /// Index of the first probe not yet settled: expiring looks no further back.
    private var firstUnsettled = 0

    init(plan: PingPlan) {
        self.plan = plan
    }

    var isDone: Bool { sent == plan.count && firstUnsettled == probes.count }

    mutating func sentProbe(at instant: ContinuousClock.Instant, clock: RTTClock, deadline: ContinuousClock.Instant) {
        sent += 1
        probes.append(Probe(sentAt: instant, clock: clock, deadline: deadline))
    }

    /// The next instant something is due: a send, or the earliest deadline.
    func nextWake(start: ContinuousClock.Instant) -> ContinuousClock.Instant {
        var next = sent < plan.count ? start + plan.interval * sent : ContinuousClock.Instant.now + .seconds(3600)
        if let deadline = probes[firstUnsettled...].first(where: { $0.settled == nil })?.deadline { next = min(next, deadline) }
        return next
    }

    mutating func received<C: Collection>(_ bytes: C, at arrival: ContinuousClock.Instant, kernelStamped: Bool) -> [PingEvent]
    where C.Element == UInt8 {
        guard let sequence = PingPayload.sequence(in: bytes), (1...probes.count).contains(sequence) else {
            return [.unexpected(bytes: bytes.count)]
        }
        var probe = probes[sequence - 1]
        let roundTrip = max(arrival - probe.sentAt, .zero)
        switch probe.settled {
        case .answered:
            return [.duplicate(sequence: sequence)]
        case .timedOut:
            return [.late(sequence: sequence, roundTrip: roundTrip)]
        case nil:
            break
        }
        var events: [PingEvent] = []
        if arrival > probe.deadline {
            probe.settled = .timedOut
            events = [.timedOut(sequence: sequence), .late(sequence: sequence, roundTrip: roundTrip)]
        } else {
            probe.settled = .answered
            let clock: RTTClock = probe.clock == .kernel && kernelStamped ? .kernel : .monotonic
            events = [.reply(sequence: sequence, roundTrip: roundTrip, clock: clock, bytes: bytes.count, reordered: sequence < highestAnswered)]
            highestAnswered = max(highestAnswered, sequence)
        }
        probes[sequence - 1] = probe
        advance()
        return events
    }

    /// Times out every probe whose deadline is before `now`.
    mutating func expire(at now: ContinuousClock.Instant) -> [PingEvent] {
        var events: [PingEvent] = []
        for i in firstUnsettled..<probes.count where probes[i].settled == nil && probes[i].deadline < now {
            probes[i].settled = .timedOut
            events.append(.timedOut(sequence: i + 1))
        }
        advance()
        return events
    }

    private mutating func advance() {
        while firstUnsettled < probes.count, probes[firstUnsettled].settled != nil { firstUnsettled += 1 }
    }
}
