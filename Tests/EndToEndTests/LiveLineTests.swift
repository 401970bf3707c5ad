// The terminal line source driven as a live session drives it (Tests/LiveLineProbe): text printed
// above a half-typed line leaves it intact and editable, the prompt changes in place, a paste is
// several lines from one service(), Ctrl-C ends its line with ^C and a newline.

import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Text as a terminal pastes it in bracketed-paste mode; terminals send a newline as CR.
func bracketed(_ text: String) -> String {
    "\u{1B}[200~" + text + "\u{1B}[201~"
}

/// The probe in a pty at its first prompt, with `recall` as its history.
private func probe(recall: [String] = [], extra: [String: String?] = [:], columns: UInt16 = 80) throws -> (PTYProcess, InteractiveScratch) {
    let scratch = try InteractiveScratch()
    let env = PTYProcess.isolatedEnvironment(home: scratch.directory, historyFile: scratch.historyFile, extra: extra)
    let process = try PTYProcess(Built.liveProbe, recall, environment: env, columns: columns)
    try process.expect("probe> ")
    return (process, scratch)
}

@Suite("a live prompt: printing above the line being typed")
struct LiveLineTests {
    @Test("text printed above a half-typed line leaves it intact, the cursor in place, and editable")
    func printAboveKeepsTheLine() throws {
        let (p, _) = try probe()
        p.send("half typ")
        try p.expect("half typ")
        p.signal(SIGUSR1)
        let screen = try p.waitForScreen("tick 1 above the half-typed line") { s in
            s.cursorLine == "probe> half typ" && s.row > 0 && s.line(s.row - 1) == "tick 1"
        }
        #expect(screen.column == "probe> half typ".count)
        // Still editable where the cursor was: one left, insert.
        p.send(Key.left + "Z" + "ed" + Key.enter)
        try p.expect("got: half tyZedp\n")
        p.send(Key.ctrlD)
        try p.expect("bye")
        #expect(try p.waitForExit() == 0)
    }

    @Test("on TERM=dumb too, text printed above leaves the half-typed line intact")
    func printAboveOnADumbTerminal() throws {
        let (p, _) = try probe(extra: ["TERM": "dumb"])
        p.send("dumb term")
        try p.expect("dumb term")
        p.signal(SIGUSR1)
        try p.waitForScreen("tick 1 above the line") { s in
            s.row > 0 && s.line(s.row - 1) == "tick 1" && s.cursorLine == "probe> dumb term"
        }
        p.send(Key.enter)
        try p.expect("got: dumb term\n")
        #expect(try p.leave() == 0)
    }

    @Test("a burst printed above that scrolls the screen keeps the line on the last row")
    func printAboveScrolls() throws {
        let (p, _) = try probe(extra: ["PROBE_TICK_LINES": "120"])
        p.send("still here")
        try p.expect("still here")
        p.signal(SIGUSR1)
        try p.waitForScreen("120 ticks, then the line") { s in
            s.cursorLine == "probe> still here" && s.row > 0 && s.line(s.row - 1) == "tick 1"
                && s.history.filter { $0 == "tick 1" }.count == 120
                && !s.history.contains { $0.contains("tick") && $0.contains("probe>") }
        }
        p.send(Key.enter)
        try p.expect("got: still here\n")
        #expect(try p.leave() == 0)
    }

    @Test("the prompt changes in place, keeping what is typed and the cursor")
    func promptChangesInPlace() throws {
        let (p, _) = try probe()
        p.send("abc" + Key.left)
        try p.expect("abc")
        p.signal(SIGUSR2)
        let screen = try p.waitForScreen("the new prompt with the line") { $0.cursorLine == "other> abc" }
        #expect(screen.column == "other> ab".count)
        p.send("X" + Key.enter)
        try p.expect("got: abXc\n")
        #expect(try p.leave() == 0)
    }

