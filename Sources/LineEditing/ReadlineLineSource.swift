// The terminal line source: GNU readline through its callback interface (as CPython's readline
// module does), driven from the caller's own wait, so that the prompt stays up while text is
// printed above it, Ctrl-C, Ctrl-Z, a resize, SIGTERM and SIGHUP are handled cleanly, the terminal
// is never left raw, and a paste of several lines is as many lines. With Suggestions.swift, the
// only code that touches readline's C API.

import CReadline
import NetREPLCore
import NetREPLTransport
import Synchronization
import SystemCalls
import SystemPackage

import Glibc

/// Lines typed at a terminal, with GNU readline's editing, Ctrl-R search, tab completion, an
/// in-memory recall list and fish-style suggestions. readline is one process-wide state machine:
/// create one of these per process and use it from one thread.
///
/// Two ways to drive it: `readLine(prompt:)` blocks until a line (the prompt is down again when
/// it returns), and the `LiveLineSource` calls let a session wait on `inputDescriptor` with its
/// sockets, keeping the prompt up while it prints above it. Both run the same machinery.
public final class ReadlineLineSource: LiveLineSource {
    /// - Parameters:
    ///   - programName: readline's `rl_readline_name`, tested by `$if NAME` in `~/.inputrc`.
    ///   - completer: candidates for Tab; only those starting with the word are offered, and
    ///     nothing falls back to file names.
    ///   - recall: earlier lines, oldest first, for Up-arrow and Ctrl-R; a line repeating the one
    ///     before it is kept once (readline's own history file is not used: netrepl keeps its own).
    ///   - environment: where NO_COLOR and TERM are read (no suggestions with either).
    public init(
        programName: String, completer: @escaping CompletionProvider, recall: [String],
        environment: (String) -> String? = { getenv($0).map { String(cString: $0) } }
    ) {
        Signals.install()
        Readline.configure(programName: programName, completer: completer)
        Suggestions.configure(environment: environment)
        for line in recall { Readline.addToHistory(line) }
    }

    deinit { restoreTerminal() }

    public var isInteractive: Bool { true }

    /// How the terminal's characters are read: `nil` for UTF-8; otherwise the locale's name
    /// and the variable it came from (LC_ALL, LC_CTYPE or LANG), for the caller to say what to set.
    public var nonUTF8Locale: (name: String, variable: String)? { Readline.nonUTF8Locale }

    /// Shows `prompt` (plain or with ANSI colour) and edits a line until Enter (`.line`),
    /// or takes the next line of a paste (each line of a paste is a line, shown after its prompt
    /// as if typed; a last part without a newline stays on the editing line),
    /// Ctrl-C (`.interrupted`: the line is discarded, `^C` shown and the cursor on a fresh line),
    /// Ctrl-D on an empty line or the terminal going away (`.endOfInput`, cursor on a fresh
    /// line), or SIGTERM/SIGHUP (`.terminated`, cursor on a fresh line). Ctrl-Z suspends with
    /// the terminal in its normal mode and redraws the line after `fg`. The terminal is back in
    /// its normal mode whenever this returns.
    public func readLine(prompt: String) -> LineInput {
        Readline.readLine(prompt: PromptMarkup.wrap(prompt))
    }

    // MARK: LiveLineSource

    public var inputDescriptor: Int32 { Readline.inputDescriptor }

    public func showPrompt(_ prompt: String) {
        Readline.show(prompt: PromptMarkup.wrap(prompt), keepUp: true)
    }

    public func service() -> [LineInput] {
        Readline.service()
    }

    public func printAbove(_ bytes: [UInt8]) {
        Readline.printAbove(bytes)
    }

