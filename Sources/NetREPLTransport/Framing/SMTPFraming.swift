// SMTP replies (RFC 5321 §4.2): lines of a three-digit code, `-` on every line but the last, which
// has a space (or nothing) after the code. The server speaks first: its greeting is a reply too.

public struct SMTPFraming: ReplyFramer {
    public init() {}

    public var endOfStreamEndsReply: Bool { false }
    public var requestTerminator: [UInt8] { [Scan.cr, Scan.lf] }
    public var greetsOnConnect: Bool { true }

    public func frame(_ received: ArraySlice<UInt8>) -> FrameVerdict {
        let base = received.startIndex
        var start = base
        while let (end, next) = Scan.line(in: received, from: start) {
            let line = received[start..<end]
            guard line.count >= 3, line.prefix(3).allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                let bad = line.first { $0 < UInt8(ascii: "0") || $0 > UInt8(ascii: "9") } ?? Scan.lf
                return .malformed(.unexpectedByte(bad, offset: start - base))
            }
            if line.count == 3 || line[start + 3] == 32 { return .complete(length: next - base, terminator: next - end) }
            guard line[start + 3] == UInt8(ascii: "-") else {
                return .malformed(.unexpectedByte(line[start + 3], offset: start + 3 - base))
            }
            start = next
        }
        // A code is judged as soon as it comes, before its line ends.
        let pending = received[start...].prefix(3)
        if let bad = pending.first(where: { $0 < UInt8(ascii: "0") || $0 > UInt8(ascii: "9") }) {
            return .malformed(.unexpectedByte(bad, offset: start - base))
        }
        return .needMore
    }
}
