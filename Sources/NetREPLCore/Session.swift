// The REPL loop and nothing else: read a line, run it as a command or send it on the current
// transport, show the outcome, count it and record it; at the end, the ping-style summary.

import Glibc
import NetREPLProtocol
import NetREPLTransport

public struct SessionConfiguration: Sendable {
    public var target: Target
    public var family: AddressFamily
    public var transport: TransportKind
    public var tcpMode: TCPMode
    /// How long to wait for each reply (and, on TCP, for each connect).
    public var timeout: Duration
    /// Where a reply on a persistent TCP connection ends (a newline, for netrepl-server).
    public var tcpFraming: any ReplyFraming
    public var style: OutputStyle
    /// Extra banner lines for a person (e.g. the embedded server's address).
    public var bannerNotes: [String]
    /// The session file being run (`-f`), named with the line number in a failed check.
    public var scriptName: String?
    /// How replies are framed and shown, and how typed lines are read (issue 12).
    public var replies = ReplySettings()

    public init(target: Target, family: AddressFamily = .any, transport: TransportKind = .udp, tcpMode: TCPMode = .persistent,
                timeout: Duration = .seconds(1), tcpFraming: any ReplyFraming = TerminatorFraming(),
                style: OutputStyle, bannerNotes: [String] = []) {
        self.target = target
        self.family = family
        self.transport = transport
        self.tcpMode = tcpMode
        self.timeout = timeout
        self.tcpFraming = tcpFraming
        self.style = style
        self.bannerNotes = bannerNotes
    }
}

/// Exit statuses, as the man page documents them.
public enum ExitStatus {
    public static let success: Int32 = 0
    /// Some line was lost, cut short, cancelled or its exchange failed.
    public static let someFailed: Int32 = 1
    /// Usage error, or a connection error (unresolvable name, nothing listening, connect failed).
    public static let usageOrConnection: Int32 = 2
    /// A check (:expect, :assert) did not hold; it outranks the others.
    public static let checkFailed: Int32 = 3
}

/// A session could not start: the target does not resolve. Its description is one line.
public struct SessionStartError: Error, CustomStringConvertible {
    public let description: String
}

public final class Session: CommandContext {
    public private(set) var configuration: SessionConfiguration
    public private(set) var statistics = SessionStatistics()
    public private(set) var exitStatus: Int32 = ExitStatus.success
    public let history: HistoryStore
    let source: LineSource
    let presenter: Presenter
    private let interruptions: Interruptions
    private var addresses: [SocketAddress]
    private var udp: UDPTransport?
    private var tcp: TCPTransport?
    private var quitting = false
    /// Ctrl-C presses in a row with no line between: the second at the prompt leaves.
    private var interruptsInARow = 0
    /// The last line handled, for `!!`.
    private var lastLine: Line?
    /// Lines read so far: the line number of a failed check in a session file.
    private var linesRead = 0
    /// The lines handled so far, settings first, as a file that -f replays (:record).
    public private(set) var transcript: [String] = []
    /// A memcached storage command waiting for its data block (the next line).
    private var heldForDataBlock: Line?
    /// The last line's exchange, for :expect and :assert.
    public private(set) var lastExchange: Exchange?
    /// The TCP framing the configuration came with, in force while the reply settings name none.
    private let givenFraming: any ReplyFraming
    /// The signal that ended the session, once one has.
    public private(set) var endedBy: Int32?

    /// Resolves the target (once, before anything is timed) and prepares the session.
    public init(configuration: SessionConfiguration, source: LineSource, history: HistoryStore,
                out: OutputSink, err: OutputSink, interruptions: Interruptions = ProcessSignals.shared) throws(SessionStartError) {
        self.configuration = configuration
        self.transcript = Self.settingLines(configuration)
        self.interruptions = interruptions
        self.source = source
        self.history = history
        let presenter = Presenter(style: configuration.style, out: out, err: err)
        self.presenter = presenter
        presenter.display = configuration.replies.display
        givenFraming = configuration.tcpFraming
        if configuration.replies.framesReplies { self.configuration.tcpFraming = configuration.replies.framing(for: configuration.target) }
        do {
            self.addresses = try Resolver.resolve(configuration.target, family: configuration.family)
        } catch {
            throw SessionStartError(description: presenter.describe(error))
        }
    }

    deinit { closeTransports() }

    public var prompt: String {
        let transport = configuration.transport == .tcp && configuration.tcpMode == .perLine ? "tcp/per-line" : configuration.transport.rawValue
        return Sanitizer.escape("\(transport) \(configuration.target)") + "> "
    }

    public var targetDescription: String {
        let resolved = addresses.map(\.description).joined(separator: ", ")
        return resolved == configuration.target.description ? resolved : "\(configuration.target) (\(resolved))"
    }

