// netrepl's command line: options into a session configuration, the line source chosen by the
// terminal, the optional embedded server, and exit statuses (2 for usage errors, not 64).

import Grammars
import ArgumentParser
import CommandLineOptions
import Glibc
import LineEditing
import Logging
import NetREPLCore
import NetREPLProtocol
import NetREPLServer
import NetREPLTransport
import SystemPackage

enum TransportFlag: String, EnumerableFlag {
    case udp, tcp

    static func help(for value: TransportFlag) -> ArgumentHelp? {
        switch value {
        case .udp: return "Send each line as one UDP datagram (the default)."
        case .tcp: return "Send each line over TCP, on one persistent connection unless --per-line is given."
        }
    }
}

@main
struct NetREPLCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "netrepl",
        abstract: "Type lines, read the uppercase replies of a netrepl-server and their round-trip times.",
        discussion: """
            Lines are sent to HOST (default localhost) on PORT (default 12000) over UDP unless --tcp \
            is given; :tcp and :udp switch during the session, :help lists the commands. When standard \
            input is not a terminal, each line read gives one reply line on standard output and \
            round-trip times go to standard error. Exit status: 0 when every line got its reply, 1 \
            when some were lost or failed, 2 for usage and connection errors, 3 when a check \
            (:expect, :assert) failed. The load generator has its own help: netrepl bench -h.
            """,
        version: netreplVersion
    )

    @Flag(help: "The transport for the first line.")
    var transport: TransportFlag?

    @Flag(name: .customLong("per-line"), help: "Open a new TCP connection for each line, as the textbook client does (implies --tcp).")
    var perLine = false

    @Argument(help: ArgumentHelp("The server's host name or address (default: localhost).", valueName: "host"))
    var host: String?

    @Argument(help: ArgumentHelp("The server's port, 1 to 65535 (default: 12000).", valueName: "port"))
    var portArgument: Port?

    @Flag(name: .customShort("4"), help: "Use IPv4 addresses only.")
    var ipv4Only = false

    @Flag(name: .customShort("6"), help: "Use IPv6 addresses only.")
    var ipv6Only = false

    @Option(
        help: ArgumentHelp(
            "How long to wait for each reply (and each TCP connect): 1, 0.5s, 250ms; a bare number is seconds (default: 1 s).", valueName: "duration"))
    var timeout: DurationOption?

    @Flag(help: "Start the companion uppercase server in this process on 127.0.0.1 and talk to it.")
    var serve = false

    /// With --serve, the embedded server's impairment of its UDP replies (the pinger lab).
    @OptionGroup(title: "Impairment of the embedded server's UDP replies (with --serve)")
    var impairment: ImpairmentOptions

    @Option(help: ArgumentHelp("The server's port; with --serve, the port the embedded server listens on (default: a free one).", valueName: "port"))
    var port: Port?

    @Option(
        name: .customLong("history-file"),
        help: ArgumentHelp(
            "Where to keep the history (default: $NETREPL_HISTFILE, else $XDG_STATE_HOME/netrepl/history, else ~/.local/state/netrepl/history); /dev/null keeps none.",
            valueName: "path"))
    var historyFile: String?

    @Option(
        help: ArgumentHelp(
            "Where a TCP reply ends: line (the default), lines=N, until=TEXT, idle=D, close, or the presets resp, memcached, smtp, http.", valueName: "rule"))
    var frame: FramingRule?

    @Flag(help: "End each line sent in CR LF rather than LF (the presets always do).")
    var crlf = false

    @Flag(name: .customLong("no-suggest"), help: "Do not suggest the framing preset of a well-known port at start.")
    var noSuggest = false

    @Flag(
        name: .customLong("print-config"),
        help: "Print each setting in force and where it came from (default, configuration file, environment, command line), then exit.")
    var printConfig = false

    @Flag(help: "Write one JSON object per exchange to standard output.")
    var json = false

    @Flag(help: "Print replies as the bytes came, even on a terminal (no escaping of control characters).")
    var raw = false

    @Flag(name: [.short, .long], help: "When not interactive, print only replies and errors: no round-trip lines, notices or summary.")
    var quiet = false

    @Flag(
        name: .customLong("self-test"),
        help: "Measure this machine's timer resolution, wake-up latency and kernel send stamps (as :clock does), print them and exit.")
    var selfTest = false

    @Option(
        name: [.customShort("c"), .customLong("command")],
        help: ArgumentHelp("Send LINE (or run it, if it is a : command) and exit; may be repeated.", valueName: "line"))
    var lines: [String] = []

    @Option(
        name: [.customShort("f"), .customLong("file")],
        help: ArgumentHelp("Run the session file FILE: its lines and commands in order (a line starting with # is a comment), then exit.", valueName: "file"))
    var file: String?

    func validate() throws {
        if file != nil && !lines.isEmpty { throw ValidationError("-f and -c exclude each other; give one of them") }
        if ipv4Only && ipv6Only { throw ValidationError("-4 and -6 exclude each other; give one of them") }
        if perLine && transport == .udp { throw ValidationError("--per-line is a TCP mode; drop --udp or --per-line") }
        if let timeout, timeout.duration <= .zero { throw ValidationError("--timeout must be more than 0; write it like 1, 0.5s or 250ms") }
        if !serve && (impairment.isActive || impairment.seed != nil) {
            throw ValidationError("--loss, --delay, --jitter, --duplicate and --seed impair the embedded server; add --serve")
        }
        if serve {
            if host != nil { throw ValidationError("--serve talks to its own server on 127.0.0.1; drop HOST, or drop --serve") }
            if ipv6Only { throw ValidationError("--serve listens on 127.0.0.1, an IPv4 address; drop -6") }
        } else {
            // 0, any free port, is for listening (--serve); a server to talk to has a port.
            if port?.isAny == true { throw ValidationError("--port 0 means any free port, which only --serve can use; give 1 to 65535") }
            if portArgument?.isAny == true { throw ValidationError("PORT 0 means any free port, which only --serve can use; give 1 to 65535") }
            if let port, let p = portArgument, port != p { throw ValidationError("PORT \(p) and --port \(port) disagree; give one of them") }
        }
    }

    mutating func run() async throws {
        Signals.install()
        signal(SIGPIPE, SIG_IGN)
        let stderrSink = FileDescriptorSink(.standardError)
        if selfTest {
            let stdoutSink = FileDescriptorSink(.standardOutput)
            for line in clockReport(ClockCheck.run()) { stdoutSink.write(Array((line + "\n").utf8)) }
            Glibc.exit(ExitStatus.success)
        }
        func die(_ message: String) -> Never {
            stderrSink.write(Array("netrepl: \(message)\n".utf8))
            Glibc.exit(ExitStatus.usageOrConnection)
        }

        var target = Target(host: host ?? "localhost", port: (portArgument ?? port ?? .standard).value)
        var server: EmbeddedServer?
        var notes: [String] = []
        if serve {
            var logger = Logger(label: "netrepl-server", factory: { StreamLogHandler.standardError(label: $0) })
            logger.logLevel = .warning
            let impaired = Impairment(
                loss: impairment.loss.value, delay: impairment.delay.duration,
                jitter: impairment.jitter.duration, duplicate: impairment.duplicate.value,
                seed: impairment.seed)
            do {
                let embedded = try await EmbeddedServer.start(
                    configuration: ServerConfiguration(host: "127.0.0.1", port: port?.value ?? 0, impairment: impaired), logger: logger)
                target = Target(host: "127.0.0.1", port: embedded.address.port)
                notes.append("embedded netrepl-server on 127.0.0.1:\(embedded.address.port) (udp and tcp); it stops when netrepl does.")
                if impaired.isActive { notes.append("its UDP replies are impaired: \(impaired.summary).") }
                server = embedded
            } catch {
                die("cannot start the embedded server: \(EmbeddedServer.describe(error))")
            }
        }

        var scripted: [Line]?
        if let file {
            switch SessionFile.read(file) {
            case .success(let lines): scripted = lines
            case .failure(let problem): die("cannot read \(file): \(problem.description); check the path")
            }
        }
        // The configuration file: the command line wins over it, a [host:port] section over the rest.
        let configPath = ConfigFile.defaultPath()
        let config = configPath.flatMap(ConfigFile.load) ?? ConfigFile.parse("", path: configPath ?? "")
        for warning in config.warnings { stderrSink.write(Array("netrepl: warning: \(warning)\n".utf8)) }
        let cliTransport: TransportKind? = transport == .tcp || perLine ? .tcp : (transport == .udp ? .udp : nil)
        let resolvedTransport = config.resolve(.transport, for: target, commandLine: cliTransport, fallback: .udp) { TransportKind(rawValue: $0.lowercased()) }
        let resolvedPerLine = config.resolve(.perLine, for: target, commandLine: perLine ? true : nil, fallback: false, read: ConfigFile.readBoolean)
        let resolvedTimeout = config.resolve(.timeout, for: target, commandLine: timeout?.duration, fallback: .seconds(1)) { DurationGrammar.parse($0) }
        let resolvedFrame = config.resolve(.frame, for: target, commandLine: frame, fallback: .line) { try? FramingRule.parse($0) }
        let resolvedCRLF = config.resolve(.crlf, for: target, commandLine: crlf ? true : nil, fallback: false, read: ConfigFile.readBoolean)
        let resolvedSuggest = config.resolve(.suggest, for: target, commandLine: noSuggest ? false : nil, fallback: true, read: ConfigFile.readBoolean)
        let environmentHistory = environment("NETREPL_HISTFILE").flatMap { $0.isEmpty ? nil : $0 }
        let resolvedHistoryFile = config.resolve(
            .historyFile, for: target, commandLine: historyFile ?? environmentHistory,
            fallback: defaultHistoryPath(option: nil) ?? "none"
        ) { $0 }
        let historyFileOrigin: ConfigOrigin = historyFile == nil && environmentHistory != nil ? .environment("NETREPL_HISTFILE") : resolvedHistoryFile.origin
        let environmentSize = environment("NETREPL_HISTSIZE").flatMap { $0.isEmpty ? nil : $0 }
        let resolvedHistorySize = config.resolve(
            .historySize, for: target, commandLine: environmentSize.map { _ in historyCapacity().capacity },
            fallback: 1000
        ) { Int($0) }
        if printConfig {
            let rows: [(String, String, ConfigOrigin)] = [
                ("target", target.description, host == nil && portArgument == nil && port == nil ? .defaultValue : .commandLine),
                ("config-file", configPath.map { config.entries.isEmpty && config.warnings.isEmpty ? "\($0) (none there)" : $0 } ?? "none", .defaultValue),
                ("transport", resolvedTransport.value.rawValue, resolvedTransport.origin),
                ("per-line", String(resolvedPerLine.value), resolvedPerLine.origin),
                ("timeout", DurationGrammar.format(resolvedTimeout.value), resolvedTimeout.origin),
                ("frame", resolvedFrame.value.description, resolvedFrame.origin),
                ("crlf", String(resolvedCRLF.value), resolvedCRLF.origin),
                ("suggest", String(resolvedSuggest.value), resolvedSuggest.origin),
                ("history-file", resolvedHistoryFile.value, historyFileOrigin),
                ("history-size", String(resolvedHistorySize.value), environmentSize != nil ? .environment("NETREPL_HISTSIZE") : resolvedHistorySize.origin),
            ]
            let width = rows.map(\.0.count).max() ?? 0
            for (key, value, origin) in rows {
                print(key + String(repeating: " ", count: width - key.count) + " = " + value + "    # " + origin.description)
            }
            Glibc.exit(ExitStatus.success)
        }

        let stdinIsTerminal = isTerminal(STDIN_FILENO) && lines.isEmpty && scripted == nil
        let style = OutputStyle.detect(
            stdinIsTerminal: stdinIsTerminal, stdoutIsTerminal: isTerminal(STDOUT_FILENO),
            stderrIsTerminal: isTerminal(STDERR_FILENO), raw: raw, json: json, quiet: quiet)

        // History belongs to people typing: a script piping thousands of lines must not flood the
        // recall list. A script that wants it says so with --history-file.
        var (capacity, capacityProblem) = historyCapacity()
        if environmentSize == nil { capacity = min(resolvedHistorySize.value, 10_000_000) }
        let keepHistory = style.interactive || historyFile != nil
        let history = HistoryStore(
            path: keepHistory
                ? defaultHistoryPath(option: historyFile ?? (resolvedHistoryFile.origin == .defaultValue ? nil : resolvedHistoryFile.value)) : nil,
            capacity: capacity)
        if let capacityProblem, keepHistory { history.note(capacityProblem) }
        let source: LineSource
        var editor: ReadlineLineSource?
        if let scripted {
            source = ScriptedLineSource(scripted.map { .line($0) })
        } else if !lines.isEmpty {
            source = ScriptedLineSource(lines: lines)
        } else if style.interactive {
            let readline = ReadlineLineSource(programName: "netrepl", completer: CommandTable.completionProvider, recall: history.recallLines)
            editor = readline
            source = readline
            if let locale = readline.nonUTF8Locale {
                notes.append(
                    "\(locale.variable)=\(locale.name) is not UTF-8: characters beyond ASCII are sent as typed but edited byte by byte; set \(locale.variable)=C.UTF-8 to edit them."
                )
            }
        } else {
            source = PipedLineSource()
        }

        var configuration = SessionConfiguration(
            target: target,
            family: ipv4Only ? .ipv4 : (ipv6Only ? .ipv6 : .any),
            transport: resolvedPerLine.value ? .tcp : resolvedTransport.value,
            tcpMode: resolvedPerLine.value ? .perLine : .persistent,
            timeout: resolvedTimeout.value,
            style: style,
            bannerNotes: notes)
        var settings = ReplySettings()
        settings.rule = resolvedFrame.value
        settings.crlf = resolvedCRLF.value
        settings.suggest = resolvedSuggest.value
        configuration.replies = settings
        configuration.scriptName = file
        let status: Int32
        do {
            let session = try Session(
                configuration: configuration, source: source, history: history,
                out: FileDescriptorSink(.standardOutput), err: stderrSink)
            status = session.run()
        } catch {
            editor?.restoreTerminal()
            await server?.stop()
            die(error.description)
        }
        editor?.restoreTerminal()
        await server?.stop()
        Glibc.exit(status)
    }

    /// Parses and runs; usage errors exit 2 (the documented status), not ArgumentParser's 64.
    /// `bench` as the first word selects the load generator. It is dispatched here rather than as
    /// an ArgumentParser subcommand, which would let the root's HOST argument swallow the word
    /// and add a `help` subcommand that shadows a host called help; `netrepl -- bench` still
    /// reaches a host named bench.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "bench" {
            await run(BenchCommand.self, Array(arguments.dropFirst()))
        }
        await run(Self.self, arguments)
    }

    private static func run<Command: ParsableCommand>(_ type: Command.Type, _ arguments: [String]) async -> Never {
        do {
            let parsed = try type.parse(arguments)
            if var command = parsed as? any AsyncParsableCommand {
                try await command.run()
            } else {
                var command = parsed
                try command.run()
            }
            Glibc.exit(0)
        } catch {
            let code = type.exitCode(for: error)
            let message = type.fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                Glibc.exit(0)
            }
            if !message.isEmpty {
                FileDescriptorSink(.standardError).write(Array("\(message)\n".utf8))
            }
            Glibc.exit(code == .validationFailure ? ExitStatus.usageOrConnection : code.rawValue)
        }
    }
}

extension FramingRule: ExpressibleByArgument {
    public init?(argument: String) {
        guard let rule = try? FramingRule.parse(argument) else { return nil }
        self = rule
    }

    public static var defaultCompletionKind: CompletionKind { .list(FramingRule.examples) }
}
