// Lines from a pipe: splitting, a last line without newline, bytes that are not UTF-8, signals.

import Glibc
import Testing
import MisbehavingPeers
import NetREPLTransport
import SystemPackage
@testable import NetREPLCore

@Suite(.serialized) struct PipedLineSourceTests {
    private func source(_ bytes: [UInt8]) -> PipedLineSource {
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        _ = bytes.withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) }
        close(fds[1])
        return PipedLineSource(input: FileDescriptor(rawValue: fds[0]))
    }

    @Test func splitsLines() {
        let s = source(Array("a\n\nb c\r\nlast".utf8) + [0xff, 0x0a])
        #expect(!s.isInteractive)
        #expect(s.readLine(prompt: "> ") == .line(Line("a")))
        #expect(s.readLine(prompt: "> ") == .line(Line("")))
        #expect(s.readLine(prompt: "> ") == .line(Line("b c")))
        // Not UTF-8: shown with U+FFFD, sent as the bytes it came as.
        let last = Line(bytes: Array("last".utf8) + [0xff])
        #expect(last.text == "last\u{FFFD}")
        #expect(s.readLine(prompt: "> ") == .line(last))
        #expect(s.readLine(prompt: "> ") == .endOfInput)
        #expect(s.readLine(prompt: "> ") == .endOfInput)
    }

    @Test func crLFEndsALineAndTheCRIsNotPartOfIt() {
        // As a file from Windows arrives: CR LF after every line, also a last one cut before its LF,
        // and one that is not UTF-8, whose exact bytes are sent and must not carry the CR either.
        let s = source(Array("GET / HTTP/1.0\r\n\r\nmid\rline\r\n".utf8) + [0xfe, 0x0d, 0x0a] + Array("cut\r".utf8))
        #expect(s.readLine(prompt: "") == .line(Line("GET / HTTP/1.0")))
        #expect(s.readLine(prompt: "") == .line(Line("")))
        #expect(s.readLine(prompt: "") == .line(Line("mid\rline")))
        #expect(s.readLine(prompt: "") == .line(Line(bytes: [0xfe])))
        #expect(s.readLine(prompt: "") == .line(Line("cut")))
        #expect(s.readLine(prompt: "") == .endOfInput)
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
