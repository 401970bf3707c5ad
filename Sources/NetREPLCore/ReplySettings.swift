// The settings that decide how replies are framed and shown and how typed lines become bytes
// (--frame, --crlf, :header, :view, :escapes), and the one place a typed line is prepared for
// sending under them: escapes read, a memcached data block joined to its command.

import NetREPLProtocol
import NetREPLTransport

public struct ReplySettings: Sendable {
    /// Where a TCP reply ends; `.line` (the default) keeps the session's own framing.
    public var rule: FramingRule = .line
    /// `--crlf`: lines end in CR LF (the presets always send CR LF).
    public var crlf = false
    /// Headers added to each HTTP request (`:header`), in order.
    public var headers: [(name: String, value: String)] = []
    public var view: ReplyView = .text
    /// `:escapes on`: `\t \r \n \\ \xHH` in a typed line are sent as the bytes they name.
    public var escapes = false
    /// Whether a well-known port suggests its preset at start.
    public var suggest = true

    public init() {}

    /// True when the rule or line ending differs from netrepl-server's newline framing.
    var framesReplies: Bool { rule != .line || crlf }

    var display: ReplyDisplay { ReplyDisplay(view: view, resp: rule == .resp) }

    func framing(for target: Target) -> any ReplyFraming {
        // The Host header leaves out the default port, and brackets an IPv6 address.
        rule.framing(host: target.port == 80 && !target.host.contains(":") ? target.host : target.description, headers: headers, crlf: crlf)
    }

    /// One line of advice at start when the port is a well-known one and no rule was chosen.
    func suggestion(forPort port: Int) -> String? {
        guard suggest, rule == .line, let preset = FramingRule.suggestion(forPort: port) else { return nil }
        return "port \(port) is usually \(preset.serverName): --frame \(preset) (or :frame \(preset)) reads its whole replies"
    }

    enum Prepared: Equatable {
        case send(Line)
        /// A storage command held until its data block is typed.
        case hold
        case problem(String)
    }

    /// What to send for `typed`: its escapes read, or — a memcached storage command — held in
    /// `held` until the next line, its data block, which is sent with it as one request.
    func prepare(_ typed: Line, over transport: TransportKind, framing: any ReplyFraming, held: inout Line?) -> Prepared {
        var line = typed
        if escapes {
            do {
                line = Line(bytes: try Escapes.decode(typed.text))
            } catch {
                switch error {
                case .unknown(let text, let column):
                    return .problem("\(text) at column \(column) is not an escape (:escapes on reads \\t \\r \\n \\\\ \\xHH; write \\\\ for a backslash)")
                case .badHex(let column):
                    return .problem("\\x at column \(column) needs two hexadecimal digits, as in \\x0d")
                }
            }
        }
        guard transport == .tcp else { return .send(line) }
        if let command = held {
            held = nil
            return .send(Line(bytes: command.bytes + [UInt8(ascii: "\n")] + line.bytes))
        }
        if case .awaitDataBlock = framing.request(for: line.bytes) {
            held = line
            return .hold
        }
        return .send(line)
    }
}

extension FramingRule {
    /// The server a preset is for, as a person names it.
    var serverName: String {
        switch self {
        case .resp: return "redis"
        case .memcached: return "memcached"
        case .smtp: return "SMTP"
        case .http: return "HTTP"
        default: return description
        }
    }
}
