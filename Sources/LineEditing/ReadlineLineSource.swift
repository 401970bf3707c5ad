// The terminal line source: GNU readline through its callback interface (as CPython's readline
// module does), so that Ctrl-C, Ctrl-Z, SIGTERM and SIGHUP at the prompt are handled cleanly and
// the terminal is never left raw, and a paste of several lines is as many lines. The only file
// that touches readline's C API.

import CReadline
import NetREPLCore
import NetREPLTransport
import Synchronization

import Glibc

/// Lines typed at a terminal, with GNU readline's editing, Ctrl-R search, tab completion and an
/// in-memory recall list. readline is one process-wide state machine: create one of these per
/// process and use it from one thread.
public final class ReadlineLineSource: LineSource {
    /// - Parameters:
    ///   - programName: readline's `rl_readline_name`, tested by `$if NAME` in `~/.inputrc`.
    ///   - completer: candidates for Tab; only those starting with the word are offered, and
    ///     nothing falls back to file names.
    ///   - recall: earlier lines, oldest first, for Up-arrow and Ctrl-R; a line repeating the one
    ///     before it is kept once (readline's own history file is not used: netrepl keeps its own).
    public init(programName: String, completer: @escaping CompletionProvider, recall: [String]) {
        Signals.install()
        Readline.configure(programName: programName, completer: completer)
        for line in recall { Readline.addToHistory(line) }
    }

    deinit { restoreTerminal() }

    public var isInteractive: Bool { true }

    /// Shows `prompt` (plain or with ANSI colour) and edits a line until Enter (`.line`),
    /// or takes the next line of a paste (each line of a paste is a line, shown after its prompt
    /// as if typed; a last part without a newline stays on the editing line),
    /// Ctrl-C (`.interrupted`: the line is discarded and the cursor is on a fresh line),
    /// Ctrl-D on an empty line or the terminal going away (`.endOfInput`, cursor on a fresh
    /// line), or SIGTERM/SIGHUP (`.terminated`, cursor on a fresh line). Ctrl-Z suspends with
    /// the terminal in its normal mode and redraws the line after `fg`. The terminal is back in
    /// its normal mode whenever this returns.
    public func readLine(prompt: String) -> LineInput {
        Readline.readLine(prompt: PromptMarkup.wrap(prompt))
    }

    /// Adds `line` to the recall list, unless it is empty or repeats the latest entry.
    public func addToRecall(_ line: String) {
        Readline.addToHistory(line)
    }

    /// Drops what is left of a paste: after Ctrl-C cancelled a wait, the rest is not sent.
    public func discardPending() {
        Readline.discardPendingPaste()
    }

    /// Puts the terminal back in its normal mode. Idempotent; also runs at exit.
    public func restoreTerminal() {
        Readline.restoreTerminal()
    }
}

/// readline's process-wide state and the C callbacks that reach it. C callbacks cannot capture
/// Swift context, so what they need lives here; readline calls them only from inside
/// `rl_callback_read_char`, on the thread running `readLine`.
enum Readline {
    /// What the line handler received: a line, or end of input.
    enum Received { case line(String), endOfInput }

    nonisolated(unsafe) private static var completer: CompletionProvider?
    nonisolated(unsafe) private static var candidates: [String] = []
    nonisolated(unsafe) private static var nextCandidate = 0
    nonisolated(unsafe) private static var received: Received?
    nonisolated(unsafe) private static var handlerInstalled = false
    nonisolated(unsafe) private static var savedTerminal: termios?
    nonisolated(unsafe) private static var configured = false
    /// The lines of a paste not yet returned, oldest first, and the text after its last newline.
    nonisolated(unsafe) private static var pastedLines: [String] = []
    nonisolated(unsafe) private static var pastedRemainder = ""
    /// Set by the SIGWINCH handler, taken by the prompt loop.
    private static let windowChanged = Atomic<Bool>(false)
    /// Set by the SIGTSTP handler (Ctrl-Z), installed only while a prompt is up.
    private static let suspendRequested = Atomic<Bool>(false)
    /// Set by the SIGCONT handler: the process really was stopped (and resumed).
    private static let continued = Atomic<Bool>(false)

    /// How long one wait for a key lasts before looking at pending signals again. A signal
    /// normally interrupts the wait at once (EINTR); this bounds the delay when it was delivered
    /// to another thread instead, or just before the wait began.
    private static let signalCheckMilliseconds: Int32 = 100

