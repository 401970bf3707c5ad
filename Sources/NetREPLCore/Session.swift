// The REPL loop: read a line, decide whether it is a command or text, send text on the current
// transport, show the reply, record history and statistics; at the end, the ping-style summary.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct SessionConfiguration: Sendable {
    public var target: Target
    public var family: AddressFamily
    public var transport: TransportKind
    public var tcpMode: TCPMode
    /// Reply timeout in nanoseconds.
    public var timeout: UInt64
    public var style: OutputStyle
    /// Extra banner lines for a person (e.g. the embedded server's address).
    public var bannerNotes: [String]

    public init(target: Target, family: AddressFamily = .any, transport: TransportKind = .udp, tcpMode: TCPMode = .persistent,
                timeout: UInt64 = 1_000_000_000, style: OutputStyle, bannerNotes: [String] = []) {
        self.target = target
        self.family = family
        self.transport = transport
        self.tcpMode = tcpMode
        self.timeout = timeout
        self.style = style
        self.bannerNotes = bannerNotes
    }
}

/// Exit statuses, as the man page documents them.
public enum ExitStatus {
    public static let success: Int32 = 0
    /// Some line was lost or its exchange failed.
    public static let someFailed: Int32 = 1
    /// Usage error, or a connection error (unresolvable name, nothing listening, connect failed).
    public static let usageOrConnection: Int32 = 2
}

public final class Session {
    public private(set) var configuration: SessionConfiguration
    public private(set) var statistics = SessionStatistics()
    public private(set) var exitStatus: Int32 = ExitStatus.success
    let history: HistoryStore
    let source: LineSource
    let presenter: Presenter
    private var addresses: [SocketAddress]
    private var udp: UDPTransport?
    private var tcp: TCPTransport?
    private var quitting = false
    /// The signal that ends the session, once one has.
    public private(set) var endedBy: Int32?

    /// Resolves the target (once, before anything is timed) and prepares the session.
    public init(configuration: SessionConfiguration, source: LineSource, history: HistoryStore,
                out: OutputSink, err: OutputSink) throws(ResolutionError) {
        self.configuration = configuration
        self.source = source
        self.history = history
        self.presenter = Presenter(style: configuration.style, out: out, err: err)
        self.addresses = try Resolver.resolve(configuration.target, family: configuration.family, socketType: datagramSocket)
    }

    deinit {
        udp?.close()
        tcp?.close()
    }

    public var prompt: String {
        let transport = configuration.transport == .tcp && configuration.tcpMode == .perLine ? "tcp/per-line" : configuration.transport.rawValue
        return "\(transport) \(configuration.target)> "
    }

    private var resolvedText: String { addresses.map(\.description).joined(separator: ", ") }

    /// `localhost:12000 (127.0.0.1:12000)`, or just the address when that is what was given.
    private var targetText: String {
        resolvedText == configuration.target.description ? resolvedText : "\(configuration.target) (\(resolvedText))"
    }

    /// Reads and handles lines until end of input, `:quit` or a terminating signal; prints the
    /// summary and returns the exit status.
    @discardableResult
    public func run() -> Int32 {
        let style = configuration.style
        if style.interactive {
            presenter.info("netrepl: \(configuration.transport.rawValue) to \(targetText), timeout \(formatDuration(configuration.timeout)). :help lists commands, Ctrl-D quits.")
            for note in configuration.bannerNotes { presenter.info(note) }
        }
        for warning in history.takeWarnings() { presenter.warning(warning) }
        loop: while !quitting && endedBy == nil && !presenter.out.isClosed {
            switch source.readLine(prompt: prompt) {
            case .line(let line):
                handle(line, typed: true)
            case .interrupted:
                continue
            case .endOfInput:
                break loop
            case .terminated(let sig):
                endedBy = sig
            }
        }
        // Close before the caller stops an embedded server, which would otherwise wait for us.
        udp?.close()
        tcp?.close()
        finish()
        return exitStatus
    }

    /// Prints the summary (also used when the caller ends the session by other means).
    public func finish() {
        let lines = statistics.summary()
        guard !lines.isEmpty else { return }
        let style = configuration.style
        if style.interactive {
            presenter.info("")
            for line in lines { presenter.info(line) }
        } else if !style.quiet {
            for line in lines { presenter.info(line) }
        }
    }

    // MARK: lines

