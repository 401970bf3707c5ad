// What a netrepl-server instance is told at start: where to listen, its limits, and the optional
// impairment of UDP replies used in teaching (loss, delay, jitter, duplication).

import NIOCore
import SeededRandom

public struct ServerConfiguration: Sendable {
    /// Address to listen on; nil means all interfaces, IPv6 and IPv4 (dual stack).
    public var host: String?
    /// Port for both UDP and TCP; 0 picks one free for both.
    public var port: Int
    /// Event loops (threads); by default one per CPU this process may run on (`CPUBudget`).
    public var threads: Int
    /// A TCP connection with no traffic either way for this long is closed; nil disables.
    public var idleTimeout: TimeAmount?
    /// Concurrent TCP connections beyond this are closed as soon as they are accepted.
    public var maxConnections: Int
    /// How long a graceful shutdown lets replies in flight finish.
    public var gracePeriod: TimeAmount
    /// Impairment of UDP replies; `.none` by default.
    public var impairment: Impairment
    /// At most this many UDP replies a second to one source address (a burst of as many is
    /// allowed); nil, the default, answers every datagram. Limits use as a reflector.
    public var udpRateLimit: Int?

    public init(
        host: String? = nil,
        port: Int = 12000,
        threads: Int = CPUBudget.available,
        idleTimeout: TimeAmount? = .seconds(300),
        maxConnections: Int = 65536,
        gracePeriod: TimeAmount = .seconds(5),
        impairment: Impairment = .none,
        udpRateLimit: Int? = nil
    ) {
        self.host = host
        self.port = port
        self.threads = max(1, threads)
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.gracePeriod = gracePeriod
        self.impairment = impairment
        self.udpRateLimit = udpRateLimit.map { max(1, $0) }
    }
}

/// Impairment applied to each UDP reply, as a lossy network would.
public struct Impairment: Sendable, Equatable {
    /// Probability (0...1) that a reply is dropped.
    public var loss: Double
    /// Fixed delay before a reply is sent.
    public var delay: TimeAmount
    /// A uniformly random amount in [-jitter, +jitter] added to the delay (never below zero).
    public var jitter: TimeAmount
    /// Probability (0...1) that a reply is sent twice.
    public var duplicate: Double
    /// Seed for reproducible runs; nil seeds from the system.
    public var seed: UInt64?

    public static let none = Impairment()

    public init(loss: Double = 0, delay: TimeAmount = .zero, jitter: TimeAmount = .zero, duplicate: Double = 0, seed: UInt64? = nil) {
        self.loss = loss
        self.delay = delay
        self.jitter = jitter
        self.duplicate = duplicate
        self.seed = seed
    }

    /// The same, from the command line's durations (the options both executables share).
    public init(loss: Double, delay: Duration, jitter: Duration, duplicate: Double, seed: UInt64?) {
        self.init(loss: loss, delay: TimeAmount(delay), jitter: TimeAmount(jitter), duplicate: duplicate, seed: seed)
    }

    public var isActive: Bool {
        loss > 0 || delay > .zero || jitter > .zero || duplicate > 0
    }

    /// For the start log: `loss 30%, delay 100ms ± 20ms, duplicate 10%, seed 7`; only what is set.
    public var summary: String {
        func percent(_ p: Double) -> String {
            let v = p * 100
            return v == v.rounded() ? "\(Int(v))%" : "\(v)%"
        }
        func millis(_ t: TimeAmount) -> String {
            let ms = Double(t.nanoseconds) / 1e6
            return ms == ms.rounded() ? "\(Int(ms))ms" : "\(ms)ms"
        }
        var parts: [String] = []
        if loss > 0 { parts.append("loss \(percent(loss))") }
        if delay > .zero || jitter > .zero {
            parts.append(jitter > .zero ? "delay \(millis(delay)) ± \(millis(jitter))" : "delay \(millis(delay))")
        }
        if duplicate > 0 { parts.append("duplicate \(percent(duplicate))") }
        if let seed { parts.append("seed \(seed)") }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }
}

/// The decisions for one reply: how many copies to send (0 = lost) and after what delay each.
struct ImpairmentDecider: Sendable {
    let impairment: Impairment
    private var rng: SplitMix64

    init(_ impairment: Impairment) {
        self.impairment = impairment
        self.rng = SplitMix64(seed: impairment.seed ?? UInt64.random(in: .min ... .max))
    }

    mutating func delays() -> [TimeAmount] {
        // Draw every random number for every reply, whatever the outcome, so that a seed fixes
        // the whole sequence independently of which replies happen to be dropped.
        let lossDraw = Double.random(in: 0..<1, using: &rng)
        let dupDraw = Double.random(in: 0..<1, using: &rng)
        let jitter1 = Double.random(in: -1...1, using: &rng)
        let jitter2 = Double.random(in: -1...1, using: &rng)
        if lossDraw < impairment.loss { return [] }
        var result = [delay(jitter1)]
        if dupDraw < impairment.duplicate { result.append(delay(jitter2)) }
        return result
    }

    private func delay(_ unit: Double) -> TimeAmount {
        let ns = Double(impairment.delay.nanoseconds) + unit * Double(impairment.jitter.nanoseconds)
        return .nanoseconds(Int64(max(0, ns)))
    }
}
