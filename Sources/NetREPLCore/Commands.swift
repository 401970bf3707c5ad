// The one command table: each entry's name, usage, help, handler and argument completer drive
// dispatch, :help and tab completion alike.

/// One `:` command.
public struct Command: Sendable {
    public let name: String
    public let usage: String
    public let help: String
    /// Candidates for argument number `index` (0-based) of this command.
    let arguments: @Sendable (_ index: Int) -> [String]
    /// Runs the command with the text after its name (leading blanks removed).
    let run: @Sendable (Session, String) -> Void
}

/// What a typed line is.
public enum ParsedLine: Equatable, Sendable {
    /// Nothing to do (an empty line).
    case empty
    /// Text to send (a `::` prefix already reduced to `:`).
    case send(String)
    /// A known command and the text after its name.
    case command(name: String, arguments: String)
    /// `!N`: send history entry N again.
    case recall(Int)
    /// A `:` word that names no command; `suggestion` is the nearest name, `ambiguous` the
    /// commands it is a prefix of when there are several.
    case unknown(word: String, suggestion: String?, ambiguous: [String])
}

public enum CommandTable {
    /// Every command, in the order :help lists them.
    public static let all: [Command] = [
        Command(name: "udp", usage: ":udp", help: "Send the following lines over UDP, one datagram each.",
                arguments: { _ in [] }, run: { s, _ in s.switchTransport(.udp, mode: nil) }),
        Command(name: "tcp", usage: ":tcp [persistent|per-line]",
                help: "Send over TCP: one persistent connection (default), or a new connection per line as the textbook client does.",
                arguments: { $0 == 0 ? TCPMode.allCases.map(\.rawValue) : [] },
                run: { s, args in s.tcpCommand(args) }),
        Command(name: "connect", usage: ":connect HOST [PORT]",
                help: "Send to another host, and port (the current port if omitted); the name is resolved now, once.",
                arguments: { $0 == 0 ? ["localhost", "127.0.0.1", "::1"] : ($0 == 1 ? ["12000"] : []) },
                run: { s, args in s.connectCommand(args) }),
        Command(name: "history", usage: ":history [N]", help: "Show the last N history entries (default 20), numbered for !N.",
                arguments: { _ in [] }, run: { s, args in s.historyCommand(args) }),
        Command(name: "nohist", usage: ":nohist LINE", help: "Send LINE exactly as written, without recording it in the history.",
                arguments: { _ in [] }, run: { s, args in s.nohistCommand(args) }),
        Command(name: "stats", usage: ":stats", help: "Show sent, received, loss and round-trip statistics per transport, with percentiles.",
                arguments: { _ in [] }, run: { s, _ in s.statsCommand() }),
        Command(name: "timeout", usage: ":timeout [D]", help: "Show or set how long to wait for a reply: 1, 0.5s, 250ms.",
                arguments: { $0 == 0 ? ["100ms", "500ms", "1s", "2s", "5s"] : [] },
                run: { s, args in s.timeoutCommand(args) }),
        Command(name: "help", usage: ":help [COMMAND]", help: "List the commands, or explain one.",
                arguments: { $0 == 0 ? CommandTable.all.map(\.name) : [] },
                run: { s, args in s.helpCommand(args) }),
        Command(name: "quit", usage: ":quit", help: "Print the statistics and leave (Ctrl-D does the same).",
                arguments: { _ in [] }, run: { s, _ in s.quitCommand() }),
    ]

    /// The lines :help adds after the table, for the forms that are not `:` commands.
    static let otherForms = [
        ("!N", "Send history entry N (see :history) again; a command entry runs again."),
        ("::TEXT", "Send :TEXT (a line starting with a colon)."),
    ]

    public static func command(named name: String) -> Command? {
        all.first { $0.name == name }
    }

    /// Classifies a typed line.
    public static func parse(_ line: String) -> ParsedLine {
        if line.isEmpty { return .empty }
        if line.hasPrefix("::") { return .send(String(line.dropFirst())) }
        if line.hasPrefix(":") {
            let body = line.dropFirst()
            let word = String(body.prefix { !$0.isWhitespace })
            // Only the blanks after the name go: `:nohist` sends the rest exactly as written.
            let rest = String(body.dropFirst(word.count).drop { $0 == " " || $0 == "\t" })
            if let exact = command(named: word) { return .command(name: exact.name, arguments: rest) }
            let prefixed = word.isEmpty ? [] : all.filter { $0.name.hasPrefix(word) }
            if prefixed.count == 1 { return .command(name: prefixed[0].name, arguments: rest) }
            return .unknown(word: word, suggestion: nearest(to: word), ambiguous: prefixed.map(\.name))
        }
        if line.hasPrefix("!"), line.count > 1, line.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber }),
           let n = Int(line.dropFirst()) {
            return .recall(n)
        }
        return .send(line)
    }

    /// The command name closest to `word` by edit distance (ties: table order).
    public static func nearest(to word: String) -> String? {
        var best: (name: String, distance: Int)?
        for command in all {
            let d = editDistance(word.lowercased(), command.name)
            if d < best?.distance ?? .max { best = (command.name, d) }
        }
        return best?.name
    }

    /// Levenshtein distance, with a transposition counted as one edit (Damerau, restricted).
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previous2[j - 2] + 1)
                }
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }

    /// Tab-completion candidates for `word`, the text being completed, given the line up to the
    /// cursor (which ends with `word`). Only commands and their arguments complete: never files.
    public static func completions(word: String, lineBeforeCursor: String) -> [String] {
        let line = lineBeforeCursor.drop { $0 == " " || $0 == "\t" }
        guard line.hasPrefix(":"), !line.hasPrefix("::") else { return [] }
        let tokens = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        let endsInBlank = line.last == " " || line.last == "\t"
        if tokens.count <= 1 && !endsInBlank {
            // Completing the command name; the editor's word may or may not include the colon.
            let typed = String(line.dropFirst())
            let keepColon = word.hasPrefix(":")
            return all.map(\.name).filter { $0.hasPrefix(typed) }.map { keepColon ? ":" + $0 : $0 }
        }
        guard let first = tokens.first else { return [] }
        let name = String(first.dropFirst())
        let matches = all.filter { $0.name == name }
        let prefixed = all.filter { $0.name.hasPrefix(name) }
        guard let command = matches.first ?? (prefixed.count == 1 ? prefixed.first : nil) else { return [] }
        let index = endsInBlank ? tokens.count - 1 : tokens.count - 2
        guard index >= 0 else { return [] }
        return command.arguments(index).filter { $0.hasPrefix(word) }
    }

    /// The provider handed to the line editor.
    public static let completionProvider: CompletionProvider = { word, line in
        completions(word: word, lineBeforeCursor: line)
    }
}
