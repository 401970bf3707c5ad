// The rough edges a newcomer hit (issue 11): :help fitted to the terminal, one history rule for
// failed commands, :help for !! and !N, one name for the TCP mode, the nearest command for any
// unknown one, and a refused connect that sends nothing.

import Glibc
import MisbehavingPeers
import NetREPLTransport
import Testing
@testable import NetREPLCore

/// :help's entries as the command table gives them.
private let helpEntries = CommandTable.all.map { ($0.usage, $0.help) } + CommandTable.otherForms.map { ($0.name, $0.help) }

private func words(_ text: String) -> [String] {
    text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
}

@Suite struct HelpLayoutTests {
    @Test(arguments: [30, 40, 60, 80, 100, 120, 200])
    func noLineIsWiderThanTheTerminalAndNoWordIsBroken(width: Int) {
        let lines = HelpLayout.lines(helpEntries, width: width)
        for line in lines { #expect(line.count <= width, "\(width): \(line)") }
        // Every word of every name and description, in order, whole: a break inside a word would
        // show up here as two words.
        let expected = helpEntries.flatMap { words($0.0) + words($0.1) }
        #expect(lines.flatMap { words($0) } == expected)
    }

    @Test(arguments: [80, 120])
    func aNameColumnWithHangingDescriptions(width: Int) throws {
        let lines = HelpLayout.lines(helpEntries, width: width)
        // The description starts beside its name, and its continuation lines hang at that column.
        let tcp = try #require(lines.firstIndex { $0.hasPrefix("  :tcp [persistent|per-line]") })
        let column = try #require(lines[tcp].range(of: "Send over TCP")).lowerBound
        let start = lines[tcp].distance(from: lines[tcp].startIndex, to: column)
        #expect(start == 2 + ":tcp [persistent|per-line]".count + 2)
        if width == 80 {
            #expect(lines[tcp + 1].prefix(start).allSatisfy { $0 == " " })
            #expect(lines[tcp + 1].dropFirst(start).first?.isLetter == true)
        }
        // :connect's usage is too wide to share its line: its description is below, at the column.
        let connect = try #require(lines.firstIndex { $0.hasPrefix("  :connect ") })
        #expect(!lines[connect].contains("Send to another host"))
        #expect(lines[connect + 1].hasPrefix(String(repeating: " ", count: start) + "Send to another host"))
        if width == 120 { #expect(lines.contains { $0.hasPrefix("  :udp") && $0.hasSuffix("one datagram each.") }) }
    }

    @Test func aNarrowTerminalPutsDescriptionsBelowTheirNames() {
        // 36 columns leave 28 beside ":udp", fewer than the 30 a description needs.
        let lines = HelpLayout.lines([(":udp", "Send the following lines over UDP, one datagram each.")], width: 36)
        #expect(lines == ["  :udp", "      Send the following lines over", "      UDP, one datagram each."])
    }

    @Test func aWordLongerThanTheLineHasALineToItself() {
        #expect(HelpLayout.wrap("a \(String(repeating: "x", count: 12)) b c", width: 8) == ["a", String(repeating: "x", count: 12), "b c"])
        #expect(HelpLayout.wrap("", width: 8) == [])
    }

    @Test func theWidthComesFromColumnsOr80() {
        #expect(terminalColumns(nil, environment: { $0 == "COLUMNS" ? "132" : nil }) == 132)
        #expect(terminalColumns(nil, environment: { $0 == "COLUMNS" ? "wide" : nil }) == 80)
        #expect(terminalColumns(nil, environment: { _ in nil }) == 80)
        // A descriptor that is not a terminal has no window size.
        let devNull = open("/dev/null", O_WRONLY)
        defer { close(devNull) }
        #expect(terminalColumns(devNull, environment: { _ in nil }) == 80)
    }
}

@Suite(.serialized) struct NewcomerSessionTests {
    @Test func aCommandThatFailsIsRecordedAsAnErrorWhateverFailed() throws {
        let peer = UDPPeer()
        defer { peer.stop() }
        let path = temporaryHistoryPath()
        try runSession(
            [
                ":timeout abc", ":help bogus", ":connect no-such-host.invalid", ":timeout 2 s", ":tcp bogus", ":foo",
                ":timeout 2", ":help", ":udp", "hello",
            ], port: peer.port, historyPath: path)
        let outcomes = HistoryStore(path: path, capacity: 100).records.map { "\($0.line) \($0.outcome.rawValue)" }
        #expect(
            outcomes == [
                ":timeout abc error", ":help bogus error", ":connect no-such-host.invalid error", ":timeout 2 s error",
                ":tcp bogus error", ":foo error", ":timeout 2 cmd", ":help cmd", ":udp cmd", "hello ok",
            ])
    }

    @Test func helpExplainsBangBangAndBangN() throws {
        let peer = UDPPeer()
        defer { peer.stop() }
        let r = try runSession([":help !!", ":help !N", ":help !3", ":help ::", ":help"], port: peer.port, interactive: true, terminals: false)
        #expect(!r.err.contains("no command"))
        #expect(!r.err.contains("unknown command"))
        #expect(r.out.contains("!!\n    Handle the last line again: send it again, or run it again if it was a\n    command.\n"))
        #expect(r.out.components(separatedBy: "!N\n    Handle history entry N (see :history) again").count == 3)
        #expect(r.out.contains("::TEXT\n    Send :TEXT"))
    }

    @Test func anUnknownCommandAlwaysLearnsWhatToType() throws {
        let peer = UDPPeer()
        defer { peer.stop() }
        let r = try runSession([":tmeout 2", ":foo", ":help foo"], port: peer.port, interactive: true)
        #expect(r.err.contains("netrepl: unknown command :tmeout; did you mean :timeout? (:help lists commands)\n"))
        let all = CommandTable.all.map { ":" + $0.name }.joined(separator: " ")
        #expect(r.err.contains("netrepl: unknown command :foo; the commands are \(all) (:help explains them)\n"))
        #expect(r.err.components(separatedBy: "unknown command :foo;").count == 3)
    }

    @Test func oneNameForPerLineTCPEverywhere() throws {
        let peer = TCPPeer(lineMode: false)
        defer { peer.stop() }
        let path = temporaryHistoryPath()
        let r = try runSession(
            [":tcp per-line", "hello", ":stats", ":history", ":tcp", ":udp"], port: peer.port, historyPath: path,
            interactive: true, terminals: false)
        let name = "tcp/per-line"
        #expect(r.out.contains("now sending over \(name) to 127.0.0.1:\(peer.port), a new connection for each line\n"))
        #expect(r.out.contains("\(name) 127.0.0.1:\(peer.port) · connect "))
        #expect(r.out.contains("now: \(name) to 127.0.0.1:\(peer.port)"))
        #expect(r.out.contains("now sending over tcp to 127.0.0.1:\(peer.port), one connection for the session\n"))
        #expect(!r.out.contains("tcp per-line 127.0.0.1"))
        #expect(!r.out.contains("(persistent)"))
        let records = HistoryStore(path: path, capacity: 100).records
        let hello = try #require(records.first { $0.line == "hello" })
        #expect(hello.transport == .tcp && hello.tcpMode == .perLine)
        // The :history row of hello names the mode in its via column.
        #expect(r.out.split(separator: "\n").contains { $0.contains(" \(name) ") && $0.hasSuffix(" hello") })
        #expect(hello.encoded.contains("\t\(name)\t"))
    }

    @Test func aRefusedConnectSendsNothingAndNamesTheAddressTried() throws {
        let port = closedPort(type: Int32(SOCK_STREAM.rawValue))
        for mode in TCPMode.allCases {
            let r = try runSession(["hello", "world"], port: port, transport: .tcp, tcpMode: mode, interactive: true)
            #expect(r.out.contains("--- tcp statistics ---\n0 sent, 0 received, 2 not sent\n"), "\(mode)")
            #expect(!r.out.contains("2 sent"))
            #expect(!r.out.contains("errors"))
            let json = try runSession(["hello"], port: port, transport: .tcp, tcpMode: mode, json: true)
            #expect(json.out.contains("\"peer\":\"127.0.0.1:\(port)\""), "\(json.out)")
            #expect(json.out.contains("\"bytes_sent\":0,"))
            #expect(json.out.contains("\"outcome\":\"error\""))
        }
    }
}

@Suite struct FamilyRestrictedLookupTests {
    @Test func localhostWithoutItsIPv6AddressSaysSo() throws {
        // Where /etc/hosts has no ::1 for localhost, glibc answers a -6 lookup "Name or service not
        // known"; the name does resolve, so the error must be that it has no IPv6 address here.
        let localhost = Target(host: "localhost", port: 12000)
        do {
            _ = try Resolver.resolve(localhost, family: .ipv6)
        } catch {
            #expect(error == .noAddressOfFamily(localhost, asked: .ipv6))
        }
        let style = OutputStyle(interactive: false, colour: false, stdoutIsTerminal: false, stderrIsTerminal: false)
        let presenter = Presenter(style: style, out: BufferSink(), err: BufferSink())
        #expect(presenter.describe(.noAddressOfFamily(localhost, asked: .ipv6)) == "localhost has no IPv6 address here; drop -6")
        // A name that does not exist at all is still not found, whatever the family.
        let missing = Target(host: "no-such-host.invalid", port: 1)
        for family in [AddressFamily.ipv4, .ipv6] {
            #expect {
                try Resolver.resolve(missing, family: family)
            } throws: { error in
                if case .notFound = error as? ResolutionError { return true }
                return false
            }
        }
    }
}

