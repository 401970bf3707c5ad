// Round-trip times gathered as ping(8) summarises them (iputils ping_common.c, finish():
// mdev = sqrt(mean(rtt²) − mean(rtt)²)), with RFC 3550's interarrival jitter, the recent samples
// for a sparkline, and which clock each figure came from. Shared by :ping, :stats and :compare.

import NetREPLTransport

public struct RoundTrips: Sendable, Equatable {
    public private(set) var count = 0
    private var sum = 0.0
    private var sumOfSquares = 0.0
    public private(set) var minimum: Duration = .zero
    public private(set) var maximum: Duration = .zero
    /// RFC 3550 §6.4.1 interarrival jitter, J += (|D| − J)/16, in nanoseconds, where D is the
    /// difference between consecutive round trips (the send spacing cancels out of a round trip).
    public private(set) var jitterNanoseconds = 0.0
    private var previous: Duration?
    /// The most recent round trips, oldest first, at most `recentLimit`.
    public private(set) var recent: [Duration] = []
    /// How many figures came from the kernel's stamps at both ends.
    public private(set) var kernelClocked = 0
    /// Every sample, for medians (bounded: a session does not run to millions of lines by hand).
    private var samples: [Duration] = []

    public static let recentLimit = 32
    static let sampleLimit = 100_000

    public init() {}

    public mutating func add(_ roundTrip: Duration, clock: RTTClock) {
        let micros = Double(roundTrip.wholeNanoseconds) / 1_000
        minimum = count == 0 ? roundTrip : Swift.min(minimum, roundTrip)
        maximum = count == 0 ? roundTrip : Swift.max(maximum, roundTrip)
        count += 1
        sum += micros
        sumOfSquares += micros * micros
        if let previous {
            let d = abs(Double((roundTrip - previous).wholeNanosecondsSigned))
            jitterNanoseconds += (d - jitterNanoseconds) / 16
        }
        previous = roundTrip
        recent.append(roundTrip)
        if recent.count > Self.recentLimit { recent.removeFirst() }
        if clock == .kernel { kernelClocked += 1 }
        if samples.count < Self.sampleLimit { samples.append(roundTrip) }
    }

    /// Mean in microseconds.
    public var meanMicroseconds: Double { count == 0 ? 0 : sum / Double(count) }

    /// ping's mdev in microseconds: the population standard deviation.
    public var mdevMicroseconds: Double {
        guard count > 0 else { return 0 }
        let mean = sum / Double(count)
        let variance = sumOfSquares / Double(count) - mean * mean
        return variance > 0 ? variance.squareRoot() : 0
    }

    /// The median (the lower middle one of an even count), nil before any sample.
    public var median: Duration? { percentile(50) }

    /// The nearest-rank percentile (the smallest sample with at least `p` per cent at or below it).
    public func percentile(_ p: Double) -> Duration? {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    /// Which clock the figures came from: kernel when every one did.
    public var clock: RTTClock? {
        count == 0 ? nil : (kernelClocked == count ? .kernel : .monotonic)
    }

    /// `rtt min/avg/max/mdev = 0.051/0.084/0.120/0.020 ms`, nil before any sample.
    public var rttLine: String? {
        guard count > 0 else { return nil }
        let values = [Double(minimum.wholeNanoseconds) / 1_000, meanMicroseconds, Double(maximum.wholeNanoseconds) / 1_000, mdevMicroseconds]
        return "rtt min/avg/max/mdev = " + values.map { fixed($0 / 1_000, 3) }.joined(separator: "/") + " ms"
    }

    /// The recent round trips as a sparkline, lowest ▁ to highest █ of those shown.
    public var sparkline: String {
        let bars = Array("▁▂▃▄▅▆▇█")
        guard let low = recent.min(), let high = recent.max() else { return "" }
        let span = Double((high - low).wholeNanoseconds)
        return String(
            recent.map { value in
                span == 0 ? bars[0] : bars[min(bars.count - 1, Int(Double((value - low).wholeNanoseconds) / span * Double(bars.count - 1) + 0.5))]
            })
    }
}

extension RoundTrips {
    /// Clock counts over several sets of round trips (one path of :compare, all its sizes).
    public struct Clocks: Sendable {
        private var all = 0
        private var kernel = 0

        public init() {}

        public mutating func add(_ trips: RoundTrips) {
            all += trips.count
            kernel += trips.kernelClocked
        }

        /// Kernel when every figure was; nil before any.
        public var clock: RTTClock? { all == 0 ? nil : (kernel == all ? .kernel : .monotonic) }
    }
}

extension Duration {
    /// Whole nanoseconds, negative for a negative duration.
    var wholeNanosecondsSigned: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
