// :stats per path: one set of counts for each target, transport and TCP mode used, in the order
// first used, with jitter, a sparkline of recent round trips, TCP connect times apart, and
// duplicates, reordering and late replies counted apart. `:stats reset` starts it afresh.

import NetREPLProtocol
import NetREPLTransport

/// Where and how lines went: a row of :stats.
public struct PathKey: Hashable, Sendable {
    public var target: String
    public var transport: TransportKind
    /// Set for TCP only.
    public var tcpMode: TCPMode?

    public var label: String {
        transportName(transport, tcpMode) + " to " + target
    }
}

public struct PathStatistics: Sendable, Equatable {
    public private(set) var sent = 0
    public private(set) var received = 0
    public private(set) var lost = 0
    public private(set) var late = 0
    public private(set) var duplicates = 0
    /// Late replies that came after a line sent later had had its reply.
    public private(set) var reordered = 0
    public private(set) var unexpected = 0
    public private(set) var truncated = 0
    public private(set) var cancelled = 0
    public private(set) var errors = 0
    /// Lines that never left: nothing listening, too large for a datagram, the connect cancelled.
    public private(set) var notSent = 0
    public private(set) var roundTrips = RoundTrips()
    /// TCP connects, timed apart from the exchanges.
    public private(set) var connects = RoundTrips()
    /// When the last line that got its reply was sent, to tell a reordered late reply.
    private var lastAnsweredSentAt: ContinuousClock.Instant?

    public init() {}

    /// Counts one exchange, recorded at `now` (just after it ended).
    public mutating func record(_ exchange: Exchange, at now: ContinuousClock.Instant = .now) {
        for event in exchange.events { record(event, at: now) }
        if let took = exchange.connectTime { connects.add(took, clock: .monotonic) }
        // Unlike ping, which counts attempts, a line counts as sent only when its bytes left:
        // a refused connect has sent nothing and lost nothing.
        guard exchange.bytesSent > 0 else {
            notSent += 1
            return
        }
        sent += 1
        switch exchange.outcome {
        case .reply(let reply):
            received += 1
            roundTrips.add(reply.roundTrip, clock: reply.clock)
            lastAnsweredSentAt = now - reply.roundTrip
        case .lost: lost += 1
        case .truncated: truncated += 1
        case .cancelled: cancelled += 1
        case .failed, .malformed: errors += 1
        }
    }

    /// Counts what the path saw besides a line's outcome (live, or with its exchange), at `now`.
    public mutating func record(_ event: TransportEvent, at now: ContinuousClock.Instant = .now) {
        switch event {
        case .late(let reply):
            late += 1
            if let lastAnsweredSentAt, now - reply.roundTrip < lastAnsweredSentAt { reordered += 1 }
        case .noise(let noise):
            duplicates += noise.duplicates
            unexpected += noise.unexpected
        case .connected(_, let took, _):
            connects.add(took, clock: .monotonic)
        case .fellBack, .unasked, .connectionEnded, .unreachable, .greeting:
            break
        }
    }

    public var lossPercent: Double { sent == 0 ? 0 : Double(sent - received) * 100 / Double(sent) }

    /// `3 sent, 2 received, 1 lost, +1 error, 33.3333% loss`: late, duplicates, errors and lines
    /// not sent when there are any; no loss when nothing was sent, as there was nothing to lose.
    public var countsLine: String {
        var parts = ["\(sent) sent", "\(received) received"]
        if lost > 0 { parts.append("\(lost) lost") }
        for (n, word, noun) in [
            (late, "late", false), (duplicates, "duplicate", true), (reordered, "reordered", false),
            (unexpected, "unexpected", false), (truncated, "truncated", false),
            (cancelled, "cancelled", false), (errors, "error", true),
        ] where n > 0 {
            parts.append("+" + (noun ? counted(n, word) : "\(n) \(word)"))
        }
        if notSent > 0 { parts.append("\(notSent) not sent") }
        if sent > 0 { parts.append("\(significant(lossPercent))% loss") }
        return parts.joined(separator: ", ")
    }

    /// The lines :stats shows for this path, under its heading.
    public func lines(_ key: PathKey) -> [String] {
        var lines = ["--- \(key.label) ---", countsLine]
        if let rtt = roundTrips.rttLine {
            lines.append(rtt)
            let percentiles = [50.0, 90, 99, 99.9].compactMap { roundTrips.percentile($0) }
            lines.append("rtt p50/p90/p99/p99.9 = " + percentiles.map { fixed(Double($0.wholeNanoseconds) / 1e6, 3) }.joined(separator: "/") + " ms")
            lines.append("jitter " + fixed(roundTrips.jitterNanoseconds / 1e6, 3) + " ms (RFC 3550), recent " + roundTrips.sparkline)
            lines.append(clockNote(roundTrips))
        }
        if let connect = connects.rttLine {
            lines.append("tcp connect " + connect.dropFirst("rtt ".count) + " (\(connects.count) opened)")
        }
        return lines
    }
}

/// Every path's statistics, in the order the paths were first used.
public struct StatisticsBook: Sendable {
    public private(set) var order: [PathKey] = []
    public private(set) var paths: [PathKey: PathStatistics] = [:]

    public init() {}

    public mutating func record(_ exchange: Exchange, target: String, at now: ContinuousClock.Instant = .now) {
        let key = PathKey(target: target, transport: exchange.transport, tcpMode: exchange.tcpMode)
        if paths[key] == nil { order.append(key) }
        paths[key, default: PathStatistics()].record(exchange, at: now)
    }

    /// Counts an event a transport reported apart from any line's outcome (a live session's).
    public mutating func record(
        _ event: TransportEvent, target: String, transport: TransportKind, tcpMode: TCPMode?,
        at now: ContinuousClock.Instant = .now
    ) {
        let key = PathKey(target: target, transport: transport, tcpMode: tcpMode)
        if paths[key] == nil { order.append(key) }
        paths[key, default: PathStatistics()].record(event, at: now)
    }

    public var isEmpty: Bool { order.isEmpty }

    public func lines() -> [String] {
        order.flatMap { key in paths[key].map { $0.lines(key) } ?? [] }
    }
}
