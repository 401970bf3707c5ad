// The `:` commands, each against the narrow context a session gives them: they read and change
// the session's settings, send lines and say things, and know nothing else of the loop.

import Grammars
import NetREPLProtocol
import NetREPLTransport

/// What a command may see and do.
public protocol CommandContext: AnyObject {
    var configuration: SessionConfiguration { get }
    var statistics: SessionStatistics { get }
    /// The statistics per target, transport and TCP mode.
    var book: StatisticsBook { get }
    /// Starts all statistics afresh (:stats reset).
    func resetStatistics()
    /// Sends the plan's line over the three paths, interleaved, on transports of its own.
    func compare(_ plan: ComparePlan) -> CompareResult
    /// This machine's clocks, measured now (:clock).
    func measureClock() -> ClockCheck
    /// Whether each exchange's socket calls are shown (:trace).
    var tracing: Bool { get set }
    /// The last line's exchange, for :capture, :expect and :assert.
    var lastExchange: Exchange? { get }
    var history: HistoryStore { get }
    /// `localhost:12000 (127.0.0.1:12000)`.
    var targetDescription: String { get }
    func use(_ transport: TransportKind, mode: TCPMode?)
    func connect(to target: Target) throws(ResolutionError)
    func setTimeout(_ timeout: Duration)
    /// Changes how replies are framed and shown, and how lines are read (:frame, :view, …).
    func changeReplies(_ change: (inout ReplySettings) -> Void)
    /// The reply of `exchange` as it was shown (RESP rendered), or nil when it got none.
    func shownReply(of exchange: Exchange) -> String?
    /// A check that did not hold: said with the file and line it came from; the session goes on.
    func checkFailed(_ message: String)
    /// The lines handled so far, as a session file that -f replays.
    var transcript: [String] { get }
    /// Sends `line`, shows and counts the outcome; records it in the history when `record`.
    func send(_ line: Line, record: Bool)
    func quit()
    /// Runs the pinger against the current target (over UDP) and shows each probe and the summary.
    func ping(_ plan: PingPlan)
    /// Command output and errors, worded by the command, shown by the presenter.
    func info(_ text: String)
    func meta(_ text: String)
    func fail(_ message: String)
    /// Rows padded into columns, each cell made safe for where it is shown.
    func table(_ rows: [[String]], rightAligned: Set<Int>)
    var describeResolution: (ResolutionError) -> String { get }
    /// Columns to lay command output out in (the terminal's width, or 80).
    var terminalWidth: Int { get }
}

