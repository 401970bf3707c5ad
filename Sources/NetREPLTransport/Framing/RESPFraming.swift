// redis's RESP2 and RESP3 (https://redis.io/docs/latest/develop/reference/protocol-spec/): one
// reply is one value, aggregates nested to any depth up to FrameLimits.nesting, counted without
// recursion or allocation by what they declare. A RESP3 push (`>`) that comes before the reply is
// unasked data, not the reply.

public struct RESPFraming: ReplyFramer {
    public init() {}

    public var endOfStreamEndsReply: Bool { false }
    public var requestTerminator: [UInt8] { [Scan.cr, Scan.lf] }

    public func frame(_ received: ArraySlice<UInt8>) -> FrameVerdict {
        let base = received.startIndex
        switch Self.value(in: received, from: base) {
        case .complete(let end, let isPush):
            return isPush ? .unasked(length: end - base) : .complete(length: end - base, terminator: 2)
        case .needMore:
            return .needMore
        case .malformed(let problem):
            return .malformed(problem)
        }
    }

    enum Parsed: Equatable {
        case complete(end: Int, isPush: Bool)
        case needMore
        case malformed(FrameProblem)
    }

    /// Parses one value starting at `start`: where it ends, or why not. Offsets in problems are
    /// from `bytes.startIndex`.
    static func value(in bytes: ArraySlice<UInt8>, from start: Int) -> Parsed {
        let base = bytes.startIndex
        // The open aggregates, innermost last: how many values each still owes, and whether it is
        // an attribute (whose completion is not a value: the value it describes follows it).
        var owed: [(remaining: Int, attribute: Bool)] = []
        var position = start
        let isPush = start < bytes.endIndex && bytes[start] == UInt8(ascii: ">")
        while true {
            guard position < bytes.endIndex else { return .needMore }
            let typeOffset = position
            let type = bytes[position]
            guard isKnown(type) else { return .malformed(.unexpectedByte(type, offset: typeOffset - base)) }
            guard let (end, next) = Scan.line(in: bytes, from: position) else { return .needMore }
            guard next - end == 2 else { return .malformed(.missingTerminator(offset: end - base)) }
            let header = bytes[(position + 1)..<end]
            position = next
            var isValue = true
            switch type {
            case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
                guard let length = Scan.decimal(header, signed: true), length >= -1 else {
                    return .malformed(.badLength(offset: typeOffset - base))
                }
                if length >= 0 {
                    guard bytes.endIndex - position >= length + 2 else { return .needMore }
                    position += length
                    guard bytes[position] == Scan.cr, bytes[position + 1] == Scan.lf else {
                        return .malformed(.missingTerminator(offset: position - base))
                    }
                    position += 2
                }
            case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
                guard let count = Scan.decimal(header, signed: true), count >= -1 else {
                    return .malformed(.badLength(offset: typeOffset - base))
                }
                let pairs = type == UInt8(ascii: "%") || type == UInt8(ascii: "|")
                let attribute = type == UInt8(ascii: "|")
                let elements = max(count, 0) * (pairs ? 2 : 1)
                if elements > 0 {
                    guard owed.count < FrameLimits.nesting else { return .malformed(.tooDeep) }
                    owed.append((elements, attribute))
                    continue
                }
                isValue = !attribute
            default:
                break  // a simple type: its line is the value
            }
            guard isValue else { continue }
            // One value done: pay it to the aggregates that owed it; a finished attribute pays nobody.
            var finishedAttribute = false
            while !owed.isEmpty {
                owed[owed.count - 1].remaining -= 1
                if owed[owed.count - 1].remaining > 0 { break }
                if owed.removeLast().attribute {
                    finishedAttribute = true
                    break
                }
            }
            if owed.isEmpty && !finishedAttribute { return .complete(end: position, isPush: isPush) }
        }
    }

    static func isKnown(_ type: UInt8) -> Bool {
        Array("+-:_,#($!=*~>%|".utf8).contains(type)
    }
}