    static func configure(programName: String, completer: @escaping CompletionProvider) {
        self.completer = completer
        netrepl_rl_set_readline_name(programName)
        guard !configured else { return }
        configured = true
        // readline's own handlers would act on its schedule, not ours: the loop below handles
        // SIGINT, SIGTERM and SIGHUP (through Signals), SIGWINCH and SIGTSTP (flags set here).
        netrepl_rl_set_signal_handling(0, 0)
        netrepl_rl_set_change_environment(0)
        netrepl_rl_set_attempted_completion_function(attemptCompletion)
        netrepl_rl_set_completion_append_character(Int32(UInt8(ascii: " ")))
        netrepl_rl_bind_paste(pasteLines)
        using_history()

        windowChanged.store(false, ordering: .relaxed)  // initialised before any handler can run
        suspendRequested.store(false, ordering: .relaxed)
        continued.store(false, ordering: .relaxed)
        setHandler(SIGWINCH) { _ in Readline.windowChanged.store(true, ordering: .relaxed) }
        setHandler(SIGCONT) { _ in Readline.continued.store(true, ordering: .relaxed) }
        // A program that exits leaving the terminal raw leaves the user's shell raw too (shells
        // adopt the mode of a job that exits normally); deaths by signal the shell repairs itself.
        atexit { Readline.restoreTerminal() }
    }

    static func addToHistory(_ line: String) {
        guard !line.isEmpty else { return }
        if let last = netrepl_history_last_line(), String(cString: last) == line { return }
        add_history(line)
    }

