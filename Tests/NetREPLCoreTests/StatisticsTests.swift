// Statistics as ping computes them, and the small formatters they use.

import Testing
import MisbehavingPeers
import NetREPLTransport
@testable import NetREPLCore

func okExchange(_ nanos: UInt64, _ kind: TransportKind = .udp) -> Exchange {
    sentExchange(.reply(Reply(bytes: [88], roundTrip: .nanoseconds(Int64(nanos)), bytesReceived: 1)), kind)
}

/// 127.0.0.1:9, an address for failures to name.
private func discard() throws -> SocketAddress {
    try Resolver.resolve(Target(host: "127.0.0.1", port: 9), family: .ipv4)[0]
}

/// An exchange whose line left (2 bytes): only those count as sent.
func sentExchange(_ outcome: ExchangeOutcome, _ kind: TransportKind = .udp, line: String = "x") -> Exchange {
    var e = Exchange(line: Line(line), transport: kind, tcpMode: kind == .tcp ? .persistent : nil, outcome: outcome)
    e.bytesSent = 2
    return e
}

@Suite struct StatisticsTests {
    @Test func mdevIsPopulationDeviationAsInPing() {
        var stats = TransportStatistics()
        for ms: UInt64 in [1, 2, 3] { stats.record(okExchange(ms * 1_000_000)) }
        // ping: tsum/n = 2000 µs, tsum2/n = 14e6/3 µs², mdev = sqrt(tsum2/n − (tsum/n)²) = 816.497 µs
        #expect(abs(stats.mdevMicroseconds - 816.4966) < 0.001)
        #expect(stats.rttLine == "rtt min/avg/max/mdev = 1.000/2.000/3.000/0.816 ms")
    }

    @Test func lossCountsLostAndFailedLines() throws {
        var stats = TransportStatistics()
        stats.record(okExchange(100_000))
        stats.record(sentExchange(.lost(partialBytes: 0)))
        stats.record(sentExchange(.failed(.receiveFailed(try discard(), .connectionRefused))))
        #expect(stats.sent == 3 && stats.received == 1 && stats.lost == 1 && stats.errors == 1)
        #expect(stats.countsLine == "3 sent, 1 received, 1 lost, +1 error, 66.6667% loss")
        stats.record(sentExchange(.failed(.closedBeforeReply(try discard(), .reset))))
        #expect(stats.countsLine == "4 sent, 1 received, 1 lost, +2 errors, 75% loss")
    }

    @Test func aLineThatNeverLeftIsNotSentNorLost() throws {
        // A refused TCP connect, and a datagram too large: no byte went (bytesSent 0).
        var stats = TransportStatistics()
        stats.record(Exchange(line: Line("a"), transport: .tcp, tcpMode: .perLine, outcome: .failed(.refused(try discard()))))
        #expect(stats.sent == 0 && stats.notSent == 1 && stats.errors == 0)
        #expect(stats.countsLine == "0 sent, 0 received, 1 not sent")
        stats.record(Exchange(line: Line("b"), transport: .udp, outcome: .failed(.datagramTooLarge(size: 70_000, limit: 65_507))))
        stats.record(okExchange(1_000_000, .tcp))
        #expect(stats.countsLine == "1 sent, 1 received, 2 not sent, 0% loss")
    }

    @Test func lateAndDuplicateRepliesAreCountedApart() {
        var stats = TransportStatistics()
        var e = okExchange(50_000)
        var noise = Noise()
        noise.duplicates = 1
        noise.unexpected = 2
        e.events = [.late(LateReply(line: Line("a"), bytes: [65], roundTrip: .milliseconds(3))), .noise(noise)]
        stats.record(e)
        #expect(stats.late == 1 && stats.duplicates == 1 && stats.unexpected == 2 && stats.received == 1)
        #expect(stats.countsLine == "1 sent, 1 received, +1 late, +1 duplicate, +2 unexpected, 0% loss")
    }

    @Test func truncatedAndCancelledLinesAreFailuresOfTheirOwnKind() {
        var stats = TransportStatistics()
        stats.record(sentExchange(.truncated(received: [65], end: .reset), .tcp))
        stats.record(sentExchange(.cancelled(signal: 2), .tcp))
        #expect(stats.received == 0 && stats.truncated == 1 && stats.cancelled == 1)
        #expect(stats.countsLine == "2 sent, 0 received, +1 truncated, +1 cancelled, 100% loss")
    }

    @Test func noRepliesNoRTTLine() {
        var stats = TransportStatistics()
        stats.record(sentExchange(.lost(partialBytes: 0)))
        #expect(stats.rttLine == nil)
        #expect(stats.countsLine == "1 sent, 0 received, 1 lost, 100% loss")
    }

    @Test func summaryOnlyForUsedTransports() {
        var session = SessionStatistics()
        #expect(session.summary().isEmpty)
        session.tcp.record(okExchange(1_000_000, .tcp))
        #expect(
            session.summary() == [
                "--- tcp statistics ---", "1 sent, 1 received, 0% loss",
                "rtt min/avg/max/mdev = 1.000/1.000/1.000/0.000 ms",
            ])
    }
}

@Suite struct FormatTests {
    @Test func numbers() {
        #expect(fixed(0.0845, 3) == "0.085")
        #expect(fixed(12, 2) == "12.00")
        #expect(significant(100.0 / 3.0) == "33.3333")
        #expect(significant(0) == "0")
        #expect(significant(100) == "100")
        #expect(formatMilliseconds(.nanoseconds(84_213)) == "0.084 ms")
    }

    @Test func json() {
        #expect(jsonString("a\"b\\c\n\u{1b}") == "\"a\\\"b\\\\c\\n\\u001b\"")
        // Bidi controls and zero-width characters would make a reader see another text.
        #expect(jsonString("a\u{202E}b\u{200B}c\u{FEFF}") == "\"a\\u202eb\\u200bc\\ufeff\"")
        #expect(base64(Array("hello".utf8)) == "aGVsbG8=")
        #expect(base64([0xff, 0xfe, 0xfd]) == "//79")
        #expect(base64([0x00]) == "AA==")
    }
}
