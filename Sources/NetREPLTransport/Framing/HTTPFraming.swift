// HTTP/1.1 responses, framed by RFC 9112 §6.3: no body after HEAD or for 1xx, 204 and 304;
// Transfer-Encoding with chunked last is chunked; Content-Length otherwise; with neither, the body
// runs to the end of the connection. Transfer-Encoding together with Content-Length is malformed
// (a smuggling vector a client must not guess about). Interim 1xx responses before the final one
// (101 aside) belong to the same reply.
//
// A typed `METHOD TARGET` becomes a whole request with Host and User-Agent, and the headers a
// person added (`:header`); any other line is sent as it is, with CR LF.

public struct HTTPFraming: ReplyFramer {
    /// The Host header's value (`host:port`).
    public let host: String
    /// Headers added to every request, in order.
    public let headers: [(name: String, value: String)]
    public let userAgent: String
    /// The request's method, once known: HEAD's response has no body.
    public let method: String?

    public init(host: String, headers: [(name: String, value: String)] = [], userAgent: String = "netrepl", method: String? = nil) {
        self.host = host
        self.headers = headers
        self.userAgent = userAgent
        self.method = method
    }

    public var endOfStreamEndsReply: Bool { false }
    public var requestTerminator: [UInt8] { [Scan.cr, Scan.lf] }

    public func framing(for request: [UInt8]) -> any ReplyFraming {
        HTTPFraming(host: host, headers: headers, userAgent: userAgent, method: Self.requestLine(request)?.method ?? method)
    }

    public func request(for line: [UInt8]) -> Request {
        guard let (method, target, version) = Self.requestLine(line) else { return .send(line + requestTerminator) }
        var text = "\(method) \(target) \(version)\r\n"
        let named = Set(headers.map { $0.name.lowercased() })
        if !named.contains("host") { text += "Host: \(host)\r\n" }
        if !named.contains("user-agent") { text += "User-Agent: \(userAgent)\r\n" }
        for header in headers { text += "\(header.name): \(header.value)\r\n" }
        if ["POST", "PUT", "PATCH"].contains(method), !named.contains("content-length") { text += "Content-Length: 0\r\n" }
        return .send(Array((text + "\r\n").utf8))
    }

    /// `GET /path` or `GET /path HTTP/1.1`: the method (an upper-case token), the target and the version.
    static func requestLine(_ line: [UInt8]) -> (method: String, target: String, version: String)? {
        let words = String(decoding: line, as: UTF8.self).split(separator: " ", omittingEmptySubsequences: true)
        guard words.count == 2 || (words.count == 3 && words[2].hasPrefix("HTTP/")) else { return nil }
        let method = String(words[0])
        guard !method.isEmpty, method.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else { return nil }
        let target = String(words[1])
        guard target.hasPrefix("/") || target == "*" || target.hasPrefix("http://") || target.hasPrefix("https://") else { return nil }
        return (method, target, words.count == 3 ? String(words[2]) : "HTTP/1.1")
    }

    public func frame(_ received: ArraySlice<UInt8>) -> FrameVerdict {
        let base = received.startIndex
        var start = base
        while true {
            switch head(received, from: start) {
            case .needMore: return .needMore
            case .malformed(let problem): return .malformed(problem)
            case .head(let status, let bodyStart, let body):
                if (100...199).contains(status) && status != 101 {
                    start = bodyStart  // interim: the final response follows
                    continue
                }
                let noBody = method == "HEAD" || (100...199).contains(status) || status == 204 || status == 304
                switch noBody ? .length(0) : body {
                case .length(let length):
                    guard received.endIndex - bodyStart >= length else { return .needMore }
                    return .complete(length: bodyStart + length - base, terminator: 0)
                case .chunked:
                    return chunks(received, from: bodyStart)
                case .untilClose:
                    return .needMore
                }
            }
        }
    }

    public func endOfStreamCompletes(_ received: ArraySlice<UInt8>) -> Bool {
        // Only a body that runs to the close is completed by it; a short Content-Length is truncated.
        var start = received.startIndex
        while case .head(let status, let bodyStart, let body) = head(received, from: start) {
            if (100...199).contains(status) && status != 101 {
                start = bodyStart
                continue
            }
            return body == .untilClose && method != "HEAD" && status != 204 && status != 304
        }
        return false
    }

    enum Body: Equatable {
        case length(Int)
        case chunked
        case untilClose
    }

    enum Head {
        case head(status: Int, bodyStart: Int, body: Body)
        case needMore
        case malformed(FrameProblem)
    }