    /// Takes the prompt down, leaving the cursor at the start of an empty line. What was typed
    /// is kept, off screen, and comes back with the next `showPrompt`: nothing typed is lost.
    public func hidePrompt() {
        Readline.hide()
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
/// `rl_callback_read_char` and the calls below, on the one thread that drives the prompt.
enum Readline {
    nonisolated(unsafe) private static var completer: CompletionProvider?
    nonisolated(unsafe) private static var candidates: [String] = []
    nonisolated(unsafe) private static var nextCandidate = 0
    /// What was completed and not yet returned, oldest first.
    nonisolated(unsafe) private static var completed: [LineInput] = []
    /// The prompt is up: readline's line handler is installed and the terminal is raw.
    nonisolated(unsafe) private(set) static var handlerInstalled = false
    /// Live mode: the prompt comes back at once after a line, until `hide`.
    nonisolated(unsafe) private static var keepPromptUp = false
    nonisolated(unsafe) private static var currentPrompt = ""
    /// SIGTSTP's disposition before the prompt went up (Ctrl-Z is ours only while it is up).
    nonisolated(unsafe) private static var suspendBefore: PreviousHandler?
    /// What was typed when `hide` took the prompt down, and the cursor in it, for the next `show`.
    nonisolated(unsafe) private static var stashedLine: (text: String, point: Int32)?
    nonisolated(unsafe) private static var savedTerminal: termios?
    nonisolated(unsafe) private static var configured = false
    nonisolated(unsafe) private(set) static var nonUTF8Locale: (name: String, variable: String)?
    /// Wake-ups with the terminal hung up and nothing read, to stop rather than spin.
    nonisolated(unsafe) private static var idleHangups = 0
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

    static var inputDescriptor: Int32 { fileno(netrepl_rl_instream()) }

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
        netrepl_rl_bind_in_every_mode("\r", acceptLine)
        netrepl_rl_bind_in_every_mode("\n", acceptLine)
        netrepl_rl_bind("\\C-o", acceptAndGetNext)
        netrepl_rl_bind("\\e#", acceptAsComment)
        Suggestions.bindKeys()
        using_history()
        // Now, after the bindings above (readline binds its own only where nothing is), and
        // before the first prompt, so that the locale readline settled on can be checked.
        rl_initialize()
        nonUTF8Locale = checkLocale()
        // Only now: with a redisplay function of its own set before initialising, readline
        // would not read the terminal's capabilities and would scroll long lines sideways.
        netrepl_rl_set_redisplay_function(Suggestions.redisplay)

        windowChanged.store(false, ordering: .relaxed)  // initialised before any handler can run
        suspendRequested.store(false, ordering: .relaxed)
        continued.store(false, ordering: .relaxed)
        setHandler(SIGWINCH) { _ in Readline.windowChanged.store(true, ordering: .relaxed) }
        setHandler(SIGCONT) { _ in Readline.continued.store(true, ordering: .relaxed) }
        // A program that exits leaving the terminal raw leaves the user's shell raw too (shells
        // adopt the mode of a job that exits normally); deaths by signal the shell repairs itself.
        atexit { Readline.restoreTerminal() }
    }

    /// readline takes its character set from LC_ALL, LC_CTYPE or LANG (it calls setlocale for
    /// LC_CTYPE itself). Under C or POSIX it would turn every byte from 0x80 up into a Meta key,
    /// so typed UTF-8 would be lost; made 8-bit clean, such bytes are kept and sent as typed,
    /// though editing counts them one column each. What to set instead is the caller's to say.
    private static func checkLocale() -> (name: String, variable: String)? {
        guard netrepl_mb_cur_max() == 1 else { return nil }
        netrepl_rl_eight_bit_clean()
        let variable = (["LC_ALL", "LC_CTYPE", "LANG"] as [String]).first { getenv($0).map { $0.pointee != 0 } ?? false }
        guard let variable, let value = getenv(variable) else { return ("C", "LANG") }
        return (String(cString: value), variable)
    }

    static func addToHistory(_ line: String) {
        guard !line.isEmpty else { return }
        if let last = netrepl_history_last_line(), String(cString: last) == line { return }
        netrepl_history_add(line)
    }

    // MARK: Driving the prompt

    /// The blocking form: the same machinery as the live one, waiting here for the terminal.
    static func readLine(prompt: String) -> LineInput {
        if completed.isEmpty, let signo = Signals.take() {
            if signo != SIGINT { return .terminated(signal: signo) }
            // A Ctrl-C typed while no prompt was up: the session saw it or chose not to. What is
            // left of a paste goes, as a terminal drops typeahead on Ctrl-C.
            discardPaste()
        }
        if completed.isEmpty { show(prompt: prompt, keepUp: false) }
        while true {
            if !completed.isEmpty { return completed.removeFirst() }
            completed = service()
            if !completed.isEmpty { continue }
            var wait = pollfd(fd: inputDescriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&wait, 1, signalCheckMilliseconds)
        }
    }

    /// Puts the prompt up, or changes the prompt of the line already up, keeping what is typed.
    static func show(prompt: String, keepUp: Bool) {
        keepPromptUp = keepUp
        if handlerInstalled {
            guard prompt != currentPrompt else { return }
            currentPrompt = prompt
            // Drawn again from the start of the line, as for text printed above.
            rl_clear_visible_line()
            Suggestions.forget()
            rl_set_prompt(prompt)
            rl_on_new_line()
            netrepl_rl_redisplay()
            return
        }
        currentPrompt = prompt
        netrepl_flush_stdout()
        waitForForeground()
        if windowChanged.exchange(false, ordering: .relaxed) { rl_reset_screen_size() }
        suspendRequested.store(false, ordering: .relaxed)
        // Ctrl-Z is ours only while the terminal is raw; elsewhere its default action is right.
        // Where it is ignored (started without job control), it stays ignored.
        let before = setHandler(SIGTSTP, suspendHandler)
        if before.isIgnored { restoreHandler(SIGTSTP, before) } else { suspendBefore = before }
        rl_callback_handler_install(prompt, lineHandler)
        handlerInstalled = true
        if let stashed = stashedLine {
            stashedLine = nil
            rl_replace_line(stashed.text, 1)
            netrepl_rl_set_point(stashed.point)
            netrepl_rl_redisplay()
        }
    }

    /// Reads the keys available now and acts on pending signals; returns what was completed.
    static func service() -> [LineInput] {
        guard handlerInstalled else { return takeCompleted() }
        if windowChanged.exchange(false, ordering: .relaxed) {
            Suggestions.erase()
            netrepl_rl_resize_terminal()
            netrepl_rl_redisplay()
        }
        if suspendRequested.exchange(false, ordering: .relaxed) { suspend() }
        if let signo = Signals.take() {
            abandonLine(echoing: signo == SIGINT ? SIGINT : nil)
            completed.append(signo == SIGINT ? .interrupted : .terminated(signal: signo))
            // A live prompt comes back after Ctrl-C, empty, on the line after `^C`.
            if signo == SIGINT && keepPromptUp { show(prompt: currentPrompt, keepUp: true) }
            return takeCompleted()
        }
        takePastedLines()
        let fd = inputDescriptor
        while handlerInstalled && (keepPromptUp || completed.isEmpty) {
            var wait = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready: Int32?
            do {
                ready = try interruptible { poll(&wait, 1, 0) }
            } catch .resourceTemporarilyUnavailable {
                break
            } catch {
                endInput()
                break
            }
            // nil: a signal came, which the next service() acts on.
            guard let ready, ready > 0 else { break }
            if wait.revents & Int16(POLLNVAL) != 0 {
                endInput()
                break
            }
            rl_callback_read_char()
            Suggestions.afterKey()
            takePastedLines()
            // A hung-up terminal reads as end of file, which readline turns into end of input
            // within a read or two; never spin on it.
            if wait.revents & Int16(POLLIN) == 0 {
                idleHangups += 1
                if idleHangups > 3 {
                    endInput()
                    break
                }
            } else {
                idleHangups = 0
            }
        }
        return takeCompleted()
    }

    private static func takeCompleted() -> [LineInput] {
        defer { completed = [] }
        return completed
    }

    /// The terminal is gone: the line goes, and so does the prompt.
    private static func endInput() {
        abandonLine(echoing: nil)
        completed.append(.endOfInput)
    }

    /// Writes `bytes` above the prompt (readline 7's way: clear the lines the prompt and the line
    /// take, write, and draw them again below), or just writes them when no prompt is up.
    static func printAbove(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        var text = bytes
        if handlerInstalled && text.last != UInt8(ascii: "\n") { text.append(UInt8(ascii: "\n")) }
        let out = FileDescriptorSink(FileDescriptor(rawValue: fileno(netrepl_rl_outstream())))
        guard handlerInstalled else {
            netrepl_flush_stdout()
            out.write(text)
            return
        }
        rl_clear_visible_line()
        Suggestions.forget()
        netrepl_rl_write("")
        out.write(text)
        rl_on_new_line()
        netrepl_rl_redisplay()
    }

    /// Takes the prompt down: the visible line is cleared (the cursor left at its start) and
    /// what was typed is kept for the next `show`.
    static func hide() {
        guard handlerInstalled else { return }
        let text = lineText(byteCount: Int(netrepl_rl_end()))
        stashedLine = text.isEmpty ? nil : (text, netrepl_rl_point())
        rl_callback_sigcleanup()
        rl_clear_visible_line()
        Suggestions.forget()
        removeHandler()
    }

    private static func removeHandler() {
        rl_callback_handler_remove()
        handlerInstalled = false
        if let before = suspendBefore {
            restoreHandler(SIGTSTP, before)
            suspendBefore = nil
        }
    }

    /// Bound to Enter, and the other keys that accept a line (Ctrl-O, Alt-#): the suggestion is
    /// erased before readline moves past the line, which it does without a redisplay.
    private static let acceptLine: @convention(c) (Int32, Int32) -> Int32 = { count, key in
        Suggestions.erase()
        return rl_newline(count, key)
    }

    private static let acceptAndGetNext: @convention(c) (Int32, Int32) -> Int32 = { count, key in
        Suggestions.erase()
        return rl_operate_and_get_next(count, key)
    }

    private static let acceptAsComment: @convention(c) (Int32, Int32) -> Int32 = { count, key in
        Suggestions.erase()
        return rl_insert_comment(count, key)
    }

    /// Bound to the start of a bracketed paste in place of readline's bracketed-paste-begin,
    /// which reads the pasted text up to its end marker, turns CR into LF and inserts it at the
    /// cursor, newlines and all, as one line. Here each line of it is a line: the first (with
    /// what was typed before the paste) is accepted at once as Enter would, the others follow
    /// (`takePastedLines`), and what follows the last newline is left to edit. CR LF
    /// arrives as two newlines, so empty lines, which would send nothing, are dropped.
    private static let pasteLines: @convention(c) (Int32, Int32) -> Int32 = { count, key in
        Suggestions.erase()
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

    /// The lines of a paste after its first, each shown after its prompt as if typed and
    /// accepted as Enter would; then its last part, left to edit. The blocking form takes one
    /// line per call (the session handles it before the next prompt).
    private static func takePastedLines() {
        while handlerInstalled && (keepPromptUp || completed.isEmpty) {
            guard !pastedLines.isEmpty else {
                if !pastedRemainder.isEmpty {
                    replaceLine(with: pastedRemainder)
                    pastedRemainder = ""
                    netrepl_rl_redisplay()
                }
                return
            }
            let line = pastedLines.removeFirst()
            replaceLine(with: line)
            rl_redisplay()
            if keepPromptUp {
                // The line stays on screen as sent; a fresh prompt follows on the next line.
                rl_crlf()
                rl_on_new_line()
                replaceLine(with: "")
                netrepl_rl_redisplay()
            } else {
                // Removing the handler ends bracketed-paste mode, which returns the cursor to
                // column 0; the newline then leaves the line on screen.
                removeHandler()
                netrepl_rl_write("\n")
            }
            completed.append(.line(Line(line)))
        }
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
    /// of input. In the blocking form, and always at end of input, it takes the prompt down,
    /// which stops readline from showing it again at once; a live prompt comes back by itself.
    private static let lineHandler: @convention(c) (UnsafeMutablePointer<CChar>?) -> Void = { line in
        defer { free(line) }
        guard let line else {
            // readline has already moved to a fresh line.
            Readline.discardPaste()
            Readline.completed.append(.endOfInput)
            Readline.removeHandler()
            return
        }
        Readline.completed.append(.line(Line(String(cString: line))))
        if !Readline.keepPromptUp { Readline.removeHandler() }
    }

    /// Drops the line being edited and leaves the cursor on a fresh line, the terminal in its
    /// normal mode; `echoing` shows the signal's key (`^C`) as the terminal would.
    private static func abandonLine(echoing signo: Int32?) {
        discardPaste()
        Suggestions.erase()
        // readline's own order for a caught signal: the echo comes before the terminal is
        // restored, because restoring it (ending bracketed paste) returns the cursor to column 0.
        rl_free_line_state()
        rl_callback_sigcleanup()
        if let signo { rl_echo_signal_char(signo) }
        rl_cleanup_after_signal()
        removeHandler()
        rl_replace_line("", 0)
        netrepl_rl_write("\n")
    }

    /// Ctrl-Z at the prompt as readline itself handles it: the terminal goes back to normal
    /// before the process stops (the shell would otherwise resume it with its own, cooked modes,
    /// and keys would echo twice), and is made raw again, with the prompt and line redrawn, after.
    private static func suspend() {
        Suggestions.erase()
        rl_echo_signal_char(SIGTSTP)
        rl_cleanup_after_signal()
        continued.store(false, ordering: .relaxed)
        setHandler(SIGTSTP, nil)
        raiseHere(SIGTSTP)  // stops here until `fg`; not at all in an orphaned process group
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
            raiseHere(SIGTTOU)
            // Not stopped: SIGTTOU ignored, or an orphaned process group. Go on as we can.
            if !continued.load(ordering: .relaxed) { break }
        }
        var mode = termios()
        if savedTerminal == nil, tcgetattr(fd, &mode) == 0 { savedTerminal = mode }
    }

    static func restoreTerminal() {
        if handlerInstalled {
            Suggestions.erase()
            removeHandler()
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

    /// Raises `signo` in this thread with it unblocked. The session may run on a thread of
    /// Swift's pool (netrepl's main is async), whose threads block most signals: a stop signal
    /// raised there would stay pending, and Ctrl-Z would do nothing.
    private static func raiseHere(_ signo: Int32) {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signo)
        var previous = sigset_t()
        pthread_sigmask(SIG_UNBLOCK, &set, &previous)
        raise(signo)
        pthread_sigmask(SIG_SETMASK, &previous, nil)
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
    private static let attemptCompletion: @convention(c) (UnsafePointer<CChar>?, Int32, Int32) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = {
        text, _, end in
        netrepl_rl_set_attempted_completion_over(1)
        // A list of candidates is printed below the line without a redisplay.
        Suggestions.erase()
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
    static func lineText(byteCount: Int) -> String {
        guard byteCount > 0, let buffer = netrepl_rl_line_buffer() else { return "" }
        return buffer.withMemoryRebound(to: UInt8.self, capacity: byteCount) {
            String(decoding: UnsafeBufferPointer(start: $0, count: byteCount), as: UTF8.self)
        }
    }
}
