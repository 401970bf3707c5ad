// How a session speaks: to a person on a terminal (prompt, colour, escaped replies), to a pipe
// (replies alone on stdout, everything else on stderr) or as JSON lines. Sinks are injectable.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where text goes: a file descriptor, or a buffer in tests.
public protocol OutputSink: AnyObject {
    func write(_ bytes: [UInt8])
    /// True once the reader has gone (EPIPE): a script piped into `head` must stop us.
    var isClosed: Bool { get }
}

extension OutputSink {
    func write(_ text: String) { write(Array(text.utf8)) }
    public var isClosed: Bool { false }
}

/// Unbuffered output to a file descriptor: each call is one write, so stdout and stderr lines
/// appear in the order they were produced.
public final class FileDescriptorSink: OutputSink {
    public let fd: Int32
    public private(set) var failed = false

    public init(fd: Int32) { self.fd = fd }

    public func write(_ bytes: [UInt8]) {
        guard !failed, !bytes.isEmpty else { return }
        if writeAll(fd, bytes) != nil { failed = true }
    }

    public var isClosed: Bool { failed }
}

/// Collects output in memory (tests).
public final class BufferSink: OutputSink {
    public private(set) var bytes: [UInt8] = []
    public init() {}
    public func write(_ bytes: [UInt8]) { self.bytes += bytes }
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// What kind of output the session produces.
public struct OutputStyle: Sendable, Equatable {
    /// A person is typing: banner, prompt, and meta lines on stdout next to the replies.
    public var interactive: Bool
    /// ANSI dim/red for meta lines and errors (stdout a tty, NO_COLOR unset, TERM not dumb).
    public var colour: Bool
    /// Replies with controls and invalid UTF-8 escaped (stdout is a tty and --raw not given).
    public var escapeReplies: Bool
    /// One JSON object per exchange on stdout.
    public var json: Bool
    /// Non-interactive: no RTT lines, notices or summary; replies and errors only.
    public var quiet: Bool

    public init(interactive: Bool, colour: Bool, escapeReplies: Bool, json: Bool = false, quiet: Bool = false) {
        self.interactive = interactive
        self.colour = colour
        self.escapeReplies = escapeReplies
        self.json = json
        self.quiet = quiet
    }

    /// Decides the style from the terminal and the environment, as the man page documents.
    public static func detect(stdinIsTerminal: Bool, stdoutIsTerminal: Bool, raw: Bool, json: Bool, quiet: Bool,
                              environment env: (String) -> String? = environment) -> OutputStyle {
        let noColour = !(env("NO_COLOR") ?? "").isEmpty || env("TERM") == "dumb"
        return OutputStyle(interactive: stdinIsTerminal && !json,
                           colour: stdinIsTerminal && stdoutIsTerminal && !noColour && !json,
                           escapeReplies: stdoutIsTerminal && !raw,
                           json: json, quiet: quiet)
    }
}

/// Formats everything the session shows.
final class Presenter {
    let style: OutputStyle
    let out: OutputSink
    let err: OutputSink

    init(style: OutputStyle, out: OutputSink, err: OutputSink) {
        self.style = style
        self.out = out
        self.err = err
    }

    private func dim(_ s: String) -> String { style.colour ? "\u{1b}[2m\(s)\u{1b}[0m" : s }
    private func red(_ s: String) -> String { style.colour ? "\u{1b}[31m\(s)\u{1b}[0m" : s }

    /// Where meta lines (RTTs, notices, command output) go: next to replies for a person, else stderr.
    private var metaSink: OutputSink { style.interactive ? out : err }

    /// Command output (asked for, so never suppressed): stdout for a person, else stderr, which
    /// keeps stdout for replies alone in scripts.
    func info(_ text: String) {
        metaSink.write(text + "\n")
    }

    /// Dimmed meta information (connect times, late replies), suppressed by --quiet and --json.
    func meta(_ text: String) {
        if !style.interactive && (style.quiet || style.json) { return }
        metaSink.write(dim(text) + "\n")
    }

    /// A one-line error: always shown, on stderr.
    func error(_ text: String) {
        err.write(red("netrepl: " + text) + "\n")
    }

    func warning(_ text: String) {
        err.write("netrepl: warning: " + text + "\n")
    }

    func replyText(_ bytes: [UInt8]) -> [UInt8] {
        style.escapeReplies ? Array(Sanitizer.escape(bytes).utf8) : bytes
    }

    func show(_ exchange: Exchange, target: String) {
        for event in exchange.events { show(event, exchange: exchange, target: target) }
        if style.json {
            out.write(json(exchange, target: target) + "\n")
            return
        }
        switch exchange.outcome {
        case .ok:
            out.write(replyText(exchange.reply ?? []) + [UInt8(ascii: "\n")])
            meta(rttLine(exchange))
        case .lost:
            // Named, because in a script many lines may be lost and stdout shows none of them.
            error("lost \"\(excerpt(exchange.line))\": " + (exchange.error ?? "no reply"))
        default:
            error(exchange.error ?? "the exchange failed")
        }
    }

