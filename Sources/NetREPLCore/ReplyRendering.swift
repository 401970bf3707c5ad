// Replies as a person reads them: RESP the way redis-cli shows it, a hex dump with offsets and
// the text beside it, and typed escapes (`\t \r \n \\ \xHH`) read into bytes. Pure functions.

import NetREPLTransport

/// How replies are shown (`:view`).
public enum ReplyView: String, Sendable, CaseIterable {
    /// Escaped on a terminal (control characters made visible), as by default.
    case text
    /// A hex dump: offset, sixteen bytes in hex, and the printable text beside them.
    case hex
    /// The bytes as they came, even on a terminal.
    case raw
}

/// A RESP value, parsed from a reply that the RESP framer found complete.
public indirect enum RESPValue: Equatable, Sendable {
    case simple(String)
    case error(String)
    case integer(String)
    case bulk([UInt8])
    case null
    case double(String)
    case boolean(Bool)
    case bigNumber(String)
    case verbatim([UInt8])
    case array([RESPValue])
    case set([RESPValue])
    case push([RESPValue])
    case map([(RESPValue, RESPValue)])

    public static func == (a: RESPValue, b: RESPValue) -> Bool { RESPRendering.lines(a) == RESPRendering.lines(b) }
}

public enum RESPRendering {
    /// Parses one value from `bytes` (a whole reply, its final CR LF possibly cut off); nil when
    /// they are not one.
    /// `bytes`: the reply as the RESP framer gives it, without its final CR LF, or whole (read to
    /// the close, per line).
    public static func parse(_ bytes: [UInt8]) -> RESPValue? {
        for whole in [bytes + [13, 10], bytes] {
            var position = 0
            if let value = parse(whole, &position, depth: 0), position == whole.count { return value }
        }
        return nil
    }

    private static func parse(_ bytes: [UInt8], _ position: inout Int, depth: Int) -> RESPValue? {
        guard depth <= FrameLimits.nesting, position < bytes.count else { return nil }
        let type = bytes[position]
        guard let lf = bytes[position...].firstIndex(of: 10), lf > position, bytes[lf - 1] == 13 else { return nil }
        let header = String(decoding: bytes[(position + 1)..<(lf - 1)], as: UTF8.self)
        position = lf + 1
        func block() -> [UInt8]?? {
            guard let length = Int(header), length >= -1, length <= FrameLimits.declaredLength else { return nil }
            if length == -1 { return .some(nil) }
            guard bytes.count - position >= length + 2 else { return nil }
            defer { position += length + 2 }
            return Array(bytes[position..<(position + length)])
        }
        func elements(_ perItem: Int) -> [RESPValue]? {
            guard let count = Int(header), count >= -1, count <= FrameLimits.declaredLength else { return nil }
            var values: [RESPValue] = []
            for _ in 0..<(max(count, 0) * perItem) {
                guard let value = parse(bytes, &position, depth: depth + 1) else { return nil }
                values.append(value)
            }
            return values
        }
        switch type {
        case UInt8(ascii: "+"): return .simple(header)
        case UInt8(ascii: "-"): return .error(header)
        case UInt8(ascii: ":"): return .integer(header)
        case UInt8(ascii: "_"): return .null
        case UInt8(ascii: ","): return .double(header)
        case UInt8(ascii: "#"): return .boolean(header == "t")
        case UInt8(ascii: "("): return .bigNumber(header)
        case UInt8(ascii: "$"): return block().map { $0.map(RESPValue.bulk) ?? .null }
        case UInt8(ascii: "!"): return block().map { $0.map { .error(String(decoding: $0, as: UTF8.self)) } ?? .null }
        case UInt8(ascii: "="): return block().map { $0.map { .verbatim(Array($0.dropFirst(4))) } ?? .null }
        case UInt8(ascii: "*"): return Int(header) == -1 ? .null : elements(1).map(RESPValue.array)
        case UInt8(ascii: "~"): return elements(1).map(RESPValue.set)
        case UInt8(ascii: ">"): return elements(1).map(RESPValue.push)
        case UInt8(ascii: "%"):
            guard let flat = elements(2) else { return nil }
            return .map(stride(from: 0, to: flat.count, by: 2).map { (flat[$0], flat[$0 + 1]) })
        case UInt8(ascii: "|"):
            // An attribute describes the value after it; redis-cli shows the value alone.
            guard elements(2) != nil else { return nil }
            return parse(bytes, &position, depth: depth + 1)
        default: return nil
        }
    }

    /// The lines redis-cli prints for `value` on a terminal.
    public static func lines(_ value: RESPValue) -> [String] {
        switch value {
        case .simple(let text): return [text]
        case .error(let text): return ["(error) " + text]
        case .integer(let text): return ["(integer) " + text]
        case .bulk(let bytes): return [quoted(bytes)]
        case .null: return ["(nil)"]
        case .double(let text): return ["(double) " + text]
        case .boolean(let b): return [b ? "(true)" : "(false)"]
        case .bigNumber(let text): return ["(big number) " + text]
        case .verbatim(let bytes): return textLines(bytes)
        case .array(let items), .push(let items): return list(items.map(lines), marker: ")", empty: "(empty array)")
        case .set(let items): return list(items.map(lines), marker: "~", empty: "(empty set)")
        case .map(let pairs):
            return list(
                pairs.map { key, value in
                    let k = lines(key), v = lines(value)
                    return k.dropLast() + [k[k.count - 1] + " => " + v[0]] + v.dropFirst()
                }, marker: "#", empty: "(empty hash)")
        }
    }

