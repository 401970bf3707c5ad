// Whole scripted sessions against in-test UDP and TCP peers on 127.0.0.1: replies, commands,
// lost and late datagrams, refused ports, per-line and persistent TCP, history and exit statuses.

import Foundation
import Glibc
import Synchronization
import Testing
import MisbehavingPeers
import NetREPLTransport
@testable import NetREPLCore

@Suite(.serialized) struct SessionTests {
    @Test func udpLinesGetTheirReplies() throws {
        let peer = UDPPeer()
        defer { peer.stop() }
        let r = try runSession(["hello world", "ß"], port: peer.port)
        #expect(r.out == "HELLO WORLD\nSS\n")
        #expect(r.err.contains("udp 127.0.0.1:\(peer.port) · "))
        #expect(r.err.contains(" ms · 11 B\n"))
        #expect(r.err.contains(" ms · 2 B\n"))
        #expect(r.err.contains("--- udp statistics ---\n2 sent, 2 received, 0% loss\nrtt min/avg/max/mdev = "))
        #expect(r.status == 0)
    }

    @Test func commandsSwitchTransportAndColonColonSendsAColon() throws {
        let udp = UDPPeer()
        let tcp = TCPPeer(lineMode: true)
        defer { udp.stop(); tcp.stop() }
        // The UDP and TCP peers are on different ports; :connect moves the target.
        let r = try runSession(
            ["a", ":tcp", ":connect 127.0.0.1 \(tcp.port)", "b", "::c", ":udp", ":connect 127.0.0.1 \(udp.port)", "d"],
            port: udp.port)
        #expect(r.out == "A\nB\n:C\nD\n")
        #expect(r.err.contains("tcp: connected to 127.0.0.1:\(tcp.port) in "))
        #expect(r.err.contains("--- udp statistics ---\n2 sent, 2 received"))
        #expect(r.err.contains("--- tcp statistics ---\n2 sent, 2 received"))
        #expect(r.status == 0)
    }

    @Test func silentServerMeansLostAndExit1() throws {
        let peer = UDPPeer(respond: { _ in [] })
        defer { peer.stop() }
        let r = try runSession(["anyone?"], port: peer.port, timeout: .milliseconds(100))
        #expect(r.out == "")
        #expect(r.err.contains("netrepl: lost \"anyone?\": no reply from udp 127.0.0.1:\(peer.port) within 100 ms"))
        #expect(r.err.contains("1 sent, 0 received, 1 lost, 100% loss"))
        #expect(r.status == 1)
    }

    @Test func aLateReplyIsLabelledAndNeverTakenForTheCurrentOne() throws {
        // "slow" is answered after 300 ms, "wait" after 250 ms: slow is lost at 150 ms, and its
        // reply comes while "wait" waits — on slow's own socket, so it is slow's, and late.
        let peer = UDPPeer(respond: { datagram in
            [.init(upper(datagram), after: datagram == Array("slow".utf8) ? .milliseconds(300) : .milliseconds(250))]
        })
        defer { peer.stop() }
        let path = temporaryHistoryPath()
        let r = try runSession(["slow", ":timeout 2", "wait"], port: peer.port, timeout: .milliseconds(150), historyPath: path)
        #expect(r.out == "WAIT\n")
        #expect(r.err.contains("late reply to \"slow\" after "))
        #expect(r.err.contains("(not the reply to this line): SLOW"))
        #expect(r.err.contains("2 sent, 1 received, 1 lost, +1 late, 50% loss"))
        #expect(r.status == 1)
        let outcomes = HistoryStore(path: path, capacity: 100).records.map { "\($0.line)=\($0.outcome.rawValue)" }
        #expect(outcomes == ["slow=lost", ":timeout 2=cmd", "slow=late", "wait=ok"])
    }

    @Test func aLateReplyWaitingBeforeTheNextSendIsDrained() throws {
        let peer = UDPPeer(respond: { datagram in
            [.init(upper(datagram), after: datagram == Array("first".utf8) ? .milliseconds(200) : .zero)]
        })
        defer { peer.stop() }
        let r = try runSession(["first", ":timeout 0.5", "second"], port: peer.port, timeout: .milliseconds(50), json: true)
        // "second" may be answered before FIRST comes: then FIRST is not seen in this session.
        let objects = r.out.split(separator: "\n").map(String.init)
        #expect(objects.first?.contains("\"line\":\"first\"") == true)
        #expect(objects.first?.contains("\"outcome\":\"lost\"") == true)
        #expect(objects.first?.contains("\"rtt_us\":null") == true)
        #expect(objects.last?.contains("\"line\":\"second\",\"reply\":\"SECOND\"") == true)
        #expect(objects.last?.contains("\"outcome\":\"ok\"") == true)
        for late in objects.dropFirst().dropLast() {
            #expect(late.contains("\"line\":\"first\",\"reply\":\"FIRST\""))
            #expect(late.contains("\"outcome\":\"late\""))
        }
    }

