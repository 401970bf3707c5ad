// Which output style a run gets from its terminals, options and environment.

import Testing
@testable import NetREPLCore

@Suite struct OutputStyleTests {
    private func detect(stdin: Bool = true, stdout: Bool = true, raw: Bool = false, json: Bool = false,
                        env: [String: String] = [:]) -> OutputStyle {
        OutputStyle.detect(stdinIsTerminal: stdin, stdoutIsTerminal: stdout, raw: raw, json: json, quiet: false,
                           environment: { env[$0] })
    }

    @Test func aPersonAtATerminal() {
        let style = detect()
        #expect(style.interactive && style.colour && style.escapeReplies && !style.json)
    }

    @Test func noColourWhenAskedOrDumbOrNotATerminal() {
        #expect(!detect(env: ["NO_COLOR": "1"]).colour)
        #expect(detect(env: ["NO_COLOR": ""]).colour)
        #expect(!detect(env: ["TERM": "dumb"]).colour)
        #expect(!detect(stdout: false).colour)
        #expect(!detect(stdin: false).colour)
    }

    @Test func escapingFollowsStdoutAndRaw() {
        #expect(detect(stdin: false, stdout: true).escapeReplies)
        #expect(!detect(stdout: false).escapeReplies)
        #expect(!detect(raw: true).escapeReplies)
    }

    @Test func jsonIsNeverInteractive() {
        let style = detect(json: true)
        #expect(!style.interactive && !style.colour && style.json)
    }

    @Test func rawRepliesReachTheSinkUnchanged() {
        let out = BufferSink(), err = BufferSink()
        let presenter = Presenter(style: OutputStyle(interactive: true, colour: false, escapeReplies: false), out: out, err: err)
        var e = Exchange(transport: .udp, line: "x", peer: "p", outcome: .ok)
        e.reply = [0x1b, 0x5b, 0x32, 0x4a, 0xff]
        presenter.show(e, target: "t")
        #expect(Array(out.bytes.prefix(6)) == [0x1b, 0x5b, 0x32, 0x4a, 0xff, 0x0a])
    }
}
