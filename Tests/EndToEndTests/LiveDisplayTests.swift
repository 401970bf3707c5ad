// The chat-style display through a real pseudo-terminal (issue 11's "Done when"): what a server
// sends shows up the moment it arrives, above the line being typed, which stays intact, editable
// and is sent whole; typing ahead over each transport; a flood that cannot take the terminal.

import Foundation
import MisbehavingPeers
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The peak resident set of `pid` in KiB (VmHWM), nil once it is gone.
private func peakResidentKiB(of pid: pid_t) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
    else { return nil }
    return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
}

@Suite("live display", .serialized)
struct LiveDisplayTests {
    @Test("a late reply appears above a half-typed line, which stays intact, editable and is sent whole")
    func lateReplyAboveAHalfTypedLine() throws {
        let peer = UDPPeer(respond: { [.init(upper($0), after: $0 == Array("slow".utf8) ? .milliseconds(1_500) : .zero)] })
        defer { peer.stop() }
        let scratch = try InteractiveScratch()
        let prompt = "udp 127.0.0.1:\(peer.port)> "
        let client = try scratch.client(["--timeout", "300ms", "127.0.0.1", "\(peer.port)"], prompt: prompt)
        client.send("slow" + Key.enter)
        try client.expect("lost \"slow\"")
        try client.expect(prompt)
        client.send("half")
        try client.expect("half")
        // No key is pressed while the late reply comes: it goes above, and the line is redrawn.
        try client.expect("late reply to \"slow\"")
        try client.expect(prompt + "half")
        // Still editable: to the start, a letter there, back to the end, the rest, Enter.
        client.send("\u{01}>\u{05}-typed" + Key.enter)
        try client.expect(">HALF-TYPED\n")
        client.send(Key.ctrlD)
        try client.expect("2 sent, 1 received, 1 lost, +1 late")
        #expect(try client.waitForExit() == 1)
    }

    @Test("data a server sends unasked, and its close, are shown at an idle prompt with no Enter")
    func unaskedDataAndACloseAtAnIdlePrompt() throws {
        let peer = TCPPeer.chatty(pushes: ["news: hello from the server", "+OK pushed"], after: .milliseconds(300))
        defer { peer.stop() }
        let scratch = try InteractiveScratch()
        let prompt = "tcp 127.0.0.1:\(peer.port)> "
        let client = try scratch.client(["--tcp", "127.0.0.1", "\(peer.port)"], prompt: prompt)
        client.send("hi" + Key.enter)
        try client.expect("HI\n")
        try client.expect(prompt)
        try client.expect("sent: news: hello from the server\n")
        try client.expect("sent: +OK pushed\n")
        try client.expect("tcp: the server closed the connection")
        try client.expect(prompt)
        client.send("again" + Key.enter)
        try client.expect("reconnected to 127.0.0.1:\(peer.port)")
        try client.expect("AGAIN\n")
        client.send(Key.ctrlD)
        #expect(try client.waitForExit() == 0)
    }

    /// "slow" is answered late, "fast" at once: typed right after, it is sent and answered first.
    @Test("typing ahead over UDP and per-line TCP sends at once; each line gets its own reply", arguments: ["udp", "per-line"])
    func typeAheadSendsAtOnce(transport: String) throws {
        let delay: @Sendable ([UInt8]) -> Duration = { $0 == Array("slow".utf8) ? .milliseconds(800) : .zero }
        let udp = UDPPeer(respond: { [.init(upper($0), after: delay($0))] })
        let tcp = TCPPeer { connection in
            let all = connection.readToEnd()
            connection.sleep(delay(all))
            connection.write(upper(all))
        }
        defer { udp.stop(); tcp.stop() }
        let scratch = try InteractiveScratch()
        let (arguments, prompt) =
            transport == "udp"
            ? (["127.0.0.1", "\(udp.port)"], "udp 127.0.0.1:\(udp.port)> ")
            : (["--per-line", "127.0.0.1", "\(tcp.port)"], "tcp/per-line 127.0.0.1:\(tcp.port)> ")
        let client = try scratch.client(arguments, prompt: prompt)
        client.send("slow" + Key.enter)
        client.send("fast" + Key.enter)
        try client.expect("FAST\n")
        try client.expect("SLOW\n")
        client.send(Key.ctrlD)
        try client.expect("2 sent, 2 received, 0% loss")
        #expect(try client.waitForExit() == 0)
    }

