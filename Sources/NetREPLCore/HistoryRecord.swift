// One history record and its line in the file: netrepl's own format, which the store appends and
// reads back, and nothing else in the program writes.
//
// One record per line, six fields separated by tabs:
//   TIME  TRANSPORT  TARGET  OUTCOME  RTT  LINE
//   2026-11-25T08:44:04.123Z  udp  localhost:12000  ok  84.213  hello world
// TIME is UTC with milliseconds; TRANSPORT udp, tcp or tcp/per-line (older files: udp or tcp, tcp
// then read as persistent); OUTCOME ok, lost, late, error or cmd; RTT in
// microseconds with three decimals, or `-`. In TARGET and LINE a backslash is written `\\`, tab `\t`,
// newline `\n`, carriage return `\r`, and any other control character `\xHH`.

import NetREPLTransport
import SystemCalls

public struct HistoryRecord: Sendable, Equatable {
    /// Milliseconds since the Unix epoch (UTC).
    public var timeMilliseconds: Int
    public var transport: TransportKind
    /// The TCP mode (nil for UDP; persistent for TCP records of files older than the mode).
    public var tcpMode: TCPMode?
    public var target: String
    public var outcome: HistoryOutcome
    public var rttNanoseconds: UInt64?
    public var line: String

    public init(
        timeMilliseconds: Int, transport: TransportKind, tcpMode: TCPMode? = nil, target: String, outcome: HistoryOutcome,
        rttNanoseconds: UInt64?, line: String
    ) {
        self.timeMilliseconds = timeMilliseconds
        self.transport = transport
        self.tcpMode = transport == .tcp ? tcpMode ?? .persistent : nil
        self.target = target
        self.outcome = outcome
        self.rttNanoseconds = rttNanoseconds
        self.line = line
    }

    /// A record stamped with the current wall-clock time.
    public static func now(
        transport: TransportKind, tcpMode: TCPMode? = nil, target: String, outcome: HistoryOutcome,
        rttNanoseconds: UInt64?, line: String
    ) -> HistoryRecord {
        HistoryRecord(
            timeMilliseconds: Int(Clocks.realtimeNanoseconds() / 1_000_000), transport: transport,
            tcpMode: tcpMode, target: target, outcome: outcome, rttNanoseconds: rttNanoseconds, line: line)
    }

    /// The record as one line of the file, newline included.
    public var encoded: String {
        let rtt = rttNanoseconds.map { fixed(Double($0) / 1_000, 3) } ?? "-"
        return [
            HistoryRecord.formatTime(timeMilliseconds), transportName(transport, tcpMode), HistoryRecord.escape(target),
            outcome.rawValue, rtt, HistoryRecord.escape(line),
        ].joined(separator: "\t") + "\n"
    }

    /// Parses one line of the file (without its newline); nil when it is not a record.
    public static func decode(_ text: Substring) -> HistoryRecord? {
        let fields = text.split(separator: "\t", maxSplits: 5, omittingEmptySubsequences: false)
        guard fields.count == 6,
            let time = parseTime(fields[0]),
            let via = parseTransportName(fields[1]),
            let target = unescape(fields[2]), !target.isEmpty,
            let outcome = HistoryOutcome(rawValue: String(fields[3])),
            let line = unescape(fields[5])
        else { return nil }
        var rtt: UInt64? = nil
        if fields[4] != "-" {
            guard fields[4].allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
                let micros = Double(fields[4]), micros.isFinite, micros >= 0, micros < 1e15
            else { return nil }
            rtt = UInt64((micros * 1_000).rounded())
        }
        return HistoryRecord(
            timeMilliseconds: time, transport: via.kind, tcpMode: via.mode, target: target, outcome: outcome,
            rttNanoseconds: rtt, line: line)
    }

    static func escape(_ text: String) -> String {
        backslashEscaped(text, hexPrefix: "\\x", hexDigits: 2) { $0.value < 0x20 || $0.value == 0x7f }
    }

    static func unescape(_ text: Substring) -> String? {
        var out = String.UnicodeScalarView()
        var scalars = text.unicodeScalars.makeIterator()
        while let scalar = scalars.next() {
            if scalar.value < 0x20 || scalar.value == 0x7f { return nil }
            guard scalar == "\\" else {
                out.append(scalar)
                continue
            }
            switch scalars.next() {
            case "\\": out.append("\\")
            case "t": out.append("\t")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "x":
                // Two hex digits exactly: UInt8(_:radix:) alone would also take a sign ("+1").
                guard let a = scalars.next(), let b = scalars.next(), a.properties.isASCIIHexDigit, b.properties.isASCIIHexDigit,
                    let value = UInt8(String([Character(a), Character(b)]), radix: 16), value < 0x80
                else { return nil }
                out.append(Unicode.Scalar(value))
            default: return nil
            }
        }
        return String(out)
    }

    static func formatTime(_ milliseconds: Int) -> String {
        let time = CalendarTime(utcSeconds: milliseconds / 1000)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(time.year, 4))-\(pad(time.month, 2))-\(pad(time.day, 2))T"
            + "\(pad(time.hour, 2)):\(pad(time.minute, 2)):\(pad(time.second, 2)).\(pad(milliseconds % 1000, 3))Z"
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    static func parseTime(_ text: Substring) -> Int? {
        let b = Array(text.utf8)
        guard b.count == 24, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T"),
            b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"), b[19] == UInt8(ascii: "."), b[23] == UInt8(ascii: "Z")
        else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var v = 0
            for i in range {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                v = v * 10 + Int(b[i] - 0x30)
            }
            return v
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            let millis = number(20..<23), (1...12).contains(month), (1...31).contains(day),
            hour < 24, minute < 60, second < 61
        else { return nil }
        let time = CalendarTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        return time.utcSeconds * 1000 + millis
    }

    /// Local time for the `:history` table: `2026-11-25 09:44:04`.
    public var localTimeText: String {
        let time = CalendarTime(localSeconds: timeMilliseconds / 1000)
        func pad(_ v: Int) -> String { v < 10 ? "0\(v)" : String(v) }
        return "\(time.year)-\(pad(time.month))-\(pad(time.day)) \(pad(time.hour)):\(pad(time.minute)):\(pad(time.second))"
    }
}
