// What one line sent on a transport came to, as types that cannot contradict themselves: a reply,
// lost, truncated, cancelled, or failed for a typed reason; and what was seen on the way. No
// sentence for a person is written here: the presentation layer words all of it.

import SystemPackage

/// The two transports of the protocol.
public enum TransportKind: String, Sendable, CaseIterable {
    case udp, tcp
}

/// How TCP is used: one persistent connection, or a new connection for every line (the textbook client).
public enum TCPMode: String, Sendable, CaseIterable {
    case persistent
    case perLine = "per-line"
}

/// One line as it was read: its text, and the exact bytes to send (which differ from the text's
/// UTF-8 only when the input was not valid UTF-8; the text then shows U+FFFD).
public struct Line: Sendable, Equatable {
    public let text: String
    public let bytes: [UInt8]

    public init(_ text: String) {
        self.text = text
        self.bytes = Array(text.utf8)
    }

    /// A line read as bytes: sent as they are, shown decoded.
    public init(bytes: [UInt8]) {
        self.text = String(decoding: bytes, as: UTF8.self)
        self.bytes = bytes
    }

    init(text: String, bytes: [UInt8]) {
        self.text = text
        self.bytes = bytes
    }

    /// The line without its first character (`::x` sends `:x`), bytes and text alike.
    public func droppingFirstCharacter() -> Line {
        guard let first = text.first else { return self }
        return Line(text: String(text.dropFirst()), bytes: Array(bytes.dropFirst(String(first).utf8.count)))
    }
}

/// Which clock a round-trip time was read from.
public enum RTTClock: String, Sendable, Equatable {
    /// The kernel stamped both ends: the send as the line was handed to the device, the receipt
    /// of the reply's last byte as it came in.
    case kernel
    /// At least one end is netrepl's own reading of the monotonic clock (just before the send, or
    /// when it read a bare end of stream), so the figure includes some of netrepl's own time.
    case monotonic
}

/// A reply, with the time from the line's send to the kernel's receipt of the reply's last byte.
public struct Reply: Sendable, Equatable {
    public var bytes: [UInt8]
    public var roundTrip: Duration
    /// Bytes received for it, its terminator included.
    public var bytesReceived: Int
    /// Where `roundTrip`'s two instants came from.
    public var clock: RTTClock
    /// The time from the send to the reply's first byte (`roundTrip` is to its last), when the
    /// reply came in more than one piece; nil when its first byte came with its last.
    public var firstByte: Duration?

    public init(
        bytes: [UInt8], roundTrip: Duration, bytesReceived: Int, clock: RTTClock = .monotonic,
        firstByte: Duration? = nil
    ) {
        self.bytes = bytes
        self.roundTrip = roundTrip
        self.bytesReceived = bytesReceived
        self.clock = clock
        self.firstByte = firstByte
    }
}

/// How a stream ended under a reply.
public enum StreamEnd: Sendable, Equatable {
    /// The server closed its side (FIN).
    case closed
    /// The server reset the connection (RST).
    case reset
    /// The reply grew past what netrepl keeps for one reply (`limit` bytes) without ending.
    case tooLarge(limit: Int)
    /// The bytes cannot be a reply under the framing rule, so netrepl stopped reading them.
    case malformed(FrameProblem)
}

/// Why a line could not be exchanged at all.
public enum TransportFailure: Error, Sendable, Equatable {
    case cannotOpenSocket(Errno)
    /// Nothing listens there (ICMP port unreachable for UDP, RST to the SYN for TCP).
    case refused(SocketAddress)
    case connectTimedOut(SocketAddress)
    case cannotConnect(SocketAddress, Errno)
    /// The line does not fit in one datagram to that address.
    case datagramTooLarge(size: Int, limit: Int)
    case sendFailed(SocketAddress, Errno)
    /// The server stopped reading, and the line could not be sent before the deadline.
    case sendTimedOut(SocketAddress)
    case receiveFailed(SocketAddress, Errno)
    /// The connection ended before any byte of the reply came.
    case closedBeforeReply(SocketAddress, StreamEnd)

    /// The address the failure concerns, when it has one.
    public var address: SocketAddress? {
        switch self {
        case .refused(let a), .connectTimedOut(let a), .cannotConnect(let a, _), .sendFailed(let a, _), .sendTimedOut(let a),
            .receiveFailed(let a, _), .closedBeforeReply(let a, _):
            return a
        case .cannotOpenSocket, .datagramTooLarge:
            return nil
        }
    }

    /// Failures to reach the server at all, which the exit status tells apart (2, not 1).
    public var isConnectionFailure: Bool {
        switch self {
        case .cannotOpenSocket, .refused, .connectTimedOut, .cannotConnect: return true
        default: return false
        }
    }
}

/// What one line's exchange came to.
public enum ExchangeOutcome: Sendable, Equatable {
    case reply(Reply)
    /// No complete reply by the deadline; `partialBytes` of one had come.
    case lost(partialBytes: Int)
    /// The reply began but the stream ended (or it grew too large) before it was complete.
    case truncated(received: [UInt8], end: StreamEnd)
    /// What came cannot be a reply under the framing rule (a bad RESP type byte, a declared
    /// length beyond any limit, a bad chunk size).
    case malformed(received: [UInt8], problem: FrameProblem)
    /// A signal (SIGINT: Ctrl-C) ended the wait; a reply that comes later is shown as late.
    case cancelled(signal: Int32)
    case failed(TransportFailure)

