// The reply sanitizer: nothing a server sends may drive the terminal.

import Testing
import MisbehavingPeers
import NetREPLTransport
@testable import NetREPLCore

@Suite struct SanitizerTests {
    @Test(arguments: [
        ([UInt8]("HELLO WORLD".utf8), "HELLO WORLD"),
        ([0x1b] + Array("[31mRED".utf8), "\\x1b[31mRED"),
        ([0x07, 0x08, 0x09, 0x0a, 0x0d, 0x7f], "\\x07\\x08\\x09\\x0a\\x0d\\x7f"),
        ([0xc2, 0x9b] + Array("2J".utf8), "\\u{9b}2J"),
        ([0xff, 0x41], "\\xffA"),
        ([0xe2, 0x82], "\\xe2\\x82"),
        ([0xe2, 0x41], "\\xe2A"),
        ([0xed, 0xa0, 0x80], "\\xed\\xa0\\x80"),
        ([0xc0, 0xaf], "\\xc0\\xaf"),
        (Array("STRASSE ÀÉ ΐ 😀".utf8), "STRASSE ÀÉ ΐ 😀"),
        (Array("a\u{202E}b".utf8), "a\\u{202e}b"),
        (Array("back\\slash".utf8), "back\\slash"),
    ])
    func escapes(input: [UInt8], expected: String) {
        #expect(Sanitizer.escape(input) == expected)
    }

    @Test func outputNeverContainsControls() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let bytes = (0..<Int.random(in: 0...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let shown = Sanitizer.escape(bytes)
            #expect(!shown.unicodeScalars.contains { Sanitizer.needsEscape($0) })
        }
    }

    @Test func validUTF8WithoutControlsIsUnchanged() {
        for text in ["", "plain", "ß→SS", "日本語", "ﬃ", "e\u{301}"] {
            #expect(Sanitizer.escape(Array(text.utf8)) == text)
        }
    }
}
