// `netrepl bench` end to end: against netrepl-server (plain and impaired) and misbehaving peers,
// over UDP and TCP, checking counts, verification, the JSON's shape and the exit status; never
// how fast anything was.

import Foundation
import Glibc
import MisbehavingPeers
import Testing

private struct BenchRun {
    let status: Int32?
    let stdout: String
    let stderr: String

    /// The one JSON object `--json` prints.
    func object() throws -> [String: Any] {
        let data = Data(stdout.utf8)
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw HarnessError("not a JSON object: \(stdout) / \(stderr)")
        }
        return object
    }
}

private func bench(_ arguments: [String]) throws -> BenchRun {
    let child = try Child(Built.client, ["bench"] + arguments)
    child.closeStdin()
    let status = child.waitForExit(seconds: 60)
    return BenchRun(status: status, stdout: child.stdout, stderr: child.stderr)
}

private func int(_ object: [String: Any], _ key: String) -> Int { (object[key] as? NSNumber)?.intValue ?? -1 }

/// Every request sent in the window ends up exactly one way, or is still in flight at the end.
private func expectEveryRequestAccountedFor(_ o: [String: Any]) {
    #expect(int(o, "sent") == int(o, "ok") + int(o, "wrong") + int(o, "lost") + int(o, "failed") + int(o, "in_flight"))
}

@Suite(.serialized) struct BenchEndToEndTests {
    @Test(arguments: ["--udp", "--tcp"])
    func closedLoopAgainstTheServerVerifiesEveryReply(transport: String) throws {
        let server = try ServerUnderTest(["--host", "127.0.0.1"])
        defer { _ = server.stop() }
        let run = try bench([transport, "--clients", "4", "--threads", "2", "--duration", "500ms", "--json", "127.0.0.1", String(server.port)])
        #expect(run.status == 0, "\(run.stderr)")
        let o = try run.object()
        #expect(o["transport"] as? String == String(transport.dropFirst(2)))
        #expect(o["target"] as? String == "127.0.0.1:\(server.port)")
        #expect(int(o, "clients") == 4 && int(o, "threads") == 2 && int(o, "size") == 32)
        #expect(o["loop"] as? String == "closed" && o["latency_from"] as? String == "send")
        #expect(o["rate"] is NSNull)
        #expect(int(o, "ok") > 0)
        #expect(int(o, "wrong") == 0 && int(o, "lost") == 0 && int(o, "failed") == 0)
        expectEveryRequestAccountedFor(o)
        let latency = try #require(o["latency_us"] as? [String: Double])
        #expect(Set(latency.keys) == ["min", "p50", "p90", "p99", "p99_9", "max", "mean"])
        #expect(latency["min"]! <= latency["p50"]! && latency["p50"]! <= latency["p99"]! && latency["p99"]! <= latency["max"]!)
        #expect((o["requests_per_s"] as? Double ?? 0) > 0)
        // Only the JSON on stdout, and no progress line when stderr is not a terminal.
        #expect(run.stdout.split(separator: "\n").count == 1)
        #expect(run.stderr.isEmpty)
    }

    @Test func openLoopNeverSendsAheadOfItsSchedule() throws {
        let server = try ServerUnderTest(["--host", "127.0.0.1"])
        defer { _ = server.stop() }
        let run = try bench(["--tcp", "--clients", "2", "--rate", "200", "--duration", "500ms", "--json", "127.0.0.1", String(server.port)])
        #expect(run.status == 0, "\(run.stderr)")
        let o = try run.object()
        #expect(o["loop"] as? String == "open" && o["latency_from"] as? String == "intended")
        #expect((o["rate"] as? Double) == 200)
        // 200/s for 0.5 s is 100 scheduled sends (one more per client at most, at the edges).
        #expect(int(o, "sent") > 0 && int(o, "sent") <= 102)
        expectEveryRequestAccountedFor(o)
    }

    @Test func lossyServerCountsLostAndStrayRepliesApartFromWrongOnes() throws {
        let server = try ServerUnderTest(["--host", "127.0.0.1", "--loss", "40%", "--duplicate", "50%", "--seed", "7"])
        defer { _ = server.stop() }
        let run = try bench(["--udp", "--clients", "4", "--timeout", "50ms", "--duration", "1", "--json", "127.0.0.1", String(server.port)])
        #expect(run.status == 1, "lost requests make the run fail: \(run.stderr)")
        let o = try run.object()
        #expect(int(o, "lost") > 0)
        #expect(int(o, "ok") > 0)
        #expect(int(o, "stray") > 0, "duplicated replies arrive after their request was settled")
        #expect(int(o, "wrong") == 0)
        expectEveryRequestAccountedFor(o)
    }

    @Test func repliesThatAreNotTheUppercaseAreCountedWrong() throws {
        // Echoes without uppercasing: every reply has the right length and header, wrong letters.
        let peer = UDPPeer(respond: { [UDPPeer.Send($0)] })
        defer { peer.stop() }
        let run = try bench(["--udp", "--clients", "2", "--duration", "300ms", "--json", "127.0.0.1", String(peer.port)])
        #expect(run.status == 1)
        let o = try run.object()
        #expect(int(o, "ok") == 0)
        #expect(int(o, "wrong") > 0)
        #expect(o["latency_us"] is NSNull)
        expectEveryRequestAccountedFor(o)
    }

