// The labs' statistics on known samples: ping's figures, RFC 3550 jitter, medians and
// percentiles, the sparkline, the clock note, :stats per path, and the :ping summary.

import Testing
import NetREPLTransport
@testable import NetREPLCore

@Suite struct RoundTripsTests {
    @Test func pingFiguresJitterAndMedianOnKnownSamples() {
        var trips = RoundTrips()
        for ms in [1, 2, 3, 4] { trips.add(.milliseconds(ms), clock: .kernel) }
        // mean 2.5 ms; mean of squares 7.5 ms²; mdev = sqrt(7.5 − 6.25) = 1.118 ms.
        #expect(trips.rttLine == "rtt min/avg/max/mdev = 1.000/2.500/4.000/1.118 ms")
        // D = 1 ms each time: J = 1/16, then J + (1 − J)/16 twice (in ms).
        var j = 0.0
        for _ in 0..<3 { j += (1 - j) / 16 }
        #expect(abs(trips.jitterNanoseconds / 1e6 - j) < 1e-9)
        #expect(abs(j - 0.176025390625) < 1e-12)
        #expect(trips.median == .milliseconds(2))
        #expect(trips.percentile(100) == .milliseconds(4))
        #expect(trips.percentile(75) == .milliseconds(3))
        #expect(trips.clock == .kernel)
        #expect(trips.sparkline == "▁▃▆█")
    }

    @Test func jitterFollowsTheDifferenceEitherWay() {
        var trips = RoundTrips()
        for ms in [10, 6, 10] { trips.add(.milliseconds(ms), clock: .monotonic) }
        // |D| = 4 ms twice: J = 0.25, then 0.25 + (4 − 0.25)/16 = 0.484375 ms.
        #expect(abs(trips.jitterNanoseconds / 1e6 - 0.484375) < 1e-9)
        #expect(trips.clock == .monotonic)
    }

    @Test func theClockNoteSaysHowManyFiguresAreNotKernelStamped() {
        var trips = RoundTrips()
        trips.add(.microseconds(50), clock: .kernel)
        #expect(clockNote(trips) == "rtt clock: kernel (send and receive stamped by the kernel)")
        trips.add(.microseconds(60), clock: .monotonic)
        #expect(clockNote(trips) == "rtt clock: monotonic for 1 of 2 (the kernel stamped no send or receipt for those)")
    }

    @Test func theSparklineKeepsTheRecentOnesOnly() {
        var trips = RoundTrips()
        for i in 0..<40 { trips.add(.microseconds(i < 8 ? 1_000 : 10), clock: .kernel) }
        #expect(trips.recent.count == RoundTrips.recentLimit)
        #expect(trips.sparkline == String(repeating: "▁", count: RoundTrips.recentLimit))
    }
}

@Suite struct StatisticsBookTests {
    func reply(_ ms: Int, _ kind: TransportKind = .udp, mode: TCPMode? = nil) -> Exchange {
        var exchange = Exchange(
            line: Line("x"), transport: kind, tcpMode: mode,
            outcome: .reply(Reply(bytes: [88], roundTrip: .milliseconds(ms), bytesReceived: 1, clock: .kernel)))
        exchange.bytesSent = 1
        return exchange
    }

    @Test func eachTargetTransportAndModeIsCountedApartInFirstUseOrder() {
        var book = StatisticsBook()
        book.record(reply(1), target: "a:1")
        book.record(reply(2, .tcp, mode: .perLine), target: "a:1")
        book.record(reply(3), target: "b:2")
        book.record(reply(4, .tcp, mode: .persistent), target: "a:1")
        book.record(reply(5), target: "a:1")
        #expect(book.order.map(\.label) == ["udp to a:1", "tcp/per-line to a:1", "udp to b:2", "tcp to a:1"])
        #expect(book.paths[book.order[0]]?.received == 2)
        #expect(book.paths[book.order[0]]?.roundTrips.rttLine == "rtt min/avg/max/mdev = 1.000/3.000/5.000/2.000 ms")
    }

