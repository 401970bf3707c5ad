// The cut of an oversized UDP reply (docs/PROTOCOL.md 7.3), against a brute-force reading of the rule.

import NIOCore
import Testing
@testable import NetREPLServer

/// Offsets of `bytes` that fall strictly inside a well-formed multi-byte sequence, by the standard
/// library's UTF-8 parser (not the decoder the server uses).
private func insideSequence(_ bytes: [UInt8]) -> Set<Int> {
    var inside = Set<Int>()
    var parser = Unicode.UTF8.ForwardParser()
    var iterator = bytes.makeIterator()
    var offset = 0
    while true {
        switch parser.parseScalar(from: &iterator) {
        case .valid(let encoded):
            inside.formUnion((offset + 1)..<(offset + encoded.count))
            offset += encoded.count
        case .error(let length):
            offset += length
        case .emptyInput:
            return inside
        }
    }
}

private func cut(_ bytes: [UInt8], limit: Int) -> [UInt8] {
    var buffer = ByteBuffer(bytes: bytes)
    buffer.truncateAtCharacterBoundary(limit: limit)
    return Array(buffer.readableBytesView)
}

@Suite struct DatagramCutTests {
    /// Found by the fuzzer (Fuzz/): the cut stepped back over stray continuation bytes into the
    /// whole 4-byte character before them and sent its lead byte alone.
    @Test func strayContinuationBytesAfterAWholeCharacterAreCutNotTheCharacter() {
        let reply: [UInt8] = [0x61, 0xF0, 0x90, 0x80, 0x80, 0x80, 0x80, 0x80]
        #expect(cut(reply, limit: 5) == [0x61, 0xF0, 0x90, 0x80, 0x80])
        #expect(cut(reply, limit: 6) == [0x61, 0xF0, 0x90, 0x80, 0x80, 0x80])
        #expect(cut(reply, limit: 3) == [0x61])
    }

    /// Every reply of up to five bytes from an alphabet of leads, continuations, ASCII and invalid
    /// bytes, at every limit: the cut is the longest prefix within the limit that does not end
    /// inside a well-formed sequence.
    @Test func everyShortReplyAtEveryLimit() {
        let alphabet: [UInt8] = [0x61, 0x80, 0x90, 0x9F, 0xBF, 0xC3, 0xE2, 0xED, 0xF0, 0xF4, 0xFF]
        var replies: [[UInt8]] = [[]]
        for _ in 0..<5 { replies = replies.flatMap { r in alphabet.map { r + [$0] } } }
        var checked = 0
        for reply in replies {
            let inside = insideSequence(reply)
            for limit in 0..<reply.count {
                let expected = (0...limit).last { !inside.contains($0) } ?? 0
                let got = cut(reply, limit: limit)
                guard got == Array(reply[..<expected]) else {
                    Issue.record("reply \(reply) limit \(limit): kept \(got.count) bytes, expected \(expected)")
                    return
                }
                checked += 1
            }
        }
        #expect(checked > 100_000)
    }
}
