// Session files end to end: -f runs lines and commands, :expect and :assert check replies and
// figures, a failed check names FILE:LINE and sets exit status 3 while the session goes on, and
// :record writes a file that -f replays to the same result.

import Foundation
import Testing

@Suite struct ScriptFileTests {
    private func run(_ arguments: [String]) throws -> (status: Int32?, out: String, err: String) {
        let child = try Child(Built.client, arguments)
        child.closeStdin()
        let status = child.waitForExit(seconds: 60)
        return (status, child.stdout, child.stderr)
    }

    @Test func checksPassFailAndRecordAReplayableFile() throws {
        let folder = try makeTemporaryFolder("script")
        defer { try? FileManager.default.removeItem(at: folder) }
        let script = folder.appendingPathComponent("check.netrepl")
        let recorded = folder.appendingPathComponent("recorded.netrepl")
        try """
        # uppercase checks
        :tcp
        hello world
        :expect HELLO WORLD
        :expect /^HEL+O W.RLD$/
        :expect goodbye
        :assert rtt < 10s
        :assert rtt > 100s
        again
        :assert loss < 10%
        :record \(recorded.path)

        """.write(to: script, atomically: true, encoding: .utf8)
        let first = try run(["--serve", "-f", script.path])
        #expect(first.status == 3, "\(first.err)")
        #expect(first.out == "HELLO WORLD\nAGAIN\n", "\(first.out)")
        let failures = first.err.split(separator: "\n").filter { $0.hasPrefix("netrepl: \(script.path):") }
        #expect(failures.count == 2, "\(first.err)")
        #expect(failures.first?.hasPrefix("netrepl: \(script.path):6: expected goodbye in the reply to \"hello world\"") == true, "\(first.err)")
        #expect(failures.last?.hasPrefix("netrepl: \(script.path):8: rtt > 100s does not hold") == true, "\(first.err)")

        // The recorded file replays: the same replies, the same failed checks (at its own lines).
        let text = try String(contentsOf: recorded, encoding: .utf8)
        #expect(text.hasPrefix("# ") && text.contains("\n:udp\n") && text.contains("\n:tcp\nhello world\n:expect HELLO WORLD\n"), "\(text)")
        #expect(!text.contains(":record"))
        let replay = try run(["--serve", "-f", recorded.path])
        #expect(replay.status == 3, "\(replay.err)")
        #expect(replay.out == first.out)
        #expect(replay.err.split(separator: "\n").filter { $0.hasPrefix("netrepl: \(recorded.path):") }.count == 2, "\(replay.err)")
    }

    @Test func aPassingScriptExitsZeroAndAMissingFileIsAUsageError() throws {
        let folder = try makeTemporaryFolder("script-ok")
        defer { try? FileManager.default.removeItem(at: folder) }
        let script = folder.appendingPathComponent("ok.netrepl")
        try "ping\n:expect PING\n:assert loss == 0%\n".write(to: script, atomically: true, encoding: .utf8)
        let ok = try run(["--serve", "-f", script.path])
        #expect(ok.status == 0, "\(ok.err)")
        let missing = try run(["--serve", "-f", folder.appendingPathComponent("none").path])
        #expect(missing.status == 2)
        #expect(missing.err.hasPrefix("netrepl: cannot read \(folder.appendingPathComponent("none").path):"), "\(missing.err)")
    }
}
