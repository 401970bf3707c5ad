// Each exchange's socket trace in the non-blocking transports: taken when the line settles, so
// that it holds the receives that brought the reply, and only the line's own calls on a
// connection that several lines share.

import Glibc
import MisbehavingPeers
import Testing
@testable import NetREPLTransport

@Suite struct TraceTests {
    @Test func aDatagramLineTracesItsSendAndTheReceiveThatBroughtTheReply() throws {
        let peer = UDPPeer()
        defer { peer.stop() }
        let to = try address(peer.port)
        let transport = UDPTransport(addresses: [to])
        defer { transport.close() }
        let e = transport.exchange(Line("hi"), timeout: .seconds(5))
        #expect(e.reply?.bytes == Array("HI".utf8))
        #expect(e.trace.calls == [.socket(family: AF_INET, stream: false), .connect(to, failed: nil), .send(bytes: 2), .receive(bytes: 2)])
        #expect(e.trace.local?.hostText == "127.0.0.1" && e.trace.local?.portNumber != peer.port)
    }

    @Test func onAPersistentConnectionEachLineTracesOnlyItsOwnCalls() throws {
        let peer = TCPPeer(lineMode: true)
        defer { peer.stop() }
        let transport = TCPTransport(addresses: [try address(peer.port)], mode: .persistent)
        defer { transport.close() }
        let first = transport.exchange(Line("one"), timeout: .seconds(5))
        let second = transport.exchange(Line("two"), timeout: .seconds(5))
        #expect(first.trace.calls.first == .socket(family: AF_INET, stream: true))
        #expect(first.trace.calls.contains(.send(bytes: 4)))
        #expect(second.trace.calls.first == .send(bytes: 4))
        #expect(
            !second.trace.calls.contains {
                if case .connect = $0 { return true }; return false
            })
        #expect(second.trace.reads >= 1)
        #expect(second.trace.local == first.trace.local && first.trace.local != nil)
    }

    @Test func aRefusedConnectIsTracedAndNamesTheAddressTried() throws {
        let to = try address(closedPort(type: Int32(SOCK_STREAM.rawValue)))
        let transport = TCPTransport(addresses: [to], mode: .perLine)
        defer { transport.close() }
        let e = transport.exchange(Line("x"), timeout: .seconds(5))
        #expect(e.peer == to)
        #expect(e.trace.calls.first == .socket(family: AF_INET, stream: true))
        #expect(e.trace.calls.contains(.connectCompleted(failed: .connectionRefused)) || e.trace.calls.contains(.connect(to, failed: .connectionRefused)))
        #expect(e.trace.calls.last == .close)
    }

    @Test func aCancelledLineKeepsTheCallsMadeForIt() throws {
        let peer = TCPPeer { c in _ = c.readToEnd() }
        defer { peer.stop() }
        let transport = TCPTransport(addresses: [try address(peer.port)], mode: .persistent)
        defer { transport.close() }
        // Cancelled while its connect is under way or its reply awaited: either way, the socket
        // it opened is in its trace.
        let id = transport.submit(Line("wait"), timeout: .seconds(30))
        transport.service(ready: Poller.wait(transport.interests, until: .now + .milliseconds(100)))
        transport.cancelWaiting(signal: SIGINT)
        let settled = transport.takeNotices().compactMap { notice -> Exchange? in
            if case .settled(let settledID, let exchange) = notice, settledID == id { return exchange }
            return nil
        }
        let e = try #require(settled.first)
        guard case .cancelled(SIGINT) = e.outcome else {
            Issue.record("not cancelled: \(e.outcome)")
            return
        }
        #expect(e.trace.calls.first == .socket(family: AF_INET, stream: true))
    }
}
