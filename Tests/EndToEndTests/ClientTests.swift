// netrepl end to end in piped mode: the built executable against netrepl-server and against
// Python peers that behave as the textbook servers do; output streams, JSON, -c and exit statuses.

import Foundation
import Testing

import Glibc

/// The environment for a client run: a private history file, no colour.
func clientEnvironment(history: String? = nil, extra: [String: String] = [:]) -> [String: String] {
    var env = ProcessInfo.processInfo.environment
    env["NETREPL_HISTFILE"] = history ?? temporaryFile("history")
    env["NO_COLOR"] = "1"
    env.removeValue(forKey: "NETREPL_HISTSIZE")
    for (k, v) in extra { env[k] = v }
    return env
}

func temporaryFile(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("netrepl-e2e-\(UUID().uuidString)").appendingPathComponent(name).path
}

/// Runs `netrepl args` with `input` on its standard input (closed afterwards).
func client(
    _ args: [String], input: String = "", history: String? = nil,
    extra: [String: String] = [:]
) throws -> (status: Int32?, stdout: String, stderr: String) {
    let c = try Child(Built.client, args, environment: clientEnvironment(history: history, extra: extra))
    c.write(input)
    c.closeStdin()
    let status = c.waitForExit(seconds: 60)
    return (status, c.stdout, c.stderr)
}

/// A long-running Python peer that prints `port N` once listening.
private final class PythonPeer {
    let child: Child
    let port: Int

    convenience init(_ source: String) throws {
        try self.init(arguments: ["-c", source])
    }

    /// Runs `python3 -u arguments…`, which prints a first line ending in the port it listens on
    /// (`port N`, or the textbook servers' `The server is ready to receive on port N`).
    init(arguments: [String]) throws {
        child = try Child(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-u"] + arguments)
        child.waitFor { $0.stdout.contains("\n") || !$0.process.isRunning }
        guard let line = child.stdout.split(separator: "\n").first, let p = line.split(separator: " ").last.flatMap({ Int($0) }) else {
            throw HarnessError("python peer did not start: \(child.stdout) \(child.stderr)")
        }
        port = p
    }

    /// examples/textbook/TCPServer.py, on a free port: accept, read once, reply, close.
    static func textbookTCP() throws -> PythonPeer {
        try PythonPeer(arguments: [textbookProgram("TCPServer.py"), "0"])
    }

    /// examples/textbook/UDPServer.py, on a free port.
    static func textbookUDP() throws -> PythonPeer {
        try PythonPeer(arguments: [textbookProgram("UDPServer.py"), "0"])
    }

    /// A UDP socket that receives and never answers.
    static func silentUDP() throws -> PythonPeer {
        try PythonPeer(
            """
            from socket import *
            s = socket(AF_INET, SOCK_DGRAM)
            s.bind(('127.0.0.1', 0))
            print('port', s.getsockname()[1])
            while True:
                s.recvfrom(65536)
            """)
    }

    deinit { child.signal(SIGKILL) }
}

/// A port with nothing listening on it (bound by the kernel's choice, then released).
private func unusedPort() throws -> Int {
    // Free for both protocols: a UDP port whose TCP twin is free too (retry when it is not).
    let r = try python(
        """
        import socket
        for _ in range(100):
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1', 0)); p = u.getsockname()[1]
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                t.bind(('127.0.0.1', p))
            except OSError:
                continue
            print(p)
            break
        """)
    guard let p = Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw HarnessError("no port: \(r.stderr)") }
    return p
}

enum TransportCase: String, CaseIterable, Sendable {
    case udp, tcp, perLine
    var flags: [String] {
        switch self {
        case .udp: return ["--udp"]
        case .tcp: return ["--tcp"]
        case .perLine: return ["--per-line"]
        }
    }
}

@Suite(.serialized) struct ClientEndToEndTests {
    @Test(arguments: [TransportCase.udp, .tcp, .perLine])
    func pipedLineThatIsNotUTF8IsSentExactly(transport: TransportCase) throws {
        let server = try ServerUnderTest()
        let c = try Child(Built.client, ["-q"] + transport.flags + ["127.0.0.1", String(server.port)], environment: clientEnvironment())
        c.write(bytes: Array("ok\nab".utf8) + [0xFF, 0xC3] + Array("cd\n::x".utf8) + [0xE2, 0x82] + Array("\n".utf8))
        c.closeStdin()
        #expect(c.waitForExit() == 0)
        // The server returns invalid bytes unchanged: every byte went out and came back.
        #expect(c.stdoutBytes == Array("OK\nAB".utf8) + [0xFF, 0xC3] + Array("CD\n:X".utf8) + [0xE2, 0x82] + Array("\n".utf8))
        _ = server.stop()
    }

