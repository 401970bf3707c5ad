// The built netrepl against servers that misbehave on purpose, as a person (a pty) and a script
// (pipes) meet them: replies shown only against their own lines, truncation and deadlines, bounded
// memory under a flood, a terminal that no server byte can reach, Ctrl-C and a stop mid-wait.

import Foundation
import Glibc
import MisbehavingPeers
import Synchronization
import Testing

private func environment(history: String? = nil) -> [String: String] {
    var env = ProcessInfo.processInfo.environment
    env["NETREPL_HISTFILE"] = history ?? (FileManager.default.temporaryDirectory.path + "/netrepl-hostile-\(UUID().uuidString)")
    env["NO_COLOR"] = "1"
    env.removeValue(forKey: "NETREPL_HISTSIZE")
    return env
}

private func jsonObjects(_ text: String) throws -> [[String: Any]] {
    try text.split(separator: "\n").map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
}

/// The peak resident set of a running process, from /proc.
private func peakResidentKiB(_ pid: pid_t) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
    else { return nil }
    return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
}

@Suite(.serialized) struct HostileServerTests {
    /// Every reply after the timeout, and twice: in a script's JSON no line ever carries another's reply.
    @Test("delayed, doubled replies stay with their own lines", arguments: ["--udp", "--tcp"])
    func attributionInAScript(transport: String) throws {
        let udp = UDPPeer(respond: { [.init(upper($0), after: .milliseconds(40)), .init(upper($0), after: .milliseconds(41))] })
        let tcp = TCPPeer { c in
            while let line = c.readLine() {
                c.sleep(.milliseconds(40))
                c.write(upper(line) + [10] + upper(line) + [10])
            }
        }
        defer { udp.stop(); tcp.stop() }
        let port = transport == "--udp" ? udp.port : tcp.port
        let lines = (0..<40).map { $0 % 7 == 0 ? "again" : "line \($0)" }
        let c = try Child(Built.client, [transport, "--json", "--timeout", "25ms", "127.0.0.1", String(port)], environment: environment())
        c.write(lines.joined(separator: "\n") + "\n:timeout 1\nlast\n")
        c.closeStdin()
        #expect(c.waitForExit(seconds: 60) == 1)
        let objects = try jsonObjects(c.stdout)
        var ok = 0, late = 0
        for object in objects {
            guard let line = object["line"] as? String, let outcome = object["outcome"] as? String else { continue }
            switch outcome {
            case "ok":
                #expect(object["reply"] as? String == line.uppercased(), "\(line) shown with \(object["reply"] ?? "nil")")
                ok += 1
            case "late":
                #expect(object["reply"] as? String == line.uppercased())
                late += 1
            default:
                #expect(["lost", "ignored"].contains(outcome))
            }
        }
        #expect(ok >= 1)  // "last", with a timeout above the delay
        #expect(late >= 1)
    }

    @Test func aReplyCutShortIsTruncatedAndExit1() throws {
        let peer = TCPPeer { c in
            guard c.readLine() != nil else { return }
            c.write("PART")
            c.sleep(.milliseconds(100))
            c.reset()
        }
        defer { peer.stop() }
        let c = try Child(Built.client, ["--tcp", "127.0.0.1", String(peer.port)], environment: environment())
        c.write("partial\n")
        c.closeStdin()
        #expect(c.waitForExit() == 1)
        #expect(c.stderr.contains("netrepl: truncated reply to \"partial\": 4 bytes, then the server reset the connection"))
        #expect(c.stderr.contains("1 sent, 0 received, +1 truncated, 100% loss"))
        #expect(c.stdout.isEmpty)
    }

    @Test func aDribblingServerCannotHoldTheWaitPastTheTimeout() throws {
        let peer = TCPPeer { c in
            guard c.readLine() != nil else { return }
            for byte in Array(String(repeating: "X", count: 2_000).utf8) + [10] {
                c.write([byte])
                c.sleep(.milliseconds(5))
            }
        }
        defer { peer.stop() }
        let c = try Child(Built.client, ["--tcp", "--timeout", "300ms", "127.0.0.1", String(peer.port)], environment: environment())
        c.write("slowly\n")
        c.closeStdin()
        // Ten seconds of dribbling are on the way; the client is done long before.
        #expect(c.waitForExit(seconds: 8) == 1)
        #expect(c.stderr.contains("netrepl: lost \"slowly\": no reply from tcp 127.0.0.1:\(peer.port) within 300 ms ("))
        #expect(c.stdout.isEmpty)
    }

