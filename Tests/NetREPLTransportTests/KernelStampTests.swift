// Send stamps from the kernel (SO_TIMESTAMPING, read from the error queue) on loopback: present,
// placed between the instants around the send, and used for the round trip of UDP and TCP lines.

import Glibc
import MisbehavingPeers
import Testing
@testable import NetREPLTransport

@Suite(.serialized) struct KernelStampTests {
    @Test func aDatagramSendIsStampedByTheKernelBetweenTheInstantsAroundIt() throws {
        let peer = UDPPeer()
        defer { peer.stop() }
        let socket = try Socket(family: AF_INET, kind: .datagram)
        try socket.connect(to: try address(peer.port))
        let before = ContinuousClock.now
        _ = try socket.send(Array("ping".utf8))
        let stamp = try #require(socket.lastSendStamp())
        let after = ContinuousClock.now
        // The wall clock is read to place the stamp on the monotonic timeline: allow its grain.
        #expect(stamp >= before - .microseconds(50) && stamp <= after + .microseconds(50))
        // Taken once: a stamp is not handed out again for a later send that got none.
        #expect(socket.lastSendStamp() == nil)
    }

    @Test func aStreamSendIsStampedOncePerSendByItsLastByte() throws {
        let peer = TCPPeer(lineMode: true)
        defer { peer.stop() }
        let transport = TCPTransport(addresses: [try address(peer.port)], mode: .persistent)
        defer { transport.close() }
        // The kernel turns receive stamping on through deferred work when the first socket of the
        // machine asks for it; on a busy machine the first segments may come before it ran (and
        // are honestly on the monotonic clock). Once it is on, netrepl holds it on: from then on,
        // every line must be stamped at both ends.
        var warmUps = 0
        while transport.exchange(Line("warm"), timeout: .seconds(5)).reply?.clock != .kernel && warmUps < 200 {
            warmUps += 1
            usleep(10_000)
        }
        for text in ["one", "two", String(repeating: "x", count: 3000)] {
            let e = transport.exchange(Line(text), timeout: .seconds(5))
            #expect(e.reply?.bytes == upper(Array(text.utf8)))
            #expect(e.reply?.clock == .kernel, "line \(text.prefix(8)): \(String(describing: e.reply))")
        }
    }

    @Test func udpRoundTripsUseTheKernelClockAtBothEnds() throws {
        let peer = UDPPeer()
        defer { peer.stop() }
        let transport = UDPTransport(addresses: [try address(peer.port)])
        defer { transport.close() }
        for text in ["a", "bb"] {
            let e = transport.exchange(Line(text), timeout: .seconds(5))
            #expect(e.reply?.clock == .kernel)
        }
    }

    @Test func aReplyEndedByABareFINIsOnTheMonotonicClock() throws {
        // The textbook server replies and closes: the reply ends with the FIN, which the kernel
        // does not stamp, so the figure is honest about it.
        let peer = TCPPeer(lineMode: false)
        defer { peer.stop() }
        let transport = TCPTransport(addresses: [try address(peer.port)], mode: .perLine)
        defer { transport.close() }
        let e = transport.exchange(Line("hi"), timeout: .seconds(5))
        #expect(e.reply?.bytes == Array("HI".utf8))
        #expect(e.reply?.clock == .monotonic)
    }

    @Test func theTrackerCallsAFigureKernelOnlyWhenBothEndsAre() {
        let t0 = ContinuousClock.now
        var tracker = ReplyTracker()
        let a = tracker.sent(Line("a"), framing: DatagramFraming(), at: t0, clock: .kernel)
        let b = tracker.sent(Line("b"), framing: DatagramFraming(), at: t0, clock: .kernel)
        let c = tracker.sent(Line("c"), framing: DatagramFraming(), at: t0, clock: .monotonic)
        guard case .reply(_, let ra)? = tracker.received([1], for: a, at: t0 + .milliseconds(1), kernelStamped: true),
            case .reply(_, let rb)? = tracker.received([1], for: b, at: t0 + .milliseconds(1), kernelStamped: false),
            case .reply(_, let rc)? = tracker.received([1], for: c, at: t0 + .milliseconds(1), kernelStamped: true)
        else {
            Issue.record("a reply was not taken")
            return
        }
        #expect([ra.clock, rb.clock, rc.clock] == [.kernel, .monotonic, .monotonic])
    }
}