enum Commands {
    static let all: [Command] = [
        Command(
            name: "udp", usage: ":udp", help: "Send the following lines over UDP, one datagram each.",
            arguments: .none, completions: { _ in [] }, run: { c, _ in c.use(.udp, mode: nil) }),
        Command(
            name: "tcp", usage: ":tcp [persistent|per-line]",
            help: "Send over TCP: one persistent connection (the default), or a new connection per line as the textbook client does.",
            arguments: .words(max: 1), completions: { $0 == 0 ? TCPMode.allCases.map(\.rawValue) : [] }, run: tcp),
        Command(
            name: "connect", usage: ":connect HOST[:PORT] | HOST PORT | [V6ADDR]:PORT",
            help: "Send to another host, and port (the current port if omitted); the name is resolved now, once.",
            arguments: .words(max: 2),
            completions: { $0 == 0 ? ["localhost", "127.0.0.1", "[::1]"] : ($0 == 1 ? ["12000"] : []) }, run: connect),
        Command(
            name: "history", usage: ":history [N]", help: "Show the last N history entries (default 20), numbered for !N.",
            arguments: .words(max: 1), completions: { _ in [] }, run: history),
        Command(
            name: "nohist", usage: ":nohist LINE", help: "Send LINE exactly as written, without recording it in the history.",
            arguments: .rest, completions: { _ in [] }, run: nohist),
        Command(
            name: "stats", usage: ":stats [reset]",
            help: "Show loss, round trips, jitter and TCP connect times per target and transport, or start them afresh.",
            arguments: .words(max: 1), completions: { $0 == 0 ? ["reset"] : [] }, run: LabCommands.stats),
        Command(
            name: "ping", usage: ":ping [COUNT] [INTERVAL] [SIZE]",
            help: "Send COUNT (10) UDP probes of SIZE (56) bytes every INTERVAL (1s), on schedule whatever the replies; Ctrl-C stops them.",
            arguments: .words(max: 3), completions: { [["10", "100"], ["1s", "200ms", "10ms"], ["56", "1400"]][safe: $0] ?? [] },
            run: LabCommands.ping),
        Command(
            name: "trace", usage: ":trace [on|off]",
            help: "Show each line's socket calls, local and remote address:port, bytes each way and reads (or say whether it is on).",
            arguments: .words(max: 1), completions: { $0 == 0 ? ["on", "off"] : [] }, run: LabCommands.trace),
        Command(
            name: "capture", usage: ":capture",
            help: "Print a tcpdump command and a Wireshark display filter for the last line's addresses and ports.",
            arguments: .none, completions: { _ in [] }, run: { c, _ in LabCommands.capture(c) }),
        Command(
            name: "compare", usage: ":compare [--rounds N] [--sizes 16,256,1400,8k] [LINE]",
            help: "Send LINE over UDP, TCP persistent and TCP per-line, interleaved for N (10) rounds; show the medians side by side.",
            arguments: .rest, completions: { $0 == 0 ? ["--rounds", "--sizes"] : [] }, run: LabCommands.compare),
        Command(
            name: "clock", usage: ":clock",
            help: "Measure this machine's timer resolution, wake-up latency and kernel send stamps: what a round trip can mean.",
            arguments: .none, completions: { _ in [] }, run: { c, _ in LabCommands.clock(c) }),
        Command(
            name: "timeout", usage: ":timeout [D]", help: "Show or set how long to wait for a reply: \(DurationGrammar.examples).",
            arguments: .words(max: 1), completions: { $0 == 0 ? ["100ms", "500ms", "1s", "2s", "5s"] : [] }, run: timeout),
        Command(
            name: "set", usage: ":set [suggest on|off]",
            help: "Show the line editor's settings, or turn suggestions from the history (shown dimmed while typing) on or off.",
            arguments: .words(max: 2), completions: { $0 == 0 ? ["suggest"] : ($0 == 1 ? ["on", "off"] : []) }, run: set),
        Command(
            name: "frame", usage: ":frame [RULE]",
            help: "Show or set where a TCP reply ends: \(FramingRule.summary).",
            arguments: .rest, completions: { $0 == 0 ? FramingRule.examples : [] }, run: ReplyCommands.frame),
        Command(
            name: "crlf", usage: ":crlf [on|off]", help: "Show or set whether lines end in CR LF (the presets always send CR LF).",
            arguments: .words(max: 1), completions: { $0 == 0 ? ["on", "off"] : [] }, run: ReplyCommands.crlf),
        Command(
            name: "header", usage: ":header [NAME: VALUE | NAME: | -]",
            help: "Add a header to the HTTP requests that follow (NAME: alone removes it, - removes all); alone, list them.",
            arguments: .rest, completions: { $0 == 0 ? ["Accept:", "Connection:", "-"] : [] }, run: ReplyCommands.header),
        Command(
            name: "view", usage: ":view [text|hex|raw]",
            help: "Show replies escaped (text), as a hex dump with offsets and text beside it (hex), or as they came (raw).",
            arguments: .words(max: 1), completions: { $0 == 0 ? ReplyView.allCases.map(\.rawValue) : [] }, run: ReplyCommands.view),
        Command(
            name: "escapes", usage: ":escapes [on|off]", help: "Show or set whether \\t \\r \\n \\\\ and \\xHH in a line are sent as the bytes they name.",
            arguments: .words(max: 1), completions: { $0 == 0 ? ["on", "off"] : [] }, run: ReplyCommands.escapes),
        Command(
            name: "expect", usage: ":expect TEXT | /REGEX/",
            help: "Check that the last reply, as shown, contains TEXT or matches REGEX; a failure sets exit status 3.",
            arguments: .rest, completions: { _ in [] }, run: ScriptCommands.expect),
        Command(
            name: "assert", usage: ":assert rtt|loss OP VALUE",
            help: "Check the last round-trip time (rtt < 5ms) or the loss so far (loss < 10%); a failure sets exit status 3.",
            arguments: .rest, completions: { $0 == 0 ? ["rtt", "loss"] : ($0 == 1 ? ["<", "<=", ">", ">=", "=="] : []) },
            run: ScriptCommands.assert),
        Command(
            name: "record", usage: ":record FILE", help: "Write the lines and commands so far to FILE, as a session file that -f replays.",
            arguments: .rest, completions: { _ in [] }, run: ScriptCommands.record),
        Command(
            name: "help", usage: ":help [COMMAND]", help: "List the commands, or explain one.",
            arguments: .words(max: 1), completions: { $0 == 0 ? Commands.all.map(\.name) : [] }, run: help),
        Command(
            name: "quit", usage: ":quit", help: "Print the statistics and leave (Ctrl-D does the same).",
            arguments: .none, completions: { _ in [] }, run: { c, _ in c.quit() }),
    ]

    /// Checks the argument count against the command's shape; says what is wrong, or nil.
    static func argumentProblem(_ command: Command, _ arguments: String) -> String? {
        let words = arguments.split(whereSeparator: \.isWhitespace)
        switch command.arguments {
        case .none where !words.isEmpty:
            return ":\(command.name) takes no arguments (usage: \(command.usage))"
        case .words(let max) where words.count > max:
            return "too many arguments for :\(command.name) (usage: \(command.usage))"
        default:
            return nil
        }
    }