    /// 60 kB datagrams flooded at the line sent before, for seconds, while a line waits: counted,
    /// not kept; the wait still ends with its own reply, and memory stays small.
    @Test func aFloodDuringAWaitKeepsMemoryBounded() throws {
        let (fd, port) = boundSocket(type: Int32(SOCK_DGRAM.rawValue))
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            defer { done.signal() }
            var buffer = [UInt8](repeating: 0, count: 65_536)
            var first = sockaddr_storage()
            var firstLength = socklen_t(0)
            let junk = [UInt8](repeating: 0x58, count: 60_000)
            for _ in 0..<2 {
                var from = sockaddr_storage()
                var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let n = withUnsafeMutablePointer(to: &from) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buffer, buffer.count, 0, $0, &length) }
                }
                guard n >= 0 else { return }
                let reply = upper(Array(buffer[0..<n]))
                if firstLength == 0 {
                    first = from
                    firstLength = length
                } else {
                    // 6,000 × 60 kB (360 MB) at the first line's socket, over about three seconds.
                    for i in 0..<6_000 {
                        _ = withUnsafePointer(to: &first) { p in
                            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, junk, junk.count, 0, $0, firstLength) }
                        }
                        if i % 20 == 0 { usleep(10_000) }
                    }
                }
                _ = withUnsafePointer(to: &from) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, reply, reply.count, 0, $0, length) }
                }
            }
        }
        defer { shutdown(fd, Int32(SHUT_RDWR)); done.wait(); close(fd) }
        let c = try Child(Built.client, ["--timeout", "30s", "127.0.0.1", String(port)], environment: environment())
        c.write("first\nsecond\n")
        #expect(c.waitFor(seconds: 60) { $0.stdout.contains("SECOND\n") })
        let peak = try #require(peakResidentKiB(c.process.processIdentifier))
        c.closeStdin()
        #expect(c.waitForExit() == 0)
        #expect(c.stdout == "FIRST\nSECOND\n")
        #expect(peak < 64 * 1024, "netrepl peaked at \(peak) KiB")
        #expect(c.stderr.contains("unexpected messages from the server"))
    }

    @Test func wordingBlamesTheRightPartyInAScript() throws {
        let zero = try Child(Built.client, ["--timeout", "0", "127.0.0.1", "1"], environment: environment())
        #expect(zero.waitForExit() == 2)
        #expect(zero.stderr.contains("--timeout must be more than 0"))
        let family = try Child(Built.client, ["-6", "127.0.0.1", "1"], environment: environment())
        family.closeStdin()
        #expect(family.waitForExit() == 2)
        #expect(family.stderr.contains("127.0.0.1 is not an IPv6 address; drop -6"))
        let refused = try Child(Built.client, ["127.0.0.1", String(closedPort(type: Int32(SOCK_DGRAM.rawValue)))], environment: environment())
        refused.write("x\n")
        refused.closeStdin()
        #expect(refused.waitForExit() == 2)
        #expect(refused.stderr.contains("nothing listening on udp"))
        #expect(!refused.stderr.contains(":connect"))
    }
}

@Suite(.serialized) struct HostileServerInteractiveTests {
    /// Escape sequences from the server in a late reply, a duplicate and a reply, and a history
    /// file with escapes in its fields: nothing of them reaches the terminal as it is.
    @Test func noServerOrHistoryBytesReachTheTerminal() throws {
        let title = Array("\u{1b}]0;pwned\u{07}".utf8)
        let peer = UDPPeer(respond: { datagram in
            datagram == Array("slow".utf8)
                ? [.init(title + upper(datagram), after: .milliseconds(300))]
                : [.init(title + upper(datagram)), .init(title + Array("\u{1b}[2J".utf8))]
        })
        defer { peer.stop() }
        let scratch = try InteractiveScratch()
        // A crafted history: escapes in the target and the line fields.
        try "2026-11-25T08:44:04.123Z\tudp\tevil\\x1b]0;t\\x07:1\tok\t1.000\tline\\x1b[31mred\n"
            .write(toFile: scratch.historyFile, atomically: true, encoding: .utf8)
        let prompt = "udp 127.0.0.1:\(peer.port)> "
        let client = try scratch.client(["--timeout", "100ms", "127.0.0.1", String(peer.port)], prompt: prompt)
        client.send("slow" + Key.enter)
        try client.expect("lost")
        try client.expect(prompt)
        client.send(":timeout 2" + Key.enter)
        try client.expect(prompt)
        usleep(400_000)
        client.send("fast" + Key.enter)
        try client.expect("FAST")
        try client.expect(prompt)
        client.send(":history" + Key.enter)
        try client.expect("fast")
        try client.expect(prompt)
        client.send(Key.ctrlD)
        #expect(try client.waitForExit() == 1)
        let raw = String(decoding: client.rawOutput, as: UTF8.self)
        #expect(!raw.contains("\u{1b}]0;"))
        #expect(!raw.contains("\u{1b}[2J"))
        #expect(!raw.contains("\u{1b}[31m"))
        #expect(raw.contains("\\x1b]0;pwned\\x07FAST"))
        #expect(raw.contains("late reply to \"slow\""))
        #expect(raw.contains("evil\\x1b]0;t\\x07:1"))
        #expect(raw.contains("line\\x1b[31mred"))
    }

