// The rules a person names with --frame and :frame, parsed once into a value that says itself
// back and builds the framing for a target.

import Grammars
import NetREPLProtocol

public enum FramingRule: Sendable, Equatable, CustomStringConvertible {
    case line
    case lines(Int)
    case until(String)
    case idle(Duration)
    case close
    case resp
    case memcached
    case smtp
    case http

    /// The rules as a person is told them, in every message that lists them.
    public static let summary = "line, lines=N, until=TEXT, idle=D, close, resp, memcached, smtp or http"

    /// The names `:frame` completes and the man page lists.
    public static let examples = ["line", "lines=", "until=", "idle=", "close", "resp", "memcached", "smtp", "http"]

    /// Why a rule could not be read.
    public enum ParseError: Error, Sendable, Equatable {
        case unknown(String)
        case badCount(String)
        case badDuration(String)
    }

    public static func parse(_ text: String) throws(ParseError) -> FramingRule {
        let word = text.trimmingCharacters()
        if let eq = word.firstIndex(of: "=") {
            let key = word[..<eq].lowercased()
            let value = String(word[word.index(after: eq)...])
            switch key {
            case "lines":
                guard let n = Int(value), n > 0, n <= 1_000_000 else { throw .badCount(value) }
                return .lines(n)
            case "until":
                return .until(value)
            case "idle":
                guard let d = DurationGrammar.parse(value), d > .zero else { throw .badDuration(value) }
                return .idle(d)
            default:
                throw .unknown(word)
            }
        }
        switch word.lowercased() {
        case "line": return .line
        case "close": return .close
        case "resp", "redis": return .resp
        case "memcached", "memcache": return .memcached
        case "smtp": return .smtp
        case "http": return .http
        default: throw .unknown(word)
        }
    }

    public var description: String {
        switch self {
        case .line: return "line"
        case .lines(let n): return "lines=\(n)"
        case .until(let text): return "until=\(text)"
        case .idle(let d): return "idle=\(DurationGrammar.format(d).replacingSpace())"
        case .close: return "close"
        case .resp: return "resp"
        case .memcached: return "memcached"
        case .smtp: return "smtp"
        case .http: return "http"
        }
    }

    /// The presets speak a protocol that wants CR LF after each line.
    public var isPreset: Bool {
        switch self {
        case .resp, .memcached, .smtp, .http: return true
        default: return false
        }
    }

    /// The framing for a target `host:port`; `crlf` makes a non-preset send CR LF.
    public func framing(host: String, headers: [(name: String, value: String)] = [], crlf: Bool = false) -> any ReplyFraming {
        let base: any ReplyFraming
        switch self {
        case .line: base = TerminatorFraming()
        case .lines(let n): base = LineCountFraming(count: n)
        case .until(let text): base = UntilLineFraming(text: Array(text.utf8))
        case .idle(let d): base = IdleFraming(period: d)
        case .close: base = EndOfStreamFraming()
        case .resp: return RESPFraming()
        case .memcached: return MemcachedFraming()
        case .smtp: return SMTPFraming()
        case .http: return HTTPFraming(host: host, headers: headers, userAgent: "netrepl/\(netreplVersion)")
        }
        return crlf ? CRLFRequests(base) : base
    }

    /// The preset a well-known port suggests (never chosen silently).
    public static func suggestion(forPort port: Int) -> FramingRule? {
        switch port {
        case 6379: return .resp
        case 11211: return .memcached
        case 25, 587: return .smtp
        case 80, 8080: return .http
        default: return nil
        }
    }
}

extension String {
    fileprivate func trimmingCharacters() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }

    fileprivate func replacingSpace() -> String { split(separator: " ").joined() }
}
