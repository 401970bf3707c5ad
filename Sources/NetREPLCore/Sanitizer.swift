// Makes bytes from the network safe to show on a terminal: controls and invalid UTF-8 become
// visible escapes instead of being interpreted (no cursor moves, title changes or colour from a server).

import UTF8Decoding

public enum Sanitizer {
    /// `text` as it may be shown on a terminal.
    public static func escape(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        return escape(Array(text.utf8))
    }

    /// Returns `bytes` as text in which C0 controls, DEL and ESC appear as `\xHH`, C1 controls and
    /// the invisible bidirectional and line-separator characters as `\u{HHHH}`, and each byte of
    /// invalid UTF-8 as `\xHH`. Everything else, backslash included, is shown as it is.
    public static func escape(_ bytes: [UInt8]) -> String {
        var out = ""
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if let (scalar, length) = decodeScalar(bytes, at: i) {
                appendEscaped(scalar, to: &out)
                i += length
            } else {
                // Invalid: show this byte and look again at the next, so every byte of an
                // invalid sequence is shown and a valid character after it is not swallowed.
                out += hex(bytes[i])
                i += 1
            }
        }
        return out
    }

    /// Decodes one well-formed UTF-8 scalar at `i`, or nil for an invalid or cut-off sequence.
    static func decodeScalar(_ bytes: [UInt8], at i: Int) -> (Unicode.Scalar, Int)? {
        let unit = bytes.withUnsafeBytes { WellFormedUTF8.decode($0, at: i) }
        switch unit {
        case .ascii: return (Unicode.Scalar(bytes[i]), 1)
        case .scalar(let value, let length): return Unicode.Scalar(value).map { ($0, length) }
        case .invalid, .incomplete: return nil
        }
    }

    /// Whether a scalar must not reach a terminal (or a JSON reader) as it is: C0 and C1 controls,
    /// DEL, the bidirectional controls, the line and paragraph separators, and the zero-width
    /// characters that make one text look like another.
    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        return v < 0x20 || v == 0x7f || (0x80...0x9f).contains(v)
            || (0x200b...0x200f).contains(v) || (0x202a...0x202e).contains(v) || (0x2060...0x2064).contains(v)
            || (0x2066...0x2069).contains(v) || v == 0x2028 || v == 0x2029 || v == 0x061c || v == 0xfeff
    }

    private static func appendEscaped(_ scalar: Unicode.Scalar, to out: inout String) {
        guard needsEscape(scalar) else {
            out.unicodeScalars.append(scalar)
            return
        }
        if scalar.value < 0x80 {
            out += hex(UInt8(scalar.value))
        } else {
            out += "\\u{" + String(scalar.value, radix: 16) + "}"
        }
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return "\\x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0xf)])
    }
}
