// What a :ping run came to, counted from the pinger's events and summarised as ping(8) does:
// `N packets transmitted, M received, X% packet loss, time T`, then rtt min/avg/max/mdev.

import NetREPLTransport

public struct PingTally: Sendable, Equatable {
    public var transmitted = 0
    public private(set) var received = 0
    public private(set) var duplicates = 0
    public private(set) var late = 0
    public private(set) var reordered = 0
    public private(set) var unexpected = 0
    public private(set) var roundTrips = RoundTrips()

    public init() {}

    public mutating func count(_ event: PingEvent) {
        switch event {
        case .reply(_, let roundTrip, let clock, _, let wasReordered):
            received += 1
            if wasReordered { reordered += 1 }
            roundTrips.add(roundTrip, clock: clock)
        case .timedOut: break
        case .duplicate: duplicates += 1
        case .late: late += 1
        case .unexpected: unexpected += 1
        }
    }

    public var lossPercent: Double {
        transmitted == 0 ? 0 : Double(transmitted - received) * 100 / Double(transmitted)
    }

    /// ping's summary, headed by the target, with netrepl's extra counts where there are any.
    public func summary(target: String, elapsed: Duration) -> [String] {
        var counts = ["\(transmitted) packets transmitted", "\(received) received"]
        if duplicates > 0 { counts.append("+\(duplicates) duplicates") }
        if late > 0 { counts.append("+\(late) late") }
        if reordered > 0 { counts.append("\(reordered) reordered") }
        if unexpected > 0 { counts.append("+\(unexpected) unexpected") }
        counts.append("\(significant(lossPercent))% packet loss")
        counts.append("time \(elapsed.wholeNanoseconds / 1_000_000)ms")
        var lines = ["--- \(target) ping statistics ---", counts.joined(separator: ", ")]
        if let rtt = roundTrips.rttLine {
            lines.append(rtt + ", jitter " + fixed(roundTrips.jitterNanoseconds / 1_000_000, 3) + " ms")
            lines.append(clockNote(roundTrips))
        }
        return lines
    }
}

/// `rtt clock: kernel (…)`: which clock the figures above came from, said once under them.
func clockNote(_ trips: RoundTrips) -> String {
    switch trips.clock {
    case .kernel?: return "rtt clock: kernel (send and receive stamped by the kernel)"
    case .monotonic?: return "rtt clock: monotonic for \(trips.count - trips.kernelClocked) of \(trips.count) (the kernel stamped no send or receipt for those)"
    case nil: return "rtt clock: none yet"
    }
}
