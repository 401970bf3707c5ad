// Which output style a run gets from its terminals, options and environment.

import Testing
import MisbehavingPeers
import NetREPLTransport
@testable import NetREPLCore

@Suite struct OutputStyleTests {
    private func detect(
        stdin: Bool = true, stdout: Bool = true, stderr: Bool = true, raw: Bool = false, json: Bool = false,
        env: [String: String] = [:]
    ) -> OutputStyle {
        OutputStyle.detect(
            stdinIsTerminal: stdin, stdoutIsTerminal: stdout, stderrIsTerminal: stderr, raw: raw, json: json,
            quiet: false, environment: { env[$0] })
    }

    @Test func aPersonAtATerminal() {
        let style = detect()
        #expect(style.interactive && style.colour && style.stdoutIsTerminal && style.stderrIsTerminal && !style.json)
    }

    @Test func noColourWhenAskedOrDumbOrNotATerminal() {
        #expect(!detect(env: ["NO_COLOR": "1"]).colour)
        #expect(detect(env: ["NO_COLOR": ""]).colour)
        #expect(!detect(env: ["TERM": "dumb"]).colour)
        #expect(!detect(stdout: false).colour)
        #expect(!detect(stdin: false).colour)
    }

    @Test func escapingIsDecidedPerStream() {
        let out = BufferSink(), err = BufferSink()
        // stdout to a file, stderr to a terminal: the terminal gets escapes, the file the bytes.
        let style = detect(stdin: false, stdout: false, stderr: true)
        let presenter = Presenter(style: style, out: out, err: err)
        let reply = Reply(bytes: Array("\u{1b}]0;pwned\u{07}OK".utf8), roundTrip: .milliseconds(1), bytesReceived: 12)
        var e = Exchange(line: Line("x"), transport: .udp, outcome: .reply(reply))
        e.events = [.late(LateReply(line: Line("y"), bytes: Array("\u{1b}[2J".utf8), roundTrip: .milliseconds(5)))]
        presenter.show(e, target: "t")
        presenter.error("from a history file: \u{1b}[31m")
        #expect(out.bytes == reply.bytes + [10])
        #expect(!err.text.contains("\u{1b}"))
        #expect(err.text.contains("\\x1b[2J"))
        #expect(err.text.contains("\\x1b[31m"))
    }

    @Test func rawLeavesOnlyRepliesRaw() {
        let out = BufferSink(), err = BufferSink()
        let presenter = Presenter(style: detect(stdin: true, raw: true), out: out, err: err)
        var e = Exchange(line: Line("x"), transport: .udp, outcome: .reply(Reply(bytes: [0x1b, 0x5b, 0x32, 0x4a, 0xff], roundTrip: .zero, bytesReceived: 5)))
        e.events = [.late(LateReply(line: Line("y"), bytes: [0x1b], roundTrip: .zero))]
        presenter.show(e, target: "t")
        #expect(out.text.contains("\\x1b"))  // the late reply, a meta line, is still escaped
        #expect(out.bytes.contains(0xff))
    }

    @Test func jsonIsNeverInteractive() {
        let style = detect(json: true)
        #expect(!style.interactive && !style.colour && style.json)
    }
}
