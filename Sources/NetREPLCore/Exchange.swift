// What one line sent on a transport came to: the reply, its round-trip time and outcome, and what
// the transport noticed along the way (connections made, late or duplicate datagrams).

/// The two transports of the protocol.
public enum TransportKind: String, Sendable, CaseIterable {
    case udp, tcp
}

/// How TCP is used: one persistent connection, or a new connection for every line (the textbook client).
public enum TCPMode: String, Sendable, CaseIterable {
    case persistent
    case perLine = "per-line"
}

/// The outcome of one line, as the history file and `--json` record it.
public enum Outcome: String, Sendable, CaseIterable {
    /// The reply came within the timeout.
    case ok
    /// No reply within the timeout.
    case lost
    /// A reply that arrived after its line was declared lost (recorded as an extra history record).
    case late
    /// The line could not be sent or the exchange failed.
    case error
    /// A `:` command, not sent (history only).
    case command = "cmd"
}

/// Why an exchange failed, which decides the exit status: 2 for connection errors, 1 otherwise.
public enum FailureKind: Sendable, Equatable {
    /// Nothing listening, no route, connect failed or timed out, name not resolvable.
    case connection
    /// The line was sent but the exchange failed (reset, closed without a reply, too large).
    case exchange
}

/// A datagram (or stray TCP bytes) that was not the reply to the line being sent.
public struct LateReply: Sendable, Equatable {
    public var payload: [UInt8]
    /// The earlier line it answers, when it could be matched.
    public var line: String?
    /// Time from that line's send to this arrival, when the arrival was seen as it happened.
    public var rttNanoseconds: UInt64?
    /// A second copy of a reply already shown.
    public var duplicate: Bool
}

/// Something the transport did or saw before the reply, shown in order before it.
public enum TransportEvent: Sendable, Equatable {
    /// A TCP connection was opened (`reconnectReason` non-nil when it replaced one that ended).
    case connected(peer: String, nanoseconds: UInt64, reconnectReason: String?)
    case late(LateReply)
    /// Information for the person: an address fallback, for instance.
    case notice(String)
}

/// One line's exchange.
public struct Exchange: Sendable {
    public var transport: TransportKind
    public var tcpMode: TCPMode?
    public var line: String
    public var peer: String
    public var bytesSent: Int = 0
    public var reply: [UInt8]?
    public var bytesReceived: Int = 0
    public var outcome: Outcome
    public var rttNanoseconds: UInt64?
    /// Per-line TCP: the connect time of this line's own connection.
    public var connectNanoseconds: UInt64?
    public var error: String?
    public var failure: FailureKind?
    /// The signal that ended the wait, if one did.
    public var interruptedBy: Int32?
    public var events: [TransportEvent] = []

    public init(transport: TransportKind, tcpMode: TCPMode? = nil, line: String, peer: String, outcome: Outcome) {
        self.transport = transport
        self.tcpMode = tcpMode
        self.line = line
        self.peer = peer
        self.outcome = outcome
    }
}

extension Transport {
    func exchange(line: String, timeout: UInt64) -> Exchange {
        exchange(line: line, payload: Array(line.utf8), timeout: timeout)
    }
}

/// A transport sends one line and waits for its reply.
protocol Transport: AnyObject {
    var kind: TransportKind { get }
    /// Sends `payload` (the bytes of `line`, or the exact bytes it was read from when they are not
    /// UTF-8) and waits up to `timeout` nanoseconds for its reply.
    func exchange(line: String, payload: [UInt8], timeout: UInt64) -> Exchange
    /// Closes any socket; the next exchange opens a new one.
    func close()
}
