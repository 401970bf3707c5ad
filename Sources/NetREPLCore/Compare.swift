// :compare: the same line over UDP, TCP on one persistent connection and TCP per line, interleaved
// round by round (each round starts with another of the three, so that a change in the machine's
// load falls on all alike), and the medians side by side, TCP's connect time apart.

import NetREPLProtocol
import NetREPLTransport

/// The three ways a line can go.
public enum ComparedPath: String, CaseIterable, Sendable {
    case udp = "udp"
    case tcpPersistent = "tcp persistent"
    case tcpPerLine = "tcp per-line"
}

public struct ComparePlan: Sendable, Equatable {
    public var rounds = 10
    /// Message sizes to sweep; nil: the line as it is.
    public var sizes: [Int]?
    public var line = Line("netrepl")

    public static let maximumRounds = 10_000
    public static let maximumSize = 1 << 20

    public init() {}

    /// Reads `[--rounds N] [--sizes 16,256,1400,8k] [LINE]`; the error is one line for a person.
    public static func parse(_ arguments: String) -> Result<ComparePlan, CompareArgumentError> {
        var plan = ComparePlan()
        var rest = Substring(arguments)
        while rest.hasPrefix("--") {
            let option = rest.prefix { !$0.isWhitespace }
            rest = rest.dropFirst(option.count).drop { $0.isWhitespace }
            let value = String(rest.prefix { !$0.isWhitespace })
            rest = rest.dropFirst(value.count).drop { $0.isWhitespace }
            switch option {
            case "--rounds":
                guard let n = Int(value), (1...maximumRounds).contains(n) else { return .failure(.rounds(value)) }
                plan.rounds = n
            case "--sizes":
                let sizes = value.split(separator: ",").map { parseSize(String($0)) }
                guard !sizes.isEmpty, sizes.allSatisfy({ $0 != nil }) else { return .failure(.sizes(value)) }
                plan.sizes = sizes.compactMap { $0 }
            default:
                return .failure(.option(String(option)))
            }
        }
        if !rest.isEmpty { plan.line = Line(String(rest)) }
        return .success(plan)
    }

    /// `16`, `1400`, `8k` (KiB); 1 byte to 1 MiB.
    static func parseSize(_ text: String) -> Int? {
        let lower = text.lowercased()
        let (digits, scale) = lower.hasSuffix("k") ? (String(lower.dropLast()), 1024) : (lower, 1)
        guard let n = Int(digits), n > 0, n * scale <= maximumSize else { return nil }
        return n * scale
    }

    /// The line to send at `size` bytes: the plan's line repeated (or cut) to that many bytes.
    public func line(ofSize size: Int?) -> Line {
        guard let size else { return line }
        let unit = line.bytes.isEmpty ? Array("x".utf8) : line.bytes
        return Line(bytes: (0..<size).map { unit[$0 % unit.count] })
    }
}

public enum CompareArgumentError: Error, Equatable, Sendable {
    case rounds(String)
    case sizes(String)
    case option(String)
}

/// What one size came to on the three paths.
public struct Comparison: Sendable, Equatable {
    public var size: Int
    public private(set) var roundTrips: [ComparedPath: RoundTrips] = [:]
    /// Connects of TCP per-line (one a line) and of TCP persistent (the first, and any reconnects).
    public private(set) var connects = RoundTrips()
    /// Lines without a reply, per path.
    public private(set) var unanswered: [ComparedPath: Int] = [:]

    public init(size: Int) {
        self.size = size
    }

    public mutating func record(_ exchange: Exchange, on path: ComparedPath) {
        if let took = exchange.connectTime { connects.add(took, clock: .monotonic) }
        for case .connected(_, let took, _) in exchange.events { connects.add(took, clock: .monotonic) }
        if let reply = exchange.reply {
            roundTrips[path, default: RoundTrips()].add(reply.roundTrip, clock: reply.clock)
        } else {
            unanswered[path, default: 0] += 1
        }
    }
}

/// The whole run: one comparison per size, and whether a signal cut it short.
public struct CompareResult: Sendable, Equatable {
    public var comparisons: [Comparison] = []
    public var interrupted = false

    public init() {}
}