    /// Handles one line as typed (or recalled by `!N`, which never recalls again).
    public func handle(_ line: String, typed: Bool = true) {
        switch CommandTable.parse(line) {
        case .empty:
            return
        case .send(let text):
            source.addToRecall(line)
            send(text, recordAs: line, exactBytes: typed ? exactBytes(of: text, in: line) : nil)
        case .command(let name, let arguments):
            guard let command = CommandTable.command(named: name) else { return }
            if name != "nohist" { source.addToRecall(line) }
            command.run(self, arguments)
            if name != "nohist" { record(line, outcome: .command, rtt: nil) }
        case .recall(let n):
            guard typed else {
                fail("history entry \(line) refers to another entry; not followed")
                return
            }
            guard history.records.indices.contains(n - 1) else {
                fail("no history entry \(n) (there are \(history.records.count)); :history lists them")
                return
            }
            let entry = history.records[n - 1].line
            presenter.meta(presenter.style.escapeReplies ? Sanitizer.escape(Array(entry.utf8)) : entry)
            handle(entry, typed: false)
        case .unknown(let word, let suggestion, let ambiguous):
            source.addToRecall(line)
            record(line, outcome: .error, rtt: nil)
            if word.isEmpty {
                fail("a command name must follow the colon; :help lists commands, and ::TEXT sends :TEXT")
            } else if ambiguous.count > 1 {
                fail(":\(word) is ambiguous (\(ambiguous.map { ":" + $0 }.joined(separator: ", "))); type more of it")
            } else {
                fail("unknown command :\(word)" + (suggestion.map { "; did you mean :\($0)? (:help lists commands)" } ?? ""))
            }
        }
    }

    /// A command that could not be done: one line, and — in a script, where nobody saw it —
    /// exit status 2 (a usage error). A person's typo at the prompt does not decide the status.
    func fail(_ message: String) {
        presenter.error(message)
        if !configuration.style.interactive {
            exitStatus = max(exitStatus, ExitStatus.usageOrConnection)
        }
    }

    private func record(_ line: String, outcome: Outcome, rtt: UInt64?) {
        let entry = HistoryRecord.now(transport: configuration.transport, target: configuration.target.description,
                                      outcome: outcome, rttNanoseconds: rtt, line: line)
        if let problem = history.append(entry) { presenter.warning(problem) }
    }

    private func currentTransport() -> Transport {
        switch configuration.transport {
        case .udp:
            if let udp { return udp }
            let t = UDPTransport(addresses: addresses)
            udp = t
            return t
        case .tcp:
            if let tcp {
                tcp.mode = configuration.tcpMode
                return tcp
            }
            let t = TCPTransport(addresses: addresses, mode: configuration.tcpMode)
            tcp = t
            return t
        }
    }

    /// When the line as read was not UTF-8, the bytes to send for `text`: all of it, or what
    /// follows the first colon of a `::` line. Nil: send the text's own UTF-8.
    private func exactBytes(of text: String, in line: String) -> [UInt8]? {
        guard let raw = source.invalidUTF8OfLastLine else { return nil }
        return text == line ? raw : Array(raw.dropFirst())
    }

    /// Sends `text` (as `exactBytes` when given), shows the outcome, counts it, and records
    /// `recordAs` in the history (nil: don't).
    func send(_ text: String, recordAs: String?, exactBytes: [UInt8]? = nil) {
        let exchange = currentTransport().exchange(line: text, payload: exactBytes ?? Array(text.utf8), timeout: configuration.timeout)
        statistics[exchange.transport].record(exchange)
        presenter.show(exchange, target: configuration.target.description)
        switch exchange.outcome {
        case .ok: break
        case .lost: exitStatus = max(exitStatus, ExitStatus.someFailed)
        default:
            exitStatus = max(exitStatus, exchange.failure == .connection ? ExitStatus.usageOrConnection : ExitStatus.someFailed)
        }
        // Late replies came before this line's outcome was known: they are recorded first.
        for case .late(let late) in exchange.events where !late.duplicate {
            guard let line = late.line else { continue }
            // Recorded as it would be typed, so that recalling it sends the same text.
            record(line.hasPrefix(":") ? ":" + line : line, outcome: .late, rtt: late.rttNanoseconds)
        }
        if let recordAs {
            record(recordAs, outcome: exchange.outcome, rtt: exchange.rttNanoseconds)
        }
        if let sig = exchange.interruptedBy {
            _ = Signals.take()
            endedBy = sig
        }
    }

    // MARK: commands

    func switchTransport(_ kind: TransportKind, mode: TCPMode?) {
        configuration.transport = kind
        if let mode { configuration.tcpMode = mode }
        let label = kind == .tcp ? "tcp (\(configuration.tcpMode.rawValue))" : "udp"
        presenter.meta("now sending over \(label) to \(configuration.target)")
    }

    func tcpCommand(_ arguments: String) {
        let words = arguments.split(whereSeparator: \.isWhitespace)
        guard words.count <= 1 else {
            fail("usage: :tcp [persistent|per-line]")
            return
        }
        if let word = words.first {
            guard let mode = TCPMode(rawValue: String(word)) ?? TCPMode.allCases.first(where: { $0.rawValue.hasPrefix(word) }) else {
                fail("unknown TCP mode \"\(word)\"; use persistent or per-line")
                return
            }
            switchTransport(.tcp, mode: mode)
        } else {
            switchTransport(.tcp, mode: nil)
        }
    }

