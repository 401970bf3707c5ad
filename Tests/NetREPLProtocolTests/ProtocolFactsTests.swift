// The facts both executables share: the one duration grammar, host:port, datagram limits.

import Foundation
import Grammars
import NetREPLProtocol
import Testing

@Suite struct DurationGrammarTests {
    @Test(arguments: [
        ("1", Duration.seconds(1)), ("0.5", .milliseconds(500)), ("250ms", .milliseconds(250)),
        ("2s", .seconds(2)), ("1.5 s", .milliseconds(1500)), ("100us", .microseconds(100)),
        ("100µs", .microseconds(100)), ("1m", .seconds(60)), ("0", .zero), ("2h", .seconds(7200)),
    ])
    func parses(text: String, duration: Duration) {
        #expect(DurationGrammar.parse(text) == duration)
    }

    @Test(arguments: ["", "-1", "abc", "2 hours", "nan", "inf", "1e3", "ms", "1.2.3s", "400d"])
    func rejects(text: String) {
        #expect(DurationGrammar.parse(text) == nil)
    }

    @Test func aBareNumberIsSecondsForEveryOption() {
        #expect(DurationGrammar.parse("3") == .seconds(3))
    }

    @Test func formatsAsAPersonWrites() {
        #expect(DurationGrammar.format(.seconds(1)) == "1 s")
        #expect(DurationGrammar.format(.milliseconds(250)) == "250 ms")
        #expect(DurationGrammar.format(.milliseconds(1500)) == "1.5 s")
        #expect(DurationGrammar.format(.microseconds(500)) == "500 µs")
        #expect(DurationGrammar.format(.zero) == "0")
        #expect(DurationGrammar.format(.nanoseconds(5)) == "5 ns")
        for text in ["1", "0.25", "250ms", "1.5s", "100us"] {
            let d = DurationGrammar.parse(text)!
            #expect(DurationGrammar.parse(DurationGrammar.format(d).replacingOccurrences(of: " ", with: "")) == d)
        }
    }
}

@Suite struct ProbabilityGrammarTests {
    @Test func parsesFractionsAndPercentages() {
        #expect(ProbabilityGrammar.parse("0.3") == 0.3)
        #expect(ProbabilityGrammar.parse("30%") == 0.3)
        #expect(ProbabilityGrammar.parse("1.5") == nil)
        #expect(ProbabilityGrammar.parse("-1%") == nil)
        #expect(ProbabilityGrammar.parse("often") == nil)
        #expect(ProbabilityGrammar.format(0.3) == "30%")
        #expect(ProbabilityGrammar.format(0.125) == "12.5%")
        #expect(ProbabilityGrammar.format(0) == "0")
    }
}

@Suite struct HostPortTests {
    @Test(
        arguments: [
            ("localhost", "localhost", nil), ("example.org:7", "example.org", 7), ("[::1]:12000", "::1", 12000),
            ("[fe80::1]", "fe80::1", nil), ("::1", "::1", nil), ("127.0.0.1:80", "127.0.0.1", 80),
        ] as [(String, String, Int?)])
    func parses(text: String, host: String, port: Int?) {
        let parsed = parseHostPort(text)
        #expect(parsed?.host == host)
        #expect(parsed?.port == port)
    }

    @Test(arguments: ["", "[::1", "host:", "[::1]x", "[]:1", ":80", "host:port"])
    func rejects(text: String) {
        #expect(parseHostPort(text) == nil)
    }

    @Test func formatsIPv6InBrackets() {
        #expect(formatHostPort("::1", 5) == "[::1]:5")
        #expect(formatHostPort("localhost", 5) == "localhost:5")
    }

    @Test func datagramLimitsPerFamily() {
        #expect(Datagram.maximumPayload(ipv6: false) == 65_507)
        #expect(Datagram.maximumPayload(ipv6: true) == 65_527)
    }
}