    @Test("typing ahead over persistent TCP queues lines, shown as queued, and sends them in order")
    func typeAheadOverPersistentTCP() throws {
        let peer = TCPPeer { connection in
            while let line = connection.readLine() {
                connection.sleep(.milliseconds(300))
                connection.write(upper(line) + [UInt8(ascii: "\n")])
            }
        }
        defer { peer.stop() }
        let scratch = try InteractiveScratch()
        let prompt = "tcp 127.0.0.1:\(peer.port)> "
        let client = try scratch.client(["--tcp", "127.0.0.1", "\(peer.port)"], prompt: prompt)
        client.send("one" + Key.enter + "two" + Key.enter + "three" + Key.enter)
        try client.expect("queued \"two\" behind 1 line")
        try client.expect("queued \"three\" behind 2 lines")
        try client.expect("ONE\n")
        try client.expect("TWO\n")
        try client.expect("THREE\n")
        client.send(Key.ctrlD)
        try client.expect("3 sent, 3 received, 0% loss")
        #expect(try client.waitForExit() == 0)
    }

    @Test("Ctrl-C cancels every line waiting; the session goes on")
    func ctrlCCancelsWhatWaits() throws {
        let peer = UDPPeer(respond: { _ in [] })
        defer { peer.stop() }
        let scratch = try InteractiveScratch()
        let prompt = "udp 127.0.0.1:\(peer.port)> "
        let client = try scratch.client(["--timeout", "30s", "127.0.0.1", "\(peer.port)"], prompt: prompt)
        client.send("one" + Key.enter + "two" + Key.enter)
        try client.expect("two\n")
        client.send(Key.ctrlC)
        try client.expect("cancelled \"one\"")
        try client.expect("cancelled \"two\"")
        client.send(Key.ctrlD)
        try client.expect("2 sent, 0 received")
        #expect(try client.waitForExit() == 1)
    }

    /// 100,000 lines a second for three seconds on the connection: the terminal gets a few lines
    /// and a count, keys still echo (the delay is measured and printed, not asserted), and the
    /// client's memory stays bounded.
    @Test("a flood is coalesced, keys still echo, and memory stays bounded")
    func floodKeepsTheTerminal() throws {
        let peer = TCPPeer.flooding(linesPerSecond: 100_000, seconds: 3)
        defer { peer.stop() }
        let scratch = try InteractiveScratch()
        let prompt = "tcp 127.0.0.1:\(peer.port)> "
        let client = try scratch.client(["--tcp", "127.0.0.1", "\(peer.port)"], prompt: prompt)
        client.send("go" + Key.enter)
        try client.expect("GO\n")
        try client.expect("sent: flood")
        // Capitals, which nothing the server or netrepl prints contains: each key is found after
        // the one before it, whether readline echoed it alone or redrew the line after a notice.
        var delays: [Double] = []
        for key in "VWXYZ" {
            let sent = Date()
            client.send(String(key))
            try client.expect(String(key))
            delays.append(Date().timeIntervalSince(sent) * 1000)
        }
        let peak = try #require(peakResidentKiB(of: client.pid))
        client.send(Key.ctrlU + Key.ctrlD)
        try client.expect("1 sent, 1 received")
        #expect(try client.waitForExit() == 0)
        #expect(client.transcript.contains("more lines from the server in the last second"))
        let shown = client.transcript.components(separatedBy: "sent: flood").count - 1
        #expect(shown < 300, "\(shown) of 300,000 flood lines reached the terminal")
        let sorted = delays.sorted()
        print(
            "flood: echo delays \(delays.map { String(format: "%.0f", $0) }.joined(separator: ", ")) ms; over \(delays.count) keys: median \(String(format: "%.1f", sorted[sorted.count / 2])) ms, max \(String(format: "%.1f", sorted.last ?? 0)) ms; peak RSS \(peak / 1024) MiB"
        )
        #expect(peak < 64 * 1024, "netrepl peaked at \(peak) KiB")
    }
}
