// The configuration file as netrepl reads it at start: --print-config shows each value and its
// origin, the command line wins, and a bad line warns with FILE:LINE without stopping start-up.

import Foundation
import Testing

@Suite struct ConfigFileEndToEndTests {
    @Test func precedenceOriginsAndWarnings() throws {
        let folder = try makeTemporaryFolder("config")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("netrepl"), withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("netrepl/config").path
        try "timeout = 2s\nframe = lines=2\nbogus = 1\n[127.0.0.1:6379]\nframe = resp\n".write(toFile: path, atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        environment["XDG_CONFIG_HOME"] = folder.path
        environment["NETREPL_HISTFILE"] = nil

        let shown = try Child(Built.client, ["--print-config", "--timeout", "3", "127.0.0.1", "6379"], environment: environment)
        #expect(shown.waitForExit() == 0)
        let lines = shown.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        #expect(lines.contains("timeout = 3 s # command line"), "\(shown.stdout)")
        #expect(lines.contains("frame = resp # \(path):5"), "\(shown.stdout)")
        #expect(lines.contains("crlf = false # default"), "\(shown.stdout)")
        #expect(shown.stderr.contains("netrepl: warning: \(path):3: unknown key \"bogus\""), "\(shown.stderr)")

        // The bad line does not stop a session, and the file's values are used.
        let session = try Child(Built.client, ["--serve", "-c", ":frame", "-c", ":timeout"], environment: environment)
        #expect(session.waitForExit() == 0, "\(session.stderr)")
        #expect(session.stderr.contains("frame: lines=2") && session.stderr.contains("timeout: 2 s"), "\(session.stderr)")
        #expect(session.stderr.contains("\(path):3"))
    }
}