    /// Reads and handles lines until end of input, `:quit`, a second Ctrl-C or a terminating
    /// signal; prints the summary and returns the exit status.
    @discardableResult
    public func run() -> Int32 {
        if configuration.style.interactive {
            presenter.info("netrepl: \(configuration.transport.rawValue) to \(targetDescription), timeout \(DurationGrammar.format(configuration.timeout)). :help lists commands, Ctrl-D quits.")
            for note in configuration.bannerNotes { presenter.info(note) }
        }
        if let hint = configuration.replies.suggestion(forPort: configuration.target.port) { presenter.meta(hint) }
        for warning in history.takeWarnings() { presenter.warning(warning) }
        loop: while !quitting && endedBy == nil && !presenter.outputClosed {
            switch source.readLine(prompt: prompt) {
            case .line(let line):
                interruptsInARow = 0
                linesRead += 1
                handle(line)
            case .interrupted:
                interruptsInARow += 1
                if interruptsInARow >= 2 { break loop }
                presenter.meta("(Ctrl-C again or Ctrl-D leaves)")
            case .endOfInput:
                break loop
            case .terminated(let signal):
                endedBy = signal
            }
        }
        // Close before the caller stops an embedded server, which would otherwise wait for us.
        closeTransports()
        printSummary()
        return exitStatus
    }

    private func closeTransports() {
        udp?.close()
        tcp?.close()
    }

    private func printSummary() {
        let lines = statistics.summary()
        guard !lines.isEmpty, configuration.style.interactive || !configuration.style.quiet else { return }
        if configuration.style.interactive { presenter.info("") }
        for line in lines { presenter.info(line) }
    }

    // MARK: lines

    /// Handles one line as read (or recalled, which never recalls again).
    func handle(_ line: Line, recalled: Bool = false) {
        let parsed = CommandTable.parse(line)
        switch parsed {
        case .empty, .recall, .command(name: "record", _): break
        default: transcript.append(line.text)
        }
        switch parsed {
        case .empty:
            return
        case .send(let payload):
            remember(line)
            send(payload, recordAs: line.text)
        case .command(let name, let arguments):
            guard let command = CommandTable.command(named: name) else { return }
            if name != "nohist" { remember(line) }
            if let problem = Commands.argumentProblem(command, arguments) {
                fail(problem)
                record(line.text, outcome: .error, rtt: nil)
                return
            }
            command.run(self, arguments)
            if name != "nohist" { record(line.text, outcome: .command, rtt: nil) }
        case .recall(let recall):
            guard !recalled else { return fail("history entry \(line.text) refers to another entry; not followed") }
            let entry: Line
            switch recall {
            case .last:
                guard let last = lastLine ?? history.records.last.map({ Line($0.line) }) else { return fail("no line to send again yet") }
                entry = last
            case .entry(let n):
                guard history.records.indices.contains(n - 1) else {
                    return fail("no history entry \(n) (there are \(history.records.count)); :history lists them")
                }
                entry = Line(history.records[n - 1].line)
            }
            presenter.meta(entry.text)
            handle(entry, recalled: true)
        case .unknown(let word, let match):
            remember(line)
            record(line.text, outcome: .error, rtt: nil)
            switch match {
            case .ambiguous(let names):
                fail(":\(word) is ambiguous (\(names.map { ":" + $0 }.joined(separator: ", "))); type more of it")
            case .none(let nearest) where !word.isEmpty:
                fail("unknown command :\(word)" + (nearest.map { "; did you mean :\($0)? (:help lists commands)" } ?? "; :help lists commands"))
            default:
                fail("a command name must follow the colon; :help lists commands, and ::TEXT sends :TEXT")
            }
        }
    }

    private func remember(_ line: Line) {
        source.addToRecall(line.text)
        lastLine = line
    }

    private func record(_ line: String, outcome: HistoryOutcome, rtt: Duration?) {
        let entry = HistoryRecord.now(transport: configuration.transport, target: configuration.target.description,
                                      outcome: outcome, rttNanoseconds: rtt?.wholeNanoseconds, line: line)
        if let problem = history.append(entry) { presenter.warning(problem) }
    }

    private var interruption: @Sendable () -> Int32? { { [interruptions] in interruptions.pending } }