    @Test func pipedUDPPrintsOneReplyLinePerInputLine() throws {
        let server = try ServerUnderTest()
        defer { _ = server.stop() }
        let r = try client(["--udp", "127.0.0.1", String(server.port)], input: "a\nb\n")
        #expect(r.status == 0)
        #expect(r.stdout == "A\nB\n")
        #expect(r.stderr.contains("udp 127.0.0.1:\(server.port) · "))
        #expect(r.stderr.contains("--- udp statistics ---\n2 sent, 2 received, 0% loss\nrtt min/avg/max/mdev = "))
        #expect(!r.stdout.contains("\u{1b}") && !r.stderr.contains("\u{1b}"))
    }

    @Test func pipedTCPAndSwitchingTransportsMidSession() throws {
        let server = try ServerUnderTest()
        defer { _ = server.stop() }
        let input = "one\n:tcp\ntwo\n:tcp per-line\nthree\n:udp\nfour\n::five\n"
        let r = try client(["127.0.0.1", String(server.port)], input: input)
        #expect(r.status == 0)
        #expect(r.stdout == "ONE\nTWO\nTHREE\nFOUR\n:FIVE\n")
        #expect(r.stderr.contains("tcp: connected to 127.0.0.1:\(server.port) in "))
        #expect(r.stderr.contains("tcp/per-line 127.0.0.1:\(server.port) · connect "))
        #expect(r.stderr.contains("--- udp statistics ---\n3 sent, 3 received"))
        #expect(r.stderr.contains("--- tcp statistics ---\n2 sent, 2 received"))
    }

    @Test func unicodeUppercaseComesBackWhole() throws {
        let server = try ServerUnderTest()
        defer { _ = server.stop() }
        for transport in ["--udp", "--tcp", "--per-line"] {
            let r = try client([transport, "127.0.0.1", String(server.port)], input: "straße ﬃ\n")
            #expect(r.status == 0)
            #expect(r.stdout == "STRASSE FFI\n", "\(transport)")
        }
    }

    @Test func jsonHasOneObjectPerExchange() throws {
        let server = try ServerUnderTest()
        defer { _ = server.stop() }
        let r = try client(["--json", "127.0.0.1", String(server.port)], input: "hello\n:tcp\nworld\n")
        #expect(r.status == 0)
        let objects = try r.stdout.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        #expect(objects.count == 2)
        #expect(objects.map { $0["transport"] as? String } == ["udp", "tcp"])
        #expect(objects.map { $0["line"] as? String } == ["hello", "world"])
        #expect(objects.map { $0["reply"] as? String } == ["HELLO", "WORLD"])
        #expect(objects.map { $0["outcome"] as? String } == ["ok", "ok"])
        #expect(objects.allSatisfy { ($0["rtt_us"] as? Double ?? 0) > 0 })
        #expect(objects[1]["connect_us"] is Double)
    }

    @Test func dashCSendsOneLineAndExits() throws {
        let server = try ServerUnderTest()
        defer { _ = server.stop() }
        let r = try client(["-c", "hello world", "127.0.0.1", String(server.port)])
        #expect(r.status == 0)
        #expect(r.stdout == "HELLO WORLD\n")
        #expect(r.stderr.contains(" ms · 11 B"))
        let quiet = try client(["-q", "--tcp", "-c", "x", "-c", "y", "127.0.0.1", String(server.port)])
        #expect(quiet.status == 0)
        #expect(quiet.stdout == "X\nY\n")
        #expect(quiet.stderr == "")
    }

    @Test func serveEmbedsTheServer() throws {
        let r = try client(["--serve"], input: "embedded\n:tcp\nalso\n")
        #expect(r.status == 0)
        #expect(r.stdout == "EMBEDDED\nALSO\n")
        #expect(r.stderr.contains("udp 127.0.0.1:"))
    }

