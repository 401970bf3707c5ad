// The terminal's known pitfalls, each through the built netrepl in a pty and read off a model of
// the screen: the prompt after readline ends bracketed paste, a resize, Ctrl-Z then `fg` under a
// real shell, wide characters and lines longer than the terminal, and a locale that is not UTF-8.

import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// netrepl against a fresh server, in a pty `columns` wide, at its first prompt.
final class ScreenSession {
    let server: ServerUnderTest
    let scratch: InteractiveScratch
    let client: PTYProcess
    let prompt: String

    init(columns: UInt16 = 200, extra: [String: String?] = [:], arguments: [String] = []) throws {
        server = try ServerUnderTest()
        scratch = try InteractiveScratch()
        prompt = "udp 127.0.0.1:\(server.port)> "
        let env = PTYProcess.isolatedEnvironment(home: scratch.directory, historyFile: scratch.historyFile, extra: extra)
        client = try PTYProcess(Built.client, arguments + ["--udp", "127.0.0.1", "\(server.port)"], environment: env, columns: columns)
        try client.expect(prompt)
    }

    deinit { _ = server.stop() }

    /// Ctrl-D; waits for the summary's `counts` line and returns the exit status.
    func quit(counts: String) throws -> Int32 {
        client.send(Key.ctrlD)
        try client.expect(counts)
        return try client.waitForExit()
    }

    /// Sends `line` (typed keys ending it) and waits for its reply and the next prompt.
    func exchange(_ line: String, reply: String) throws {
        client.send(line + Key.enter)
        try client.expect("\n" + reply + "\n")
        try client.expect(prompt)
    }

    /// The rows from the last one starting with the prompt down to the last one written, joined:
    /// the editing line as the screen shows it, however it wraps.
    static func editingLine(_ screen: TerminalScreen, prompt: String) -> String? {
        let trimmed = prompt.trimmingCharacters(in: .whitespaces)
        guard let top = (0...screen.row).last(where: { screen.line($0).hasPrefix(trimmed) }) else { return nil }
        let bottom = (top..<screen.rows).last { !screen.line($0).isEmpty } ?? top
        return (top...bottom).map { row in
            // A row the line fills to the edge continues on the next without a blank; a wide
            // character that did not fit in the last column starts the next row instead.
            let text = screen.line(row)
            guard row < bottom else { return text }
            var pad = screen.columns - TerminalScreen.columns(of: text)
            if pad == 1, let next = screen.line(row + 1).unicodeScalars.first, TerminalScreen.width(of: next) == 2 { pad = 0 }
            return text + String(repeating: " ", count: max(0, pad))
        }.joined()
    }

    func waitForEditingLine(_ text: String) throws -> TerminalScreen {
        try client.waitForScreen("the editing line \(String(reflecting: prompt + text))") {
            Self.editingLine($0, prompt: prompt) == prompt + text
        }
    }
}

extension PTYProcess {
    /// Ctrl-U and Ctrl-D: what is typed is dropped and the program leaves; its exit status.
    func leave() throws -> Int32 {
        send(Key.ctrlU + Key.ctrlD)
        return try waitForExit()
    }
}

/// A program run by an interactive bash in a pty, so that Ctrl-Z stops it and `fg` resumes it
/// as at a real terminal.
enum ShellSession {
    static func start(
        _ executable: URL, _ arguments: [String], prompt: String,
        extra: [String: String?] = [:]
    ) throws -> (PTYProcess, InteractiveScratch) {
        let scratch = try InteractiveScratch()
        let env = PTYProcess.isolatedEnvironment(
            home: scratch.directory, historyFile: scratch.historyFile,
            extra: extra.merging(["PS1": "shell$ ", "HISTFILE": "/dev/null", "PROMPT_COMMAND": nil]) { $1 })
        let shell = try PTYProcess(URL(fileURLWithPath: "/bin/bash"), ["--norc", "--noprofile", "-i"], environment: env)
        try shell.expect("shell$ ")
        shell.send(([executable.path] + arguments).map { "'\($0)'" }.joined(separator: " ") + Key.enter)
        try shell.expect(prompt)
        return (shell, scratch)
    }

    /// Types `typed`, Ctrl-Z, waits for the shell, `fg`, and waits for the line to be redrawn.
    static func suspendAndResume(_ shell: PTYProcess, typed: String, prompt: String) throws {
        shell.send(typed)
        try shell.expect(typed)
        shell.send(Key.ctrlZ)
        try shell.expect("Stopped")
        try shell.expect("shell$ ")
        shell.send("fg" + Key.enter)
        try shell.waitForScreen("the line redrawn after fg") { $0.cursorLine == prompt + typed }
    }

    /// Waits for the shell's prompt after the program left, and leaves the shell.
    static func exit(_ shell: PTYProcess) throws {
        try shell.expect("shell$ ")
        shell.send("exit" + Key.enter)
        #expect(try shell.waitForExit() == 0)
    }
}

