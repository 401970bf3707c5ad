// The one path to the terminal while a prompt is up: every line the session writes to a stream
// that is the terminal goes above the line being typed (through the live line source), and what
// a flooding server sends is held to a few lines a second, the rest counted.

import NetREPLTransport

/// The editing line of a live line source, and whether its prompt is up.
final class TerminalLine {
    let source: LiveLineSource?
    private(set) var isUp = false
    /// Lines written while held, printed above the prompt together on release: one redraw for
    /// a reply and its round-trip line, and no prompt flashing between them.
    private var held: [UInt8]?

    init(source: LiveLineSource?) {
        self.source = source
    }

    func show(prompt: String) {
        release()
        guard let source else { return }
        source.showPrompt(prompt)
        isUp = true
    }

    func hide() {
        release()
        guard isUp, let source else { return }
        source.hidePrompt()
        isUp = false
    }

    /// Holds what is written until `release`.
    func hold() {
        if held == nil { held = [] }
    }

    func release() {
        guard let bytes = held else { return }
        held = nil
        if !bytes.isEmpty { source?.printAbove(bytes) }
    }

    /// `inner`, or, when it is the terminal a live prompt is on, a sink that prints above it.
    func sink(_ inner: OutputSink, isTerminal: Bool) -> OutputSink {
        source == nil || !isTerminal ? inner : AboveThePrompt(inner: inner, line: self)
    }

    fileprivate func write(_ bytes: [UInt8], inner: OutputSink) {
        if isUp, held != nil {
            held? += bytes
        } else if isUp, let source {
            source.printAbove(bytes)
        } else {
            inner.write(bytes)
        }
    }
}

/// Writes through the terminal line while its prompt is up, straight to `inner` otherwise.
private final class AboveThePrompt: OutputSink {
    let inner: OutputSink
    unowned let line: TerminalLine

    init(inner: OutputSink, line: TerminalLine) {
        self.inner = inner
        self.line = line
    }

    func write(_ bytes: [UInt8]) { line.write(bytes, inner: inner) }
    var isClosed: Bool { inner.isClosed }
}

/// How many lines a server's unasked data may put on the terminal: at most `linesPerWindow` a
/// second; the rest are counted and said in one line when the second is over. A pure value.
struct FloodGate {
    static let window = Duration.seconds(1)
    static let linesPerWindow = 40

    private var windowStart: ContinuousClock.Instant?
    private var shownInWindow = 0
    private var held = 0

    /// When the lines held back must be said.
    var flushAt: ContinuousClock.Instant? {
        guard held > 0, let windowStart else { return nil }
        return windowStart + Self.window
    }

    /// How many of `count` lines arriving now may be shown; the caller holds the rest.
    mutating func admit(_ count: Int, at now: ContinuousClock.Instant = .now) -> Int {
        if windowStart.map({ now >= $0 + Self.window }) ?? true {
            windowStart = now
            shownInWindow = 0
        }
        let shown = min(count, Self.linesPerWindow - shownInWindow)
        shownInWindow += shown
        return shown
    }

    mutating func hold(_ count: Int) { held += count }

    /// The lines held back, once their second is over (or now, with `force`), and that second.
    mutating func takeHeld(force: Bool, at now: ContinuousClock.Instant = .now) -> (count: Int, window: Duration)? {
        guard held > 0, let flushAt, force || now >= flushAt else { return nil }
        defer { held = 0 }
        return (held, Self.window)
    }
}