    @Test("a paste gives a line per pasted line, each shown after its prompt, and leaves its last part to edit")
    func pasteIsSeveralLines() throws {
        let (p, _) = try probe()
        p.send(bracketed("one\rtwo\r\nthree\rrest"))
        try p.expect("got: one\n")
        try p.expect("got: two\n")
        try p.expect("got: three\n")
        let screen = try p.waitForScreen("the last part on the line") { $0.cursorLine == "probe> rest" }
        let shown = screen.history.filter { $0.hasPrefix("probe> ") }
        #expect(Array(shown.prefix(3)) == ["probe> one", "probe> two", "probe> three"])
        p.send(" more" + Key.enter)
        try p.expect("got: rest more\n")
        #expect(try p.leave() == 0)
    }

    @Test("Ctrl-C: ^C ends the line, a newline follows, and a fresh empty prompt comes back")
    func ctrlCEndsItsLine() throws {
        let (p, _) = try probe()
        p.send("doomed")
        try p.expect("doomed")
        p.send(Key.ctrlC)
        try p.expect("interrupted\n")
        let screen = try p.waitForScreen("a fresh prompt") { $0.cursorLine == "probe>" }
        #expect(screen.history.contains("probe> doomed^C"))
        #expect(screen.history.contains("interrupted"))
        p.send("fine" + Key.enter)
        try p.expect("got: fine\n")
        #expect(!p.transcript.contains("got: doomed"))
        #expect(try p.leave() == 0)
    }

    @Test("the prompt taken down leaves the cursor at the start of an empty line; what is written there survives")
    func hideLeavesAFreshLine() throws {
        let (p, _) = try probe()
        p.send("hide" + Key.enter)
        try p.expect("hidden\n")
        let screen = try p.waitForScreen("the prompt back after hidden") { $0.cursorLine == "probe>" }
        let rows = screen.history.filter { !$0.isEmpty }
        #expect(Array(rows.suffix(4)) == ["probe> hide", "got: hide", "hidden", "probe>"])
        #expect(try p.leave() == 0)
    }

    @Test("text printed above with a suggestion showing: the suggestion is drawn again after the line, once")
    func printAboveWithASuggestion() throws {
        let (p, _) = try probe(recall: ["hello world"], extra: ["NO_COLOR": nil])
        p.send("hel")
        try p.waitForScreen("the suggestion") { $0.cursorLine == "probe> hello world" && $0.dimText($0.row) == "lo world" }
        p.signal(SIGUSR1)
        let screen = try p.waitForScreen("tick 1 above, the suggestion again") { s in
            s.row > 0 && s.line(s.row - 1) == "tick 1" && s.cursorLine == "probe> hello world" && s.dimText(s.row) == "lo world"
        }
        #expect(screen.column == "probe> hel".count)
        #expect(screen.lines.filter { !$0.isEmpty } == ["tick 1", "probe> hello world"])
        p.send(Key.right + Key.enter)
        try p.expect("got: hello world\n")
        #expect(try p.leave() == 0)
    }

    @Test("text printed above a line that wraps over several rows leaves all of it intact")
    func printAboveAWrappedLine() throws {
        let (p, _) = try probe(columns: 30)
        let text = String(repeating: "wrapped ", count: 8) + "end"
        p.send(text)
        try p.expect("end")
        p.signal(SIGUSR1)
        let screen = try p.waitForScreen("tick 1 above the wrapped line") { s in
            let rows = s.lines.filter { !$0.isEmpty }
            return rows.first == "tick 1" && rows.count == 4
        }
        // The rows after the tick, each full to the edge but the last, are the prompt and the line.
        let rows = screen.lines.filter { !$0.isEmpty }.dropFirst()
        let last = try #require(rows.last)
        #expect(rows.dropLast().map { $0.padding(toLength: 30, withPad: " ", startingAt: 0) }.joined() + last == "probe> " + text)
        p.send(Key.enter)
        try p.expect("got: \(text)\n")
        #expect(try p.leave() == 0)
    }