    /// netrepl in a pty, waiting a minute for replies, against a peer that never answers `hang`
    /// and uppercases anything else; the scratch directory lives as long as the client is used.
    private struct HangingPeerSession {
        let peer = UDPPeer(respond: { datagram in datagram == Array("hang".utf8) ? [] : [.init(upper(datagram))] })
        let scratch: InteractiveScratch
        let prompt: String
        let client: PTYProcess

        init() throws {
            scratch = try InteractiveScratch()
            prompt = "udp 127.0.0.1:\(peer.port)> "
            client = try scratch.client(["--timeout", "60s", "127.0.0.1", String(peer.port)], prompt: prompt)
        }
    }

    @Test func ctrlCWhileWaitingCancelsThatLineAndASecondLeaves() throws {
        let session = try HangingPeerSession()
        defer { session.peer.stop() }
        let (client, prompt) = (session.client, session.prompt)
        client.send("hang" + Key.enter)
        try client.expect("hang")
        usleep(300_000)
        client.send(Key.ctrlC)
        try client.expect("cancelled \"hang\" while waiting for its reply")
        try client.expect(prompt)
        client.send("next" + Key.enter)
        try client.expect("NEXT")
        try client.expect(prompt)
        client.send(Key.ctrlC)
        try client.expect("(Ctrl-C again or Ctrl-D leaves)")
        try client.expect(prompt)
        client.send(Key.ctrlC)
        try client.expect("2 sent, 1 received, +1 cancelled, 50% loss")
        #expect(try client.waitForExit() == 1)
    }

    /// After Ctrl-D the terminal is back in its normal mode and echoes `^C` itself: what follows
    /// starts on a line of its own.
    @Test func ctrlCWhileWaitingAfterCtrlDStartsAFreshLine() throws {
        let session = try HangingPeerSession()
        defer { session.peer.stop() }
        let (client, prompt) = (session.client, session.prompt)
        client.send("hang" + Key.enter)
        try client.expect("hang")
        try client.expect(prompt)
        client.send(Key.ctrlD)
        try client.expect("Ctrl-C stops waiting")
        usleep(200_000)
        client.send(Key.ctrlC)
        try client.expect("1 sent, 0 received, +1 cancelled")
        #expect(try client.waitForExit() == 1)
        let raw = String(decoding: client.rawOutput, as: UTF8.self)
        #expect(raw.contains("cancelled \"hang\""))
        #expect(!raw.contains("^Cnetrepl"))
        // Leaving: no later reply will be shown, so none is promised.
        #expect(!raw.contains("shown as late"))
    }

    /// Stopped (as Ctrl-Z and a shell would) before its reply came and continued after its
    /// deadline: the kernel received the reply in time, so it is shown, not reported lost.
    @Test func aStopMidWaitDoesNotLoseAReplyThatCameInTime() throws {
        let peer = UDPPeer(respond: { [.init(upper($0), after: .milliseconds(150))] })
        defer { peer.stop() }
        let scratch = try InteractiveScratch()
        let prompt = "udp 127.0.0.1:\(peer.port)> "
        let client = try scratch.client(["--timeout", "1s", "127.0.0.1", String(peer.port)], prompt: prompt)
        client.send("paused" + Key.enter)
        usleep(50_000)
        client.signal(SIGSTOP)
        usleep(1_500_000)
        client.signal(SIGCONT)
        try client.expect("PAUSED")
        try client.expect(prompt)
        client.send(Key.ctrlD)
        try client.expect("1 sent, 1 received, 0% loss")
        #expect(try client.waitForExit() == 0)
    }
}
