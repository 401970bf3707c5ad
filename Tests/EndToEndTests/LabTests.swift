// The labs as commands, end to end: :ping against netrepl-server plain and impaired, and against
// netrepl --serve with the impairment flags; Ctrl-C ending the probing but not the session;
// :compare, :trace and :capture over real sockets; --self-test.

import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The lines of `text` that are a pinger's probe lines: `Ping N T ms` (perhaps `(reordered)`) or
/// `Request timed out`.
private func probeLines(_ text: String) -> (answered: [Int], timedOut: Int) {
    var answered: [Int] = []
    var timedOut = 0
    for line in text.split(separator: "\n") {
        let words = line.split(separator: " ")
        if words.count == 4 || (words.count == 5 && words[4] == "(reordered)"), words[0] == "Ping", let n = Int(words[1]),
            Double(words[2]) != nil, words[3] == "ms"
        {
            answered.append(n)
        } else if line == "Request timed out" {
            timedOut += 1
        }
    }
    return (answered, timedOut)
}

@Suite(.serialized) struct LabTests {
    @Test func pingGivesOneTextbookLinePerProbeAndPingsSummary() throws {
        let server = try ServerUnderTest()
        defer { _ = server.stop() }
        let r = try client(["-c", ":ping 5 20ms 64", "127.0.0.1", String(server.port)])
        #expect(r.status == 0)
        let probes = probeLines(r.stderr)
        #expect(probes.answered.sorted() == [1, 2, 3, 4, 5] && probes.timedOut == 0)
        #expect(r.stderr.contains("PING 127.0.0.1:\(server.port) (127.0.0.1:\(server.port)): 64 data bytes"))
        #expect(r.stderr.contains("--- 127.0.0.1:\(server.port) ping statistics ---\n5 packets transmitted, 5 received, 0% packet loss, time "))
        #expect(r.stderr.contains("rtt min/avg/max/mdev = "))
        #expect(r.stderr.contains("rtt clock: kernel (send and receive stamped by the kernel)"))
        #expect(r.stdout == "")
    }

    @Test func pingAgainstALossyServerCountsEachProbeOnce() throws {
        let server = try ServerUnderTest(["--loss", "40%", "--seed", "5"])
        defer { _ = server.stop() }
        let r = try client(["--timeout", "300ms", "-c", ":ping 20 10ms", "127.0.0.1", String(server.port)])
        let probes = probeLines(r.stderr)
        #expect(probes.answered.count + probes.timedOut == 20)
        #expect(probes.timedOut > 0 && !probes.answered.isEmpty)
        #expect(r.stderr.contains("20 packets transmitted, \(probes.answered.count) received, "))
        #expect(r.status == 1)
    }

    @Test func pingAgainstADelayingAndDuplicatingServerNamesTheDuplicates() throws {
        let server = try ServerUnderTest(["--duplicate", "100%", "--delay", "5ms", "--jitter", "2ms", "--seed", "2"])
        defer { _ = server.stop() }
        let r = try client(["-c", ":ping 4 10ms", "127.0.0.1", String(server.port)])
        #expect(probeLines(r.stderr).answered.count == 4)
        #expect(r.stderr.contains("duplicate reply (DUP!)"))
        #expect(r.stderr.contains("4 packets transmitted, 4 received, +"))
    }

    @Test func theLabIsOneCommandWithServe() throws {
        let r = try client(["--serve", "--loss", "50%", "--seed", "1", "--timeout", "200ms", "-c", ":ping 10 5ms"])
        let probes = probeLines(r.stderr)
        #expect(probes.answered.count + probes.timedOut == 10)
        #expect(probes.timedOut > 0)
        #expect(r.stderr.contains("10 packets transmitted"))
        let plain = try client(["--loss", "50%", "-c", "x"])
        #expect(plain.status == 2)
        #expect(plain.stderr.contains("add --serve"))
    }

    @Test func pingInJSONIsOneObjectPerProbe() throws {
        let server = try ServerUnderTest()
        defer { _ = server.stop() }
        let r = try client(["--json", "-c", ":ping 3 10ms", "127.0.0.1", String(server.port)])
        let objects = r.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(objects.count == 3)
        #expect(objects.allSatisfy { $0["outcome"] as? String == "reply" && $0["rtt_clock"] as? String == "kernel" })
        #expect(Set(objects.compactMap { $0["ping"] as? Int }) == [1, 2, 3])
    }

    @Test func interruptingPingEndsTheProbingWithItsSummaryNotTheSession() throws {
        let server = try ServerUnderTest()
        defer { _ = server.stop() }
        let c = try Child(Built.client, ["127.0.0.1", String(server.port)], environment: clientEnvironment())
        c.write(":ping 1000 20ms\n")
        #expect(c.waitFor { probeLines($0.stderr).answered.count >= 3 })
        c.signal(SIGINT)
        #expect(c.waitFor { $0.stderr.contains("ping statistics") })
        c.write("after\n")
        c.closeStdin()
        #expect(c.waitForExit() != nil)
        #expect(c.stdout == "AFTER\n")
        #expect(!c.stderr.contains("1000 packets transmitted"))
    }

