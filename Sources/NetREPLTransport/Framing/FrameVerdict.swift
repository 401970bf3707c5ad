// The contract of a reply framer that parses what a server says (RESP, memcached, SMTP, HTTP/1.1):
// a pure function of the bytes received so far, answering complete, need more, an unasked message
// at the start, or malformed for a typed reason. Framers never allocate by a declared length, so
// whatever a peer declares, memory stays bounded by what actually came (and the tracker's limit).

/// Why bytes cannot be a reply under a rule. No sentence for a person: the presenter words it.
public enum FrameProblem: Sendable, Equatable {
    /// A byte where the protocol allows none (a RESP type byte, a status code digit).
    case unexpectedByte(UInt8, offset: Int)
    /// A length, count or size that is not a number, negative where that is not allowed, or larger
    /// than `FrameLimits.declaredLength`.
    case badLength(offset: Int)
    /// A chunk of a chunked HTTP body whose size line is not hexadecimal.
    case badChunkSize(offset: Int)
    /// A data block that does not end in CR LF where the protocol says it does.
    case missingTerminator(offset: Int)
    /// HTTP: Transfer-Encoding and Content-Length together (RFC 9112 §6.3 item 3).
    case transferEncodingWithContentLength
    /// HTTP: two Content-Length values that differ.
    case conflictingContentLength
    /// A status line or header line that does not parse.
    case badHeader(offset: Int)
    /// Aggregates nested deeper than `FrameLimits.nesting`, or headers longer than `FrameLimits.header`.
    case tooDeep
    case headerTooLong
}

/// What a framer makes of the bytes received so far for one reply.
public enum FrameVerdict: Sendable, Equatable {
    /// The reply is the first `length` bytes; its last `terminator` bytes are not shown.
    case complete(length: Int, terminator: Int)
    /// Not yet complete.
    case needMore
    /// The first `length` bytes are a message nobody asked for (a RESP3 push): not this reply.
    case unasked(length: Int)
    case malformed(FrameProblem)
}

/// Bounds on what a peer may declare, so that a declared 2^62 is a verdict, never an allocation.
public enum FrameLimits {
    /// The largest length or count a reply may declare (4 GiB; redis's own bulk limit is 512 MiB).
    public static let declaredLength = 1 << 32
    /// The deepest nesting of aggregates.
    public static let nesting = 512
    /// The most bytes of an HTTP status line and headers.
    public static let header = 64 << 10
}

/// What one typed line becomes on the wire under a rule.
public enum Request: Sendable, Equatable {
    /// Send these bytes; the reply is framed by `framing`.
    case send([UInt8])
    /// The line opens a data block (a memcached storage command): the next line typed completes
    /// the request, and the pair is one exchange.
    case awaitDataBlock
}

extension ReplyFraming {
    /// The verdict on `received`; framers that can find bytes malformed override it.
    public func frame(_ received: ArraySlice<UInt8>) -> FrameVerdict {
        guard let (length, terminator) = replyEnd(in: received) else { return .needMore }
        return .complete(length: length, terminator: terminator)
    }

    /// How the reply to `request` (the line as typed) is framed; a rule that depends on the request
    /// (HEAD in HTTP, get or set in memcached) returns a framing for it.
    public func framing(for request: [UInt8]) -> any ReplyFraming { self }

    /// The bytes sent for one typed line (by default the line and the request terminator).
    public func request(for line: [UInt8]) -> Request { .send(line + requestTerminator) }

    /// Whether the end of the stream after `received` completes the reply.
    public func endOfStreamCompletes(_ received: ArraySlice<UInt8>) -> Bool { endOfStreamEndsReply }

    /// How long the connection must be quiet after the last byte for the reply to be complete
    /// (`idle=D`); nil when quiet does not end a reply.
    public var quietPeriod: Duration? { nil }

    /// Whether the server speaks first on a new connection (SMTP's greeting).
    public var greetsOnConnect: Bool { false }
}

/// A framer that parses: `replyEnd` follows from its verdict.
public protocol ReplyFramer: ReplyFraming {}

extension ReplyFramer {
    public func replyEnd(in received: ArraySlice<UInt8>) -> (length: Int, terminator: Int)? {
        if case .complete(let length, let terminator) = frame(received) { return (length, terminator) }
        return nil
    }
}

/// Scanning helpers shared by the text framers.
enum Scan {
    static let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")

    /// The line starting at `start`: where its content ends (before CR LF or LF) and where the next
    /// line starts; nil while no LF has come.
    static func line(in bytes: ArraySlice<UInt8>, from start: Int) -> (contentEnd: Int, next: Int)? {
        guard start <= bytes.endIndex, let lf = bytes[start...].firstIndex(of: lf) else { return nil }
        let end = lf > start && bytes[lf - 1] == cr ? lf - 1 : lf
        return (end, lf + 1)
    }

    /// A decimal number (optionally signed), without overflow: nil for anything else or beyond
    /// `FrameLimits.declaredLength` in magnitude.
    static func decimal(_ bytes: ArraySlice<UInt8>, signed: Bool = false) -> Int? {
        var digits = bytes[...]
        var negative = false
        if signed, digits.first == UInt8(ascii: "-") {
            negative = true
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.count <= 12 else { return nil }
        var value = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        guard value <= FrameLimits.declaredLength else { return nil }
        return negative ? -value : value
    }

    /// A hexadecimal number, bounded like `decimal`.
    static func hexadecimal(_ bytes: ArraySlice<UInt8>) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 10 else { return nil }
        var value = 0
        for byte in bytes {
            let digit: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = Int(byte - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = Int(byte - UInt8(ascii: "A")) + 10
            default: return nil
            }
            value = value * 16 + digit
        }
        return value <= FrameLimits.declaredLength ? value : nil
    }

    /// Whether `bytes` start with `prefix` (ASCII, case-insensitive when asked).
    static func starts(_ bytes: ArraySlice<UInt8>, with prefix: String, ignoringCase: Bool = false) -> Bool {
        let p = Array(prefix.utf8)
        guard bytes.count >= p.count else { return false }
        return zip(bytes.prefix(p.count), p).allSatisfy { ignoringCase ? lower($0) == lower($1) : $0 == $1 }
    }

    static func lower(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }

    /// The first blank-separated word of a typed line, lower-cased.
    static func firstWord(_ line: [UInt8]) -> String {
        let word = line.drop { $0 == 32 || $0 == 9 }.prefix { $0 != 32 && $0 != 9 && $0 != cr && $0 != lf }
        return String(decoding: word.map(lower), as: UTF8.self)
    }
}