    @Test func aServerThatClosesAfterEachReplyIsCountedFailedAndReconnected() throws {
        // The textbook TCP server: one read, one reply, close.
        let peer = TCPPeer(lineMode: false)
        defer { peer.stop() }
        let run = try bench(["--tcp", "--clients", "2", "--duration", "500ms", "--json", "127.0.0.1", String(peer.port)])
        #expect(run.status == 1)
        let o = try run.object()
        #expect(int(o, "ok") > 2, "each new connection answers once")
        #expect(int(o, "failed") > 0)
        #expect(int(o, "wrong") == 0)
        #expect(peer.accepted.count > 2)
        expectEveryRequestAccountedFor(o)
    }

    @Test func summaryNamesTheCountsAndPercentiles() throws {
        let server = try ServerUnderTest(["--host", "127.0.0.1"])
        defer { _ = server.stop() }
        let run = try bench(["--clients", "3", "--duration", "300ms", "--size", "100", "127.0.0.1", String(server.port)])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.hasPrefix("bench: udp to 127.0.0.1:\(server.port), 3 clients on "))
        #expect(run.stdout.contains("100-byte requests, closed loop\n"))
        #expect(run.stdout.contains(" 0 wrong, 0 lost, 0 failed, "))
        #expect(run.stdout.contains("latency:  min "))
        #expect(run.stdout.contains(" p99.9 "))
    }

    @Test func progressLineOnATerminalIsErasedBeforeTheSummary() throws {
        let server = try ServerUnderTest(["--host", "127.0.0.1"])
        defer { _ = server.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netrepl-bench-\(UUID().uuidString)").path
        let env = PTYProcess.isolatedEnvironment(home: directory, historyFile: directory + "/history")
        let process = try PTYProcess(Built.client, ["bench", "--clients", "2", "--duration", "2500ms", "127.0.0.1", String(server.port)], environment: env)
        // The transcript is the text without its control sequences: the progress lines, then the summary.
        try process.expect("bench: 1 s of 3 s, ")
        try process.expect(" settled, ")
        try process.expect("bench: udp to 127.0.0.1:")
        #expect(try process.waitForExit() == 0)
    }

    @Test func interruptEndsTheRunWithItsSummary() throws {
        let peer = UDPPeer()
        defer { peer.stop() }
        let child = try Child(Built.client, ["bench", "--clients", "2", "--duration", "30", "--json", "127.0.0.1", String(peer.port)])
        child.closeStdin()
        // Requests arriving means the handler is in place (it is installed before any socket opens).
        #expect(child.waitFor { _ in peer.received.count > 10 })
        child.signal(SIGINT)
        #expect(child.waitForExit() == 0)
        let o = try BenchRun(status: 0, stdout: child.stdout, stderr: child.stderr).object()
        #expect(o["interrupted"] as? Bool == true)
        #expect(int(o, "ok") > 0)
    }

    @Test func nothingListeningOnTCPIsAConnectionError() throws {
        let port = closedPort(type: Int32(SOCK_STREAM.rawValue))
        let run = try bench(["--tcp", "--duration", "1", "127.0.0.1", String(port)])
        #expect(run.status == 2)
        #expect(run.stderr == "netrepl: connect to 127.0.0.1:\(port) failed: Connection refused\n")
        #expect(run.stdout.isEmpty)
    }

    @Test(arguments: [
        (["--clients", "0"], "--clients must be"),
        (["--size", "4"], "--size must be"),
        (["--rate", "0"], "--rate must be"),
        (["--duration", "0"], "--duration must be"),
        (["--duration", "soon"], "--duration"),
        (["127.0.0.1", "70000"], "PORT 70000 is out of range"),
    ])
    func badOptionsAreOneLineUsageErrors(arguments: [String], message: String) throws {
        let run = try bench(arguments)
        #expect(run.status == 2)
        #expect(run.stderr.contains(message), "\(run.stderr)")
        #expect(run.stdout.isEmpty)
    }

    @Test func helpListsTheBenchOptions() throws {
        let run = try bench(["--help"])
        #expect(run.status == 0)
        for option in ["--udp", "--tcp", "--clients", "--threads", "--duration", "--warmup", "--size", "--rate", "--timeout", "--json"] {
            #expect(run.stdout.contains(option), "\(option)")
        }
        #expect(run.stdout.contains("USAGE: netrepl bench "))
    }

    @Test func everyBenchOptionIsInTheManPage() throws {
        let run = try bench(["--help"])
        let page = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("man/netrepl.1"), encoding: .utf8)
        let options = Set(
            run.stdout.split(whereSeparator: { " ,\n".contains($0) }).filter { $0.hasPrefix("--") && $0.count > 2 }
                .map { String($0.prefix { $0 != "=" }) })
        #expect(options.count >= 10)
        for option in options {
            let name = option.dropFirst(2)
            let documented = ["Fl -", "Fl \\-", ", Fl -"].contains { page.contains("\($0)\(name) ") || page.contains("\($0)\(name)\n") }
            #expect(documented, "\(option) is missing from man/netrepl.1")
        }
    }

    /// `bench` is only a word in the first place; the interactive client keeps HOST PORT.
    @Test func theClientStillTakesHostAndPort() throws {
        let server = try ServerUnderTest()
        defer { _ = server.stop() }
        let child = try Child(Built.client, ["-q", "localhost", String(server.port)], environment: ["NETREPL_HISTFILE": "/dev/null"])
        child.write("bench\n")
        child.closeStdin()
        #expect(child.waitForExit() == 0)
        #expect(child.stdout == "BENCH\n")
    }
}