    @Test func duplicateRepliesAreCountedNotShown() throws {
        let peer = UDPPeer(respond: { [.init(upper($0)), .init(upper($0))] })
        defer { peer.stop() }
        let r = try runSession(["one", ":timeout 0.3", "two", "three"], port: peer.port)
        #expect(r.out == "ONE\nTWO\nTHREE\n")
        #expect(r.err.contains("ignored 1 duplicate reply from the server"))
        #expect(r.status == 0)
    }

    @Test func nothingListeningOnUDPIsReportedAtOnceWithExit2() throws {
        let port = closedPort(type: Int32(SOCK_DGRAM.rawValue))
        let r = try runSession(["hello"], port: port, timeout: .seconds(5))
        #expect(r.err.contains("netrepl: nothing listening on udp 127.0.0.1:\(port); start netrepl-server there\n"))
        #expect(!r.err.contains("lost"))
        #expect(r.status == 2)
    }

    @Test func nothingListeningOnTCPIsExit2() throws {
        let port = closedPort(type: Int32(SOCK_STREAM.rawValue))
        let r = try runSession(["hello"], port: port, transport: .tcp)
        #expect(r.err.contains("netrepl: nothing listening on tcp 127.0.0.1:\(port)"))
        #expect(r.status == 2)
    }

    @Test func tcpPersistentUsesOneConnection() throws {
        let peer = TCPPeer(lineMode: true)
        defer { peer.stop() }
        let r = try runSession(["one", "two", "three", ":stats"], port: peer.port, transport: .tcp)
        #expect(r.out == "ONE\nTWO\nTHREE\n")
        #expect(r.err.components(separatedBy: "tcp: connected").count == 2)
        #expect(!r.err.contains("reconnected"))
        #expect(r.err.contains(" ms · 4 B\n"))
        #expect(r.err.contains("--- tcp to 127.0.0.1:\(peer.port) ---\n3 sent, 3 received, 0% loss\n"))
        #expect(r.err.contains("tcp connect min/avg/max/mdev = "))
        #expect(r.err.contains(" ms (1 opened)\n"))
        #expect(r.status == 0)
    }

    @Test func tcpPersistentAgainstTheTextbookServerReconnectsAndSaysSo() throws {
        let peer = TCPPeer(lineMode: false)
        defer { peer.stop() }
        let r = try runSession(["one", "two"], port: peer.port, transport: .tcp)
        #expect(r.out == "ONE\nTWO\n")
        // Closed (FIN seen before the send) or reset (seen after it, then sent again): either way
        // the second line gets a new connection and the person is told why.
        #expect(r.err.contains("; reconnected to 127.0.0.1:\(peer.port) in "))
        #expect(r.err.contains("tcp: the server closed the connection") || r.err.contains("tcp: the server reset the connection"))
        #expect(r.status == 0)
    }

    @Test func tcpPerLineMirrorsTheTextbookClient() throws {
        for lineMode in [false, true] {
            let peer = TCPPeer(lineMode: lineMode)
            defer { peer.stop() }
            let r = try runSession(["one", "two"], port: peer.port, transport: .tcp, tcpMode: .perLine)
            #expect(r.out == "ONE\nTWO\n")
            #expect(r.err.contains("tcp/per-line 127.0.0.1:\(peer.port) · connect "))
            #expect(r.err.contains(" · exchange "))
            #expect(r.err.contains(" · 3 B\n"))
            #expect(r.status == 0)
        }
    }

    @Test func historyRecordsLinesCommandsAndRecall() throws {
        let peer = UDPPeer()
        defer { peer.stop() }
        let path = temporaryHistoryPath()
        let r = try runSession(["alpha", ":nohist secret", ":timeout 2s", "!1", ":history"], port: peer.port, historyPath: path)
        #expect(r.out == "ALPHA\nSECRET\nALPHA\n")
        let records = HistoryStore(path: path, capacity: 100).records
        #expect(records.map(\.line) == ["alpha", ":timeout 2s", "alpha", ":history"])
        #expect(records.map(\.outcome) == [.ok, .command, .ok, .command])
        #expect(!(try String(contentsOfFile: path, encoding: .utf8)).contains("secret"))
        #expect(r.err.contains("#  time"))
        #expect(r.err.contains("  ok  "))
    }

    @Test func recallOfAMissingEntryIsAnError() throws {
        let peer = UDPPeer()
        defer { peer.stop() }
        let r = try runSession(["!7"], port: peer.port, historyPath: temporaryHistoryPath())
        #expect(r.err.contains("netrepl: no history entry 7 (there are 0); :history lists them"))
        #expect(r.status == 2)
    }

    @Test func unknownCommandNamesTheNearestAndQuitStops() throws {
        let peer = UDPPeer()
        defer { peer.stop() }
        let r = try runSession([":stast", ":quit", "never sent"], port: peer.port)
        #expect(r.err.contains("netrepl: unknown command :stast; did you mean :stats? (:help lists commands)"))
        #expect(r.out == "")
        #expect(r.status == 2)
    }