@Suite struct HistoryTransportNameTests {
    @Test func perLineRecordsSayTheirModeAndOldTCPRecordsStillLoad() throws {
        let perLine = HistoryRecord(
            timeMilliseconds: 1_764_060_244_123, transport: .tcp, tcpMode: .perLine, target: "h:1", outcome: .ok,
            rttNanoseconds: 1_000, line: "x")
        #expect(perLine.encoded == "2025-11-25T08:44:04.123Z\ttcp/per-line\th:1\tok\t1.000\tx\n")
        #expect(HistoryRecord.decode(Substring(perLine.encoded.dropLast())) == perLine)
        // A file written before the mode was recorded: tcp reads as the default, persistent.
        let old = try #require(HistoryRecord.decode("2025-11-25T08:44:04.123Z\ttcp\th:1\tok\t1.000\tx"))
        #expect(old.transport == .tcp && old.tcpMode == .persistent)
        #expect(old.encoded == "2025-11-25T08:44:04.123Z\ttcp\th:1\tok\t1.000\tx\n")
        let udp = try #require(HistoryRecord.decode("2025-11-25T08:44:04.123Z\tudp\th:1\tok\t1.000\tx"))
        #expect(udp.tcpMode == nil)
        #expect(HistoryRecord.decode("2025-11-25T08:44:04.123Z\tudp/per-line\th:1\tok\t1.000\tx") == nil)
        #expect(HistoryRecord.decode("2025-11-25T08:44:04.123Z\ttcp/persistent\th:1\tok\t1.000\tx") == nil)
    }

    @Test func theNames() {
        #expect(transportName(.udp, nil) == "udp")
        #expect(transportName(.udp, .perLine) == "udp")
        #expect(transportName(.tcp, .persistent) == "tcp")
        #expect(transportName(.tcp, .perLine) == "tcp/per-line")
    }
}
