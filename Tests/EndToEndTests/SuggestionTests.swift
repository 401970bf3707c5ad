// Fish-style suggestions through the built netrepl in a pty, read off a model of the screen:
// shown dimmed after the cursor, accepted whole or by word, never where they would mislead (history
// stepping, Ctrl-R), never without colour, and robust to what makes readline redraw.

import Foundation
import Testing
@testable import LineEditing

#if canImport(Glibc)
import Glibc
#endif

/// Colour allowed: NO_COLOR, which the harness sets, removed.
private let colour: [String: String?] = ["NO_COLOR": nil]

extension ScreenSession {
    /// Waits until the cursor's row shows the prompt, `typed` and then `suggested` dimmed, the
    /// cursor right after `typed`.
    @discardableResult
    func waitForSuggestion(_ typed: String, _ suggested: String) throws -> TerminalScreen {
        try client.waitForScreen("\(String(reflecting: typed)) with \(String(reflecting: suggested)) suggested") { s in
            s.cursorLine == prompt + typed + suggested && s.dimText(s.row) == suggested
                && s.column == TerminalScreen.columns(of: prompt + typed) % s.columns
        }
    }
}

extension TerminalScreen {
    static func columns(of text: String) -> Int {
        text.unicodeScalars.reduce(0) { $0 + width(of: $1) }
    }
}

/// netrepl with "hello world" sent, "hel" typed and the rest of it suggested.
private func helloWorldSuggested() throws -> ScreenSession {
    let s = try ScreenSession(extra: colour)
    try s.exchange("hello world", reply: "HELLO WORLD")
    s.client.send("hel")
    try s.waitForSuggestion("hel", "lo world")
    return s
}

@Suite("suggestions from the history, as in fish")
struct SuggestionTests {
    @Test("the newest history line starting with what is typed is shown dimmed; Right accepts it, and it is sent whole")
    func shownAndAcceptedWithRight() throws {
        let s = try ScreenSession(extra: colour)
        try s.exchange("hello older", reply: "HELLO OLDER")
        try s.exchange("hello world", reply: "HELLO WORLD")
        s.client.send("hel")
        try s.waitForSuggestion("hel", "lo world")
        // Typing what the suggestion says keeps it, shorter.
        s.client.send("lo ")
        try s.waitForSuggestion("hello ", "world")
        // Typing something else: the older line fits now.
        s.client.send("o")
        try s.waitForSuggestion("hello o", "lder")
        s.client.send(Key.right)
        let screen = try s.client.waitForScreen("the suggestion accepted") { $0.cursorLine == s.prompt + "hello older" && $0.dimText($0.row).isEmpty }
        #expect(screen.column == (s.prompt + "hello older").count)
        s.client.send(Key.enter)
        try s.client.expect("\nHELLO OLDER\n")
        try s.client.expect(s.prompt)
        #expect(try s.quit(counts: "3 sent, 3 received") == 0)
    }

    @Test("Ctrl-F and End accept all of it; Alt-F one word at a time", arguments: [Key.ctrlF, Key.end])
    func acceptingKeys(key: String) throws {
        let s = try ScreenSession(extra: colour)
        try s.exchange("alpha beta-gamma", reply: "ALPHA BETA-GAMMA")
        s.client.send("al")
        try s.waitForSuggestion("al", "pha beta-gamma")
        s.client.send(Key.altF)
        try s.waitForSuggestion("alpha", " beta-gamma")
        s.client.send(Key.altF)
        try s.waitForSuggestion("alpha beta", "-gamma")
        s.client.send(key)
        try s.client.waitForScreen("all of it accepted") { $0.cursorLine == s.prompt + "alpha beta-gamma" && $0.dimText($0.row).isEmpty }
        // With nothing suggested, the keys do what they always do.
        s.client.send("\u{01}" + key + "<" + Key.enter)
        try s.client.expect(key == Key.end ? "\nALPHA BETA-GAMMA<\n" : "\nA<LPHA BETA-GAMMA\n")
        try s.client.expect(s.prompt)
        #expect(try s.client.leave() == 0)
    }