    static func tcp(_ c: CommandContext, _ arguments: String) {
        let word = arguments.trimmingWhitespace()
        // `:tcp` alone means a persistent connection, as :help and the man page say.
        guard !word.isEmpty else { return c.use(.tcp, mode: .persistent) }
        guard let mode = TCPMode(rawValue: word) ?? TCPMode.allCases.first(where: { $0.rawValue.hasPrefix(word) }) else {
            return c.fail("unknown TCP mode \"\(word)\"; use persistent or per-line")
        }
        c.use(.tcp, mode: mode)
    }

    static func connect(_ c: CommandContext, _ arguments: String) {
        let words = arguments.split(whereSeparator: \.isWhitespace).map(String.init)
        guard let first = words.first else { return c.info("sending to \(c.targetDescription)") }
        guard let (host, embeddedPort) = parseHostPort(first) else {
            return c.fail("cannot read \"\(first)\" as HOST, HOST:PORT or [V6ADDR]:PORT")
        }
        var port = embeddedPort ?? c.configuration.target.port
        if words.count == 2 {
            guard embeddedPort == nil else { return c.fail("give the port once: :connect HOST:PORT or :connect HOST PORT") }
            guard let p = Int(words[1]), (1...65535).contains(p) else {
                return c.fail("invalid port \"\(words[1])\"; give a number from 1 to 65535")
            }
            port = p
        }
        guard (1...65535).contains(port) else { return c.fail("invalid port \(port); give a number from 1 to 65535") }
        do {
            try c.connect(to: Target(host: host, port: port))
            c.meta("now sending to \(c.targetDescription)")
        } catch {
            c.fail(c.describeResolution(error))
        }
    }

    static func timeout(_ c: CommandContext, _ arguments: String) {
        let text = arguments.trimmingWhitespace()
        guard !text.isEmpty else { return c.info("timeout: \(DurationGrammar.format(c.configuration.timeout))") }
        guard let value = DurationGrammar.parse(text) else {
            return c.fail("invalid timeout \"\(text)\"; write it like \(DurationGrammar.examples)")
        }
        guard value > .zero else { return c.fail("the timeout must be more than 0") }
        c.setTimeout(value)
        c.meta("timeout: \(DurationGrammar.format(value))")
    }

    static func history(_ c: CommandContext, _ arguments: String) {
        let text = arguments.trimmingWhitespace()
        var count = 20
        if !text.isEmpty {
            guard let n = Int(text), n > 0 else { return c.fail("usage: :history [N], with N a positive number") }
            count = n
        }
        guard c.history.capacity > 0 else { return c.info("history is off (NETREPL_HISTSIZE=0)") }
        let records = c.history.records
        guard !records.isEmpty else { return c.info("no history yet") }
        var rows = [["#", "time", "via", "target", "outcome", "rtt ms", "line"]]
        for i in max(0, records.count - count)..<records.count {
            let r = records[i]
            rows.append([
                String(i + 1), r.localTimeText, transportName(r.transport, r.tcpMode), r.target, r.outcome.rawValue,
                r.rttNanoseconds.map { fixed(Double($0) / 1e6, 3) } ?? "-", r.line,
            ])
        }
        c.table(rows, rightAligned: [0, 5])
    }

    static func nohist(_ c: CommandContext, _ arguments: String) {
        guard !arguments.isEmpty else { return c.fail("usage: :nohist LINE") }
        c.send(Line(arguments), record: false)
    }

    static func help(_ c: CommandContext, _ arguments: String) {
        let word = arguments.trimmingWhitespace()
        let width = c.terminalWidth
        guard word.isEmpty else {
            if let form = CommandTable.otherForm(word) {
                c.info(form.name)
                for line in HelpLayout.wrap(form.help, width: width - 4) { c.info("    " + line) }
                return
            }
            let match = CommandTable.match(word)
            guard let name = match.name, let command = CommandTable.command(named: name) else {
                return c.fail(CommandError(word, match))
            }
            c.info(command.usage)
            for line in HelpLayout.wrap(command.help, width: width - 4) { c.info("    " + line) }
            return
        }
        let entries = all.map { ($0.usage, $0.help) } + CommandTable.otherForms.map { ($0.name, $0.help) }
        for line in HelpLayout.lines(entries, width: width) { c.info(line) }
        for line in HelpLayout.wrap("Any other line is sent as it is. Tab completes commands; Ctrl-C cancels a wait; Ctrl-D quits.", width: width) {
            c.info(line)
        }
    }
}

// MARK: :set (the line editor's settings, through EditingPreferences)

extension Commands {
    static func set(_ c: CommandContext, _ arguments: String) {
        let words = arguments.split(whereSeparator: \.isWhitespace).map(String.init)
        guard let name = words.first else {
            return c.info("suggest: \(EditingPreferences.suggestions ? "on" : "off")")
        }
        guard "suggest".hasPrefix(name) else { return c.fail("no setting \"\(name)\"; the one setting is suggest") }
        guard words.count == 2, let on = ["on": true, "off": false][words[1]] else {
            return c.fail("usage: :set suggest on|off")
        }
        EditingPreferences.suggestions = on
        c.meta("suggest: \(on ? "on" : "off")")
    }
}
