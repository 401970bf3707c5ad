// The one way both executables write and read a duration: `1`, `0.5`, `1s`, `250ms`, `500us`,
// `2m`. A bare number is seconds, in netrepl's --timeout and netrepl-server's --delay alike.

public enum DurationGrammar {
    /// The units a duration may carry, longest suffix first so that `ms` is not read as `s`.
    private static let units: [(suffix: String, nanoseconds: Double)] = [
        ("ms", 1e6), ("us", 1e3), ("µs", 1e3), ("ns", 1), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
    ]

    public static let examples = "1, 0.5s, 250ms or 500us (a bare number is seconds)"

    /// Parses a non-negative duration; nil for anything else. Zero is allowed here: whether it
    /// makes sense is the option's business.
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.filter { !$0.isWhitespace }.lowercased()
        var number = Substring(trimmed)
        var scale = 1e9
        for unit in units where trimmed.hasSuffix(unit.suffix) {
            number = trimmed.dropLast(unit.suffix.count)
            scale = unit.nanoseconds
            break
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            let value = Double(number), value.isFinite, value >= 0
        else { return nil }
        let nanoseconds = (value * scale).rounded()
        // A year is far beyond anything either program waits for; larger is a typo.
        guard nanoseconds <= 365 * 86_400 * 1e9 else { return nil }
        return .nanoseconds(Int64(nanoseconds))
    }

    /// How a person writes it back: `1 s`, `250 ms`, `1.5 s`, `500 µs`.
    public static func format(_ duration: Duration) -> String {
        guard duration != .zero else { return "0" }
        let nanoseconds = Double(duration.components.seconds) * 1e9 + Double(duration.components.attoseconds) / 1e9
        if nanoseconds >= 1e9 { return trimmed(nanoseconds / 1e9) + " s" }
        if nanoseconds >= 1e6 { return trimmed(nanoseconds / 1e6) + " ms" }
        if nanoseconds >= 1e3 { return trimmed(nanoseconds / 1e3) + " µs" }
        return trimmed(nanoseconds) + " ns"
    }

    /// Up to three decimals, trailing zeros dropped.
    private static func trimmed(_ x: Double) -> String {
        let scaled = (x * 1000).rounded()
        let whole = Int64(scaled / 1000)
        let fraction = Int64(scaled) - whole * 1000
        guard fraction != 0 else { return String(whole) }
        var digits = String(fraction)
        digits = String(repeating: "0", count: 3 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }
}

extension Duration {
    /// Whole nanoseconds, saturating; for the places (history file, histograms) that count them.
    public var wholeNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let (product, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : product &+ UInt64(attoseconds / 1_000_000_000)
    }
}

/// How both executables write a probability: `0.3` or `30%`, from 0 to 1.
public enum ProbabilityGrammar {
    public static func parse(_ text: String) -> Double? {
        let s = text.filter { !$0.isWhitespace }
        let value = s.hasSuffix("%") ? Double(s.dropLast()).map { $0 / 100 } : Double(s)
        guard let value, value.isFinite, (0...1).contains(value) else { return nil }
        return value
    }

    /// `30%`, or `0` for none.
    public static func format(_ p: Double) -> String {
        guard p != 0 else { return "0" }
        let tenths = Int((p * 1000).rounded())
        return tenths % 10 == 0 ? "\(tenths / 10)%" : "\(tenths / 10).\(tenths % 10)%"
    }
}
