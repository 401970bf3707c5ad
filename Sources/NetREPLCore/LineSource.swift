// The REPL's view of where lines come from: a terminal with readline, piped stdin, or a script in tests.

import NetREPLTransport

/// One result of asking a line source for the next line.
public enum LineInput: Sendable, Equatable {
    /// A complete line, without its terminating newline, with the exact bytes it was read from.
    case line(Line)
    /// The user pressed Ctrl-C at the prompt: the line was discarded; ask again.
    case interrupted
    /// End of input (Ctrl-D on an empty line, or EOF on a pipe).
    case endOfInput
    /// A terminating signal (SIGTERM, SIGHUP) arrived while waiting for input.
    case terminated(signal: Int32)
}

/// A source of input lines. Implementations: `ReadlineLineSource` (LineEditing, a terminal),
/// `PipedLineSource` (stdin that is not a tty), `ScriptedLineSource` (tests).
public protocol LineSource: AnyObject {
    /// True when a person is typing: prompts, colour and the banner are shown only then.
    var isInteractive: Bool { get }
    /// Reads the next line, showing `prompt` when interactive.
    func readLine(prompt: String) -> LineInput
    /// Adds a line to the in-memory recall list (Up-arrow, Ctrl-R). No-op when not interactive.
    func addToRecall(_ line: String)
    /// Drops lines read ahead but not yet returned (the rest of a paste): Ctrl-C cancelled a wait.
    func discardPending()
}

extension LineSource {
    public func discardPending() {}
}

/// Completion candidates for the text being completed (`word`) given the line up to the cursor
/// (`lineBeforeCursor`, which ends with `word`). Pure: tested without a terminal.
public typealias CompletionProvider = @Sendable (_ word: String, _ lineBeforeCursor: String) -> [String]

/// A fixed list of lines, for tests and `-c LINE`.
public final class ScriptedLineSource: LineSource {
    private var inputs: [LineInput]
    public private(set) var recalled: [String] = []
    public let isInteractive: Bool

    public init(_ inputs: [LineInput], interactive: Bool = false) {
        self.inputs = inputs
        self.isInteractive = interactive
    }

    public convenience init(lines: [String], interactive: Bool = false) {
        self.init(lines.map { .line(Line($0)) }, interactive: interactive)
    }

    public func readLine(prompt: String) -> LineInput {
        inputs.isEmpty ? .endOfInput : inputs.removeFirst()
    }

    public func addToRecall(_ line: String) {
        recalled.append(line)
    }
}

/// A line source that the session drives from its own wait, so that the prompt stays live while
/// replies, late replies and server data arrive (interactive terminals). The session polls
/// `inputDescriptor` together with its sockets and calls `service()` after every wake-up; while
/// the prompt is up, everything written to the terminal goes through `printAbove`.
public protocol LiveLineSource: LineSource {
    /// The descriptor to watch for readability (the terminal).
    var inputDescriptor: Int32 { get }
    /// Puts the editing line up with `prompt`, or changes the prompt of the line already up,
    /// keeping what is typed.
    func showPrompt(_ prompt: String)
    /// Reads the keys available now without blocking, and acts on pending terminal signals
    /// (Ctrl-C, Ctrl-Z, a resize, SIGTERM, SIGHUP). Returns what was completed, in order: a line
    /// for each Enter or each line of a paste, `.interrupted`, `.endOfInput` or `.terminated`.
    /// The prompt is up again (empty) after a completed line until `hidePrompt`.
    func service() -> [LineInput]
    /// Writes `bytes` (whole lines, each ending in a newline) above the editing line; what is
    /// typed and the cursor stay as they were.
    func printAbove(_ bytes: [UInt8])
    /// Takes the editing line down and leaves the cursor on a fresh line, the terminal in its
    /// normal mode (end of the session, or before output that must not be interleaved).
    func hidePrompt()
}
