// The command table: parsing typed lines, nearest-name suggestions, completion candidates.

import Testing
import MisbehavingPeers
import NetREPLTransport
@testable import NetREPLCore

@Suite struct CommandParsingTests {
    @Test(arguments: [
        ("hello world", ParsedLine.send(Line("hello world"))),
        ("", .empty),
        ("::tcp", .send(Line(":tcp"))),
        (":::", .send(Line("::"))),
        (":udp", .command(name: "udp", arguments: "")),
        (":tcp per-line", .command(name: "tcp", arguments: "per-line")),
        (":connect  example.org 7", .command(name: "connect", arguments: "example.org 7")),
        (":q", .command(name: "quit", arguments: "")),
        (":nohist   two  spaces ", .command(name: "nohist", arguments: "two  spaces ")),
        ("!12", .recall(.entry(12))),
        ("!!", .recall(.last)),
        ("!x", .send(Line("!x"))),
        ("!", .send(Line("!"))),
        ("!3 apples", .send(Line("!3 apples"))),
    ])
    func parses(line: String, expected: ParsedLine) {
        #expect(CommandTable.parse(Line(line)) == expected)
    }

    @Test func aColonLineThatIsNotUTF8KeepsItsBytesWhenTheColonGoes() {
        let line = Line(bytes: Array("::a".utf8) + [0xff])
        #expect(CommandTable.parse(line) == .send(Line(bytes: Array(":a".utf8) + [0xff])))
    }

    @Test func unknownCommandNamesTheNearest() {
        #expect(CommandTable.parse(Line(":tpc")) == .unknown(word: "tpc", match: .none(nearest: "tcp")))
        #expect(CommandTable.parse(Line(":hisotry 3")) == .unknown(word: "hisotry", match: .none(nearest: "history")))
        #expect(CommandTable.parse(Line(":exit")) == .unknown(word: "exit", match: .none(nearest: "quit")))
        #expect(CommandTable.parse(Line(":zzzzzzzzzz")) == .unknown(word: "zzzzzzzzzz", match: .none(nearest: nil)))
    }

    @Test func ambiguousPrefixListsTheCandidates() {
        #expect(CommandTable.parse(Line(":h")) == .unknown(word: "h", match: .ambiguous(["history", "header", "help"])))
        #expect(CommandTable.match("h") == .ambiguous(["history", "header", "help"]))
        #expect(CommandTable.match(":hel") == .prefix("help"))
        #expect(CommandTable.match("help") == .exact("help"))
    }

    @Test func extraWordsAfterACommandThatTakesNoneAreAnError() throws {
        let udp = try #require(CommandTable.command(named: "udp"))
        #expect(Commands.argumentProblem(udp, "now") == ":udp takes no arguments (usage: :udp)")
        #expect(Commands.argumentProblem(udp, "") == nil)
        let tcp = try #require(CommandTable.command(named: "tcp"))
        #expect(Commands.argumentProblem(tcp, "per-line extra") != nil)
        let nohist = try #require(CommandTable.command(named: "nohist"))
        #expect(Commands.argumentProblem(nohist, "any number of words") == nil)
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
            #expect(CommandTable.parse(Line(":" + command.name)) == .command(name: command.name, arguments: ""))
        }
        #expect(
            Set(names) == [
                "udp", "tcp", "connect", "history", "nohist", "stats", "ping", "trace", "capture", "compare", "clock",
                "timeout", "set", "frame", "crlf", "header", "view", "escapes", "expect", "assert", "record", "help", "quit",
            ])
    }
}

@Suite struct CompletionTests {
    @Test func commandNames() {
        #expect(CommandTable.completions(word: ":t", lineBeforeCursor: ":t") == [":tcp", ":trace", ":timeout"])
        #expect(CommandTable.completions(word: ":c", lineBeforeCursor: ":c") == [":connect", ":capture", ":compare", ":clock", ":crlf"])
        #expect(CommandTable.completions(word: ":", lineBeforeCursor: ":").count == CommandTable.all.count)
        #expect(CommandTable.completions(word: ":h", lineBeforeCursor: ":h") == [":history", ":header", ":help"])
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