    /// The outcome of a reply cut short: malformed when the framing said so, else truncated.
    public static func cut(_ received: [UInt8], _ end: StreamEnd) -> ExchangeOutcome {
        if case .malformed(let problem) = end { return .malformed(received: received, problem: problem) }
        return .truncated(received: received, end: end)
    }
}

/// A reply that came for an earlier line, after that line was given up (lost or cancelled).
public struct LateReply: Sendable, Equatable {
    public var line: Line
    public var bytes: [UInt8]
    public var roundTrip: Duration

    public init(line: Line, bytes: [UInt8], roundTrip: Duration) {
        self.line = line
        self.bytes = bytes
        self.roundTrip = roundTrip
    }
}

/// Datagrams and bytes that were nobody's reply, counted; only a bounded sample is kept.
public struct Noise: Sendable, Equatable {
    /// Further copies of a reply already taken.
    public var duplicates = 0
    /// Datagrams or chunks that answer no line (extra datagrams, bytes after a reply).
    public var unexpected = 0
    public var bytes = 0
    /// The first few unexpected payloads, each cut to `sampleLimit` bytes.
    public var samples: [[UInt8]] = []

    public static let sampleCount = 3
    public static let sampleLimit = 160

    public init() {}

    public var isEmpty: Bool { duplicates == 0 && unexpected == 0 }

    /// Adds `other`'s counts (and samples, up to the bound) to these.
    public mutating func merge(_ other: Noise) {
        duplicates += other.duplicates
        unexpected += other.unexpected
        bytes += other.bytes
        samples += other.samples.prefix(Self.sampleCount - samples.count)
    }

    mutating func countDuplicate(_ size: Int) {
        duplicates += 1
        bytes += size
    }

    mutating func countUnexpected<C: Collection>(_ payload: C) where C.Element == UInt8 {
        unexpected += 1
        bytes += payload.count
        if samples.count < Self.sampleCount { samples.append(Array(payload.prefix(Self.sampleLimit))) }
    }
}

/// Why a persistent connection is being replaced.
public enum ConnectionEnd: Sendable, Equatable {
    /// The server closed it while idle, or right after its reply.
    case serverClosed
    case reset
    case failed(Errno)
    /// A reply on it was given up (lost or cancelled), so it is never used for another line.
    case replyAbandoned
}

/// Something the transport did or saw before the outcome, shown in order before it.
public enum TransportEvent: Sendable, Equatable {
    /// A TCP connection was opened; `replacing` says why the previous one ended, if there was one.
    case connected(SocketAddress, took: Duration, replacing: ConnectionEnd?)
    /// The address tried first refused; the next resolved address is tried.
    case fellBack(from: SocketAddress, to: SocketAddress)
    case late(LateReply)
    case noise(Noise)
    /// Replies a server sent unasked on a persistent connection (a chat server, a redis push).
    case unasked(Unasked)
    /// The server closed or reset a persistent connection while no line waited on it.
    case connectionEnded(SocketAddress, ConnectionEnd)
    /// An ICMP unreachable came back on the socket of a line already settled.
    case unreachable(SocketAddress)
    /// What the server said on connect before any line (SMTP's greeting), and when it came.
    case greeting([UInt8], after: Duration)
}

/// What a server sent unasked, as whole replies (framed as the replies are); only the first few
/// of a flood are kept, the rest are counted.
public struct Unasked: Sendable, Equatable {
    public var replies: [[UInt8]] = []
    /// Replies beyond those kept, and their bytes.
    public var dropped = 0
    public var droppedBytes = 0

    /// Replies kept between two takes; more are only counted, so a flood costs no memory.
    public static let keepAtMost = 64
    /// The most kept of one reply sent unasked.
    public static let replyLimit = 4096

    public init() {}

    public var isEmpty: Bool { replies.isEmpty && dropped == 0 }
    public var count: Int { replies.count + dropped }

    mutating func append<C: Collection>(_ reply: C) where C.Element == UInt8 {
        if replies.count < Self.keepAtMost {
            replies.append(Array(reply.prefix(Self.replyLimit)))
        } else {
            dropped += 1
            droppedBytes += reply.count
        }
    }
}

/// One line's exchange.
public struct Exchange: Sendable {
    public let line: Line
    public let transport: TransportKind
    /// Set for TCP only.
    public let tcpMode: TCPMode?
    /// The address the line went to, or the one tried when the connect failed.
    public var peer: SocketAddress?
    /// The bytes that left, terminator included: 0 when the line never went (nothing listening,
    /// too large for a datagram, the connect cancelled).
    public var bytesSent = 0
    /// For a connection opened for this line alone (per-line TCP): how long the connect took.
    public var connectTime: Duration?
    /// For a line that opened the persistent connection it went on: how long that connect took
    /// (said as it happened, in a `.connected` event).
    public var openedConnection: Duration?
    /// How long the reply was waited for.
    public var timeout: Duration = .zero
    public var outcome: ExchangeOutcome
    public var events: [TransportEvent] = []
    /// The calls made on the line's socket and its local address (for :trace, :capture, --json).
    public var trace = SocketTrace()

    public init(line: Line, transport: TransportKind, tcpMode: TCPMode? = nil, outcome: ExchangeOutcome) {
        self.line = line
        self.transport = transport
        self.tcpMode = tcpMode
        self.outcome = outcome
    }

    public var reply: Reply? {
        if case .reply(let reply) = outcome { return reply }
        return nil
    }
}