    @Test func helpListsEveryCommand() throws {
        let peer = UDPPeer()
        defer { peer.stop() }
        let r = try runSession([":help"], port: peer.port, interactive: true)
        for command in CommandTable.all { #expect(r.out.contains(command.usage)) }
        #expect(r.out.contains("!N"))
        #expect(r.out.contains("::TEXT"))
    }

    @Test func interactiveOutputShowsRTTNextToTheReplyAndEscapesControls() throws {
        let peer = UDPPeer(respond: { _ in [.init(Array("\u{1b}[2JBOOM".utf8))] })
        defer { peer.stop() }
        let r = try runSession(["x"], port: peer.port, interactive: true)
        #expect(r.out.contains("\\x1b[2JBOOM\nudp 127.0.0.1:\(peer.port) · "))
        #expect(!r.out.contains("\u{1b}"))
        #expect(r.out.contains("--- udp statistics ---"))
    }

    @Test func jsonHasOneObjectPerExchange() throws {
        let peer = UDPPeer(respond: { [.init($0 == Array("bin".utf8) ? [0xff, 0x41] : upper($0))] })
        defer { peer.stop() }
        let r = try runSession(["say \"hi\"", "bin"], port: peer.port, json: true)
        let objects = r.out.split(separator: "\n").map(String.init)
        #expect(objects.count == 2)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(objects[0].utf8)) as? [String: Any])
        #expect(first["transport"] as? String == "udp")
        #expect(first["line"] as? String == "say \"hi\"")
        #expect(first["reply"] as? String == "SAY \"HI\"")
        #expect(first["outcome"] as? String == "ok")
        #expect((first["rtt_us"] as? Double ?? -1) > 0)
        let second = try #require(try JSONSerialization.jsonObject(with: Data(objects[1].utf8)) as? [String: Any])
        #expect(second["reply_base64"] as? String == "/0E=")
    }

    @Test func ctrlCWhileWaitingEndsAPipedSessionWithTheSummary() throws {
        let peer = UDPPeer(respond: { _ in [] })
        defer { peer.stop() }
        let signals = TestInterruptions()
        signals.raise(SIGINT, after: 0.2)
        let r = try runSession(["waiting", "not sent"], port: peer.port, timeout: .seconds(10), interruptions: signals)
        #expect(r.session.endedBy == SIGINT)
        #expect(r.err.contains("netrepl: interrupted by SIGINT while waiting for the reply to \"waiting\""))
        #expect(r.err.contains("--- udp statistics ---\n1 sent, 0 received, +1 cancelled, 100% loss"))
        #expect(peer.received.count == 1)
        #expect(signals.pending == nil)
    }

    @Test func ctrlCWhileWaitingAtThePromptCancelsThatLineOnly() throws {
        let peer = UDPPeer(respond: { datagram in
            datagram == Array("waiting".utf8) ? [] : [.init(upper(datagram))]
        })
        defer { peer.stop() }
        let signals = TestInterruptions()
        signals.raise(SIGINT, after: 0.2)
        let r = try runSession(["waiting", "next"], port: peer.port, timeout: .seconds(10), interactive: true, interruptions: signals)
        #expect(r.session.endedBy == nil)
        #expect(r.out.contains("NEXT\n"))
        #expect(r.err.contains("cancelled \"waiting\""))
        #expect(r.status == 1)
    }

    @Test func resolutionErrorsBlameTheRightThing() throws {
        #expect(throws: ResolutionError.self) {
            try Resolver.resolve(Target(host: "no-such-host.invalid", port: 1), family: .any)
        }
        #expect(throws: ResolutionError.wrongFamily(Target(host: "127.0.0.1", port: 1), asked: .ipv6)) {
            try Resolver.resolve(Target(host: "127.0.0.1", port: 1), family: .ipv6)
        }
        let style = OutputStyle(interactive: false, colour: false, stdoutIsTerminal: false, stderrIsTerminal: false)
        let configuration = SessionConfiguration(target: Target(host: "127.0.0.1", port: 9), family: .ipv6, style: style)
        do {
            _ = try Session(
                configuration: configuration, source: ScriptedLineSource(lines: []),
                history: HistoryStore(path: nil, capacity: 0), out: BufferSink(), err: BufferSink())
            Issue.record("an IPv4 address with -6 resolved")
        } catch {
            #expect(error.description == "127.0.0.1 is not an IPv6 address; drop -6 or give an IPv6 address")
        }
    }

    @Test func promptNamesTransportAndTarget() throws {
        let peer = UDPPeer()
        defer { peer.stop() }
        let r = try runSession([":tcp per-line"], port: peer.port)
        #expect(r.session.prompt == "tcp/per-line 127.0.0.1:\(peer.port)> ")
    }
}
