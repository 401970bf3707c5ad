// Lines from a pipe: splitting, a last line without newline, bytes that are not UTF-8, signals.

import Glibc
import Testing
import MisbehavingPeers
import NetREPLTransport
@testable import NetREPLCore

@Suite(.serialized) struct PipedLineSourceTests {
    private func source(_ bytes: [UInt8]) -> PipedLineSource {
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        _ = bytes.withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) }
        close(fds[1])
        return PipedLineSource(fd: fds[0])
    }

    @Test func splitsLines() {
        let s = source(Array("a\n\nb c\r\nlast".utf8) + [0xff, 0x0a])
        #expect(!s.isInteractive)
        #expect(s.readLine(prompt: "> ") == .line(Line("a")))
        #expect(s.readLine(prompt: "> ") == .line(Line("")))
        #expect(s.readLine(prompt: "> ") == .line(Line("b c\r")))
        // Not UTF-8: shown with U+FFFD, sent as the bytes it came as.
        let last = Line(bytes: Array("last".utf8) + [0xff])
        #expect(last.text == "last\u{FFFD}")
        #expect(s.readLine(prompt: "> ") == .line(last))
        #expect(s.readLine(prompt: "> ") == .endOfInput)
        #expect(s.readLine(prompt: "> ") == .endOfInput)
    }

    @Test func aSignalEndsInputEvenWithLinesBuffered() {
        let s = source(Array("one\ntwo\n".utf8))
        #expect(s.readLine(prompt: "") == .line(Line("one")))
        Signals.install()
        raise(SIGTERM)
        #expect(s.readLine(prompt: "") == .terminated(signal: SIGTERM))
        #expect(Signals.pending == nil)
    }
}