    /// The status line and headers starting at `start`.
    func head(_ bytes: ArraySlice<UInt8>, from start: Int) -> Head {
        let base = bytes.startIndex
        guard let (statusEnd, first) = Scan.line(in: bytes, from: start) else {
            if bytes.endIndex - start > FrameLimits.header { return .malformed(.headerTooLong) }
            let sofar = bytes[start...].prefix(5)
            return Array("HTTP/".utf8).starts(with: sofar) ? .needMore : .malformed(.badHeader(offset: start - base))
        }
        let statusLine = bytes[start..<statusEnd]
        guard Scan.starts(statusLine, with: "HTTP/"), statusLine.count >= 12, statusLine[start + 8] == 32,
            let status = Scan.decimal(statusLine[(start + 9)..<(start + 12)]), status >= 100
        else {
            return .malformed(.badHeader(offset: start - base))
        }
        var lengths: Set<Int> = []
        var transferEncoding: [UInt8]?
        var position = first
        while true {
            guard let (end, next) = Scan.line(in: bytes, from: position) else {
                return bytes.endIndex - start > FrameLimits.header ? .malformed(.headerTooLong) : .needMore
            }
            if next - start > FrameLimits.header { return .malformed(.headerTooLong) }
            let line = bytes[position..<end]
            position = next
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex else {
                return .malformed(.badHeader(offset: line.startIndex - base))
            }
            let name = String(decoding: line[..<colon].map(Scan.lower), as: UTF8.self)
            let value = Array(line[(colon + 1)...].drop { $0 == 32 || $0 == 9 }.reversed().drop { $0 == 32 || $0 == 9 }.reversed())
            switch name {
            case "content-length":
                for part in value.split(separator: UInt8(ascii: ",")) {
                    let trimmed = part.drop { $0 == 32 }.reversed().drop { $0 == 32 }.reversed()
                    guard let length = Scan.decimal(ArraySlice(trimmed)) else { return .malformed(.badLength(offset: line.startIndex - base)) }
                    lengths.insert(length)
                }
            case "transfer-encoding":
                transferEncoding = (transferEncoding.map { $0 + [UInt8(ascii: ",")] } ?? []) + value.map(Scan.lower)
            default:
                break
            }
        }
        if let transferEncoding {
            guard lengths.isEmpty else { return .malformed(.transferEncodingWithContentLength) }
            let last = transferEncoding.split(separator: UInt8(ascii: ",")).last.map { $0.filter { $0 != 32 && $0 != 9 } }
            return .head(status: status, bodyStart: position, body: last == Array("chunked".utf8) ? .chunked : .untilClose)
        }
        guard lengths.count <= 1 else { return .malformed(.conflictingContentLength) }
        return .head(status: status, bodyStart: position, body: lengths.first.map(Body.length) ?? .untilClose)
    }

    /// The size of a chunk size line: before any extension (`;`), without the blanks after it.
    static func sizeText(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        let size = line.prefix { $0 != UInt8(ascii: ";") }
        return ArraySlice(size.reversed().drop { $0 == 32 || $0 == 9 }.reversed())
    }

    /// A chunked body from `start`: chunks, the last of size 0, then trailers up to an empty line.
    func chunks(_ bytes: ArraySlice<UInt8>, from start: Int) -> FrameVerdict {
        let base = bytes.startIndex
        var position = start
        while true {
            guard let (end, next) = Scan.line(in: bytes, from: position) else {
                // A size line is judged as soon as a byte of it cannot be part of a size; blanks
                // at its end may still be followed by the line's end, so they are not judged yet.
                let partial = Self.sizeText(bytes[position...].prefix { $0 != Scan.cr })
                if !partial.isEmpty && Scan.hexadecimal(partial) == nil { return .malformed(.badChunkSize(offset: position - base)) }
                return .needMore
            }
            guard let size = Scan.hexadecimal(Self.sizeText(bytes[position..<end])) else {
                return .malformed(.badChunkSize(offset: position - base))
            }
            position = next
            if size == 0 {
                // Trailers, then the empty line that ends the message.
                while true {
                    guard let (end, next) = Scan.line(in: bytes, from: position) else { return .needMore }
                    if end == position { return .complete(length: next - base, terminator: 0) }
                    position = next
                }
            }
            guard bytes.endIndex - position >= size + 2 else { return .needMore }
            position += size
            if bytes[position] == Scan.cr, bytes[position + 1] == Scan.lf {
                position += 2
            } else if bytes[position] == Scan.lf {
                position += 1
            } else {
                return .malformed(.missingTerminator(offset: position - base))
            }
        }
    }
}
