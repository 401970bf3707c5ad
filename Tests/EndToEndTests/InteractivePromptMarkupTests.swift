// The pure pieces of the terminal path, without a terminal: readline prompt markup and the
// harness's own reading of terminal output.

import Testing
import LineEditing

@Suite("readline prompt markup")
struct InteractivePromptMarkupTests {
    @Test("a plain prompt is left as it is", arguments: ["udp localhost:12000> ", "", "tcp/per-line [::1]:7> "])
    func plain(prompt: String) {
        #expect(PromptMarkup.wrap(prompt) == prompt)
    }

    @Test("SGR colour sequences are bracketed with \\001 and \\002")
    func colour() {
        let prompt = "\u{1B}[1;32mudp\u{1B}[0m localhost:12000> "
        #expect(PromptMarkup.wrap(prompt) == "\u{01}\u{1B}[1;32m\u{02}udp\u{01}\u{1B}[0m\u{02} localhost:12000> ")
    }

    @Test("adjacent sequences share one pair, and a trailing one is closed")
    func adjacent() {
        let prompt = "\u{1B}[1m\u{1B}[36mtcp> \u{1B}[0m"
        #expect(PromptMarkup.wrap(prompt) == "\u{01}\u{1B}[1m\u{1B}[36m\u{02}tcp> \u{01}\u{1B}[0m\u{02}")
    }

    @Test("OSC titles (BEL or ST terminated) and two-character escapes are invisible too")
    func otherEscapes() {
        #expect(PromptMarkup.wrap("\u{1B}]0;netrepl\u{07}> ") == "\u{01}\u{1B}]0;netrepl\u{07}\u{02}> ")
        #expect(PromptMarkup.wrap("\u{1B}]0;t\u{1B}\\> ") == "\u{01}\u{1B}]0;t\u{1B}\\\u{02}> ")
        #expect(PromptMarkup.wrap("\u{1B}(B> ") == "\u{01}\u{1B}(\u{02}B> ")
    }

    @Test("a prompt already marked up is not marked again")
    func idempotent() {
        let once = PromptMarkup.wrap("\u{1B}[32mudp\u{1B}[0m> ")
        #expect(PromptMarkup.wrap(once) == once)
    }

    @Test("a truncated escape at the end is still bracketed")
    func truncated() {
        #expect(PromptMarkup.wrap("> \u{1B}[") == "> \u{01}\u{1B}[\u{02}")
        #expect(PromptMarkup.wrap("> \u{1B}") == "> \u{01}\u{1B}\u{02}")
    }
}

@Suite("pty harness: terminal output as text")
struct InteractiveTerminalTextTests {
    @Test("escapes, carriage returns, backspaces and BEL are dropped")
    func plain() {
        let raw = "\u{1B}[?2004h\u{1B}[1;32mudp\u{1B}[0m> hi\r\n\u{1B}[?2004l\rHI\r\n\u{07}ab\u{08}\u{1B}[K"
        #expect(TerminalText.plain(Array(raw.utf8)) == "udp> hi\nHI\nab")
    }

    @Test("an escape cut off at the end of what was read so far is dropped, not shown")
    func incomplete() {
        #expect(TerminalText.plain(Array("ok\u{1B}[?20".utf8)) == "ok")
        #expect(TerminalText.plain(Array("ok\u{1B}".utf8)) == "ok")
    }
}