    @Test(
        "no suggestion with NO_COLOR, on TERM=dumb, or after :set suggest off: Right does not accept one",
        arguments: [["NO_COLOR": "1"], ["NO_COLOR": nil, "TERM": "dumb"], colour])
    func absent(environment: [String: String?]) throws {
        let s = try ScreenSession(extra: environment)
        try s.exchange("hello world", reply: "HELLO WORLD")
        if environment == colour {
            s.client.send(":set suggest off" + Key.enter)
            try s.client.expect("suggest: off")
            try s.client.expect(s.prompt)
        }
        try s.exchange("hel" + Key.right, reply: "HEL")
        #expect(try s.client.leave() == 0)
        // Nothing dim was ever written after a typed prompt (the round-trip lines may be dim).
        #expect(!s.client.screen.history.contains { $0.hasPrefix(s.prompt + "hel") && ![s.prompt + "hel", s.prompt + "hello world"].contains($0) })
    }

    @Test("not shown while stepping through the history: Up shows the entry alone, and Right does not extend it")
    func notWhileSteppingThroughHistory() throws {
        let s = try ScreenSession(extra: colour)
        try s.exchange("abc extra", reply: "ABC EXTRA")
        try s.exchange("abc", reply: "ABC")
        s.client.send(Key.up)
        try s.client.waitForScreen("the recalled entry") { $0.cursorLine == s.prompt + "abc" }
        try s.exchange(Key.right, reply: "ABC")
        // Typing after a recall is typing again.
        s.client.send(Key.up + "\u{7F}c")
        try s.waitForSuggestion("abc", " extra")
        #expect(try s.client.leave() == 0)
    }

    @Test(
        "Enter or Ctrl-O with a suggestion showing sends what was typed, and the line left on screen shows only that",
        arguments: [Key.enter, "\u{0F}"])
    func acceptingWhatWasTyped(key: String) throws {
        let s = try helloWorldSuggested()
        s.client.send(key)
        try s.client.expect("\nHEL\n")
        try s.client.expect(s.prompt)
        #expect(s.client.screen.lines.contains(s.prompt + "hel"))
        #expect(try s.client.leave() == 0)
    }

    @Test("Ctrl-R with a suggestion showing: the search shows none, and it comes back after Ctrl-G")
    func reverseSearch() throws {
        let s = try helloWorldSuggested()
        s.client.send(Key.ctrlR)
        try s.client.waitForScreen("the search prompt, nothing dim") { $0.cursorLine.hasPrefix("(reverse-i-search)") && $0.dimText($0.row).isEmpty }
        s.client.send("wor")
        try s.client.waitForScreen("the match, nothing dim") {
            $0.cursorLine == "(reverse-i-search)`wor': hello world" && $0.dimText($0.row).isEmpty
        }
        s.client.send("\u{07}")  // Ctrl-G: back to what was typed
        try s.waitForSuggestion("hel", "lo world")
        #expect(try s.client.leave() == 0)
    }

    @Test("Tab listing the candidates with a suggestion showing: the list is printed below, and only the new prompt has it")
    func completionList() throws {
        let s = try ScreenSession(extra: colour)
        s.client.send(":timeout 2s" + Key.enter)
        try s.client.expect("timeout: 2 s")
        try s.client.expect(s.prompt)
        s.client.send(":")
        try s.waitForSuggestion(":", "timeout 2s")
        s.client.send(Key.tab + Key.tab)
        let screen = try s.client.waitForScreen("the list, then the prompt and the suggestion again") { sc in
            sc.row > 0 && sc.line(sc.row - 1).contains(":udp") && sc.cursorLine == s.prompt + ":timeout 2s" && sc.dimText(sc.row) == "timeout 2s"
        }
        #expect((0..<screen.rows).filter { screen.dimText($0) == "timeout 2s" } == [screen.row])
        #expect(screen.lines.contains(s.prompt + ":"))
        #expect(try s.client.leave() == 0)
    }

    @Test("Ctrl-L with a suggestion showing: the screen is cleared and the line and suggestion drawn once, at the top")
    func clearScreen() throws {
        let s = try helloWorldSuggested()
        s.client.send(Key.ctrlL)
        // The clear and the redraw may arrive apart: wait for both.
        let screen = try s.client.waitForScreen("the line alone at the top") {
            $0.row == 0 && $0.cursorLine == s.prompt + "hello world" && $0.dimText(0) == "lo world"
        }
        #expect(screen.lines.filter { !$0.isEmpty } == [s.prompt + "hello world"])
        #expect(screen.column == (s.prompt + "hel").count)
        #expect(try s.client.leave() == 0)
    }