    static func readLine(prompt: String) -> LineInput {
        if let signo = Signals.take() {
            if signo != SIGINT { return .terminated(signal: signo) }
            // A Ctrl-C typed while no prompt was up: the session saw it or chose not to. What is
            // left of a paste goes, as a terminal drops typeahead on Ctrl-C.
            discardPaste()
        }
        netrepl_flush_stdout()
        waitForForeground()
        if windowChanged.exchange(false, ordering: .relaxed) { rl_reset_screen_size() }
        received = nil
        suspendRequested.store(false, ordering: .relaxed)
        // Ctrl-Z is ours only while the terminal is raw; elsewhere its default action is right.
        // Where it is ignored (started without job control), it stays ignored.
        let suspendBefore = setHandler(SIGTSTP, suspendHandler)
        if suspendBefore.isIgnored { restoreHandler(SIGTSTP, suspendBefore) }
        defer { restoreHandler(SIGTSTP, suspendBefore) }
        rl_callback_handler_install(prompt, lineHandler)
        handlerInstalled = true
        if !pastedLines.isEmpty {
            // The next line of a paste: shown after its prompt as if typed, then accepted as
            // Enter would (removing the handler ends bracketed-paste mode, which returns the
            // cursor to column 0; the newline then leaves the line on screen).
            let line = pastedLines.removeFirst()
            replaceLine(with: line)
            rl_redisplay()
            rl_callback_handler_remove()
            handlerInstalled = false
            netrepl_rl_write("\n")
            return .line(Line(line))
        }
        if !pastedRemainder.isEmpty {
            replaceLine(with: pastedRemainder)
            pastedRemainder = ""
            rl_redisplay()
        }

        let fd = fileno(netrepl_rl_instream())
        var idleHangups = 0
        while true {
            if windowChanged.exchange(false, ordering: .relaxed) { rl_resize_terminal() }
            if suspendRequested.exchange(false, ordering: .relaxed) { suspend() }
            if let signo = Signals.take() {
                abandonLine(echoing: signo == SIGINT ? SIGINT : nil)
                return signo == SIGINT ? .interrupted : .terminated(signal: signo)
            }
            var wait = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&wait, 1, signalCheckMilliseconds)
            if ready < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                abandonLine(echoing: nil)
                return .endOfInput
            }
            if ready == 0 { continue }
            if wait.revents & Int16(POLLNVAL) != 0 {
                abandonLine(echoing: nil)
                return .endOfInput
            }
            rl_callback_read_char()
            if let line = takeReceived() { return line }
            // A hung-up terminal reads as end of file, which readline turns into end of input
            // within a read or two; never spin on it.
            if wait.revents & Int16(POLLIN) == 0 {
                idleHangups += 1
                if idleHangups > 3 {
                    abandonLine(echoing: nil)
                    return .endOfInput
                }
            }
        }
    }

    /// What the line handler received, as the prompt loop returns it.
    private static func takeReceived() -> LineInput? {
        guard let line = received else { return nil }
        received = nil
        switch line {
        case .line(let text):
            return .line(Line(text))
        case .endOfInput:
            // readline has already moved to a fresh line.
            discardPaste()
            return .endOfInput
        }
    }

    /// Bound to the start of a bracketed paste in place of readline's bracketed-paste-begin,
    /// which reads the pasted text up to its end marker, turns CR into LF and inserts it at the
    /// cursor, newlines and all, as one line. Here each line of it is a line: the first (with
    /// what was typed before the paste) is accepted at once as Enter would, the others come
    /// from the next `readLine`s, and what follows the last newline is left to edit. CR LF
    /// arrives as two newlines, so empty lines, which would send nothing, are dropped.
    private static let pasteLines: @convention(c) (Int32, Int32) -> Int32 = { count, key in
        let status = rl_bracketed_paste_begin(count, key)
        let text = lineText(byteCount: Int(netrepl_rl_end()))
        guard text.contains("\n") else { return status }  // one line: readline's paste as it is
        rl_deactivate_mark()
        var parts = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let remainder = parts.removeLast()
        var lines = parts.filter { !$0.isEmpty }
        guard !lines.isEmpty else {
            replaceLine(with: remainder)
            return status
        }
        let first = lines.removeFirst()
        pastedLines += lines
        pastedRemainder = remainder
        replaceLine(with: first)
        rl_redisplay()
        return rl_newline(1, Int32(UInt8(ascii: "\n")))
    }

    /// Puts `text` on the editing line, the cursor at its end, with nothing to undo.
    private static func replaceLine(with text: String) {
        rl_replace_line(text, 1)
        netrepl_rl_set_point(netrepl_rl_end())
    }

    private static func discardPaste() {
        pastedLines = []
        pastedRemainder = ""
    }

    static func discardPendingPaste() {
        discardPaste()
    }

    /// The handler readline calls with a finished line (malloc'd, ours to free) or NULL at end
    /// of input. Removing itself stops readline from showing the prompt again at once.
    private static let lineHandler: @convention(c) (UnsafeMutablePointer<CChar>?) -> Void = { line in
        defer { free(line) }
        Readline.received = line.map { .line(String(cString: $0)) } ?? .endOfInput
        rl_callback_handler_remove()
        Readline.handlerInstalled = false
    }

    /// Drops the line being edited and leaves the cursor on a fresh line, the terminal in its
    /// normal mode; `echoing` shows the signal's key (`^C`) as the terminal would.
    private static func abandonLine(echoing signo: Int32?) {
        discardPaste()
        // readline's own order for a caught signal: the echo comes before the terminal is
        // restored, because restoring it (ending bracketed paste) returns the cursor to column 0.
        rl_free_line_state()
        rl_callback_sigcleanup()
        if let signo { rl_echo_signal_char(signo) }
        rl_cleanup_after_signal()
        rl_callback_handler_remove()
        handlerInstalled = false
        rl_replace_line("", 0)
        netrepl_rl_write("\n")
    }

    /// Ctrl-Z at the prompt as readline itself handles it: the terminal goes back to normal
    /// before the process stops (the shell would otherwise resume it with its own, cooked modes,
    /// and keys would echo twice), and is made raw again, with the prompt and line redrawn, after.
    private static func suspend() {
        rl_echo_signal_char(SIGTSTP)
        rl_cleanup_after_signal()
        continued.store(false, ordering: .relaxed)
        setHandler(SIGTSTP, nil)
        raise(SIGTSTP)  // stops here until `fg`; not at all in an orphaned process group
        setHandler(SIGTSTP, suspendHandler)
        // After `fg` the shell has left the cursor on a fresh line; if nothing stopped us, only
        // the ^Z follows the line.
        if !continued.exchange(false, ordering: .relaxed) { netrepl_rl_write("\n") }
        waitForForeground()
        rl_reset_after_signal()
        rl_forced_update_display()
    }

    /// Returns once this process owns the terminal. readline takes the terminal's modes when it
    /// prepares it as the ones to restore later; in the background (`netrepl &`, or `bg` after
    /// Ctrl-Z) those are the shell's raw modes, and taking them would leave echo off now and the
    /// terminal raw at exit. So stop (SIGTTOU, as any background process touching the terminal
    /// does) until `fg`. Also records the modes to restore at exit, the first time.
    private static func waitForForeground() {
        let fd = fileno(netrepl_rl_instream())
        guard isatty(fd) == 1 else { return }
        while true {
            let foreground = tcgetpgrp(fd)
            if foreground <= 0 || foreground == getpgrp() { break }
            continued.store(false, ordering: .relaxed)
            raise(SIGTTOU)
            // Not stopped: SIGTTOU ignored, or an orphaned process group. Go on as we can.
            if !continued.load(ordering: .relaxed) { break }
        }
        var mode = termios()
        if savedTerminal == nil, tcgetattr(fd, &mode) == 0 { savedTerminal = mode }
    }

    static func restoreTerminal() {
        if handlerInstalled {
            rl_callback_handler_remove()
            handlerInstalled = false
            netrepl_rl_write("\n")
        }
        guard var saved = savedTerminal else { return }
        let fd = fileno(netrepl_rl_instream())
        var current = termios()
        guard tcgetattr(fd, &current) == 0 else { return }
        // Only when needed: a background process changing the mode would be stopped (SIGTTOU).
        let cooked = tcflag_t(ICANON | ECHO)
        if current.c_lflag & cooked != saved.c_lflag & cooked {
            tcsetattr(fd, TCSANOW, &saved)
        }
    }

    private static let suspendHandler: @convention(c) (Int32) -> Void = { _ in
        Readline.suspendRequested.store(true, ordering: .relaxed)
    }

    /// A signal's disposition as it was before `setHandler`, to put back.
    struct PreviousHandler {
        var action = sigaction()
        var isIgnored: Bool {
            let handler = action.__sigaction_handler.sa_handler
            return handler.map { unsafeBitCast($0, to: Int.self) } == unsafeBitCast(SIG_IGN, to: Int.self)
        }
    }

    /// Installs `handler` for `signo` (nil: the default action) and returns what was there.
    /// SA_RESTART spares every other blocking call in the process; poll(2), which the prompt
    /// loop waits in, returns EINTR regardless.
    @discardableResult
    private static func setHandler(_ signo: Int32, _ handler: (@convention(c) (Int32) -> Void)?) -> PreviousHandler {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = handler ?? SIG_DFL
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        var previous = PreviousHandler()
        sigaction(signo, &action, &previous.action)
        return previous
    }

    private static func restoreHandler(_ signo: Int32, _ previous: PreviousHandler) {
        var action = previous.action
        sigaction(signo, &action, nil)
    }

    // MARK: Completion

    /// readline's attempted-completion hook: asks the Swift provider, offers the candidates that
    /// extend the word, and never falls back to file names.
    private static let attemptCompletion:
        @convention(c) (UnsafePointer<CChar>?, Int32, Int32) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = {
            text, _, end in
            netrepl_rl_set_attempted_completion_over(1)
            guard let text, let completer = Readline.completer else { return nil }
            let word = String(cString: text)
            let before = lineText(byteCount: Int(end))
            Readline.candidates = completer(word, before).filter { $0.hasPrefix(word) }
            Readline.nextCandidate = 0
            guard !Readline.candidates.isEmpty else { return nil }
            return rl_completion_matches(text, candidateGenerator)
        }

    /// Called by rl_completion_matches with state 0, 1, 2, ...: one strdup'd candidate per call
    /// (readline frees them), then NULL.
    private static let candidateGenerator: @convention(c) (UnsafePointer<CChar>?, Int32) -> UnsafeMutablePointer<CChar>? = {
        _, _ in
        guard Readline.nextCandidate < Readline.candidates.count else { return nil }
        defer { Readline.nextCandidate += 1 }
        return strdup(Readline.candidates[Readline.nextCandidate])
    }

    /// The first `byteCount` bytes of the line being edited: up to the cursor (its byte offset),
    /// or all of it (`rl_end`).
    private static func lineText(byteCount: Int) -> String {
        guard byteCount > 0, let buffer = netrepl_rl_line_buffer() else { return "" }
        return buffer.withMemoryRebound(to: UInt8.self, capacity: byteCount) {
            String(decoding: UnsafeBufferPointer(start: $0, count: byteCount), as: UTF8.self)
        }
    }
}
