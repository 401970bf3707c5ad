// Where a session's text goes, and how each stream keeps a terminal safe: whatever is written to
// a stream that is a terminal passes through the sanitizer in one place, so no server bytes —
// in a reply, a late reply, an error or the history table — can move the cursor or retitle it.

import SystemPackage

/// Where text goes: a file descriptor, or a buffer in tests.
public protocol OutputSink: AnyObject {
    func write(_ bytes: [UInt8])
    /// True once the reader has gone (EPIPE): a script piped into `head` must stop us.
    var isClosed: Bool { get }
}

extension OutputSink {
    public var isClosed: Bool { false }
}

/// Unbuffered output to a file descriptor: each call is one write, so stdout and stderr lines
/// appear in the order they were produced.
public final class FileDescriptorSink: OutputSink {
    private let descriptor: FileDescriptor
    public private(set) var failed = false

    public init(_ descriptor: FileDescriptor) { self.descriptor = descriptor }

    public func write(_ bytes: [UInt8]) {
        guard !failed, !bytes.isEmpty else { return }
        do {
            _ = try descriptor.writeAll(bytes)
        } catch {
            failed = true
        }
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
    /// Stdout is a terminal: what goes there is escaped (replies too, unless `rawReplies`).
    public var stdoutIsTerminal: Bool
    /// Stderr is a terminal: what goes there is escaped, always.
    public var stderrIsTerminal: Bool
    /// `--raw`: replies go to stdout as the bytes came, even on a terminal.
    public var rawReplies: Bool
    /// One JSON object per exchange on stdout.
    public var json: Bool
    /// Non-interactive: no RTT lines, notices or summary; replies and errors only.
    public var quiet: Bool

    public init(
        interactive: Bool, colour: Bool, stdoutIsTerminal: Bool, stderrIsTerminal: Bool,
        rawReplies: Bool = false, json: Bool = false, quiet: Bool = false
    ) {
        self.interactive = interactive
        self.colour = colour
        self.stdoutIsTerminal = stdoutIsTerminal
        self.stderrIsTerminal = stderrIsTerminal
        self.rawReplies = rawReplies
        self.json = json
        self.quiet = quiet
    }

    /// Decides the style from the terminals and the environment, as the man page documents.
    public static func detect(
        stdinIsTerminal: Bool, stdoutIsTerminal: Bool, stderrIsTerminal: Bool, raw: Bool,
        json: Bool, quiet: Bool, environment env: (String) -> String? = environment
    ) -> OutputStyle {
        let noColour = !(env("NO_COLOR") ?? "").isEmpty || env("TERM") == "dumb"
        return OutputStyle(
            interactive: stdinIsTerminal && !json,
            colour: stdinIsTerminal && stdoutIsTerminal && !noColour && !json,
            stdoutIsTerminal: stdoutIsTerminal, stderrIsTerminal: stderrIsTerminal,
            rawReplies: raw, json: json, quiet: quiet)
    }
}

/// One output stream: a sink, whether it is a terminal (then everything is escaped), and colour.
final class OutputStream {
    enum Tone { case plain, dim, red }

    let sink: OutputSink
    let isTerminal: Bool
    let colour: Bool

    init(sink: OutputSink, isTerminal: Bool, colour: Bool) {
        self.sink = sink
        self.isTerminal = isTerminal
        self.colour = colour
    }

    /// Writes `text` and a newline, escaped when this stream is a terminal; colour goes on after.
    func line(_ text: String, tone: Tone = .plain) {
        let safe = isTerminal ? Sanitizer.escape(text) : text
        let coloured: String
        switch tone {
        case .plain: coloured = safe
        case .dim: coloured = colour ? "\u{1b}[2m\(safe)\u{1b}[0m" : safe
        case .red: coloured = colour ? "\u{1b}[31m\(safe)\u{1b}[0m" : safe
        }
        sink.write(Array((coloured + "\n").utf8))
    }

    /// Writes a reply's bytes and a newline: escaped on a terminal unless `raw`.
    func reply(_ bytes: [UInt8], raw: Bool) {
        if isTerminal && !raw {
            sink.write(Array((Sanitizer.escape(bytes) + "\n").utf8))
        } else {
            sink.write(bytes + [UInt8(ascii: "\n")])
        }
    }

    /// A line that is already safe in any context (JSON text escapes every control itself).
    func json(_ text: String) {
        sink.write(Array((text + "\n").utf8))
    }
}