    /// Sends `payload`, shows the outcome, counts it, and records `recordAs` in the history (nil: don't).
    private func send(_ typed: Line, recordAs: String?) {
        let payload: Line
        switch configuration.replies.prepare(typed, over: configuration.transport, framing: configuration.tcpFraming, held: &heldForDataBlock) {
        case .send(let line): payload = line
        case .hold: return presenter.meta("(the next line is its data block)")
        case .problem(let message): return fail(message)
        }
        let exchange: Exchange
        switch configuration.transport {
        case .udp:
            let transport = udp ?? UDPTransport(addresses: addresses, interruption: interruption)
            udp = transport
            exchange = transport.exchange(payload, timeout: configuration.timeout)
        case .tcp:
            let transport = tcp ?? TCPTransport(addresses: addresses, mode: configuration.tcpMode,
                                                framing: configuration.tcpFraming, interruption: interruption)
            transport.mode = configuration.tcpMode
            transport.lineFraming = configuration.tcpFraming
            tcp = transport
            exchange = transport.exchange(payload, timeout: configuration.timeout)
        }
        lastExchange = exchange
        statistics[exchange.transport].record(exchange)
        presenter.show(exchange, target: configuration.target.description)
        switch exchange.outcome {
        case .reply: break
        case .failed(let failure) where failure.isConnectionFailure:
            exitStatus = max(exitStatus, ExitStatus.usageOrConnection)
        case .lost, .truncated, .malformed, .cancelled, .failed:
            exitStatus = max(exitStatus, ExitStatus.someFailed)
        }
        // Late replies came before this line's outcome was known: they are recorded first, as
        // they would be typed, so that recalling one sends the same text.
        for case .late(let late) in exchange.events {
            record(late.line.text.hasPrefix(":") ? ":" + late.line.text : late.line.text, outcome: .late, rtt: late.roundTrip)
        }
        if let recordAs { record(recordAs, outcome: HistoryOutcome(exchange.outcome), rtt: exchange.reply?.roundTrip) }
        if case .cancelled(let signal) = exchange.outcome {
            _ = interruptions.take()
            // At a prompt, Ctrl-C cancels the wait and the session goes on; a script, or another
            // signal, ends it.
            if signal == SIGINT && configuration.style.interactive {
                interruptsInARow = 1
                source.discardPending()
            } else {
                endedBy = signal
            }
        }
    }

    // MARK: CommandContext

    public func use(_ transport: TransportKind, mode: TCPMode?) {
        configuration.transport = transport
        if let mode { configuration.tcpMode = mode }
        presenter.meta("now sending over \(Commands.transportLabel(configuration)) to \(configuration.target)")
    }

    public func connect(to target: Target) throws(ResolutionError) {
        let resolved = try Resolver.resolve(target, family: configuration.family)
        closeTransports()
        udp = nil
        tcp = nil
        addresses = resolved
        configuration.target = target
        configuration.tcpFraming = framingInForce(for: target)
    }

    /// The framing the reply settings give for `target`; the configuration's own when they
    /// name none (netrepl-server's newline, or what a caller chose).
    private func framingInForce(for target: Target) -> any ReplyFraming {
        configuration.replies.framesReplies ? configuration.replies.framing(for: target) : givenFraming
    }

    public func changeReplies(_ change: (inout ReplySettings) -> Void) {
        change(&configuration.replies)
        presenter.display = configuration.replies.display
        configuration.tcpFraming = framingInForce(for: configuration.target)
    }

    public func setTimeout(_ timeout: Duration) {
        configuration.timeout = timeout
    }

    public func send(_ line: Line, record: Bool) {
        send(line, recordAs: record ? line.text : nil)
    }

    public func shownReply(of exchange: Exchange) -> String? {
        guard let reply = exchange.reply else { return nil }
        return configuration.replies.display.shownText(reply.bytes, request: exchange.line.bytes)
    }

    public func checkFailed(_ message: String) {
        let place = configuration.scriptName.map { "\($0):\(linesRead): " } ?? ""
        presenter.error(place + message)
        exitStatus = max(exitStatus, ExitStatus.checkFailed)
    }

    /// The settings in force at the start, as commands, so that a recorded file replays alike.
    static func settingLines(_ configuration: SessionConfiguration) -> [String] {
        var lines = ["# netrepl session; run it with: netrepl -f FILE [HOST [PORT]]"]
        lines.append(configuration.transport == .udp ? ":udp" : ":tcp \(configuration.tcpMode.rawValue)")
        lines.append(":timeout \(DurationGrammar.format(configuration.timeout).filter { $0 != " " })")
        if configuration.replies.rule != .line { lines.append(":frame \(configuration.replies.rule)") }
        if configuration.replies.crlf { lines.append(":crlf on") }
        return lines
    }

    public func quit() {
        quitting = true
    }

    public func info(_ text: String) { presenter.info(text) }
    public func meta(_ text: String) { presenter.meta(text) }

    /// A command that could not be done: one line, and — in a script, where nobody saw it —
    /// exit status 2 (a usage error). A person's typo at the prompt does not decide the status.
    public func fail(_ message: String) {
        presenter.error(message)
        if !configuration.style.interactive {
            exitStatus = max(exitStatus, ExitStatus.usageOrConnection)
        }
    }

    public func table(_ rows: [[String]], rightAligned: Set<Int>) {
        for line in Self.columns(rows.map { $0.map(Sanitizer.escape) }, rightAligned: rightAligned) { presenter.info(line) }
    }

    public var describeResolution: (ResolutionError) -> String { presenter.describe }

    /// Pads the columns of `rows` (the last column is left as it is).
    static func columns(_ rows: [[String]], rightAligned: Set<Int>) -> [String] {
        guard let count = rows.first?.count else { return [] }
        var widths = [Int](repeating: 0, count: count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                if i == count - 1 { return cell }
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return rightAligned.contains(i) ? pad + cell : cell + pad
            }.joined(separator: "  ")
        }
    }
}