    @Test("text printed above during a Ctrl-R search leaves the search as it was")
    func printAboveDuringSearch() throws {
        let (p, _) = try probe(recall: ["hello world", "another line"])
        p.send(Key.ctrlR + "wor")
        try p.waitForScreen("the match") { $0.cursorLine == "(reverse-i-search)`wor': hello world" }
        p.signal(SIGUSR1)
        try p.waitForScreen("tick 1 above the search") { s in
            s.row > 0 && s.line(s.row - 1) == "tick 1" && s.cursorLine == "(reverse-i-search)`wor': hello world"
        }
        p.send(Key.enter)
        try p.expect("got: hello world\n")
        #expect(try p.leave() == 0)
    }

    @Test("a history entry spanning lines is never suggested; an older one-line entry is")
    func noSuggestionSpanningLines() throws {
        let (p, _) = try probe(recall: ["multi word entry", "multi\nline entry"], extra: ["NO_COLOR": nil])
        p.send("multi")
        try p.waitForScreen("the one-line entry suggested") { $0.cursorLine == "probe> multi word entry" && $0.dimText($0.row) == " word entry" }
        #expect(try p.leave() == 0)
    }

    @Test("the prompt taken down with a half-typed line and put back: the line and the cursor come back with it")
    func hideKeepsTheTypedText() throws {
        let (p, _) = try probe(extra: ["PROBE_TICK_HIDES": "1"])
        p.send("keep me" + Key.left + Key.left)
        try p.expect("keep me")
        p.signal(SIGUSR1)
        let screen = try p.waitForScreen("tick 1, then the line again") { s in
            s.row > 0 && s.line(s.row - 1) == "tick 1" && s.cursorLine == "probe> keep me"
        }
        #expect(screen.column == "probe> keep ".count)
        #expect(screen.lines.filter { !$0.isEmpty } == ["tick 1", "probe> keep me"])
        p.send("X" + Key.enter)
        try p.expect("got: keep Xme\n")
        #expect(try p.leave() == 0)
    }

    @Test("Ctrl-Z at a live prompt under a real shell, then fg: the line comes back raw and editable, and is sent whole")
    func ctrlZThenFg() throws {
        let (shell, _) = try ShellSession.start(Built.liveProbe, [], prompt: "probe> ")
        try ShellSession.suspendAndResume(shell, typed: "half", prompt: "probe> ")
        #expect(try shell.localModes() & tcflag_t(ICANON | ECHO) == 0)
        shell.send(" done" + Key.enter)
        try shell.expect("got: half done\n")
        shell.send(Key.ctrlD)
        try shell.expect("bye")
        try ShellSession.exit(shell)
    }

    @Test("lines entered at a live prompt are recalled at once by Up and by Ctrl-R")
    func recallAtALivePrompt() throws {
        let (p, _) = try probe()
        for line in ["alpha one", "beta two"] {
            p.send(line + Key.enter)
            try p.expect("got: \(line)\n")
        }
        p.send(Key.up + Key.up + Key.enter)
        try p.expect("got: alpha one\n")
        p.send(Key.ctrlR + "eta")
        try p.waitForScreen("the match") { $0.cursorLine == "(reverse-i-search)`eta': beta two" }
        p.send(Key.enter)
        try p.expect("got: beta two\n")
        #expect(try p.leave() == 0)
    }

    @Test("SIGTERM at a live prompt ends it with the terminal back in its normal mode")
    func terminatedRestoresTheTerminal() throws {
        let (p, _) = try probe()
        #expect(try p.localModes() & tcflag_t(ICANON | ECHO) == 0)
        p.send("unsent")
        try p.expect("unsent")
        p.signal(SIGTERM)
        try p.expect("bye")
        #expect(try p.waitForExit() == 0)
        #expect(try p.localModes() & tcflag_t(ICANON | ECHO) == tcflag_t(ICANON | ECHO))
    }
}
