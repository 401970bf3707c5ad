// The REPL loop and nothing else: read a line, run it as a command or send it on the current
// transport, show the outcome, count it and record it; at the end, the ping-style summary. At a
// terminal it is one event loop over the keyboard and every socket, so that what a server sends
// is shown the moment it arrives, above the line being typed; in a script each line is run to
// completion before the next, in the same order as ever.

import Glibc
import Grammars
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

    public init(
        target: Target, family: AddressFamily = .any, transport: TransportKind = .udp, tcpMode: TCPMode = .persistent,
        timeout: Duration = .seconds(1), tcpFraming: any ReplyFraming = TerminatorFraming(),
        style: OutputStyle, bannerNotes: [String] = []
    ) {
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
    /// :stats per target, transport and TCP mode.
    public private(set) var book = StatisticsBook()
    /// :trace on: each exchange's socket calls are shown after it.
    public var tracing = false
    /// The last line's exchange, for :capture, :expect and :assert.
    public private(set) var lastExchange: Exchange?
    public private(set) var exitStatus: Int32 = ExitStatus.success
    public let history: HistoryStore
    let source: LineSource
    let presenter: Presenter
    private let interruptions: Interruptions
    private var addresses: [SocketAddress]
    /// Where lines go now.
    private var transport: (any Transport)?
    /// Transports replaced (by :udp, :tcp or :connect) while lines still waited on them: they are
    /// serviced until those lines settle, then closed.
    private var retired: [any Transport] = []
    /// Lines submitted and not yet settled: what to record in the history when they do.
    private var pending: [SubmissionID: Pending] = [:]
    /// History records in the order their lines were typed, each line's waiting for its outcome.
    private var unrecorded: [(id: SubmissionID?, entry: HistoryRecord?)] = []
    /// Noise counted and not yet shown: summed, and shown before the next outcome or once a second.
    private var unshownNoise: (noise: Noise, transport: TransportKind, since: ContinuousClock.Instant)?
    private var floodGate = FloodGate()
    /// The terminal line and whether its prompt is up (only with a live line source).
    private let terminal: TerminalLine
    private var quitting = false
    /// Ctrl-C presses in a row with no line between: the second at the prompt leaves.
    private var interruptsInARow = 0
    /// The last line handled, for `!!`.
    private var lastLine: Line?
    /// Set by `fail` while a command runs: a command that fails is recorded as `error`.
    private var commandFailed = false
    /// Lines read so far: the line number of a failed check in a session file.
    private var linesRead = 0
    /// The lines handled so far, settings first, as a file that -f replays (:record).
    public private(set) var transcript: [String] = []
    /// A memcached storage command waiting for its data block (the next line).
    private var heldForDataBlock: Line?
    /// The TCP framing the configuration came with, in force while the reply settings name none.
    private let givenFraming: any ReplyFraming
    /// The signal that ended the session, once one has.
    public private(set) var endedBy: Int32?

    /// Resolves the target (once, before anything is timed) and prepares the session.
    public init(
        configuration: SessionConfiguration, source: LineSource, history: HistoryStore,
        out: OutputSink, err: OutputSink, interruptions: Interruptions = ProcessSignals.shared
    ) throws(SessionStartError) {
        self.configuration = configuration
        self.transcript = Self.settingLines(configuration)
        self.interruptions = interruptions
        self.source = source
        self.history = history
        let live = configuration.style.interactive ? source as? LiveLineSource : nil
        let terminal = TerminalLine(source: live)
        self.terminal = terminal
        let presenter = Presenter(
            style: configuration.style,
            out: terminal.sink(out, isTerminal: configuration.style.stdoutIsTerminal),
            err: terminal.sink(err, isTerminal: configuration.style.stderrIsTerminal))
        presenter.live = live != nil
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
        Sanitizer.escape("\(transportName(configuration.transport, configuration.tcpMode)) \(configuration.target)") + "> "
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
            presenter.info(
                "netrepl: \(transportName(configuration.transport, configuration.tcpMode)) to \(targetDescription), timeout \(DurationGrammar.format(configuration.timeout)). :help lists commands, Ctrl-D quits."
            )
            for note in configuration.bannerNotes { presenter.info(note) }
        }
        if let hint = configuration.replies.suggestion(forPort: configuration.target.port) { presenter.meta(hint) }
        for warning in history.takeWarnings() { presenter.warning(warning) }
        if let live = terminal.source {
            runLive(live)
        } else {
            runToCompletion()
        }
        // Close before the caller stops an embedded server, which would otherwise wait for us.
        closeTransports()
        printSummary()
        return exitStatus
    }

    /// Scripts, pipes and `-c`: one line at a time, each waited for before the next is read.
    private func runToCompletion() {
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
    }

    /// A terminal: one wait over the keyboard and every socket. Lines are sent the moment Enter
    /// is pressed, and everything that happens is shown as it happens, above the prompt.
    private func runLive(_ live: LiveLineSource) {
        var shownPrompt = prompt
        terminal.show(prompt: shownPrompt)
        var endOfInput = false
        while !quitting && endedBy == nil && !endOfInput && !presenter.outputClosed {
            let ready = Poller.wait([PollInterest(descriptor: live.inputDescriptor)] + transports.flatMap(\.interests), until: nextDeadline)
            // What this wake-up brings is printed in one go, after the keys are read.
            defer { terminal.release() }
            // Keys first: they echo at once however much a server sends.
            let inputs = live.service()
            terminal.hold()
            for input in inputs {
                guard !quitting && endedBy == nil && !endOfInput else { break }
                switch input {
                case .line(let line):
                    interruptsInARow = 0
                    linesRead += 1
                    handle(line)
                case .interrupted:
                    interrupted()
                case .endOfInput:
                    endOfInput = true
                case .terminated(let signal):
                    endedBy = signal
                }
            }
            // Signals are the line source's while its prompt is up (Ctrl-C also discards the line).
            serviceTransports(ready: ready)
            serviceClock()
            if shownPrompt != prompt && !quitting && endedBy == nil && !endOfInput {
                shownPrompt = prompt
                terminal.show(prompt: shownPrompt)
            }
        }
        terminal.hide()
        if let signal = endedBy, waiting > 0 {
            // SIGTERM or SIGHUP: what waits is cancelled by it, and counted so.
            for transport in transports { transport.cancelWaiting(signal: signal) }
            takeNotices()
        } else if waiting > 0 {
            awaitTheRest()
        }
        // What was held back (noise, a flood's count) is said before the summary, however soon
        // after it the session ended.
        flushNoise()
        flushFlood(force: true)
    }

    /// Ctrl-C at the prompt: cancels what waits, or with nothing waiting counts towards leaving.
    private func interrupted() {
        if waiting > 0 {
            for transport in transports { transport.cancelWaiting(signal: SIGINT) }
            takeNotices()
            interruptsInARow = 1
            return
        }
        interruptsInARow += 1
        if interruptsInARow >= 2 {
            quitting = true
        } else {
            presenter.meta("(Ctrl-C again or Ctrl-D leaves)")
        }
    }

    /// After Ctrl-D or :quit with lines still waiting: each gets until its deadline (Ctrl-C stops
    /// waiting), so that the summary counts what came.
    private func awaitTheRest() {
        let count = waiting
        presenter.leaving = true
        presenter.meta(
            "waiting for \(count) \(count == 1 ? "line" : "lines") sent and not yet answered, at most until \(count == 1 ? "its" : "their") timeout; Ctrl-C stops waiting"
        )
        while waiting > 0 && endedBy == nil && !presenter.outputClosed {
            if let signal = interruptions.take() {
                if signal == SIGINT && style.interactive { presenter.endEchoedKey() }
                for transport in transports { transport.cancelWaiting(signal: signal) }
                takeNotices()
                if signal != SIGINT { endedBy = signal }
                break
            }
            serviceTransports(ready: Poller.wait(transports.flatMap(\.interests), until: nextDeadline))
            serviceClock()
        }
    }

    private var transports: [any Transport] { (transport.map { [$0] } ?? []) + retired }

    /// Lines sent on any transport and not yet settled.
    private var waiting: Int { transports.reduce(0) { $0 + $1.waiting } }

    private var nextDeadline: ContinuousClock.Instant? {
        (transports.compactMap(\.nextDeadline) + [floodGate.flushAt, unshownNoise.map { $0.since + FloodGate.window }].compactMap { $0 }).min()
    }

    private func serviceTransports(ready: Set<Int32>) {
        for transport in transports { transport.service(ready: ready) }
        takeNotices()
    }

    /// Shows what was held back for a while (noise, a flood) once its second is over.
    private func serviceClock() {
        if let unshown = unshownNoise, ContinuousClock.now >= unshown.since + FloodGate.window { flushNoise() }
        flushFlood(force: false)
    }

    private func flushFlood(force: Bool) {
        if let (count, window) = floodGate.takeHeld(force: force) { presenter.moreFromServer(count, in: window) }
    }

    /// Shows the notices of every transport, in the order each happened; retires transports
    /// with nothing left waiting.
    private func takeNotices() {
        for transport in transports {
            for notice in transport.takeNotices() { show(notice, from: transport) }
        }
        retired.removeAll { old in
            guard old.waiting == 0 else { return false }
            old.close()
            targets[ObjectIdentifier(old)] = nil
            return true
        }
    }

    private func show(_ notice: TransportNotice, from transport: any Transport) {
        switch notice {
        case .event(let event):
            statistics[transport.kind].record(event)
            book.record(event, target: target(of: transport), transport: transport.kind, tcpMode: transport.tcpMode)
            switch event {
            case .noise(let noise):
                // Summed and shown before the next outcome, or after a second at the prompt.
                if var unshown = unshownNoise {
                    unshown.noise.merge(noise)
                    unshownNoise = unshown
                } else {
                    unshownNoise = (noise, transport.kind, .now)
                }
                return
            case .late(let late):
                presenter.show(event, transport: transport.kind, peer: nil, target: configuration.target.description)
                record(
                    late.line.text.hasPrefix(":") ? ":" + late.line.text : late.line.text, outcome: .late, rtt: late.roundTrip,
                    via: (transport.kind, transport.tcpMode))
            case .unasked(var unasked) where terminal.source != nil:
                flushFlood(force: false)
                let shown = floodGate.admit(unasked.count)
                if shown < unasked.replies.count {
                    floodGate.hold(unasked.replies.count - shown)
                    unasked.replies.removeLast(unasked.replies.count - shown)
                }
                floodGate.hold(unasked.dropped)
                unasked.dropped = 0
                if !unasked.isEmpty { presenter.show(.unasked(unasked), transport: transport.kind, peer: nil, target: configuration.target.description) }
            default:
                presenter.show(event, transport: transport.kind, peer: nil, target: configuration.target.description)
            }
        case .queued(_, let line, let ahead):
            presenter.queued(line, ahead: ahead)
        case .unsent(let id, let line):
            presenter.unsent(line)
            if let unsent = pending.removeValue(forKey: id), let recordAs = unsent.recordAs {
                record(recordAs, outcome: .cancelled, rtt: nil, for: id, via: (transport.kind, transport.tcpMode), target: unsent.target)
            }
        case .settled(let id, let exchange):
            flushNoise()
            settled(exchange, id: id, as: pending.removeValue(forKey: id) ?? Pending(recordAs: nil, target: target(of: transport)))
        }
    }

    private func flushNoise() {
        guard let unshown = unshownNoise else { return }
        unshownNoise = nil
        presenter.show(.noise(unshown.noise), transport: unshown.transport, peer: nil, target: configuration.target.description)
    }

    private func closeTransports() {
        for transport in transports { transport.close() }
        transport = nil
        retired = []
    }

    /// Sets the current transport aside: closed now if nothing waits on it, else once it settles.
    private func retireTransport() {
        guard let current = transport else { return }
        transport = nil
        if current.waiting == 0 {
            current.close()
            targets[ObjectIdentifier(current)] = nil
        } else {
            retired.append(current)
        }
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
            commandFailed = false
            command.run(self, arguments)
            if name != "nohist" { record(line.text, outcome: commandFailed ? .error : .command, rtt: nil) }
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
            fail(Presenter.describe(CommandError(word, match)))
        }
    }

    private func remember(_ line: Line) {
        source.addToRecall(line.text)
        lastLine = line
    }

    /// Records `line` in the history; for a line sent (`id`), in the place kept for it when it was
    /// sent, with the transport (and TCP mode) and target it went on.
    private func record(
        _ line: String, outcome: HistoryOutcome, rtt: Duration?, for id: SubmissionID? = nil,
        via: (kind: TransportKind, mode: TCPMode?)? = nil, target: String? = nil
    ) {
        let via = via ?? (configuration.transport, configuration.tcpMode)
        let entry = HistoryRecord.now(
            transport: via.kind, tcpMode: via.mode, target: target ?? configuration.target.description,
            outcome: outcome, rttNanoseconds: rtt?.wholeNanoseconds, line: line)
        if let id, let place = unrecorded.firstIndex(where: { $0.id == id }) {
            unrecorded[place].entry = entry
        } else if outcome == .late {
            // Not typed: it happened now, before the outcomes still awaited.
            unrecorded.insert((nil, entry), at: unrecorded.firstIndex { $0.entry == nil } ?? unrecorded.endIndex)
        } else {
            unrecorded.append((nil, entry))
        }
        // Lines typed ahead settle in any order; the history keeps the order they were typed in.
        while let first = unrecorded.first, let ready = first.entry {
            unrecorded.removeFirst()
            if let problem = history.append(ready) { presenter.warning(problem) }
        }
    }

    private var interruption: @Sendable () -> Int32? { { [interruptions] in interruptions.pending } }

    /// What to do when a line settles.
    private struct Pending {
        /// The line as the history records it (nil: not recorded).
        var recordAs: String?
        /// The target it was sent to (`:connect` may change the session's meanwhile).
        var target: String
    }

    private func currentTransport() -> any Transport {
        if let transport { return transport }
        let made: any Transport
        switch configuration.transport {
        case .udp:
            made = UDPTransport(addresses: addresses, interruption: interruption)
        case .tcp:
            made = TCPTransport(addresses: addresses, mode: configuration.tcpMode, framing: configuration.tcpFraming, interruption: interruption)
        }
        transport = made
        targets[ObjectIdentifier(made)] = configuration.target.description
        return made
    }

    /// The target each transport was made for: the :stats path of what it reports apart from
    /// lines (late replies, noise, connects), which may come after :connect changed the target.
    private var targets: [ObjectIdentifier: String] = [:]

    private func target(of transport: any Transport) -> String {
        targets[ObjectIdentifier(transport)] ?? configuration.target.description
    }

    /// Sends `payload`, and records `recordAs` in the history (nil: don't) once it settles. At a
    /// terminal this returns at once; in a script, once the line has settled.
    private func send(_ typed: Line, recordAs: String?) {
        let payload: Line
        switch configuration.replies.prepare(typed, over: configuration.transport, framing: configuration.tcpFraming, held: &heldForDataBlock) {
        case .send(let line): payload = line
        case .hold: return presenter.meta("(the next line is its data block)")
        case .problem(let message): return fail(message)
        }
        let transport = currentTransport()
        // The framing follows :frame, :crlf and :connect without a new connection.
        if let tcp = transport as? TCPTransport { tcp.lineFraming = configuration.tcpFraming }
        let id = transport.submit(payload, timeout: configuration.timeout)
        pending[id] = Pending(recordAs: recordAs, target: configuration.target.description)
        if recordAs != nil { unrecorded.append((id, nil)) }
        takeNotices()
        guard terminal.source == nil else { return }
        var cancelled = false
        while pending[id] != nil && !presenter.outputClosed {
            if !cancelled, let signal = interruptions.pending {
                cancelled = true
                transport.cancelWaiting(signal: signal)
                takeNotices()
                continue
            }
            serviceTransports(ready: Poller.wait(transport.interests, until: transport.nextDeadline))
        }
    }

    /// Shows, counts and records the outcome of a line.
    private func settled(_ exchange: Exchange, id: SubmissionID, as pending: Pending) {
        statistics[exchange.transport].record(exchange)
        book.record(exchange, target: pending.target)
        presenter.show(exchange, target: configuration.target.description)
        if tracing { presenter.showTrace(exchange) }
        lastExchange = exchange
        switch exchange.outcome {
        case .reply: break
        case .failed(let failure) where failure.isConnectionFailure:
            exitStatus = max(exitStatus, ExitStatus.usageOrConnection)
        case .lost, .truncated, .malformed, .cancelled, .failed:
            exitStatus = max(exitStatus, ExitStatus.someFailed)
        }
        if let recordAs = pending.recordAs {
            record(
                recordAs, outcome: HistoryOutcome(exchange.outcome), rtt: exchange.reply?.roundTrip, for: id,
                via: (exchange.transport, exchange.tcpMode), target: pending.target)
        }
        if case .cancelled(let signal) = exchange.outcome, terminal.source == nil {
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
        if transport != configuration.transport || (transport == .tcp && mode != nil && mode != configuration.tcpMode) {
            retireTransport()
        }
        configuration.transport = transport
        if let mode { configuration.tcpMode = mode }
        let how =
            transport == .udp
            ? "one datagram per line" : (configuration.tcpMode == .perLine ? "a new connection for each line" : "one connection for the session")
        presenter.meta("now sending over \(transportName(transport, configuration.tcpMode)) to \(configuration.target), \(how)")
    }

    public func connect(to target: Target) throws(ResolutionError) {
        let resolved = try Resolver.resolve(target, family: configuration.family)
        retireTransport()
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

    public func resetStatistics() {
        statistics = SessionStatistics()
        book = StatisticsBook()
    }

    public func ping(_ plan: PingPlan) {
        // A run lasts seconds: its lines are shown as they come, not held for this wake-up's redraw.
        terminal.release()
        // The address UDP lines reach now first; as they do, move on from one that refuses
        // before anything came back (localhost as ::1 to a server on 127.0.0.1 only).
        let first = (transport as? UDPTransport)?.currentPeer ?? addresses[0]
        var candidates = [first] + addresses.filter { $0 != first }
        let target = configuration.target.description
        var tally = PingTally()
        var result: (end: PingEnd, sent: Int, elapsed: Duration)
        repeat {
            let address = candidates.removeFirst()
            if !style.json {
                presenter.info("PING \(target) (\(address)): \(plan.size) data bytes, \(plan.count) every \(DurationGrammar.format(plan.interval))")
            }
            tally = PingTally()
            result = Pinger.run(plan, to: address, interruption: interruption) { event in
                tally.count(event)
                presenter.show(event, target: target)
            }
            guard case .failed(.refused) = result.end, tally.received == 0, let next = candidates.first else { break }
            presenter.meta("udp: nothing listening on \(address); trying \(next)")
        } while true
        tally.transmitted = result.sent
        switch result.end {
        case .completed:
            break
        case .interrupted(let signal):
            _ = interruptions.take()
            // Ctrl-C ends the probing, with its summary, and the session goes on; another signal ends it.
            if signal != SIGINT { endedBy = signal } else if style.interactive { source.discardPending() }
        case .failed(let failure):
            presenter.error(presenter.describe(failure, exchange: Exchange(line: Line("ping"), transport: .udp, outcome: .failed(failure))))
            exitStatus = max(exitStatus, failure.isConnectionFailure ? ExitStatus.usageOrConnection : ExitStatus.someFailed)
        }
        for line in tally.summary(target: target, elapsed: result.elapsed) { presenter.info(line) }
        if tally.received < tally.transmitted { exitStatus = max(exitStatus, ExitStatus.someFailed) }
    }

    private var style: OutputStyle { configuration.style }

    public func measureClock() -> ClockCheck { ClockCheck.run() }

    /// Runs :compare on transports of its own, so that the session's connection and statistics
    /// are left as they were.
    public func compare(_ plan: ComparePlan) -> CompareResult {
        let udp = UDPTransport(addresses: addresses, interruption: interruption)
        let persistent = TCPTransport(addresses: addresses, mode: .persistent, framing: configuration.tcpFraming, interruption: interruption)
        let perLine = TCPTransport(addresses: addresses, mode: .perLine, interruption: interruption)
        defer { udp.close(); persistent.close(); perLine.close() }
        var result = CompareResult()
        for size in plan.sizes ?? [plan.line.bytes.count] {
            let line = plan.line(ofSize: plan.sizes == nil ? nil : size)
            var comparison = Comparison(size: size)
            for round in 0..<plan.rounds {
                let paths = ComparedPath.allCases
                for i in paths.indices {
                    let path = paths[(i + round) % paths.count]
                    let exchange: Exchange
                    switch path {
                    case .udp: exchange = udp.exchange(line, timeout: configuration.timeout)
                    case .tcpPersistent: exchange = persistent.exchange(line, timeout: configuration.timeout)
                    case .tcpPerLine: exchange = perLine.exchange(line, timeout: configuration.timeout)
                    }
                    if case .cancelled(let signal) = exchange.outcome {
                        _ = interruptions.take()
                        if signal != SIGINT { endedBy = signal }
                        result.comparisons.append(comparison)
                        result.interrupted = true
                        return result
                    }
                    comparison.record(exchange, on: path)
                }
            }
            result.comparisons.append(comparison)
        }
        return result
    }

    public func info(_ text: String) { presenter.info(text) }
    public func meta(_ text: String) { presenter.meta(text) }

    /// A command that could not be done: one line, and — in a script, where nobody saw it —
    /// exit status 2 (a usage error). A person's typo at the prompt does not decide the status.
    public func fail(_ message: String) {
        commandFailed = true
        presenter.error(message)
        if !configuration.style.interactive {
            exitStatus = max(exitStatus, ExitStatus.usageOrConnection)
        }
    }

    public func table(_ rows: [[String]], rightAligned: Set<Int>) {
        for line in Self.columns(rows.map { $0.map(Sanitizer.escape) }, rightAligned: rightAligned) { presenter.info(line) }
    }

    public var describeResolution: (ResolutionError) -> String { presenter.describe }

    public var terminalWidth: Int { terminalColumns(configuration.style.stdoutIsTerminal ? STDOUT_FILENO : nil) }

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
