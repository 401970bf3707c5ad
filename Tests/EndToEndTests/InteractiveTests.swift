// The built netrepl driven through a real pseudo-terminal against a real server: line editing,
// recall, search, completion, Ctrl-C, Ctrl-D, signals and the terminal's state afterwards.

import Foundation
import Testing

import Glibc

/// A private HOME and history file for one test, removed afterwards.
final class InteractiveScratch {
    let directory: String
    var historyFile: String { directory + "/history" }

    init() throws {
        directory =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("netrepl-pty-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Starts `netrepl ARGUMENTS` in a pty and waits for its first prompt, `prompt`.
    func client(_ arguments: [String], prompt: String, extraEnvironment: [String: String?] = [:]) throws -> PTYProcess {
        let env = PTYProcess.isolatedEnvironment(home: directory, historyFile: historyFile, extra: extraEnvironment)
        let process = try PTYProcess(Built.client, arguments, environment: env)
        try process.expect(prompt)
        return process
    }
}

/// One test's world: a server on a free port, a private HOME and history file, and netrepl in a
/// pty at its first prompt. The server stops when this goes.
final class InteractiveSession {
    var server: ServerUnderTest
    let scratch: InteractiveScratch
    let port: Int
    let arguments: [String]
    let client: PTYProcess

    init(_ transport: String = "--udp") throws {
        server = try ServerUnderTest()
        port = server.port
        scratch = try InteractiveScratch()
        arguments = [transport, "127.0.0.1", "\(port)"]
        client = try scratch.client(arguments, prompt: "\(transport.dropFirst(2)) 127.0.0.1:\(port)> ")
    }

    deinit { _ = server.stop() }

    /// The prompt while sending over `transport`.
    func prompt(_ transport: String = "udp") -> String { "\(transport) 127.0.0.1:\(port)> " }

    /// The round-trip line's start for `transport`.
    func rtt(_ transport: String = "udp") -> String { "\(transport) 127.0.0.1:\(port) ·" }
}

private let cooked = tcflag_t(ICANON | ECHO)

@Suite("netrepl in a pseudo-terminal")
struct InteractiveTests {
    @Test("a typed line gets its uppercase reply and a round-trip line; Ctrl-D prints the summary")
    func lineReplyAndSummary() throws {
        let session = try InteractiveSession()
        let client = session.client

        client.send("hello world" + Key.enter)
        try client.expect("\nHELLO WORLD\n")
        let rtt = try client.expect(session.prompt())
        #expect(rtt.contains(session.rtt()))
        #expect(rtt.contains(" ms"))

        client.send(Key.ctrlD)
        try client.expect("1 sent, 1 received, 0% loss")
        try client.expect("rtt min/avg/max/mdev")
        #expect(try client.waitForExit() == 0)
    }

    @Test(":tcp then :udp switch the transport, and the prompt says so")
    func switchTransports() throws {
        let session = try InteractiveSession()
        let client = session.client

        client.send(":tcp" + Key.enter)
        try client.expect(session.prompt("tcp"))
        client.send("over tcp" + Key.enter)
        try client.expect("\nOVER TCP\n")
        try client.expect(session.rtt("tcp"))
        try client.expect(session.prompt("tcp"))

        client.send(":udp" + Key.enter)
        try client.expect(session.prompt())
        client.send("back on udp" + Key.enter)
        try client.expect("\nBACK ON UDP\n")
        try client.expect(session.rtt())
        try client.expect(session.prompt())

        client.send(Key.ctrlD)
        try client.expect("tcp statistics")
        #expect(try client.waitForExit() == 0)
    }

    @Test("emacs editing keys: Ctrl-A, Ctrl-E, Ctrl-K, Ctrl-W, Ctrl-U")
    func editingKeys() throws {
        let session = try InteractiveSession()
        let client = session.client

        // Ctrl-A to the start, insert, Ctrl-E to the end, append.
        client.send("middle\u{01}start \u{05} end" + Key.enter)
        try client.expect("\nSTART MIDDLE END\n")
        try client.expect(session.prompt())
        // Ctrl-W removes the word before the cursor; Ctrl-K the rest of the line.
        client.send("one two three\u{17}four" + "\u{01}\u{06}\u{06}\u{06}\u{06}\u{0B}" + Key.enter)
        try client.expect("\nONE \n")
        try client.expect(session.prompt())
        // Ctrl-U discards everything before the cursor.
        client.send("gone\u{15}kept" + Key.enter)
        try client.expect("\nKEPT\n")
        try client.expect(session.prompt())

        client.send(Key.ctrlD)
        try client.expect("3 sent, 3 received")
        #expect(try client.waitForExit() == 0)
    }

    @Test("with colour allowed (NO_COLOR unset), readline's prompt markers never reach the terminal, and editing works")
    func colourPrompt() throws {
        let server = try ServerUnderTest()
        defer { _ = server.stop() }
        let scratch = try InteractiveScratch()
        let client = try scratch.client(
            ["--udp", "127.0.0.1", "\(server.port)"], prompt: "udp 127.0.0.1:\(server.port)> ",
            extraEnvironment: ["NO_COLOR": nil])
        // Ctrl-A and an insertion: readline redraws from the prompt's visible width.
        client.send("second\u{01}first " + Key.enter)
        try client.expect("\nFIRST SECOND\n")
        try client.expect("udp 127.0.0.1:\(server.port)> ")
        client.send(Key.ctrlD)
        #expect(try client.waitForExit() == 0)
        // \001 and \002 only tell readline what is invisible; it must not print them.
        #expect(!client.rawOutput.contains(1) && !client.rawOutput.contains(2))
    }

    @Test("an inputrc section `$if netrepl` applies (readline knows the program's name)")
    func inputrcConditional() throws {
        let server = try ServerUnderTest()
        defer { _ = server.stop() }
        let scratch = try InteractiveScratch()
        let inputrc = scratch.directory + "/inputrc"
        try """
        $if netrepl
        "\\C-t": "from inputrc"
        $endif
        $if otherprogram
        "\\C-t": "wrong section"
        $endif

        """.write(toFile: inputrc, atomically: true, encoding: .utf8)
        let prompt = "udp 127.0.0.1:\(server.port)> "
        let client = try scratch.client(
            ["--udp", "127.0.0.1", "\(server.port)"], prompt: prompt,
            extraEnvironment: ["INPUTRC": inputrc])

        // Ctrl-T: bound in the netrepl section, and bound otherwise in a later section that must not apply.
        client.send("\u{14}" + Key.enter)
        try client.expect("\nFROM INPUTRC\n")
        try client.expect(prompt)
        client.send(Key.ctrlD)
        #expect(try client.waitForExit() == 0)
    }

    @Test("Up-arrow recalls earlier lines of the same session")
    func upArrowWithinSession() throws {
        let session = try InteractiveSession()
        let client = session.client

        for line in ["first line", "second line"] {
            client.send(line + Key.enter)
            try client.expect("\n" + line.uppercased() + "\n")
            try client.expect(session.prompt())
        }
        client.send(Key.up + Key.up + Key.enter)
        let reply = try client.expect("\nFIRST LINE\n")
        #expect(!reply.contains("SECOND LINE"))
        try client.expect(session.prompt())

        client.send(Key.ctrlD)
        #expect(try client.waitForExit() == 0)
    }

    @Test("Up-arrow recalls a line typed before a restart (same history file)")
    func upArrowAfterRestart() throws {
        let session = try InteractiveSession()
        let first = session.client
        first.send("remember me" + Key.enter)
        try first.expect("\nREMEMBER ME\n")
        try first.expect(session.prompt())
        first.send(Key.ctrlD)
        #expect(try first.waitForExit() == 0)

        let second = try session.scratch.client(session.arguments, prompt: session.prompt())
        second.send(Key.up + Key.enter)
        try second.expect("\nREMEMBER ME\n")
        try second.expect(session.prompt())
        second.send(Key.ctrlD)
        #expect(try second.waitForExit() == 0)
    }

    @Test("Ctrl-R searches earlier lines backwards")
    func reverseSearch() throws {
        let session = try InteractiveSession()
        let client = session.client

        for line in ["alpha one", "beta two", "gamma three"] {
            client.send(line + Key.enter)
            try client.expect("\n" + line.uppercased() + "\n")
            try client.expect(session.prompt())
        }
        client.send(Key.ctrlR)
        try client.expect("reverse-i-search")
        client.send("eta")
        try client.expect("beta two")
        // Accepting the match redraws the prompt with the line, then the reply follows.
        client.send(Key.enter)
        let reply = try client.expect("\nBETA TWO\n")
        #expect(!reply.contains("GAMMA THREE"))
        try client.expect(session.prompt())

        client.send(Key.ctrlD)
        #expect(try client.waitForExit() == 0)
    }

    @Test("Tab completes : commands and lists the candidates")
    func tabCompletion() throws {
        let session = try InteractiveSession()
        let client = session.client

        // One candidate: completed in place, so Enter runs :tcp.
        client.send(":tc" + Key.tab)
        try client.expect(":tcp")
        client.send(Key.enter)
        try client.expect(session.prompt("tcp"))

        // Several: a second Tab lists them (no file names among them).
        client.send(":" + Key.tab + Key.tab)
        let listing = try client.expect(":udp")
        #expect(listing.contains(":help"))
        #expect(listing.contains(":quit"))
        try client.expect(session.prompt("tcp") + ":")
        client.send(Key.ctrlU + Key.ctrlD)
        #expect(try client.waitForExit() == 0)
    }

    @Test("Ctrl-C discards a half-typed line and re-prompts; the next line still works")
    func ctrlCClearsLine() throws {
        let session = try InteractiveSession()
        let client = session.client

        client.send("half typed")
        try client.expect("half typed")  // echoed: readline has it, so Ctrl-C is not a flush of unread input
        client.send(Key.ctrlC)
        try client.expect("^C\n")
        try client.expect("(Ctrl-C again or Ctrl-D leaves)")
        try client.expect(session.prompt())
        client.send("whole" + Key.enter)
        let reply = try client.expect("\nWHOLE\n")
        #expect(!reply.contains("HALF"))

        client.send(Key.ctrlD)
        try client.expect("1 sent, 1 received")
        #expect(try client.waitForExit() == 0)
    }

    @Test("the terminal is raw at the prompt and back to normal after Ctrl-D")
    func terminalRestoredAfterCtrlD() throws {
        let session = try InteractiveSession()
        let client = session.client

        // readline prepares the terminal before it shows the prompt.
        #expect(try client.localModes() & cooked == 0)
        client.send("ping" + Key.enter)
        try client.expect("\nPING\n")
        try client.expect(session.prompt())
        client.send(Key.ctrlD)
        try client.expect("1 sent, 1 received")
        #expect(try client.waitForExit() == 0)
        #expect(try client.localModes() & cooked == cooked)
    }

    @Test(
        "SIGTERM or SIGHUP at the prompt ends the session with the summary and a sane terminal",
        arguments: [SIGTERM, SIGHUP])
    func signalAtPrompt(signo: Int32) throws {
        let session = try InteractiveSession()
        let client = session.client

        client.send("before" + Key.enter)
        try client.expect("\nBEFORE\n")
        try client.expect(session.prompt())
        client.send("not sent")
        try client.expect("not sent")
        client.signal(signo)
        try client.expect("1 sent, 1 received")
        let status = try client.waitForExit()
        #expect(status < 128, "killed by signal \(status - 128) instead of exiting")
        #expect(try client.localModes() & cooked == cooked)
        #expect(!client.transcript.contains("NOT SENT"))
    }

    @Test("the terminal going away at the prompt (window closed) ends the session, no spinning")
    func hangUpAtPrompt() throws {
        let session = try InteractiveSession()
        let client = session.client

        client.send("before" + Key.enter)
        try client.expect("\nBEFORE\n")
        try client.expect(session.prompt())
        client.send("half")
        try client.expect("half")
        client.hangUp()
        let status = try client.waitForExit()
        #expect(status < 128, "killed by signal \(status - 128) instead of exiting")
    }

    @Test("Ctrl-Z at the prompt gives the terminal back and takes it again with the line redrawn")
    func ctrlZAtPrompt() throws {
        // No shell here to stop and resume it (its process group is orphaned, so the stop is
        // discarded): what is checked is the way back, the line kept and editing still working.
        let session = try InteractiveSession()
        let client = session.client

        client.send("kept")
        try client.expect("kept")
        client.send("\u{1A}")
        try client.expect("^Z\n" + session.prompt() + "kept")
        #expect(try client.localModes() & cooked == 0)
        client.send(" line" + Key.enter)
        try client.expect("\nKEPT LINE\n")
        try client.expect(session.prompt())
        client.send(Key.ctrlD)
        #expect(try client.waitForExit() == 0)
        #expect(try client.localModes() & cooked == cooked)
    }

    @Test("a window resize at the prompt leaves editing working")
    func resizeAtPrompt() throws {
        let session = try InteractiveSession()
        let client = session.client

        client.send("resized")
        try client.expect("resized")
        client.resize(columns: 160, rows: 40)
        client.send(" window" + Key.enter)
        try client.expect("\nRESIZED WINDOW\n")
        try client.expect(session.prompt())
        client.send(Key.ctrlD)
        #expect(try client.waitForExit() == 0)
    }

    @Test("under TCP, a server killed and restarted on the same port: the next line reconnects and says so")
    func tcpServerRestart() throws {
        let session = try InteractiveSession("--tcp")
        let client = session.client

        client.send("before restart" + Key.enter)
        try client.expect("\nBEFORE RESTART\n")
        try client.expect(session.prompt("tcp"))

        _ = session.server.stop()
        // Said at once, at the idle prompt (it closes or resets the connection as it stops).
        try client.expect("tcp: the server ")
        try client.expect("; the next line reconnects")
        session.server = try ServerUnderTest(port: session.port)

        client.send("after restart" + Key.enter)
        try client.expect("reconnected")
        try client.expect("\nAFTER RESTART\n")

        client.send(Key.ctrlD)
        try client.expect("2 sent, 2 received")
        #expect(try client.waitForExit() == 0)
    }

    @Test("a UDP line to a socket that never answers is reported lost")
    func udpTimeoutIsLost() throws {
        let silent = try SilentUDPSocket()
        let scratch = try InteractiveScratch()
        let prompt = "udp 127.0.0.1:\(silent.port)> "
        let client = try scratch.client(["--udp", "--timeout", "200ms", "127.0.0.1", "\(silent.port)"], prompt: prompt)

        client.send("anyone there" + Key.enter)
        try client.expect("lost")
        try client.expect(prompt)
        client.send(Key.ctrlD)
        try client.expect("1 sent, 0 received")
        try client.expect("100% loss")
        // Some line was lost: exit status 1.
        #expect(try client.waitForExit() == 1)
    }
}

/// A bound UDP socket on 127.0.0.1 that never reads: datagrams to it are neither answered nor
/// refused (no ICMP port unreachable), as with a server that has hung.
final class SilentUDPSocket {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw HarnessError("bind 127.0.0.1:0: \(String(cString: strerror(errno)))")
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}
