// The words and JSON of `netrepl bench`: the progress line, the summary, the setup errors.
// The engine hands over numbers only; everything a person reads is written here.

import Glibc
import Histogram

public enum BenchPresenter {
    /// The percentiles reported, in both the text and the JSON.
    static let percentiles: [(label: String, key: String, value: Double)] = [
        ("p50", "p50", 50), ("p90", "p90", 90), ("p99", "p99", 99), ("p99.9", "p99_9", 99.9),
    ]

    public static func describe(_ error: BenchSetupError) -> String {
        switch error {
        case .resolve(let host, let reason): return "cannot resolve \(host): \(reason)"
        case .socket(let call, let code, let target):
            return "\(call) to \(target) failed: \(String(cString: strerror(code)))"
        }
    }

    /// One line, rewritten in place on a terminal (the caller adds the carriage return).
    public static func progressLine(_ progress: BenchProgress, plan: BenchPlan) -> String {
        let elapsed = progress.elapsed.seconds
        let rate = elapsed > 0 ? Double(progress.settled) / elapsed : 0
        let phase = progress.warmingUp ? " (warming up)" : ""
        return "bench: \(fixed(elapsed, 0)) s of \(fixed((plan.warmup + plan.duration).seconds, 0)) s\(phase), "
            + "\(progress.settled) settled, \(fixed(rate, 0)) req/s, \(progress.lostOrWrong) lost/wrong/failed"
    }

    public static func summary(_ report: BenchReport) -> String {
        let plan = report.plan
        let c = report.counts
        var loop = "closed loop"
        if let rate = plan.rate { loop = "open loop at \(fixed(rate, 0)) req/s" }
        var lines: [String] = []
        lines.append(
            "bench: \(plan.transport.rawValue) to \(plan.address.text), \(plan.clients) client\(plan.clients == 1 ? "" : "s") "
                + "on \(plan.threads) thread\(plan.threads == 1 ? "" : "s"), \(plan.size)-byte requests, \(loop)")
        var window = "\(fixed(report.measured.seconds, 2)) s measured"
        if plan.warmup > .zero { window += " after \(fixed(plan.warmup.seconds, 2)) s warm-up" }
        if report.interrupted { window += " (interrupted)" }
        lines.append("window:   " + window)
        lines.append(
            "requests: \(c.sent) sent, \(c.ok) ok, \(c.wrong) wrong, \(c.lost) lost, \(c.failed) failed, "
                + "\(report.inFlight) in flight at the end; \(c.stray) stray replies (late, duplicated or unasked for)")
        lines.append("rate:     \(fixed(report.requestsPerSecond, 0)) requests/s")
        if c.ok > 0 {
            let h = report.latency
            var parts = ["min \(micro(h.min))"]
            for p in percentiles { parts.append("\(p.label) \(micro(h.valueAtPercentile(p.value)))") }
            parts.append("max \(micro(h.max))")
            let from = plan.rate == nil ? "from each send" : "from each intended send time"
            lines.append("latency:  " + parts.joined(separator: "  ") + " us (\(from))")
        } else {
            lines.append("latency:  no good replies to measure")
        }
        let perRequest = c.ok > 0 ? " (\(fixed(1e6 * report.cpuSeconds / Double(c.sent), 2)) us per request)" : ""
        lines.append("cpu:      \(fixed(report.cpuSeconds, 2)) s\(perRequest)")
        return lines.joined(separator: "\n") + "\n"
    }

    /// One JSON object on one line; latencies in microseconds.
    public static func json(_ report: BenchReport) -> String {
        let plan = report.plan
        let c = report.counts
        var fields: [String] = [
            "\"transport\":\"\(plan.transport.rawValue)\"",
            "\"target\":\"\(plan.address.text)\"",
            "\"clients\":\(plan.clients)",
            "\"threads\":\(plan.threads)",
            "\"size\":\(plan.size)",
            "\"rate\":\(plan.rate.map { number($0) } ?? "null")",
            "\"loop\":\"\(plan.rate == nil ? "closed" : "open")\"",
            "\"latency_from\":\"\(plan.rate == nil ? "send" : "intended")\"",
            "\"duration_s\":\(number(plan.duration.seconds))",
            "\"warmup_s\":\(number(plan.warmup.seconds))",
            "\"measured_s\":\(number(report.measured.seconds))",
            "\"interrupted\":\(report.interrupted)",
            "\"sent\":\(c.sent)", "\"ok\":\(c.ok)", "\"wrong\":\(c.wrong)", "\"lost\":\(c.lost)",
            "\"failed\":\(c.failed)", "\"in_flight\":\(report.inFlight)", "\"stray\":\(c.stray)",
            "\"requests_per_s\":\(number(report.requestsPerSecond))",
        ]
        if c.ok > 0 {
            let h = report.latency
            var latency = ["\"min\":\(number(us(h.min)))"]
            for p in percentiles { latency.append("\"\(p.key)\":\(number(us(h.valueAtPercentile(p.value))))") }
            latency.append("\"max\":\(number(us(h.max)))")
            latency.append("\"mean\":\(number(h.mean / 1000))")
            fields.append("\"latency_us\":{\(latency.joined(separator: ","))}")
        } else {
            fields.append("\"latency_us\":null")
        }
        fields.append("\"cpu_s\":\(number(report.cpuSeconds))")
        return "{" + fields.joined(separator: ",") + "}\n"
    }

    private static func us(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1000 }
    private static func micro(_ nanoseconds: UInt64) -> String { fixed(us(nanoseconds), 1) }

    /// A JSON number with at most three decimals, never `nan` or `inf`.
    private static func number(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        let rounded = (value * 1000).rounded() / 1000
        if rounded == rounded.rounded() && abs(rounded) < 1e15 { return String(Int64(rounded)) }
        return fixed(rounded, 3)
    }

    /// `value` with `places` decimals, without Foundation.
    static func fixed(_ value: Double, _ places: Int) -> String {
        guard value.isFinite else { return "-" }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = Int64(scaled / scale)
        let sign = value < 0 && scaled > 0 ? "-" : ""
        guard places > 0 else { return sign + String(whole) }
        var fraction = String(Int64(scaled) - whole * Int64(scale))
        while fraction.count < places { fraction = "0" + fraction }
        return "\(sign)\(whole).\(fraction)"
    }
}