@Suite("terminal pitfalls, on the screen")
struct TerminalPitfallTests {
    @Test("readline ending bracketed paste (ESC[?2004l then CR) never covers a prompt or a typed line")
    func promptSurvivesDeprep() throws {
        let s = try ScreenSession()
        try s.exchange("ping", reply: "PING")
        s.client.send("abc")
        try s.client.expect("abc")
        s.client.send(Key.ctrlC)
        try s.client.expect("(Ctrl-C again or Ctrl-D leaves)")
        try s.client.expect(s.prompt)
        #expect(try s.quit(counts: "1 sent, 1 received") == 0)
        let rows = s.client.screen.history
        #expect(rows.contains(s.prompt + "ping"))
        #expect(rows.contains("PING"))
        #expect(rows.contains(s.prompt + "abc^C"))
        #expect(rows.contains("(Ctrl-C again or Ctrl-D leaves)"))
        // The last prompt, left by Ctrl-D, is still there with the summary below it.
        let last = try #require(rows.lastIndex { $0.hasPrefix(s.prompt.trimmingCharacters(in: .whitespaces)) })
        #expect(rows[(last + 1)...].contains { $0.contains("1 sent, 1 received") })
    }

    @Test("a resize with a wrapped line typed redraws it whole, and it is sent whole", arguments: [false, true])
    func resizeKeepsTheLine(reflowingTerminal: Bool) throws {
        let s = try ScreenSession(columns: 80)
        let text = String(repeating: "resize ", count: 14) + "end"
        s.client.send(text)
        _ = try s.waitForEditingLine(text)
        s.client.resize(columns: 50, rows: 50, reflow: reflowingTerminal)
        s.client.send("!")
        _ = try s.waitForEditingLine(text + "!")
        s.client.resize(columns: 120, rows: 50, reflow: reflowingTerminal)
        s.client.send("?")
        _ = try s.waitForEditingLine(text + "!?")
        s.client.send(Key.enter)
        try s.client.expect("\n" + (text + "!?").uppercased() + "\n")
        try s.client.expect(s.prompt)
        #expect(try s.client.leave() == 0)
    }

    @Test("Ctrl-Z under a real shell, then fg: the prompt and the half-typed line come back, and editing works")
    func ctrlZThenFg() throws {
        let server = try ServerUnderTest()
        defer { _ = server.stop() }
        let prompt = "udp 127.0.0.1:\(server.port)> "
        let (shell, _) = try ShellSession.start(Built.client, ["--udp", "127.0.0.1", "\(server.port)"], prompt: prompt)
        try ShellSession.suspendAndResume(shell, typed: "kept", prompt: prompt)
        shell.send(" line" + Key.enter)
        try shell.expect("\nKEPT LINE\n")
        try shell.expect(prompt)
        shell.send(Key.ctrlD)
        try shell.expect("1 sent, 1 received")
        try ShellSession.exit(shell)
    }

    @Test("wide characters and a line longer than the terminal stay intact on screen, edit by character, and are sent whole")
    func wideCharactersAndLongLines() throws {
        let s = try ScreenSession(columns: 40)
        let text = "日本語 emoji 🎉 and a line longer than forty columns 終わり"
        s.client.send(text)
        _ = try s.waitForEditingLine(text)
        // Home, two characters right, insert: the cursor moves by character, not by byte or column.
        s.client.send("\u{01}" + Key.right + Key.right + "X")
        let edited = "日本X語 emoji 🎉 and a line longer than forty columns 終わり"
        _ = try s.waitForEditingLine(edited)
        // Backspace over an emoji removes it whole.
        s.client.send("\u{05}" + String(repeating: Key.left, count: 41) + "\u{7F}")
        let withoutEmoji = "日本X語 emoji  and a line longer than forty columns 終わり"
        _ = try s.waitForEditingLine(withoutEmoji)
        s.client.send(Key.enter)
        try s.client.expect("\n日本X語 EMOJI  AND A LINE LONGER THAN FORTY COLUMNS 終わり\n")
        try s.client.expect(s.prompt)
        #expect(try s.client.leave() == 0)
    }

    @Test("LC_ALL=C: the start says what to set, and characters beyond ASCII are still sent as typed")
    func nonUTF8Locale() throws {
        let s = try ScreenSession(extra: ["LC_ALL": "C"])
        #expect(s.client.transcript.contains("LC_ALL=C is not UTF-8"))
        #expect(s.client.transcript.contains("set LC_ALL=C.UTF-8"))
        s.client.send("héllo wörld" + Key.enter)
        try s.client.expect("RLD")
        try s.client.expect(s.prompt)
        #expect(try s.client.leave() == 0)
        let history = try String(contentsOfFile: s.scratch.historyFile, encoding: .utf8)
        #expect(history.hasSuffix("\théllo wörld\n"))
    }

    @Test("a UTF-8 locale says nothing about the locale")
    func utf8LocaleIsQuiet() throws {
        let s = try ScreenSession()
        #expect(!s.client.transcript.contains("not UTF-8"))
        #expect(try s.client.leave() == 0)
    }
}
