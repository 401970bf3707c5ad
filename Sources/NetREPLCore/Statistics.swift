// Per-transport counters and round-trip times, summarised the way ping(8) does (the figures
// themselves are RoundTrips', shared with :ping and :stats).

import NetREPLProtocol
import NetREPLTransport

/// One transport's counts for the exit summary: counted as :stats counts a path (one
/// `PathStatistics` for all of the transport's targets and modes), worded the way ping(8) words them.
@dynamicMemberLookup
public struct TransportStatistics: Sendable {
    private var counts = PathStatistics()

    public init() {}

    public subscript<T>(dynamicMember figure: KeyPath<PathStatistics, T>) -> T { counts[keyPath: figure] }

    /// Counts one exchange; call once per line sent.
    public mutating func record(_ exchange: Exchange) { counts.record(exchange) }

    /// Counts what a transport saw besides a line's outcome (live, or with its exchange).
    public mutating func record(_ event: TransportEvent) { counts.record(event) }

    /// ping's mdev in microseconds: the population standard deviation of the RTTs.
    public var mdevMicroseconds: Double { counts.roundTrips.mdevMicroseconds }

    /// `3 sent, 2 received, 1 lost, 33.3333% loss` plus late, duplicates, errors and lines not
    /// sent when there are any; no loss when nothing was sent, as there was nothing to lose.
    public var countsLine: String {
        counts.countsLine
    }

    /// `rtt min/avg/max/mdev = 0.051/0.084/0.120/0.020 ms`, or nil before any reply.
    public var rttLine: String? { counts.roundTrips.rttLine }
}

/// Statistics for both transports of a session.
public struct SessionStatistics: Sendable {
    public var udp = TransportStatistics()
    public var tcp = TransportStatistics()

    public init() {}

    public subscript(kind: TransportKind) -> TransportStatistics {
        get { kind == .udp ? udp : tcp }
        set { if kind == .udp { udp = newValue } else { tcp = newValue } }
    }

    /// The ping-style summary for each transport that was used; empty when none was.
    public func summary() -> [String] {
        var lines: [String] = []
        for kind in TransportKind.allCases {
            let stats = self[kind]
            guard stats.sent > 0 || stats.notSent > 0 || stats.late > 0 else { continue }
            lines.append("--- \(kind.rawValue) statistics ---")
            lines.append(stats.countsLine)
            if let rtt = stats.rttLine { lines.append(rtt) }
        }
        return lines
    }
}
