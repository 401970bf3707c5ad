// The streaming uppercaser against the standard library's full case mapping, at every split point.

import NIOCore
import SeededRandom
import Testing
@testable import NetREPLServer

/// Reference: valid UTF-8 runs uppercased by the standard library, every other byte unchanged.
func referenceUppercase(_ bytes: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    var i = 0
    while i < bytes.count {
        // Longest valid prefix starting at i, by asking the standard library to validate.
        var j = i
        var end = i
        while j < bytes.count {
            let len = sequenceLength(bytes[j])
            guard len > 0, j + len <= bytes.count,
                String(validating: bytes[j..<(j + len)], as: UTF8.self) != nil
            else { break }
            j += len
            end = j
        }
        if end > i {
            let s = String(decoding: bytes[i..<end], as: UTF8.self)
            out += Array(s.uppercased().utf8)
            i = end
        } else {
            out.append(bytes[i])
            i += 1
        }
    }
    return out
}

private func sequenceLength(_ b: UInt8) -> Int {
    switch b {
    case 0x00...0x7F: return 1
    case 0xC2...0xDF: return 2
    case 0xE0...0xEF: return 3
    case 0xF0...0xF4: return 4
    default: return 0
    }
}

/// Feeds `bytes` in the given chunk lengths through one streaming uppercaser.
func streamed(_ bytes: [UInt8], splits: [Int]) -> [UInt8] {
    var u = StreamingUppercaser()
    var out = ByteBuffer()
    var start = 0
    for cut in splits + [bytes.count] where cut >= start {
        bytes[start..<cut].withUnsafeBytes { u.transform($0, into: &out) }
        start = cut
    }
    u.finish(into: &out)
    return Array(out.readableBytesView)
}

@Suite struct UppercaserTests {
    @Test(arguments: [
        ("hello world", "HELLO WORLD"),
        ("straße", "STRASSE"),
        ("ﬃ", "FFI"),
        ("ΐ", "\u{0399}\u{0308}\u{0301}"),
        ("ŉ", "ʼN"),
        ("déjà vu 123 !?", "DÉJÀ VU 123 !?"),
        ("ǆ", "Ǆ"),
        ("😀 emoji", "😀 EMOJI"),
        ("", ""),
    ])
    func knownMappings(input: String, expected: String) {
        #expect(StreamingUppercaser.uppercase(Array(input.utf8)) == Array(expected.utf8))
    }

    @Test func invalidBytesPassUnchanged() {
        let cases: [[UInt8]] = [
            [0xFF], [0xFE, 0x61], [0x80], [0xC0, 0x80], [0xED, 0xA0, 0x80],  // surrogate
            [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
            [0xE2, 0x82, 0x61],  // truncated sequence then ASCII
            [0x61, 0xF0, 0x9F, 0x98],  // truncated at the end
        ]
        for input in cases {
            #expect(StreamingUppercaser.uppercase(input) == referenceUppercase(input), "\(input)")
        }
        #expect(StreamingUppercaser.uppercase([0xE2, 0x82, 0x61]) == [0xE2, 0x82, 0x41])
        #expect(StreamingUppercaser.uppercase([0x61, 0xF0, 0x9F, 0x98]) == [0x41, 0xF0, 0x9F, 0x98])
    }

    @Test func everySplitPointOfMultiByteSequences() {
        let text = Array("aß€😀ΐﬃz\u{10FFFF}é".utf8) + [0xFF, 0xE2, 0x82] + Array("ok".utf8)
        let whole = StreamingUppercaser.uppercase(text)
        #expect(whole == referenceUppercase(text))
        for a in 0...text.count {
            #expect(streamed(text, splits: [a]) == whole, "split at \(a)")
            for b in a...text.count {
                #expect(streamed(text, splits: [a, b]) == whole, "split at \(a), \(b)")
            }
        }
        // One byte at a time.
        #expect(streamed(text, splits: Array(1..<text.count)) == whole)
    }

    @Test func heldBytesAreReturnedUnchangedAtEnd() {
        var u = StreamingUppercaser()
        var out = ByteBuffer()
        let input: [UInt8] = [0x61, 0xE2, 0x82]
        input.withUnsafeBytes { u.transform($0, into: &out) }
        #expect(Array(out.readableBytesView) == [0x41])
        #expect(u.pendingByteCount == 2)
        u.finish(into: &out)
        #expect(Array(out.readableBytesView) == [0x41, 0xE2, 0x82])
    }

    @Test func asciiFastPathAgreesWithGeneralPath() {
        // Every ASCII byte, alone and in runs, against the standard library.
        let ascii = (0..<128).map { UInt8($0) }
        #expect(StreamingUppercaser.uppercase(ascii) == Array(String(decoding: ascii, as: UTF8.self).uppercased().utf8))
        // ASCII next to multi-byte characters takes both paths in one buffer.
        let mixed = Array("abc\u{00E9}def\u{00DF}ghi".utf8)
        #expect(StreamingUppercaser.uppercase(mixed) == referenceUppercase(mixed))
    }

    @Test func propertyRandomBytesMatchReference() {
        var rng = SplitMix64(seed: 0x5EED)
        // Bias towards bytes that start or continue sequences, so that valid and invalid mixes occur.
        let alphabet: [UInt8] = Array(0x20...0x7E) + Array(0x80...0xBF) + [0xC2, 0xC3, 0xCE, 0xCF, 0xD0, 0xE0, 0xE1, 0xE2, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF]
        for _ in 0..<3000 {
            let n = Int.random(in: 0..<40, using: &rng)
            let bytes = (0..<n).map { _ in alphabet.randomElement(using: &rng)! }
            let expected = referenceUppercase(bytes)
            #expect(StreamingUppercaser.uppercase(bytes) == expected, "\(bytes)")
            let cut = n == 0 ? 0 : Int.random(in: 0...n, using: &rng)
            let cut2 = Int.random(in: cut...max(cut, n), using: &rng)
            #expect(streamed(bytes, splits: [cut, cut2]) == expected, "\(bytes) split \(cut),\(cut2)")
        }
    }

    @Test func propertyRandomValidTextMatchesStandardLibrary() {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<2000 {
            let scalars = (0..<Int.random(in: 0..<24, using: &rng)).compactMap { _ -> Unicode.Scalar? in
                // Mostly the ranges with case mappings, sometimes anywhere.
                let v: UInt32 =
                    Bool.random(using: &rng)
                    ? UInt32.random(in: 0...0x24FF, using: &rng)
                    : UInt32.random(in: 0...0x10FFFF, using: &rng)
                return Unicode.Scalar(v)
            }
            var s = ""
            s.unicodeScalars.append(contentsOf: scalars)
            #expect(StreamingUppercaser.uppercase(Array(s.utf8)) == Array(s.uppercased().utf8), "\(s.unicodeScalars.map { $0.value })")
        }
    }

    @Test func truncationNeverSplitsASequence() {
        var buffer = ByteBuffer(string: "ab€")  // 61 62 E2 82 AC
        let cut = buffer.truncateAtCharacterBoundary(limit: 4)
        #expect(cut)
        #expect(Array(buffer.readableBytesView) == [0x61, 0x62])
        var fits = ByteBuffer(string: "ab€")
        let cutFits = fits.truncateAtCharacterBoundary(limit: 5)
        #expect(!cutFits)
        #expect(fits.readableBytes == 5)
    }

}
