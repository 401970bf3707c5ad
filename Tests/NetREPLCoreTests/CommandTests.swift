// The command table: parsing typed lines, nearest-name suggestions, completion candidates.

import Testing
@testable import NetREPLCore

@Suite struct CommandParsingTests {
    @Test(arguments: [
        ("hello world", ParsedLine.send("hello world")),
        ("", .empty),
        ("::tcp", .send(":tcp")),
        (":::", .send("::")),
        (":udp", .command(name: "udp", arguments: "")),
        (":tcp per-line", .command(name: "tcp", arguments: "per-line")),
        (":connect  example.org 7", .command(name: "connect", arguments: "example.org 7")),
        (":q", .command(name: "quit", arguments: "")),
        (":nohist   two  spaces ", .command(name: "nohist", arguments: "two  spaces ")),
        ("!12", .recall(12)),
        ("!x", .send("!x")),
        ("!", .send("!")),
        ("!3 apples", .send("!3 apples")),
    ])
    func parses(line: String, expected: ParsedLine) {
        #expect(CommandTable.parse(line) == expected)
    }

    @Test func unknownCommandNamesTheNearest() {
        #expect(CommandTable.parse(":tpc") == .unknown(word: "tpc", suggestion: "tcp", ambiguous: []))
        #expect(CommandTable.parse(":hisotry 3") == .unknown(word: "hisotry", suggestion: "history", ambiguous: []))
        #expect(CommandTable.parse(":exit") == .unknown(word: "exit", suggestion: "quit", ambiguous: []))
    }

    @Test func ambiguousPrefixListsTheCandidates() {
        guard case .unknown(_, _, let ambiguous) = CommandTable.parse(":h") else {
            Issue.record("expected unknown")
            return
        }
        #expect(ambiguous == ["history", "help"])
    }

    @Test func editDistance() {
        #expect(CommandTable.editDistance("tcp", "tcp") == 0)
        #expect(CommandTable.editDistance("tpc", "tcp") == 1)
        #expect(CommandTable.editDistance("kitten", "sitting") == 3)
        #expect(CommandTable.editDistance("", "abc") == 3)
    }

    @Test func everyCommandIsReachableAndDocumented() {
        let names = CommandTable.all.map(\.name)
        #expect(Set(names).count == names.count)
        for command in CommandTable.all {
            #expect(command.usage.hasPrefix(":" + command.name))
            #expect(command.help.hasSuffix("."))
            #expect(CommandTable.parse(":" + command.name) == .command(name: command.name, arguments: ""))
        }
        #expect(Set(names) == ["udp", "tcp", "connect", "history", "nohist", "stats", "timeout", "help", "quit"])
    }
}

@Suite struct CompletionTests {
    @Test func commandNames() {
        #expect(CommandTable.completions(word: ":t", lineBeforeCursor: ":t") == [":tcp", ":timeout"])
        #expect(CommandTable.completions(word: ":", lineBeforeCursor: ":").count == CommandTable.all.count)
        #expect(CommandTable.completions(word: ":h", lineBeforeCursor: ":h") == [":history", ":help"])
        // An editor that breaks words at the colon passes the word without it.
        #expect(CommandTable.completions(word: "st", lineBeforeCursor: ":st") == ["stats"])
    }

    @Test func arguments() {
        #expect(CommandTable.completions(word: "", lineBeforeCursor: ":tcp ") == ["persistent", "per-line"])
        #expect(CommandTable.completions(word: "per-", lineBeforeCursor: ":tcp per-") == ["per-line"])
        #expect(CommandTable.completions(word: "", lineBeforeCursor: ":tcp per-line ") == [])
        #expect(CommandTable.completions(word: "hi", lineBeforeCursor: ":help hi") == ["history"])
        #expect(CommandTable.completions(word: "loc", lineBeforeCursor: ":connect loc") == ["localhost"])
    }

    @Test func nothingForTextOrFiles() {
        #expect(CommandTable.completions(word: "hel", lineBeforeCursor: "hel").isEmpty)
        #expect(CommandTable.completions(word: "::t", lineBeforeCursor: "::t").isEmpty)
        #expect(CommandTable.completions(word: "", lineBeforeCursor: "hello ").isEmpty)
        #expect(CommandTable.completions(word: "x", lineBeforeCursor: ":nohist x").isEmpty)
    }
}
