// Pasting at netrepl's prompt through a real pseudo-terminal, as a terminal emulator pastes with
// bracketed paste (ESC [ 200 ~ ... ESC [ 201 ~, which readline turns on): each pasted line is a
// line of its own, with its own reply, round trip and history entry, never one message.

import Foundation
import Testing

import Glibc

/// Text as a terminal pastes it in bracketed-paste mode; terminals send a newline as CR.
private func bracketedPaste(_ text: String) -> String {
    "\u{1B}[200~" + text + "\u{1B}[201~"
}

/// The history file's records as (outcome, line), its fields being tab-separated with the line last.
private func historyEntries(_ path: String) throws -> [(outcome: String, rtt: String, line: String)] {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { record in
        let fields = record.split(separator: "\t", maxSplits: 5, omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 6 else { throw HarnessError("not a history record: \(record)") }
        return (fields[3], fields[4], fields[5])
    }
}

@Suite("pasting at the prompt")
struct PasteTests {
    @Test("three pasted lines are three exchanges, each with its reply, round trip and history entry")
    func threeLinesAreThreeExchanges() throws {
        let session = try InteractiveSession()
        let client = session.client
        // Line ends as they come from different sources: CR (a terminal), CR LF, and LF.
        client.send(bracketedPaste("first line\r\nsecond line\rthird line\n"))
        // Each line is shown after its prompt as if typed, and sent at once (typing ahead): the
        // replies come above the live prompt, each followed by its own round-trip line.
        try client.expect("first line\n")
        for line in ["second line", "third line"] { try client.expect(session.prompt() + line + "\n") }
        try client.expect(session.prompt())
        client.send(Key.ctrlD)
        try client.expect("3 sent, 3 received, 0% loss")
        for reply in ["FIRST LINE", "SECOND LINE", "THIRD LINE"] { #expect(client.transcript.contains("\n" + reply + "\n")) }
        #expect(client.transcript.components(separatedBy: session.rtt()).count - 1 == 3)
        #expect(try client.waitForExit() == 0)
        #expect(!client.transcript.contains("FIRST LINE\nSECOND LINE"))
        let entries = try historyEntries(session.scratch.historyFile)
        #expect(entries.map(\.line) == ["first line", "second line", "third line"])
        #expect(entries.allSatisfy { $0.outcome == "ok" && $0.rtt != "-" })
    }

    @Test("a paste ending without a newline leaves its last part on the editing line")
    func theLastPartStaysToEdit() throws {
        let session = try InteractiveSession()
        let client = session.client
        // Typed text before the paste joins its first line, as it would in the terminal.
        client.send("pre-")
        try client.expect("pre-")
        client.send(bracketedPaste("alpha\rbeta"))
        try client.expect("alpha\n")
        try client.expect("PRE-ALPHA\n")
        try client.expect(session.prompt() + "beta")
        // Nothing is sent for "beta" until Enter; then it goes with what was typed after it.
        client.send(" gamma" + Key.enter)
        try client.expect("BETA GAMMA\n")
        try client.expect(session.prompt())
        client.send(Key.ctrlD)
        try client.expect("2 sent, 2 received, 0% loss")
        #expect(try client.waitForExit() == 0)
        #expect(try historyEntries(session.scratch.historyFile).map(\.line) == ["pre-alpha", "beta gamma"])
    }

    @Test("lines arriving at once without bracketed paste (typeahead) are each sent at once")
    func typeaheadIsNotHeldBack() throws {
        let session = try InteractiveSession()
        let client = session.client
        // readline reads the CR after "two" ahead while inserting it; it must not wait for a key.
        client.send("one" + Key.enter + "two" + Key.enter)
        // Each line has a socket of its own, so their replies may come in either order.
        try client.waitForScreen("both replies, with no key pressed") { screen in
            screen.lines.contains("ONE") && screen.lines.contains("TWO")
        }
        try client.expect(session.prompt())
        client.send(Key.ctrlD)
        try client.expect("2 sent, 2 received, 0% loss")
        #expect(try client.waitForExit() == 0)
    }

    @Test("pasted lines come back one by one with Up, each as it was sent")
    func pastedLinesAreRecalledOneByOne() throws {
        let session = try InteractiveSession()
        let client = session.client
        client.send(bracketedPaste("one\rtwo\r"))
        try client.expect("TWO\n")
        try client.expect(session.prompt())
        client.send(Key.up + Key.up + Key.enter)
        try client.expect("ONE\n")
        try client.expect(session.prompt())
        client.send(Key.ctrlD)
        try client.expect("3 sent, 3 received, 0% loss")
        #expect(try client.waitForExit() == 0)
    }
}