    func connectCommand(_ arguments: String) {
        let words = arguments.split(whereSeparator: \.isWhitespace).map(String.init)
        guard (1...2).contains(words.count) else {
            if words.isEmpty {
                presenter.info("sending to \(targetText)")
            } else {
                fail("usage: :connect HOST [PORT]")
            }
            return
        }
        var host = words[0]
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var port = configuration.target.port
        if words.count == 2 {
            guard let p = Int(words[1]), (1...65535).contains(p) else {
                fail("invalid port \"\(words[1])\"; give a number from 1 to 65535")
                return
            }
            port = p
        }
        let target = Target(host: host, port: port)
        do {
            let resolved = try Resolver.resolve(target, family: configuration.family, socketType: datagramSocket)
            udp?.close()
            tcp?.close()
            udp = nil
            tcp = nil
            addresses = resolved
            configuration.target = target
            presenter.meta("now sending to \(targetText)")
        } catch {
            fail(error.description)
        }
    }

    func timeoutCommand(_ arguments: String) {
        let text = arguments.trimmingWhitespace()
        if text.isEmpty {
            presenter.info("timeout: \(formatDuration(configuration.timeout))")
            return
        }
        guard let value = parseDuration(text) else {
            fail("invalid timeout \"\(text)\"; write it like 1, 0.5s or 250ms (at most 1 hour)")
            return
        }
        configuration.timeout = value
        presenter.meta("timeout: \(formatDuration(value))")
    }

    func historyCommand(_ arguments: String) {
        let text = arguments.trimmingWhitespace()
        var count = 20
        if !text.isEmpty {
            guard let n = Int(text), n > 0 else {
                fail("usage: :history [N], with N a positive number")
                return
            }
            count = n
        }
        guard history.capacity > 0 else {
            presenter.info("history is off (NETREPL_HISTSIZE=0)")
            return
        }
        let records = history.records
        let first = max(0, records.count - count)
        var rows = [["#", "time", "via", "target", "outcome", "rtt ms", "line"]]
        for i in first..<records.count {
            let r = records[i]
            let shownLine = presenter.style.escapeReplies ? Sanitizer.escape(Array(r.line.utf8)) : r.line
            rows.append([String(i + 1), r.localTimeText, r.transport.rawValue, r.target, r.outcome.rawValue,
                         r.rttNanoseconds.map { fixed(Double($0) / 1e6, 3) } ?? "-", shownLine])
        }
        if rows.count == 1 {
            presenter.info("no history yet")
            return
        }
        for line in Self.table(rows, rightAligned: [0, 5]) { presenter.info(line) }
    }

    /// Pads the columns of `rows` (the last column is left as it is).
    static func table(_ rows: [[String]], rightAligned: Set<Int>) -> [String] {
        guard let columns = rows.first?.count else { return [] }
        var widths = [Int](repeating: 0, count: columns)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                if i == columns - 1 { return cell }
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return rightAligned.contains(i) ? pad + cell : cell + pad
            }.joined(separator: "  ")
        }
    }

    func nohistCommand(_ arguments: String) {
        guard !arguments.isEmpty else {
            fail("usage: :nohist LINE")
            return
        }
        send(arguments, recordAs: nil)
    }

    func statsCommand() {
        let lines = statistics.summary(showPercentiles: true)
        if lines.isEmpty { presenter.info("no lines sent yet") }
        for line in lines { presenter.info(line) }
        let label = configuration.transport == .tcp ? "tcp (\(configuration.tcpMode.rawValue))" : "udp"
        presenter.info("now: \(label) to \(targetText), timeout \(formatDuration(configuration.timeout))")
    }

    func helpCommand(_ arguments: String) {
        let word = arguments.trimmingWhitespace()
        if !word.isEmpty {
            let name = word.hasPrefix(":") ? String(word.dropFirst()) : word
            guard let command = CommandTable.command(named: name) ?? {
                let p = CommandTable.all.filter { $0.name.hasPrefix(name) }
                return p.count == 1 ? p[0] : nil
            }() else {
                fail("no command :\(name)" + (CommandTable.nearest(to: name).map { "; did you mean :\($0)?" } ?? ""))
                return
            }
            presenter.info(command.usage)
            presenter.info("    " + command.help)
            return
        }
        let rows = CommandTable.all.map { [$0.usage, $0.help] } + CommandTable.otherForms.map { [$0.0, $0.1] }
        for line in Self.table(rows, rightAligned: []) { presenter.info("  " + line) }
        presenter.info("Any other line is sent as it is. Tab completes commands; Ctrl-D quits.")
    }

    func quitCommand() {
        quitting = true
    }
}
