// Per-transport counters and round-trip times, summarised the way ping(8) does
// (iputils ping_common.c, finish(): mdev = sqrt(mean(rtt²) − mean(rtt)²)).

import Histogram
import NetREPLProtocol
import NetREPLTransport

public struct TransportStatistics: Sendable {
    public private(set) var sent = 0
    public private(set) var received = 0
    public private(set) var lost = 0
    public private(set) var late = 0
    public private(set) var duplicates = 0
    public private(set) var unexpected = 0
    public private(set) var truncated = 0
    public private(set) var cancelled = 0
    public private(set) var errors = 0
    public private(set) var connects = 0
    private var sum = 0.0
    private var sumOfSquares = 0.0
    public private(set) var minimum: UInt64 = .max
    public private(set) var maximum: UInt64 = 0
    private var histogram = Histogram<UInt64>(numberOfSignificantValueDigits: .three)

    public init() {
        histogram.autoResize = true
    }

    /// Counts one exchange; call once per line sent.
    public mutating func record(_ exchange: Exchange) {
        for event in exchange.events {
            switch event {
            case .late: late += 1
            case .noise(let noise): duplicates += noise.duplicates; unexpected += noise.unexpected
            case .connected: connects += 1
            case .fellBack, .greeting: break
            }
        }
        if exchange.connectTime != nil { connects += 1 }
        // A line that never left (connection refused before sending) is still an attempt, as in ping.
        sent += 1
        switch exchange.outcome {
        case .reply(let reply):
            received += 1
            recordRTT(reply.roundTrip.wholeNanoseconds)
        case .lost:
            lost += 1
        case .truncated:
            truncated += 1
        case .cancelled:
            cancelled += 1
        case .failed, .malformed:
            errors += 1
        }
    }

    mutating func recordRTT(_ nanoseconds: UInt64) {
        let micros = Double(nanoseconds) / 1_000
        sum += micros
        sumOfSquares += micros * micros
        minimum = Swift.min(minimum, nanoseconds)
        maximum = Swift.max(maximum, nanoseconds)
        _ = histogram.record(Swift.max(nanoseconds, 1))
    }

    /// Per cent of lines sent without an on-time reply.
    public var lossPercent: Double {
        sent == 0 ? 0 : Double(sent - received) * 100 / Double(sent)
    }

    /// Mean RTT in microseconds.
    public var meanMicroseconds: Double { received == 0 ? 0 : sum / Double(received) }

    /// ping's mdev in microseconds: the population standard deviation of the RTTs.
    public var mdevMicroseconds: Double {
        guard received > 0 else { return 0 }
        let mean = sum / Double(received)
        let variance = sumOfSquares / Double(received) - mean * mean
        return variance > 0 ? variance.squareRoot() : 0
    }

    /// The RTT below which `percentile` per cent fall, in nanoseconds (HdrHistogram, 3 digits).
    public func percentile(_ percentile: Double) -> UInt64 {
        histogram.valueAtPercentile(percentile)
    }

    /// `3 sent, 2 received, 1 lost, 33.3333% loss` plus late, duplicates, errors when there are any.
    public var countsLine: String {
        var parts = ["\(sent) sent", "\(received) received"]
        if lost > 0 { parts.append("\(lost) lost") }
        if late > 0 { parts.append("+\(late) late") }
        if duplicates > 0 { parts.append("+\(duplicates) duplicates") }
        if unexpected > 0 { parts.append("+\(unexpected) unexpected") }
        if truncated > 0 { parts.append("+\(truncated) truncated") }
        if cancelled > 0 { parts.append("+\(cancelled) cancelled") }
        if errors > 0 { parts.append("+\(errors) errors") }
        parts.append("\(significant(lossPercent))% loss")
        return parts.joined(separator: ", ")
    }

    /// `rtt min/avg/max/mdev = 0.051/0.084/0.120/0.020 ms`, or nil before any reply.
    public var rttLine: String? {
        guard received > 0 else { return nil }
        let values = [Double(minimum) / 1_000, meanMicroseconds, Double(maximum) / 1_000, mdevMicroseconds]
        return "rtt min/avg/max/mdev = " + values.map { fixed($0 / 1_000, 3) }.joined(separator: "/") + " ms"
    }

    /// `rtt p50/p90/p99/p99.9 = … ms`, from the histogram.
    public var percentileLine: String? {
        guard received > 0 else { return nil }
        let values = [50.0, 90, 99, 99.9].map { fixed(Double(percentile($0)) / 1_000_000, 3) }
        return "rtt p50/p90/p99/p99.9 = " + values.joined(separator: "/") + " ms"
    }
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
    public func summary(showPercentiles: Bool = false) -> [String] {
        var lines: [String] = []
        for kind in TransportKind.allCases {
            let stats = self[kind]
            guard stats.sent > 0 || stats.late > 0 else { continue }
            lines.append("--- \(kind.rawValue) statistics ---")
            lines.append(stats.countsLine)
            if let rtt = stats.rttLine { lines.append(rtt) }
            if showPercentiles, let p = stats.percentileLine { lines.append(p) }
            if showPercentiles, kind == .tcp, stats.connects > 0 { lines.append("tcp connections opened: \(stats.connects)") }
        }
        return lines
    }
}