    @Test func traceShowsTheSocketCallsAndTheEphemeralPortAndCaptureUsesIt() throws {
        let server = try ServerUnderTest()
        defer { _ = server.stop() }
        let port = server.port
        let r = try client(["-c", ":trace on", "-c", "hello", "-c", ":tcp per-line", "-c", "hi", "-c", ":capture", "127.0.0.1", String(port)])
        #expect(r.status == 0)
        #expect(r.stderr.contains("trace: socket(AF_INET, SOCK_DGRAM) → connect(127.0.0.1:\(port)) → send 5 B → recvmsg 5 B\n"))
        #expect(
            r.stderr.contains(
                "trace: socket(AF_INET, SOCK_STREAM) → connect(127.0.0.1:\(port)) in progress → connected → send 2 B"
                    + " → shutdown(SHUT_WR) → recvmsg 2 B → recvmsg: end of stream → close\n"))
        let tcpTrace = try #require(r.stderr.split(separator: "\n").first { $0.hasPrefix("trace: tcp local 127.0.0.1:") })
        #expect(tcpTrace.hasSuffix("→ remote 127.0.0.1:\(port) · 2 B sent, 2 B received in 1 read"))
        let local = try #require(Int(tcpTrace.dropFirst("trace: tcp local 127.0.0.1:".count).prefix { $0.isNumber }))
        #expect(local != port)
        #expect(r.stderr.contains("tcpdump -i lo -n 'tcp and host 127.0.0.1 and port \(port) and port \(local)'"))
        #expect(r.stderr.contains("wireshark: ip.addr == 127.0.0.1 && tcp.port == \(port) && tcp.port == \(local)"))
    }

    @Test func jsonCarriesTheLocalAddressAndTheClock() throws {
        let server = try ServerUnderTest()
        defer { _ = server.stop() }
        let r = try client(["--json", "-c", "a", "-c", ":tcp", "-c", "b", "127.0.0.1", String(server.port)])
        let objects = r.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(objects.count == 2)
        for object in objects {
            let local = object["local"] as? String ?? ""
            #expect(local.hasPrefix("127.0.0.1:") && local != "127.0.0.1:\(server.port)")
            #expect(object["rtt_clock"] as? String == "kernel")
        }
    }

    @Test func compareSetsTheThreePathsSideBySidePerSize() throws {
        // UDP replies all dropped, TCP untouched: the UDP column is empty and says why.
        let server = try ServerUnderTest(["--loss", "100%"])
        defer { _ = server.stop() }
        let r = try client(["--timeout", "200ms", "-c", ":compare --rounds 2 --sizes 16,2k hello", "127.0.0.1", String(server.port)])
        let lines = r.stderr.split(separator: "\n").map(String.init)
        let header = try #require(lines.first { $0.contains("tcp persistent") })
        #expect(
            header.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                == "size udp tcp persistent tcp per-line tcp connect")
        for size in ["16 B", "2048 B"] {
            let row = try #require(lines.first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(size) })
            let cells = row.split(separator: " ", omittingEmptySubsequences: true)
            // size, "B", udp "-", then three figures in ms.
            #expect(cells.count == 9 && cells[2] == "-" && cells.filter { $0 == "ms" }.count == 3, "\(row)")
        }
        #expect(r.stderr.contains("not answered (lost or failed): 2 on udp at 16 B, 2 on udp at 2048 B"))
        // No UDP figure at all; a per-line reply ends with the FIN, which carries no kernel stamp.
        #expect(r.stderr.contains("rtt clock: tcp persistent kernel, tcp per-line monotonic\n"))
        // :compare leaves the session's own statistics alone.
        #expect(!r.stderr.contains("--- udp statistics ---"))
    }

    @Test func selfTestReportsTheClocks() throws {
        let r = try client(["--self-test"])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("clock: CLOCK_MONOTONIC resolution "))
        #expect(r.stdout.contains("wake-up: a 1 ms wait woke late by min "))
        #expect(r.stdout.contains("send stamps: the kernel stamps sends"))
    }
}

@Suite("the labs in a pseudo-terminal")
struct InteractiveLabTests {
    @Test("Ctrl-C during :ping prints its summary and returns to the prompt")
    func ctrlCEndsThePingNotTheSession() throws {
        let session = try InteractiveSession()
        let client = session.client
        client.send(":ping 1000 20ms" + Key.enter)
        try client.expect("Ping 3 ")
        client.send(Key.ctrlC)
        try client.expect("ping statistics ---")
        try client.expect(session.prompt())
        client.send("after" + Key.enter)
        try client.expect("\nAFTER\n")
        try client.expect(session.prompt())
        client.send(Key.ctrlD)
        // 0, or 1 when a probe was still out at the Ctrl-C (counted as lost, as ping counts it).
        #expect(try [0, 1].contains(client.waitForExit()))
    }
}
