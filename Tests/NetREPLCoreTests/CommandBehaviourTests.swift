// What the commands do, as a person types them: the forms of :connect, !!, :tcp alone, extra
// words, and messages that blame the right party.

import MisbehavingPeers
import NetREPLTransport
import Testing
@testable import NetREPLCore

@Suite(.serialized) struct CommandBehaviourTests {
    @Test func connectTakesHostColonPortAndBracketedIPv6() throws {
        let udp = UDPPeer()
        let tcp = TCPPeer(lineMode: true)
        defer { udp.stop(); tcp.stop() }
        let r = try runSession(
            [
                ":connect 127.0.0.1:\(tcp.port)", ":tcp", "a", ":udp", ":connect localhost \(udp.port)", "b",
                ":connect [::1]:\(udp.port)", ":connect", ":connect 127.0.0.1:\(udp.port) 7",
            ],
            port: 9, interactive: true)
        #expect(r.out.contains("A\n"))
        #expect(r.out.contains("B\n"))
        #expect(r.out.contains("now sending to 127.0.0.1:\(tcp.port)"))
        #expect(r.out.contains("now sending to [::1]:\(udp.port)\n"))
        #expect(r.out.contains("\nsending to [::1]:\(udp.port)\n"))
        #expect(r.err.contains("give the port once"))
    }

    @Test func bangBangSendsTheLastLineAgain() throws {
        let peer = UDPPeer()
        defer { peer.stop() }
        let path = temporaryHistoryPath()
        let r = try runSession(["!!", "again", "!!"], port: peer.port, historyPath: path)
        #expect(r.err.contains("no line to send again yet"))
        #expect(r.out == "AGAIN\nAGAIN\n")
        #expect(HistoryStore(path: path, capacity: 10).records.map(\.line) == ["again", "again"])
    }

    @Test func tcpAloneMeansPersistentAndSwitchingModesIsNotAConnectionEnding() throws {
        let peer = TCPPeer(lineMode: true)
        defer { peer.stop() }
        let r = try runSession(["a", ":tcp per-line", "b", ":tcp", "c", "d"], port: peer.port, transport: .tcp)
        #expect(r.out == "A\nB\nC\nD\n")
        #expect(r.err.contains("now sending over tcp to 127.0.0.1:\(peer.port), one connection for the session"))
        #expect(r.session.configuration.tcpMode == .persistent)
        #expect(!r.err.contains("reconnected"))
        #expect(!r.err.contains("ended"))
        // a, then c and d share one connection; b had its own.
        #expect(peer.accepted.count == 3)
    }

    @Test func extraWordsAreAnErrorAndNothingIsSent() throws {
        let peer = UDPPeer()
        defer { peer.stop() }
        let r = try runSession([":udp now", ":quit please", "still here"], port: peer.port)
        #expect(r.err.contains("netrepl: :udp takes no arguments (usage: :udp)"))
        #expect(r.err.contains("netrepl: :quit takes no arguments (usage: :quit)"))
        #expect(r.out == "STILL HERE\n")
        #expect(r.status == 2)
    }

    @Test func aZeroTimeoutSaysItMustBeMoreThanZero() throws {
        let peer = UDPPeer()
        defer { peer.stop() }
        let r = try runSession([":timeout 0", ":timeout soon"], port: peer.port)
        #expect(r.err.contains("netrepl: the timeout must be more than 0"))
        #expect(r.err.contains("invalid timeout \"soon\""))
    }

    @Test func hintsInAScriptDoNotSuggestCommands() throws {
        let port = closedPort(type: Int32(2))
        let script = try runSession(["x", String(repeating: "y", count: 70_000)], port: port)
        #expect(!script.err.contains(":connect"))
        #expect(!script.err.contains(":tcp"))
        #expect(script.err.contains("use --tcp"))
        let person = try runSession(["x"], port: port, interactive: true)
        #expect(person.err.contains(":connect to another host or port"))
    }

    /// Typed fast against a server whose every reply is late and doubled: no reply line shown is
    /// another line's; the replies shown are exactly those of the lines recorded ok.
    @Test func typedLinesNeverShowAnotherLinesReply() throws {
        let peer = UDPPeer(respond: { [.init(upper($0), after: .milliseconds(30)), .init(upper($0), after: .milliseconds(31))] })
        defer { peer.stop() }
        let path = temporaryHistoryPath()
        var lines: [String] = []
        for i in 0..<30 { lines.append(i % 4 == 0 ? ":timeout 0.2" : ":timeout 0.01"); lines.append("line \(i % 6)") }
        let r = try runSession(lines, port: peer.port, historyPath: path, interactive: true)
        let shownReplies = r.out.split(separator: "\n").filter { $0.hasPrefix("LINE ") }.map(String.init)
        let okLines = HistoryStore(path: path, capacity: 1000).records.filter { $0.outcome == .ok }.map { $0.line.uppercased() }
        #expect(shownReplies == okLines)
        #expect(!okLines.isEmpty)
        for late in r.out.split(separator: "\n") where late.hasPrefix("late reply to ") {
            // late reply to "line 3" after … (not the reply to this line): LINE 3
            let quoted = late.split(separator: "\"")[1]
            #expect(late.hasSuffix(": " + quoted.uppercased()))
        }
    }
}
