// Small formatters shared by the session output, :stats and the history table, without Foundation.

/// `x` with exactly `decimals` digits after the point (round half away from zero).
func fixed(_ x: Double, _ decimals: Int) -> String {
    guard x.isFinite else { return x.isNaN ? "nan" : (x < 0 ? "-inf" : "inf") }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let negative = x < 0
    let scaled = (abs(x) * scale).rounded(.toNearestOrAwayFromZero)
    guard scaled < 9.0e18 else { return String(x) }
    let n = UInt64(scaled)
    let whole = n / UInt64(scale)
    var text = String(whole)
    if decimals > 0 {
        let frac = String(n % UInt64(scale))
        text += "." + String(repeating: "0", count: decimals - frac.count) + frac
    }
    return (negative && n != 0 ? "-" : "") + text
}

/// `1 error`, `2 errors`: a count and its noun, plural unless the count is one.
func counted(_ count: Int, _ noun: String, plural: String? = nil) -> String {
    "\(count) " + (count == 1 ? noun : plural ?? noun + "s")
}

/// Like C's `%g` with `digits` significant digits: trailing zeros dropped (ping prints loss so).
func significant(_ x: Double, _ digits: Int = 6) -> String {
    guard x != 0 else { return "0" }
    var magnitude = 0
    var v = abs(x)
    while v >= 10 { v /= 10; magnitude += 1 }
    while v < 1 { v *= 10; magnitude -= 1 }
    let decimals = max(0, digits - 1 - magnitude)
    var text = fixed(x, decimals)
    if text.contains(".") {
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
    }
    return text
}

/// Milliseconds with three decimals: `0.084 ms`.
public func formatMilliseconds(_ duration: Duration) -> String {
    fixed(Double(duration.wholeNanoseconds) / 1_000_000, 3) + " ms"
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        let scalars = Substring(self).unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}

/// A JSON string literal for `text`.
func jsonString(_ text: String) -> String {
    // Controls, and the invisible characters (bidi controls, zero-width) that could make a
    // reader of the JSON see another text than the one there.
    "\"" + backslashEscaped(text, also: ["\""], hexPrefix: "\\u", hexDigits: 4, where: Sanitizer.needsEscape) + "\""
}

/// `text` with a backslash before itself and `also`, `\n`, `\r` and `\t` for those controls, and
/// `hexPrefix` and `hexDigits` hex digits for any other scalar `needsHex` picks. JSON strings and
/// the history file's fields both escape this way, with their own prefix and picks.
func backslashEscaped(
    _ text: String, also: Set<Unicode.Scalar> = [], hexPrefix: String, hexDigits: Int,
    where needsHex: (Unicode.Scalar) -> Bool
) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where also.contains(scalar): out += "\\" + String(scalar)
        case _ where needsHex(scalar):
            let hex = String(scalar.value, radix: 16)
            out += hexPrefix + String(repeating: "0", count: max(0, hexDigits - hex.count)) + hex
        default:
            out.unicodeScalars.append(scalar)
        }
    }
    return out
}

/// Standard base64 (RFC 4648), for `--json` replies that are not valid UTF-8.
func base64(_ bytes: [UInt8]) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    var out = [UInt8]()
    out.reserveCapacity((bytes.count + 2) / 3 * 4)
    var i = 0
    while i + 2 < bytes.count {
        let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
        out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)]]
        i += 3
    }
    let rest = bytes.count - i
    if rest == 1 {
        let n = UInt32(bytes[i]) << 16
        out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
    } else if rest == 2 {
        let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
        out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], UInt8(ascii: "=")]
    }
    return String(decoding: out, as: UTF8.self)
}

/// True when `bytes` are valid UTF-8.
func isValidUTF8(_ bytes: [UInt8]) -> Bool {
    String(validating: bytes, as: UTF8.self) != nil
}
