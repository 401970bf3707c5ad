// Where a reply ends: a rule the transport is given, not an assumption it makes. netrepl-server's
// replies end with the datagram (UDP), with the newline (a persistent TCP connection) or with the
// connection (the textbook's TCP client); other servers (SMTP, redis, HTTP) want other rules.

/// A rule for where a reply ends in the bytes received for it.
public protocol ReplyFraming: Sendable {
    /// Given the bytes received so far for one reply, the length of the complete reply at their
    /// start and how many of its last bytes are a terminator not to show; nil while incomplete.
    func replyEnd(in received: ArraySlice<UInt8>) -> (length: Int, terminator: Int)?
    /// Whether the end of the stream completes a reply (true) or cuts it short (false).
    var endOfStreamEndsReply: Bool { get }
    /// What is appended to each line sent (a newline for line framing).
    var requestTerminator: [UInt8] { get }

    // Members with default implementations (Framing/FrameVerdict.swift), so that a rule that
    // needs them overrides them and the others need not know they exist.
    func frame(_ received: ArraySlice<UInt8>) -> FrameVerdict
    func framing(for request: [UInt8]) -> any ReplyFraming
    func request(for line: [UInt8]) -> Request
    func endOfStreamCompletes(_ received: ArraySlice<UInt8>) -> Bool
    var quietPeriod: Duration? { get }
    var greetsOnConnect: Bool { get }
    /// Whether each reply arrives whole, so that a second copy of one is recognisable as a
    /// duplicate (datagrams); on a stream a repeat is just more data.
    var recognisesDuplicates: Bool { get }
}

extension ReplyFraming {
    public var recognisesDuplicates: Bool { false }
}

/// Each datagram is one whole reply.
public struct DatagramFraming: ReplyFraming {
    public init() {}
    public func replyEnd(in received: ArraySlice<UInt8>) -> (length: Int, terminator: Int)? { (received.count, 0) }
    public var endOfStreamEndsReply: Bool { false }
    public var requestTerminator: [UInt8] { [] }
    public var recognisesDuplicates: Bool { true }
}

/// A reply ends with a terminator (a newline by default), which is not shown; each line sent ends
/// with the same terminator. A newline terminator takes a CR before it along: a server that ends
/// its lines in CR LF does not show a stray `\x0d` at the end of every reply.
public struct TerminatorFraming: ReplyFraming {
    public let terminator: [UInt8]

    public init(terminator: [UInt8] = [UInt8(ascii: "\n")]) {
        precondition(!terminator.isEmpty, "a terminator has at least one byte")
        self.terminator = terminator
    }

    public func replyEnd(in received: ArraySlice<UInt8>) -> (length: Int, terminator: Int)? {
        guard received.count >= terminator.count, let last = terminator.last else { return nil }
        var i = received.startIndex + terminator.count - 1
        while i < received.endIndex {
            if received[i] == last, received[(i - terminator.count + 1)...i].elementsEqual(terminator) {
                let withCR = terminator == [Scan.lf] && i > received.startIndex && received[i - 1] == Scan.cr
                return (i - received.startIndex + 1, terminator.count + (withCR ? 1 : 0))
            }
            i += 1
        }
        return nil
    }

    public var endOfStreamEndsReply: Bool { false }
    public var requestTerminator: [UInt8] { terminator }
}

/// The reply is everything until the server closes the connection (the textbook's TCP client).
public struct EndOfStreamFraming: ReplyFraming {
    public init() {}
    public func replyEnd(in received: ArraySlice<UInt8>) -> (length: Int, terminator: Int)? { nil }
    public var endOfStreamEndsReply: Bool { true }
    public var requestTerminator: [UInt8] { [] }
}