    @Test(
        "a resize with a suggestion showing: redrawn once, cut to the new width, nothing left of the old one",
        arguments: [false, true])
    func resize(reflowingTerminal: Bool) throws {
        let s = try ScreenSession(columns: 80, extra: colour)
        let long = "resize " + String(repeating: "x", count: 60)
        try s.exchange(long, reply: long.uppercased())
        s.client.send("res")
        // The rest of the row after the prompt and 3 typed characters, less one column, is suggested.
        let room = 80 - s.prompt.count - 3 - 1
        try s.waitForSuggestion("res", String(long.dropFirst(3).prefix(room)))
        s.client.resize(columns: 40, rows: 50, reflow: reflowingTerminal)
        s.client.send("i")
        var screen = try s.waitForSuggestion("resi", String(long.dropFirst(4).prefix(40 - s.prompt.count - 4 - 1)))
        #expect(screen.line(screen.row + 1).isEmpty)
        s.client.resize(columns: 80, rows: 50, reflow: reflowingTerminal)
        s.client.send("z")
        screen = try s.waitForSuggestion("resiz", String(long.dropFirst(5).prefix(80 - s.prompt.count - 5 - 1)))
        #expect(screen.line(screen.row + 1).isEmpty)
        try s.exchange(Key.right, reply: long.uppercased())
        #expect(try s.client.leave() == 0)
    }

    @Test("wide characters: the suggestion is placed by screen columns and accepted whole")
    func wideCharacters() throws {
        let s = try ScreenSession(extra: colour)
        try s.exchange("日本語のテキスト 🎉", reply: "日本語のテキスト 🎉")
        s.client.send("日本")
        try s.waitForSuggestion("日本", "語のテキスト 🎉")
        try s.exchange(Key.right, reply: "日本語のテキスト 🎉")
        #expect(try s.quit(counts: "2 sent, 2 received") == 0)
    }

    @Test("a typed line that wraps: the suggestion stays on the cursor's row, and accepting sends the whole line")
    func wrappedLine() throws {
        let s = try ScreenSession(columns: 40, extra: colour)
        let long = "wrapping " + String(repeating: "ab", count: 40)
        try s.exchange(long, reply: long.uppercased())
        let typed = String(long.prefix(30))
        s.client.send(typed)
        // The prompt and 30 typed characters take more than 40 columns: the cursor is on the second row.
        let onRow = (s.prompt.count + 30) % 40
        let screen = try s.client.waitForScreen("the suggestion after the wrapped line") { sc in
            sc.row > 0 && sc.column == onRow && sc.dimText(sc.row) == String(long.dropFirst(30).prefix(40 - onRow - 1))
        }
        #expect(screen.line(screen.row + 1).isEmpty)
        try s.exchange(Key.end, reply: long.uppercased())
        #expect(try s.client.leave() == 0)
    }
}

@Suite("suggestions: the pure parts")
struct SuggestionPartsTests {
    @Test("fitting to the columns left counts wide characters as two and stops before a control")
    func fit() {
        let width = { (s: Unicode.Scalar) in s.value < 0x20 ? -1 : TerminalScreen.width(of: s) }
        #expect(Suggestions.fit("abcdef", columns: 4, width: width) == ("abcd", 4))
        #expect(Suggestions.fit("日本語", columns: 5, width: width) == ("日本", 4))
        #expect(Suggestions.fit("ab\u{1B}[2Jcd", columns: 10, width: width) == ("ab", 2))
        #expect(Suggestions.fit("abc", columns: 0, width: width) == ("", 0))
    }

    @Test("one word is what Alt-F moves over: the separators, then letters and digits")
    func firstWord() {
        #expect(Suggestions.firstWord(of: "pha beta") == "pha")
        #expect(Suggestions.firstWord(of: " beta-gamma") == " beta")
        #expect(Suggestions.firstWord(of: "-gamma") == "-gamma")
        #expect(Suggestions.firstWord(of: "  ") == "  ")
        #expect(Suggestions.firstWord(of: " 日本 語") == " 日本")
    }
}