    @Test func connectTimesDuplicatesLateAndReorderedAreRowsOfTheirOwn() throws {
        let t0 = ContinuousClock.now
        var path = PathStatistics()
        var first = reply(1, .tcp, mode: .perLine)
        first.connectTime = .microseconds(200)
        path.record(first, at: t0)
        var second = Exchange(line: Line("y"), transport: .tcp, tcpMode: .perLine, outcome: .lost(partialBytes: 0))
        second.connectTime = .microseconds(400)
        second.bytesSent = 1
        var noise = Noise()
        noise.duplicates = 2
        // Sent 10 ms before the reply at t0 − 1 ms was sent: it overtook it, so it is reordered.
        second.events = [.late(LateReply(line: Line("old"), bytes: [1], roundTrip: .milliseconds(20))), .noise(noise)]
        path.record(second, at: t0 + .milliseconds(9))
        #expect(path.late == 1 && path.reordered == 1 && path.duplicates == 2 && path.lost == 1)
        let lines = path.lines(PathKey(target: "h:1", transport: .tcp, tcpMode: .perLine))
        #expect(lines[0] == "--- tcp/per-line to h:1 ---")
        #expect(lines[1] == "2 sent, 1 received, 1 lost, +1 late, +2 duplicates, +1 reordered, 50% loss")
        #expect(lines.contains("tcp connect min/avg/max/mdev = 0.200/0.300/0.400/0.100 ms (2 opened)"))
        #expect(lines.contains { $0.hasPrefix("jitter 0.000 ms (RFC 3550), recent ▁") })
        #expect(lines.contains("rtt clock: kernel (send and receive stamped by the kernel)"))
    }

    @Test func eventsALiveSessionGetsApartFromExchangesCountOnTheirTransportsPath() throws {
        var book = StatisticsBook()
        book.record(reply(1, .tcp, mode: .persistent), target: "h:1")
        var noise = Noise()
        noise.unexpected = 3
        book.record(.noise(noise), target: "h:1", transport: .tcp, tcpMode: .persistent)
        let peer = try #require(try Resolver.resolve(Target(host: "127.0.0.1", port: 1), family: .any).first)
        book.record(.connected(peer, took: .microseconds(300), replacing: nil), target: "h:1", transport: .tcp, tcpMode: .persistent)
        book.record(.late(LateReply(line: Line("z"), bytes: [1], roundTrip: .milliseconds(5))), target: "h:2", transport: .udp, tcpMode: nil)
        #expect(book.order.map(\.label) == ["tcp to h:1", "udp to h:2"])
        let tcp = book.paths[book.order[0]]
        #expect(tcp?.sent == 1 && tcp?.unexpected == 3 && tcp?.connects.count == 1)
        #expect(book.paths[book.order[1]]?.late == 1 && book.paths[book.order[1]]?.sent == 0)
    }

    @Test func aLateReplySentAfterTheLastAnsweredLineIsNotReordered() {
        let t0 = ContinuousClock.now
        var path = PathStatistics()
        path.record(reply(1), at: t0)
        var e = Exchange(line: Line("y"), transport: .udp, outcome: .lost(partialBytes: 0))
        e.events = [.late(LateReply(line: Line("z"), bytes: [1], roundTrip: .milliseconds(5)))]
        path.record(e, at: t0 + .milliseconds(10))
        #expect(path.late == 1 && path.reordered == 0)
    }

    @Test func thePingSummaryHasPingsForm() {
        var tally = PingTally()
        tally.transmitted = 4
        tally.count(.reply(sequence: 1, roundTrip: .milliseconds(1), clock: .kernel, bytes: 56, reordered: false))
        tally.count(.reply(sequence: 3, roundTrip: .milliseconds(3), clock: .kernel, bytes: 56, reordered: false))
        tally.count(.reply(sequence: 2, roundTrip: .milliseconds(2), clock: .kernel, bytes: 56, reordered: true))
        tally.count(.timedOut(sequence: 4))
        tally.count(.duplicate(sequence: 1))
        #expect(
            tally.summary(target: "localhost:12000", elapsed: .milliseconds(3012)) == [
                "--- localhost:12000 ping statistics ---",
                "4 packets transmitted, 3 received, +1 duplicates, 1 reordered, 25% packet loss, time 3012ms",
                "rtt min/avg/max/mdev = 1.000/2.000/3.000/0.816 ms, jitter 0.180 ms",
                "rtt clock: kernel (send and receive stamped by the kernel)",
            ])
    }
}
