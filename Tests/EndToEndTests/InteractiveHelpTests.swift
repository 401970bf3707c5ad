// :help in a real terminal: the built netrepl reads the pty's window size and fits the command
// list to it, with no line wider than the terminal and no description broken inside a word.

import Foundation
import Testing

@Suite struct InteractiveHelpTests {
    @Test(arguments: [64, 80, 120])
    func helpIsFittedToTheTerminalsWidth(columns: UInt16) throws {
        let scratch = try InteractiveScratch()
        // COLUMNS says otherwise, and must lose to the terminal's own size.
        let env = PTYProcess.isolatedEnvironment(home: scratch.directory, historyFile: scratch.historyFile, extra: ["COLUMNS": "200"])
        let client = try PTYProcess(Built.client, ["--udp", "127.0.0.1", "9"], environment: env, columns: columns)
        let prompt = "udp 127.0.0.1:9> "
        try client.expect(prompt)
        client.send(":help" + Key.enter)
        let shown = try client.expect("Ctrl-D quits.")
        let lines = shown.replacingOccurrences(of: "\r", with: "").split(separator: "\n").map(String.init)
        let listing = try #require(lines.firstIndex { $0.hasPrefix("  :udp") })
        let help = Array(lines[listing...])
        for line in help { #expect(line.count <= Int(columns), "\(columns): \(line)") }
        // :connect's usage is wider than the name column: its description is on the next line,
        // indented as far as the others start.
        let connect = try #require(help.firstIndex { $0.hasPrefix("  :connect ") })
        #expect(!help[connect].contains("Send to another host"))
        #expect(help[connect + 1].trimmingCharacters(in: .whitespaces).hasPrefix("Send to another host"))
        // Every word of the descriptions whole, whatever the width.
        let words = help.joined(separator: " ").split(separator: " ")
        for word in ["persistent", "connection", "afresh.", "statistics", "recording"] {
            #expect(words.contains(Substring(word)), "\(columns): \(word) was broken")
        }
        try client.expect(prompt)
        client.send(Key.ctrlD)
        #expect(try client.waitForExit() == 0)
    }
}
