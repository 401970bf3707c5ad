// memcached's text protocol (protocol.txt in memcached's sources): what ends a reply depends on the
// command. Retrievals end at END, with each VALUE block cut by its byte count (a block may hold
// "END\r\n" itself); stats end at END; everything else is one line. A storage command carries a
// data block, typed as the next line, and the two go as one request.

public struct MemcachedFraming: ReplyFramer {
    /// What the reply to a command looks like.
    public enum Shape: Sendable, Equatable {
        /// VALUE blocks (or meta VA blocks) until END, or one line for an error.
        case blocksUntilEnd
        /// STAT lines until END (or RESET, OK, or an error).
        case linesUntilEnd
        /// One line, or one meta `VA` block.
        case single
    }

    public let shape: Shape

    /// `shape`: how the reply ends; the rule as a whole starts as `.single` and picks per command.
    public init(shape: Shape = .single) { self.shape = shape }

    public var endOfStreamEndsReply: Bool { false }
    public var requestTerminator: [UInt8] { [Scan.cr, Scan.lf] }

    static let storage: Set<String> = ["set", "add", "replace", "append", "prepend", "cas"]

    public func framing(for request: [UInt8]) -> any ReplyFraming {
        switch Scan.firstWord(request) {
        case "get", "gets", "gat", "gats": return MemcachedFraming(shape: .blocksUntilEnd)
        case "stats", "lru_crawler": return MemcachedFraming(shape: .linesUntilEnd)
        default: return MemcachedFraming(shape: .single)
        }
    }

    public func request(for line: [UInt8]) -> Request {
        // A storage command alone (no data block joined to it yet by the session) waits for it.
        if Self.storage.contains(Scan.firstWord(line)) && !line.contains(Scan.lf) { return .awaitDataBlock }
        return .send(Self.crlfLines(line) + [Scan.cr, Scan.lf])
    }

    /// The lines of a request joined by the session (command LF data) with CR LF, as memcached wants.
    static func crlfLines(_ line: [UInt8]) -> [UInt8] {
        guard let lf = line.firstIndex(of: Scan.lf) else { return line }
        let head = line[..<lf].last == Scan.cr ? line[..<(lf - 1)] : line[..<lf]
        return Array(head) + [Scan.cr, Scan.lf] + line[(lf + 1)...]
    }

    public func frame(_ received: ArraySlice<UInt8>) -> FrameVerdict {
        let base = received.startIndex
        var start = base
        while let (end, next) = Scan.line(in: received, from: start) {
            let line = received[start..<end]
            let done = FrameVerdict.complete(length: next - base, terminator: next - end)
            if Self.isError(line) { return done }
            if Scan.starts(line, with: "VALUE ") || Scan.starts(line, with: "VA ") {
                // The last number of a VALUE line before an optional CAS is its byte count: the
                // fourth word; of a meta VA line, the second.
                let words = line.split(separator: 32)
                let index = Scan.starts(line, with: "VA ") ? 1 : 3
                guard words.count > index, let count = Scan.decimal(words[index]), count >= 0 else {
                    return .malformed(.badLength(offset: start - base))
                }
                guard received.endIndex - next >= count + 2 else { return .needMore }
                let blockEnd = next + count
                guard received[blockEnd] == Scan.cr, received[blockEnd + 1] == Scan.lf else {
                    return .malformed(.missingTerminator(offset: blockEnd - base))
                }
                if shape == .single { return .complete(length: blockEnd + 2 - base, terminator: 2) }
                start = blockEnd + 2
                continue
            }
            switch shape {
            case .single:
                return done
            case .blocksUntilEnd:
                if line.elementsEqual("END".utf8) { return done }
                return .malformed(.badHeader(offset: start - base))
            case .linesUntilEnd:
                if line.elementsEqual("END".utf8) || line.elementsEqual("RESET".utf8) || line.elementsEqual("OK".utf8) {
                    return done
                }
            }
            start = next
        }
        return .needMore
    }

    static func isError(_ line: ArraySlice<UInt8>) -> Bool {
        line.elementsEqual("ERROR".utf8) || Scan.starts(line, with: "ERROR ") || Scan.starts(line, with: "CLIENT_ERROR")
            || Scan.starts(line, with: "SERVER_ERROR")
    }
}
