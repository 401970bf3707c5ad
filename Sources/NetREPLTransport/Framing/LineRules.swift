// The framing rules a person states in lines or in time: `lines=N`, `until=TEXT`, `idle=D`. Lines
// end in LF, with or without a CR before it; the last line's ending is not shown.

/// A reply is the next `count` lines.
public struct LineCountFraming: ReplyFramer {
    public let count: Int

    public init(count: Int) {
        precondition(count > 0, "a reply has at least one line")
        self.count = count
    }

    public func frame(_ received: ArraySlice<UInt8>) -> FrameVerdict {
        let base = received.startIndex
        var start = base
        for _ in 0..<count {
            guard let (_, next) = Scan.line(in: received, from: start) else { return .needMore }
            start = next
        }
        return .complete(length: start - base, terminator: start - lineEnd(received, before: start))
    }

    public var endOfStreamEndsReply: Bool { false }
    public var requestTerminator: [UInt8] { [Scan.lf] }
}

/// A reply is every line up to and including a line equal to `text` (an empty `text`: up to an
/// empty line).
public struct UntilLineFraming: ReplyFramer {
    public let text: [UInt8]

    public init(text: [UInt8]) { self.text = text }

    public func frame(_ received: ArraySlice<UInt8>) -> FrameVerdict {
        let base = received.startIndex
        var start = base
        while let (end, next) = Scan.line(in: received, from: start) {
            if received[start..<end].elementsEqual(text) {
                return .complete(length: next - base, terminator: next - lineEnd(received, before: next))
            }
            start = next
        }
        return .needMore
    }

    public var endOfStreamEndsReply: Bool { false }
    public var requestTerminator: [UInt8] { [Scan.lf] }
}

/// A reply is whatever comes until the connection has been quiet for `period` (or it closes).
/// The framer itself never completes a reply: the transport asks `quietPeriod` for its deadline.
public struct IdleFraming: ReplyFraming {
    public let period: Duration

    public init(period: Duration) { self.period = period }

    public func replyEnd(in received: ArraySlice<UInt8>) -> (length: Int, terminator: Int)? { nil }
    public var quietPeriod: Duration? { period }
    public func endOfStreamCompletes(_ received: ArraySlice<UInt8>) -> Bool { !received.isEmpty }
    public var endOfStreamEndsReply: Bool { true }
    public var requestTerminator: [UInt8] { [Scan.lf] }
}

/// Where the content of the line ending just before `next` ends (before its CR LF or LF).
func lineEnd(_ bytes: ArraySlice<UInt8>, before next: Int) -> Int {
    var end = next
    if end > bytes.startIndex, bytes[end - 1] == Scan.lf { end -= 1 }
    if end > bytes.startIndex, bytes[end - 1] == Scan.cr { end -= 1 }
    return end
}

/// Any framing, sending CR LF after each line instead of its own terminator (`--crlf`).
public struct CRLFRequests: ReplyFraming {
    public let base: any ReplyFraming

    public init(_ base: any ReplyFraming) { self.base = base }

    public func replyEnd(in received: ArraySlice<UInt8>) -> (length: Int, terminator: Int)? { base.replyEnd(in: received) }
    public func frame(_ received: ArraySlice<UInt8>) -> FrameVerdict { base.frame(received) }
    public func framing(for request: [UInt8]) -> any ReplyFraming { base.framing(for: request) }
    public func request(for line: [UInt8]) -> Request { .send(line + [Scan.cr, Scan.lf]) }
    public func endOfStreamCompletes(_ received: ArraySlice<UInt8>) -> Bool { base.endOfStreamCompletes(received) }
    public var endOfStreamEndsReply: Bool { base.endOfStreamEndsReply }
    public var requestTerminator: [UInt8] { [Scan.cr, Scan.lf] }
    public var quietPeriod: Duration? { base.quietPeriod }
    public var greetsOnConnect: Bool { base.greetsOnConnect }
}