    /// The line as it may be quoted in a message: escaped on a terminal, at most 60 characters.
    func excerpt(_ line: String) -> String {
        let shown = style.escapeReplies ? Sanitizer.escape(Array(line.utf8)) : line
        return shown.count > 60 ? String(shown.prefix(59)) + "…" : shown
    }

    /// `udp 127.0.0.1:12000 · 0.084 ms · 11 B`
    func rttLine(_ e: Exchange) -> String {
        var parts = [e.transport.rawValue + (e.tcpMode == .perLine ? " per-line" : "") + " " + e.peer]
        if let connect = e.connectNanoseconds {
            parts.append("connect " + formatMilliseconds(connect))
            parts.append("exchange " + formatMilliseconds(e.rttNanoseconds ?? 0))
        } else {
            parts.append(formatMilliseconds(e.rttNanoseconds ?? 0))
        }
        parts.append(e.bytesSent == e.bytesReceived ? "\(e.bytesSent) B" : "\(e.bytesSent) B → \(e.bytesReceived) B")
        return parts.joined(separator: " · ")
    }

    private func show(_ event: TransportEvent, exchange: Exchange, target: String) {
        switch event {
        case .connected(let peer, let nanos, let reason):
            if let reason {
                meta("tcp: \(reason); reconnected to \(peer) in \(formatMilliseconds(nanos))")
            } else {
                meta("tcp: connected to \(peer) in \(formatMilliseconds(nanos))")
            }
        case .notice(let text):
            meta(exchange.transport.rawValue + ": " + text)
        case .late(let late):
            if style.json {
                out.write(jsonLate(late, exchange: exchange, target: target) + "\n")
                return
            }
            let shown = String(decoding: replyText(late.payload), as: UTF8.self)
            let rtt = late.rttNanoseconds.map { " after " + formatMilliseconds($0) } ?? ""
            if late.duplicate {
                meta("duplicate reply (ignored): \(shown)")
            } else if let line = late.line {
                meta("late reply to \"\(excerpt(line))\"\(rtt) (not the reply to this line): \(shown)")
            } else {
                meta("unexpected data from the server (not the reply to this line): \(shown)")
            }
        }
    }

    private func jsonReplyFields(_ bytes: [UInt8]?) -> String {
        guard let bytes else { return "\"reply\":null" }
        if isValidUTF8(bytes) {
            return "\"reply\":" + jsonString(String(decoding: bytes, as: UTF8.self))
        }
        return "\"reply\":" + jsonString(String(decoding: bytes, as: UTF8.self)) + ",\"reply_base64\":" + jsonString(base64(bytes))
    }

    private func micros(_ nanos: UInt64?) -> String {
        nanos.map { fixed(Double($0) / 1_000, 3) } ?? "null"
    }

    func json(_ e: Exchange, target: String) -> String {
        var fields = [
            "\"transport\":" + jsonString(e.transport.rawValue),
            "\"target\":" + jsonString(target),
            "\"peer\":" + jsonString(e.peer),
            "\"line\":" + jsonString(e.line),
            jsonReplyFields(e.reply),
            "\"rtt_us\":" + micros(e.rttNanoseconds),
            "\"outcome\":" + jsonString(e.outcome.rawValue),
            "\"bytes_sent\":\(e.bytesSent)",
            "\"bytes_received\":\(e.bytesReceived)",
        ]
        if let mode = e.tcpMode { fields.insert("\"tcp_mode\":" + jsonString(mode.rawValue), at: 1) }
        var connect = e.connectNanoseconds
        for case .connected(_, let nanos, _) in e.events { connect = nanos }
        if let connect { fields.append("\"connect_us\":" + micros(connect)) }
        if let error = e.error { fields.append("\"error\":" + jsonString(error)) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    func jsonLate(_ late: LateReply, exchange e: Exchange, target: String) -> String {
        let fields = [
            "\"transport\":" + jsonString(e.transport.rawValue),
            "\"target\":" + jsonString(target),
            "\"peer\":" + jsonString(e.peer),
            "\"line\":" + (late.line.map(jsonString) ?? "null"),
            jsonReplyFields(late.payload),
            "\"rtt_us\":" + micros(late.rttNanoseconds),
            "\"outcome\":" + jsonString(late.duplicate ? "duplicate" : "late"),
            "\"bytes_received\":\(late.payload.count)",
        ]
        return "{" + fields.joined(separator: ",") + "}"
    }
}
