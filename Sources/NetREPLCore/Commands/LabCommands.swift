// The lab commands (:ping, :trace, :capture, :compare, :clock): their arguments read and checked
// here, the work done by the engines in NetREPLTransport, the words by the presenter.

import Grammars
import NetREPLProtocol
import NetREPLTransport

enum LabCommands {
    static func stats(_ c: CommandContext, _ arguments: String) {
        switch arguments.trimmingWhitespace() {
        case "":
            if c.book.isEmpty { c.info("no lines sent yet") }
            for line in c.book.lines() { c.info(line) }
            c.info(
                "now: \(transportName(c.configuration.transport, c.configuration.tcpMode)) to \(c.targetDescription), timeout \(DurationGrammar.format(c.configuration.timeout))"
            )
        case "reset":
            c.resetStatistics()
            c.meta("statistics reset")
        case let word:
            c.fail("unknown :stats argument \"\(word)\"; :stats shows them, :stats reset starts afresh")
        }
    }

    static func ping(_ c: CommandContext, _ arguments: String) {
        let words = arguments.split(whereSeparator: \.isWhitespace).map(String.init)
        var plan = PingPlan(timeout: c.configuration.timeout)
        if let word = words[safe: 0] {
            guard let count = Int(word), (1...PingPlan.maximumCount).contains(count) else {
                return c.fail("invalid COUNT \"\(word)\"; give a number from 1 to \(PingPlan.maximumCount)")
            }
            plan.count = count
        }
        if let word = words[safe: 1] {
            guard let interval = DurationGrammar.parse(word), interval >= PingPlan.minimumInterval else {
                return c.fail("invalid INTERVAL \"\(word)\"; give at least 1ms, written like \(DurationGrammar.examples)")
            }
            plan.interval = interval
        }
        if let word = words[safe: 2] {
            let limit = Datagram.maximumPayload(ipv6: false)
            guard let size = Int(word), (PingPlan.minimumSize...limit).contains(size) else {
                return c.fail("invalid SIZE \"\(word)\"; give a number of bytes from \(PingPlan.minimumSize) to \(limit)")
            }
            plan.size = size
        }
        c.ping(plan)
    }

    static func trace(_ c: CommandContext, _ arguments: String) {
        switch arguments.trimmingWhitespace() {
        case "": c.info("trace: \(c.tracing ? "on" : "off")")
        case "on": c.tracing = true; c.meta("trace: on")
        case "off": c.tracing = false; c.meta("trace: off")
        case let word: c.fail("unknown :trace argument \"\(word)\"; use on or off")
        }
    }

    /// A tcpdump command and a Wireshark filter for both ends of the last exchange.
    static func capture(_ c: CommandContext) {
        guard let e = c.lastExchange, let peer = e.peer, let local = e.trace.local else {
            return c.fail("no line has been sent yet (or it never left); send one, then :capture")
        }
        let kind = e.transport.rawValue
        let v6 = peer.isIPv6
        let interface = peer.hostText.hasPrefix("127.") || peer.hostText == "::1" || peer.hostText.hasPrefix("::ffff:127.") ? "lo" : "any"
        c.info("tcpdump -i \(interface) -n '\(kind) and host \(peer.hostText) and port \(peer.portNumber) and port \(local.portNumber)'")
        c.info("wireshark: \(v6 ? "ipv6" : "ip").addr == \(peer.hostText) && \(kind).port == \(peer.portNumber) && \(kind).port == \(local.portNumber)")
        if e.transport == .udp || e.tcpMode == .perLine {
            // Each UDP line, and each per-line connection, has a socket and so an ephemeral port of its own.
            c.info("(port \(local.portNumber) is this line's own; for every line, leave out \"and port \(local.portNumber)\")")
        }
    }
}

extension LabCommands {
    static func compare(_ c: CommandContext, _ arguments: String) {
        let plan: ComparePlan
        switch ComparePlan.parse(arguments) {
        case .success(let p): plan = p
        case .failure(.rounds(let text)): return c.fail("invalid --rounds \"\(text)\"; give a number from 1 to \(ComparePlan.maximumRounds)")
        case .failure(.sizes(let text)):
            return c.fail("invalid --sizes \"\(text)\"; give sizes in bytes separated by commas, like 16,256,1400,8k (at most 1024k)")
        case .failure(.option(let text)): return c.fail("unknown :compare option \(text); use --rounds N or --sizes LIST, then the line")
        }
        c.meta(
            "compare: \(plan.rounds) rounds to \(c.configuration.target), interleaved; medians (each path's own socket, timeout \(DurationGrammar.format(c.configuration.timeout)))"
        )
        let result = c.compare(plan)
        var rows = [["size"] + ComparedPath.allCases.map(\.rawValue) + ["tcp connect"]]
        var unanswered: [String] = []
        var clocks: [ComparedPath: RoundTrips.Clocks] = [:]
        for comparison in result.comparisons {
            var row = ["\(comparison.size) B"]
            for path in ComparedPath.allCases {
                let median = comparison.roundTrips[path]?.median
                row.append(median.map(formatMilliseconds) ?? "-")
                if let t = comparison.roundTrips[path] { clocks[path, default: RoundTrips.Clocks()].add(t) }
                if let n = comparison.unanswered[path] { unanswered.append("\(n) on \(path.rawValue) at \(comparison.size) B") }
            }
            row.append(comparison.connects.median.map(formatMilliseconds) ?? "-")
            rows.append(row)
        }
        c.table(rows, rightAligned: Set(0..<rows[0].count))
        if !unanswered.isEmpty { c.info("not answered (lost or failed): " + unanswered.joined(separator: ", ")) }
        // Per path: a per-line reply ends with the server's FIN, which the kernel does not stamp.
        let perPath = ComparedPath.allCases.compactMap { path in clocks[path]?.clock.map { "\(path.rawValue) \($0.rawValue)" } }
        if !perPath.isEmpty { c.info("rtt clock: " + perPath.joined(separator: ", ")) }
        if result.interrupted { c.info("(interrupted: the last row has the rounds done)") }
    }

    static func clock(_ c: CommandContext) {
        for line in clockReport(c.measureClock()) { c.info(line) }
    }
}

/// :clock's and --self-test's lines.
public func clockReport(_ check: ClockCheck) -> [String] {
    let late = check.wakeLateness
    // Clock figures are often below a microsecond: whole nanoseconds there, milliseconds above.
    func ms(_ d: Duration) -> String { d < .microseconds(10) ? "\(d.wholeNanoseconds) ns" : formatMilliseconds(d) }
    var lines = [
        "clock: CLOCK_MONOTONIC resolution \(ms(check.resolution)), smallest step seen \(ms(check.smallestStep)), one reading costs \(ms(check.readCost))"
    ]
    if let first = late.first, let last = late.last {
        lines.append(
            "wake-up: a \(DurationGrammar.format(check.wait)) wait woke late by min \(ms(first)), median \(ms(late[(late.count - 1) / 2])), max \(ms(last)) (\(late.count) tries)"
        )
    }
    lines.append(
        check.kernelSendStamps
            ? "send stamps: the kernel stamps sends (SO_TIMESTAMPING), so a round trip is timed by the kernel at both ends and netrepl's own wake-ups do not lengthen it"
            : "send stamps: the kernel gave none, so a round trip starts at netrepl's reading of the clock and may include up to about the wake-up lateness")
    return lines
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
