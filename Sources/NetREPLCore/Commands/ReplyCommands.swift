// The commands that choose how replies are framed and shown and how typed lines are read:
// :frame, :crlf, :header, :view, :escapes.

import NetREPLTransport

enum ReplyCommands {
    static func frame(_ c: CommandContext, _ arguments: String) {
        let text = arguments.trimmingWhitespace()
        guard !text.isEmpty else { return c.info("frame: \(c.configuration.replies.rule)") }
        do {
            let rule = try FramingRule.parse(text)
            c.changeReplies { $0.rule = rule }
            c.meta("frame: \(rule)" + (rule.isPreset ? " (lines end in CR LF)" : ""))
        } catch {
            c.fail(describe(error))
        }
    }

    static func describe(_ error: FramingRule.ParseError) -> String {
        switch error {
        case .unknown(let text):
            return "unknown framing rule \"\(text)\"; use \(FramingRule.summary)"
        case .badCount(let text):
            return "lines=\(text): give a whole number of lines from 1 to 1000000"
        case .badDuration(let text):
            return "idle=\(text): give a duration more than 0, like 200ms or 1s"
        }
    }

    static func crlf(_ c: CommandContext, _ arguments: String) {
        switch onOff(arguments) {
        case .show: c.info("crlf: \(c.configuration.replies.crlf || c.configuration.replies.rule.isPreset ? "on" : "off")")
        case .set(let on):
            c.changeReplies { $0.crlf = on }
            c.meta(
                "crlf: \(on ? "on" : "off")"
                    + (!on && c.configuration.replies.rule.isPreset ? " (the \(c.configuration.replies.rule) preset still sends CR LF)" : ""))
        case .bad(let word): c.fail("usage: :crlf on|off, not \"\(word)\"")
        }
    }

    static func escapes(_ c: CommandContext, _ arguments: String) {
        switch onOff(arguments) {
        case .show: c.info("escapes: \(c.configuration.replies.escapes ? "on" : "off")")
        case .set(let on):
            c.changeReplies { $0.escapes = on }
            c.meta("escapes: \(on ? "on: \\t \\r \\n \\\\ \\xHH are sent as bytes" : "off")")
        case .bad(let word): c.fail("usage: :escapes on|off, not \"\(word)\"")
        }
    }

    static func view(_ c: CommandContext, _ arguments: String) {
        let word = arguments.trimmingWhitespace().lowercased()
        guard !word.isEmpty else { return c.info("view: \(c.configuration.replies.view.rawValue)") }
        guard let view = ReplyView(rawValue: word) else { return c.fail("unknown view \"\(word)\"; use text, hex or raw") }
        c.changeReplies { $0.view = view }
        c.meta("view: \(view.rawValue)")
    }

    static func header(_ c: CommandContext, _ arguments: String) {
        let text = arguments.trimmingWhitespace()
        if text.isEmpty {
            let headers = c.configuration.replies.headers
            if headers.isEmpty { return c.info("no headers added; :header NAME: VALUE adds one") }
            for header in headers { c.info("\(header.name): \(header.value)") }
            return
        }
        if text == "-" {
            c.changeReplies { $0.headers = [] }
            return c.meta("headers: none added")
        }
        guard let colon = text.firstIndex(of: ":") else { return c.fail("usage: :header NAME: VALUE (the colon is needed)") }
        let name = text[..<colon].trimmingWhitespace()
        let value = text[text.index(after: colon)...].trimmingWhitespace()
        guard !name.isEmpty, name.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 32 && $0.value < 127 && $0 != ":" }) else {
            return c.fail("\"\(name)\" is not a header name (letters, digits and -, no blanks)")
        }
        c.changeReplies { settings in
            settings.headers.removeAll { $0.name.lowercased() == name.lowercased() }
            if !value.isEmpty { settings.headers.append((name, value)) }
        }
        c.meta(value.isEmpty ? "header \(name) removed" : "header added: \(name): \(value)")
    }

    enum OnOff { case show, set(Bool), bad(String) }

    static func onOff(_ arguments: String) -> OnOff {
        let word = arguments.trimmingWhitespace()
        if word.isEmpty { return .show }
        return ConfigFile.boolean(word).map(OnOff.set) ?? .bad(word)
    }
}