    /// `1) first`, with the lines of each item after its first indented under it.
    private static func list(_ items: [[String]], marker: String, empty: String) -> [String] {
        guard !items.isEmpty else { return [empty] }
        let width = String(items.count).count
        var out: [String] = []
        for (i, item) in items.enumerated() {
            let number = String(i + 1)
            let prefix = String(repeating: " ", count: width - number.count) + number + marker + " "
            let indent = String(repeating: " ", count: prefix.count)
            for (k, line) in item.enumerated() { out.append((k == 0 ? prefix : indent) + line) }
        }
        return out
    }

    /// A bulk string as redis-cli quotes it (sdscatrepr): printable ASCII as is, the rest escaped.
    public static func quoted(_ bytes: [UInt8]) -> String {
        var out = "\""
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\\"): out += "\\\\"
            case UInt8(ascii: "\""): out += "\\\""
            case 10: out += "\\n"
            case 13: out += "\\r"
            case 9: out += "\\t"
            case 7: out += "\\a"
            case 8: out += "\\b"
            case 32...126: out.unicodeScalars.append(Unicode.Scalar(byte))
            default: out += "\\x" + hex(byte)
            }
        }
        return out + "\""
    }

    static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }

    /// The reply's lines as shown, or nil when it is not one RESP value. redis-cli shows the text
    /// that INFO and LOLWUT return as it is, not quoted; so does this.
    public static func render(_ bytes: [UInt8], request: [UInt8] = []) -> [String]? {
        guard let value = parse(bytes) else { return nil }
        if case .bulk(let text) = value, ["info", "lolwut"].contains(firstWord(request)) {
            var lines = textLines(text)
            if lines.last == "" { lines.removeLast() }
            return lines
        }
        return lines(value)
    }

    /// The lines of `bytes`, split at LF with a CR before it dropped (by bytes: in a Swift
    /// string CR LF is one character, which a split at "\n" does not see).
    static func textLines(_ bytes: [UInt8]) -> [String] {
        bytes.split(separator: 10, omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == 13 ? line.dropLast() : line, as: UTF8.self)
        }
    }

    static func firstWord(_ line: [UInt8]) -> String {
        String(decoding: line.drop { $0 == 32 }.prefix { $0 != 32 }, as: UTF8.self).lowercased()
    }
}

/// What the presenter needs to know to show a reply as the person asked.
public struct ReplyDisplay: Sendable, Equatable {
    public var view: ReplyView = .text
    /// Replies are RESP: shown as redis-cli shows them (in the text view).
    public var resp = false

    public init(view: ReplyView = .text, resp: Bool = false) {
        self.view = view
        self.resp = resp
    }

    /// The reply as text lines, when the view renders it (RESP); nil to show the bytes themselves.
    public func rendered(_ bytes: [UInt8], request: [UInt8] = []) -> [String]? {
        switch view {
        case .hex: return HexDump.lines(bytes)
        case .raw: return nil
        case .text: return resp ? RESPRendering.render(bytes, request: request) : nil
        }
    }
}

extension ReplyDisplay {
    /// The reply as text, as a check reads it: RESP rendered, else the bytes decoded.
    public func shownText(_ bytes: [UInt8], request: [UInt8] = []) -> String {
        if resp, let lines = RESPRendering.render(bytes, request: request) { return lines.joined(separator: "\n") }
        return String(decoding: bytes, as: UTF8.self)
    }
}

public enum HexDump {
    /// `00000000  68 65 6c 6c 6f 0a                                 |hello.|`, as hexdump -C.
    public static func lines(_ bytes: [UInt8]) -> [String] {
        guard !bytes.isEmpty else { return ["(empty)"] }
        var out: [String] = []
        var offset = 0
        while offset < bytes.count {
            let row = bytes[offset..<min(offset + 16, bytes.count)]
            var hex = ""
            for i in 0..<16 {
                if i == 8 { hex += " " }
                hex += i < row.count ? RESPRendering.hex(row[offset + i]) + " " : "   "
            }
            let text = String(row.map { (32...126).contains($0) ? Character(Unicode.Scalar($0)) : "." })
            let position = String(offset, radix: 16)
            out.append(String(repeating: "0", count: max(0, 8 - position.count)) + position + "  " + hex + " |" + text + "|")
            offset += 16
        }
        return out
    }
}

/// `:escapes on`: a typed line's `\t \r \n \\ \xHH` as the bytes they name.
public enum Escapes {
    public enum Problem: Error, Equatable, Sendable {
        /// A backslash followed by a character that names no escape (or by nothing).
        case unknown(String, column: Int)
        /// `\x` not followed by two hexadecimal digits.
        case badHex(column: Int)
    }

    public static func decode(_ text: String) throws(Problem) -> [UInt8] {
        var out: [UInt8] = []
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            guard c == "\\" else {
                out += Array(String(c).utf8)
                i += 1
                continue
            }
            guard i + 1 < chars.count else { throw .unknown("\\", column: i + 1) }
            switch chars[i + 1] {
            case "t": out.append(9)
            case "r": out.append(13)
            case "n": out.append(10)
            case "\\": out.append(UInt8(ascii: "\\"))
            case "x":
                guard i + 3 < chars.count, chars[i + 2].isHexDigit, chars[i + 3].isHexDigit,
                    let byte = UInt8(String(chars[(i + 2)...(i + 3)]), radix: 16)
                else {
                    throw .badHex(column: i + 1)
                }
                out.append(byte)
                i += 2
            default:
                throw .unknown("\\" + String(chars[i + 1]), column: i + 1)
            }
            i += 2
        }
        return out
    }
}
