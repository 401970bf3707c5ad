// The lab commands inside a whole scripted session: :stats per target after :connect and per TCP
// mode, :stats reset, :trace, and their argument errors.

import Testing
import MisbehavingPeers
import NetREPLTransport
@testable import NetREPLCore

@Suite(.serialized) struct LabSessionTests {
    @Test func statsArePerTargetAndPerTCPModeAndResetStartsAfresh() throws {
        let first = UDPPeer()
        let second = UDPPeer()
        let tcp = TCPPeer(lineMode: true)
        defer { first.stop(); second.stop(); tcp.stop() }
        let r = try runSession(
            [
                "a", ":connect 127.0.0.1 \(second.port)", "b", "c", ":connect 127.0.0.1 \(tcp.port)", ":tcp", "d",
                ":tcp per-line", "e", ":stats",
            ], port: first.port)
        #expect(r.status == 0)
        let headings = r.err.split(separator: "\n").filter { $0.hasPrefix("--- ") && !$0.hasSuffix("statistics ---") }
        #expect(
            headings == [
                "--- udp to 127.0.0.1:\(first.port) ---", "--- udp to 127.0.0.1:\(second.port) ---",
                "--- tcp to 127.0.0.1:\(tcp.port) ---", "--- tcp/per-line to 127.0.0.1:\(tcp.port) ---",
            ])
        #expect(r.err.contains("--- udp to 127.0.0.1:\(second.port) ---\n2 sent, 2 received, 0% loss\n"))
        #expect(r.err.contains("tcp connect min/avg/max/mdev = "))
        #expect(r.err.contains("jitter "))
        #expect(r.session.book.order.count == 4)

        let reset = try runSession(["a", ":stats reset", ":stats", "b"], port: first.port)
        #expect(reset.err.contains("no lines sent yet"))
        // The summary at exit starts afresh too: only "b" is in it.
        #expect(reset.err.contains("--- udp statistics ---\n1 sent, 1 received, 0% loss"))
    }

    @Test func traceIsShownOnlyWhileOn() throws {
        let peer = UDPPeer()
        defer { peer.stop() }
        let r = try runSession([":trace on", "a", ":trace off", "b", ":trace", ":trace maybe"], port: peer.port)
        #expect(r.err.components(separatedBy: "trace: socket(AF_INET, SOCK_DGRAM)").count == 2)
        #expect(r.err.contains("trace: off\n"))
        #expect(r.err.contains("netrepl: unknown :trace argument \"maybe\"; use on or off"))
        #expect(r.status == 2)
    }
}
