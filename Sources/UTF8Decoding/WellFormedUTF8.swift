// Decoding one UTF-8 sequence at a time by the well-formedness table of Unicode §3.9 (Table 3-7),
// telling a complete scalar from an invalid byte and from a valid sequence cut off by the end of
// the buffer. Shared by the server's uppercaser and the client's terminal sanitizer.

public enum WellFormedUTF8 {
    public enum Unit: Equatable, Sendable {
        /// A byte below 0x80.
        case ascii
        /// A complete, well-formed multi-byte sequence and its scalar value.
        case scalar(UInt32, length: Int)
        /// The byte at the position starts no well-formed sequence.
        case invalid
        /// A well-formed prefix that the end of the buffer cuts off.
        case incomplete
    }

    @inlinable
    public static func decode(_ p: UnsafeRawBufferPointer, at i: Int) -> Unit {
        let b0 = p[i]
        if b0 < 0x80 { return .ascii }
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F  // no surrogates
        case 0xF0: length = 4; low = 0x90  // no overlong forms
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F  // nothing above U+10FFFF
        default: return .invalid
        }
        var value = UInt32(b0) & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
        for k in 1..<length {
            guard i + k < p.count else { return .incomplete }
            let b = p[i + k]
            let (lo, hi) = k == 1 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
            guard b >= lo && b <= hi else { return .invalid }
            value = (value << 6) | UInt32(b & 0x3F)
        }
        return .scalar(value, length: length)
    }
}