    @Test func serveOnATakenPortIsAOneLineErrorAndExit2() throws {
        let holder = try ServerUnderTest(["--host", "127.0.0.1"])
        defer { _ = holder.stop() }
        let r = try client(["--serve", "--port", String(holder.port)], input: "never sent\n")
        #expect(r.status == 2)
        #expect(r.stdout == "")
        #expect(
            r.stderr
                == "netrepl: cannot start the embedded server: cannot listen on tcp port \(holder.port): Address already in use (choose another with --port, or leave --port out for a free one)\n"
        )
    }

    @Test func udpTimeoutAgainstASilentPeerIsExit1() throws {
        let peer = try PythonPeer.silentUDP()
        let r = try client(["--timeout", "200ms", "127.0.0.1", String(peer.port)], input: "anyone there\nstill?\n")
        #expect(r.status == 1)
        #expect(r.stdout == "")
        #expect(r.stderr.contains("netrepl: lost \"anyone there\": no reply from udp 127.0.0.1:\(peer.port) within 200 ms"))
        #expect(r.stderr.contains("2 sent, 0 received, 2 lost, 100% loss"))
    }

    @Test func someLostSomeAnsweredIsExit1() throws {
        let server = try ServerUnderTest()
        defer { _ = server.stop() }
        let peer = try PythonPeer.silentUDP()
        let r = try client(
            ["--timeout", "200ms", "127.0.0.1", String(server.port)],
            input: "ok\n:connect 127.0.0.1 \(peer.port)\nlost\n")
        #expect(r.status == 1)
        #expect(r.stdout == "OK\n")
    }

    @Test func connectionRefusedIsExit2() throws {
        let port = try unusedPort()
        let udp = try client(["--timeout", "5s", "127.0.0.1", String(port)], input: "hello\n")
        #expect(udp.status == 2)
        #expect(udp.stderr.contains("netrepl: nothing listening on udp 127.0.0.1:\(port)"))
        let tcp = try client(["--tcp", "-c", "hello", "127.0.0.1", String(port)])
        #expect(tcp.status == 2)
        #expect(tcp.stderr.contains("netrepl: nothing listening on tcp 127.0.0.1:\(port)"))
    }

    @Test func usageErrorsAreExit2() throws {
        for args in [
            ["--udp", "--tcp"], ["--timeout", "soon"], ["-4", "-6"], ["--udp", "--per-line"], ["--bogus"],
            ["localhost", "70000"], ["--serve", "somehost"], ["--serve", "-6"],
        ] {
            let r = try client(args)
            #expect(r.status == 2, "\(args)")
            #expect(r.stdout == "")
            #expect(!r.stderr.isEmpty)
        }
        let unresolvable = try client(["-c", "x", "no-such-host.invalid"])
        #expect(unresolvable.status == 2)
        #expect(unresolvable.stderr.contains("cannot resolve no-such-host.invalid"))
    }

    @Test func textbookTCPServerInBothModes() throws {
        let peer = try PythonPeer.textbookTCP()
        let perLine = try client(["--per-line", "127.0.0.1", String(peer.port)], input: "first sentence\nsecond sentence\n")
        #expect(perLine.status == 0)
        #expect(perLine.stdout == "FIRST SENTENCE\nSECOND SENTENCE\n")
        #expect(perLine.stderr.contains(" · connect "))
        let persistent = try client(["--tcp", "127.0.0.1", String(peer.port)], input: "first\nsecond\nthird\n")
        #expect(persistent.status == 0)
        #expect(persistent.stdout == "FIRST\nSECOND\nTHIRD\n")
        // The textbook server closes after each reply: every later line reconnects and says so.
        #expect(persistent.stderr.components(separatedBy: "; reconnected to").count == 3)
    }

    @Test func textbookUDPServer() throws {
        let peer = try PythonPeer.textbookUDP()
        let r = try client(["127.0.0.1", String(peer.port)], input: "hello\nworld\n")
        #expect(r.status == 0)
        #expect(r.stdout == "HELLO\nWORLD\n")
    }

    @Test func serverRestartedUnderATCPSessionReconnects() throws {
        let first = try ServerUnderTest()
        let port = first.port
        let c = try Child(Built.client, ["--tcp", "127.0.0.1", String(port)], environment: clientEnvironment())
        c.write("before\n")
        #expect(c.waitFor { $0.stdout.contains("BEFORE\n") })
        #expect(first.stop() == 0)
        let second = try ServerUnderTest(port: port)
        defer { _ = second.stop() }
        c.write("after\n")
        #expect(c.waitFor { $0.stdout.contains("AFTER\n") })
        c.closeStdin()
        #expect(c.waitForExit() == 0)
        #expect(c.stdout == "BEFORE\nAFTER\n")
        #expect(c.stderr.contains("; reconnected to 127.0.0.1:\(port) in "))
    }

    @Test func sigtermWhileWaitingPrintsTheSummary() throws {
        let peer = try PythonPeer.silentUDP()
        let c = try Child(Built.client, ["--timeout", "60s", "127.0.0.1", String(peer.port)], environment: clientEnvironment())
        c.write("waiting\n")
        // Let it send before the signal (bounded wait for the datagram is not observable; a short pause is enough).
        usleep(300_000)
        c.signal(SIGTERM)
        let status = c.waitForExit()
        #expect(status == 1)
        #expect(c.stderr.contains("interrupted by SIGTERM while waiting for the reply to \"waiting\""))
        #expect(c.stderr.contains("--- udp statistics ---\n1 sent, 0 received"))
    }

    /// Waiting for a piped line (standard input left open, nothing waiting for a reply): a
    /// signal ends the session, whichever of the process's threads the kernel gave it to.
    @Test(arguments: [SIGTERM, SIGINT, SIGHUP])
    func aSignalWhileWaitingForPipedInputEndsTheSession(signal: Int32) throws {
        let server = try ServerUnderTest()
        defer { _ = server.stop() }
        let c = try Child(Built.client, ["127.0.0.1", String(server.port)], environment: clientEnvironment())
        c.write("one\n")
        #expect(c.waitFor { $0.stdout.contains("ONE") })
        c.signal(signal)
        let status = c.waitForExit()
        if status == nil { c.signal(SIGKILL) }
        #expect(status != nil)
        #expect(c.stderr.contains("--- udp statistics ---\n1 sent, 1 received"))
    }

    @Test func historyIsWrittenPrivatelyAndRecallWorksAcrossSessions() throws {
        let server = try ServerUnderTest()
        defer { _ = server.stop() }
        let history = temporaryFile("state/history")
        // A script keeps no history unless asked with --history-file.
        let unasked = temporaryFile("history")
        #expect(try client(["127.0.0.1", String(server.port)], input: "not kept\n", history: unasked).status == 0)
        #expect(!FileManager.default.fileExists(atPath: unasked))
        let first = try client(["--history-file", history, "127.0.0.1", String(server.port)], input: "remember me\n:nohist secret\n")
        #expect(first.status == 0)
        var st = stat()
        #expect(stat(history, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o600)
        let text = try String(contentsOfFile: history, encoding: .utf8)
        #expect(text.contains("\tudp\t127.0.0.1:\(server.port)\tok\t"))
        #expect(text.hasSuffix("\tremember me\n"))
        #expect(!text.contains("secret"))
        let second = try client(["--history-file", history, "127.0.0.1", String(server.port)], input: "!1\n:history\n")
        #expect(second.status == 0)
        #expect(second.stdout == "REMEMBER ME\n")
        #expect(second.stderr.contains("remember me"))
    }

    @Test func everyHelpOptionIsInTheManPage() throws {
        let help = try Child(Built.client, ["--help"])
        #expect(help.waitForExit() == 0)
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let page = try String(contentsOf: repository.appendingPathComponent("man/netrepl.1"), encoding: .utf8)
        // Option names as the help prints them, at the start of its lines ("  --json", "  -c, --command <line>").
        let options = Set(
            help.stdout.split(separator: "\n").flatMap { line in
                line.split(separator: " ").prefix(2).map { String($0.prefix { $0 != "," && $0 != "=" }) }
            }.filter { $0.hasPrefix("--") && $0.count > 2 })
        #expect(
            options.isSuperset(of: [
                "--udp", "--tcp", "--per-line", "--timeout", "--serve", "--port", "--history-file",
                "--json", "--raw", "--quiet", "--command", "--version", "--help",
            ]))
        for option in options {
            let name = option.dropFirst(2)
            #expect(page.contains("Fl \\-\(name)") || page.contains("Fl -\(name)"), "\(option) is missing from man/netrepl.1")
        }
        for short in ["4", "6", "c", "q", "h"] {
            #expect(page.contains("Fl \(short)"), "-\(short) is missing from man/netrepl.1")
        }
    }
}
