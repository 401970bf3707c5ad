// The outcome of a bench run, as numbers: counts, the latency distribution and the rate; no words.

import Histogram

public struct BenchCounts: Sendable, Equatable {
    /// Requests sent during the measured window.
    public var sent = 0
    /// Replies that were exactly the request uppercased, settled in the measured window.
    public var ok = 0
    /// Requests whose reply was not (wrong bytes or length) and named no earlier request.
    public var wrong = 0
    /// Requests unanswered within the timeout.
    public var lost = 0
    /// Requests ended by a socket error: refused, reset, closed by the server (the client reconnects).
    public var failed = 0
    /// Replies that answer no request in flight: late after a timeout, duplicated, or unasked for.
    /// Not requests, so not part of `sent`.
    public var stray = 0

    mutating func add(_ other: BenchCounts) {
        sent += other.sent; ok += other.ok; wrong += other.wrong
        lost += other.lost; stray += other.stray; failed += other.failed
    }
}

/// A live sample for the progress line.
public struct BenchProgress: Sendable {
    public var elapsed: Duration
    public var settled: Int
    public var lostOrWrong: Int
    public var warmingUp: Bool
}

public struct BenchReport: Sendable {
    public var plan: BenchPlan
    public var counts: BenchCounts
    /// Requests still in flight when the run ended (neither answered nor timed out).
    public var inFlight: Int
    /// The measured window as it really ran (shorter when interrupted).
    public var measured: Duration
    public var interrupted: Bool
    /// Round-trip latency of the good replies, nanoseconds; in open loop from the intended send time.
    public var latency: Histogram<UInt64>
    /// CPU time (user + system) this process used, seconds.
    public var cpuSeconds: Double

    public var requestsPerSecond: Double {
        let seconds = measured.seconds
        return seconds > 0 ? Double(counts.ok) / seconds : 0
    }

    /// Every request was answered, right, and in time.
    public var clean: Bool { counts.wrong == 0 && counts.lost == 0 && counts.failed == 0 }
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }

    var nanoseconds: Int64 {
        let (s, atto) = components
        return s * 1_000_000_000 + atto / 1_000_000_000
    }
}
