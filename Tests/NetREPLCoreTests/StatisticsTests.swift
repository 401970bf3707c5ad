// Statistics as ping computes them, and the small formatters they use.

import Testing
@testable import NetREPLCore

func okExchange(_ nanos: UInt64, _ kind: TransportKind = .udp) -> Exchange {
    var e = Exchange(transport: kind, line: "x", peer: "127.0.0.1:1", outcome: .ok)
    e.rttNanoseconds = nanos
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

    @Test func lossCountsLostAndFailedLines() {
        var stats = TransportStatistics()
        stats.record(okExchange(100_000))
        stats.record(Exchange(transport: .udp, line: "y", peer: "p", outcome: .lost))
        var failed = Exchange(transport: .udp, line: "z", peer: "p", outcome: .error)
        failed.failure = .connection
        stats.record(failed)
        #expect(stats.sent == 3 && stats.received == 1 && stats.lost == 1 && stats.errors == 1)
        #expect(stats.countsLine == "3 sent, 1 received, 1 lost, +1 errors, 66.6667% loss")
    }

    @Test func lateAndDuplicateRepliesAreCountedApart() {
        var stats = TransportStatistics()
        var e = okExchange(50_000)
        e.events = [.late(LateReply(payload: [65], line: "a", rttNanoseconds: nil, duplicate: false)),
                    .late(LateReply(payload: [65], line: nil, rttNanoseconds: nil, duplicate: true))]
        stats.record(e)
        #expect(stats.late == 1 && stats.duplicates == 1 && stats.received == 1)
        #expect(stats.countsLine == "1 sent, 1 received, +1 late, +1 duplicates, 0% loss")
    }

    @Test func noRepliesNoRTTLine() {
        var stats = TransportStatistics()
        stats.record(Exchange(transport: .udp, line: "y", peer: "p", outcome: .lost))
        #expect(stats.rttLine == nil)
        #expect(stats.countsLine == "1 sent, 0 received, 1 lost, 100% loss")
    }

    @Test func percentilesFromTheHistogram() {
        var stats = TransportStatistics()
        for i: UInt64 in 1...100 { stats.record(okExchange(i * 1_000_000)) }
        let p50 = Double(stats.percentile(50)) / 1e6
        #expect(p50 > 49.5 && p50 < 50.6)
        #expect(stats.percentileLine?.hasPrefix("rtt p50/p90/p99/p99.9 = ") == true)
    }

    @Test func summaryOnlyForUsedTransports() {
        var session = SessionStatistics()
        #expect(session.summary().isEmpty)
        session.tcp.record(okExchange(1_000_000, .tcp))
        #expect(session.summary() == ["--- tcp statistics ---", "1 sent, 1 received, 0% loss",
                                      "rtt min/avg/max/mdev = 1.000/1.000/1.000/0.000 ms"])
    }
}

@Suite struct FormatTests {
    @Test(arguments: [("1", 1_000_000_000), ("0.5", 500_000_000), ("250ms", 250_000_000), ("2s", 2_000_000_000),
                      ("1.5 s", 1_500_000_000), ("100us", 100_000), ("1m", 60_000_000_000)] as [(String, UInt64)])
    func parsesDurations(text: String, nanos: UInt64) {
        #expect(parseDuration(text) == nanos)
    }

    @Test(arguments: ["", "0", "-1", "abc", "1h", "2 hours", "nan", "inf", "1e3", "61m"])
    func rejectsBadDurations(text: String) {
        #expect(parseDuration(text) == nil)
    }

    @Test func numbers() {
        #expect(fixed(0.0845, 3) == "0.085")
        #expect(fixed(12, 2) == "12.00")
        #expect(significant(100.0 / 3.0) == "33.3333")
        #expect(significant(0) == "0")
        #expect(significant(100) == "100")
        #expect(formatMilliseconds(84_213) == "0.084 ms")
        #expect(formatDuration(1_000_000_000) == "1 s")
        #expect(formatDuration(250_000_000) == "250 ms")
    }

    @Test func json() {
        #expect(jsonString("a\"b\\c\n\u{1b}") == "\"a\\\"b\\\\c\\n\\u001b\"")
        #expect(base64(Array("hello".utf8)) == "aGVsbG8=")
        #expect(base64([0xff, 0xfe, 0xfd]) == "//79")
        #expect(base64([0x00]) == "AA==")
    }
}
