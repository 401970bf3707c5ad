// Makes bytes from the network safe to show on a terminal: controls and invalid UTF-8 become
// visible escapes instead of being interpreted (no cursor moves, title changes or colour from a server).

public enum Sanitizer {
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

    /// Decodes one well-formed UTF-8 scalar at `i` (Unicode table 3-7), or nil.
    static func decodeScalar(_ bytes: [UInt8], at i: Int) -> (Unicode.Scalar, Int)? {
        let lead = bytes[i]
        if lead < 0x80 { return (Unicode.Scalar(lead), 1) }
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xbf
        switch lead {
        case 0xc2...0xdf: length = 2
        case 0xe0: length = 3; low = 0xa0
        case 0xe1...0xec, 0xee...0xef: length = 3
        case 0xed: length = 3; high = 0x9f
        case 0xf0: length = 4; low = 0x90
        case 0xf1...0xf3: length = 4
        case 0xf4: length = 4; high = 0x8f
        default: return nil
        }
        guard i + length <= bytes.count else { return nil }
        var value = UInt32(lead) & (length == 2 ? 0x1f : length == 3 ? 0x0f : 0x07)
        for k in 1..<length {
            let byte = bytes[i + k]
            let (lo, hi) = k == 1 ? (low, high) : (UInt8(0x80), UInt8(0xbf))
            guard byte >= lo && byte <= hi else { return nil }
            value = value << 6 | UInt32(byte & 0x3f)
        }
        guard let scalar = Unicode.Scalar(value) else { return nil }
        return (scalar, length)
    }

    /// Whether a scalar must not reach a terminal as it is.
    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        return v < 0x20 || v == 0x7f || (0x80...0x9f).contains(v)
            || (0x202a...0x202e).contains(v) || (0x2066...0x2069).contains(v)
            || v == 0x2028 || v == 0x2029 || v == 0x200e || v == 0x200f || v == 0x061c
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
