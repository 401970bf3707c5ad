// The configuration file on its own: keys, sections, precedence, and bad lines that warn with
// FILE:LINE and are skipped.

import Grammars
import NetREPLProtocol
import NetREPLTransport
import Testing
@testable import NetREPLCore

@Suite struct ConfigFileTests {
    let text = """
        # defaults for every target
        timeout = 2s
        frame = line
        transport = tcp

        [127.0.0.1:6379]
        frame = resp
        timeout = 500ms

        [cache.example]
        frame = memcached
        """

    @Test func aSectionWinsOverTheLinesBeforeAnyForItsTarget() {
        let file = ConfigFile.parse(text, path: "/c")
        #expect(file.warnings.isEmpty)
        let redis = Target(host: "127.0.0.1", port: 6379)
        #expect(file.value(.frame, for: redis)?.value == "resp")
        #expect(file.value(.frame, for: redis)?.origin == .file(path: "/c", line: 7))
        #expect(file.value(.timeout, for: redis)?.value == "500ms")
        #expect(file.value(.transport, for: redis)?.value == "tcp")
        let other = Target(host: "127.0.0.1", port: 12000)
        #expect(file.value(.frame, for: other)?.value == "line")
        #expect(file.value(.timeout, for: other)?.origin == .file(path: "/c", line: 2))
        // A section without a port holds for every port of its host.
        #expect(file.value(.frame, for: Target(host: "cache.example", port: 11211))?.value == "memcached")
        #expect(file.value(.crlf, for: other) == nil)
    }

    @Test func theCommandLineWinsAndTheDefaultIsTheLastResort() {
        let file = ConfigFile.parse(text, path: "/c")
        let target = Target(host: "127.0.0.1", port: 6379)
        let fromFile = file.resolve(.timeout, for: target, commandLine: nil, fallback: .seconds(1)) { DurationGrammar.parse($0) }
        #expect(fromFile.value == .milliseconds(500) && fromFile.origin == .file(path: "/c", line: 8))
        let fromCommandLine = file.resolve(.timeout, for: target, commandLine: .seconds(9), fallback: .seconds(1)) { DurationGrammar.parse($0) }
        #expect(fromCommandLine.value == .seconds(9) && fromCommandLine.origin == .commandLine)
        let fallback = file.resolve(.crlf, for: target, commandLine: nil, fallback: false, read: ConfigFile.readBoolean)
        #expect(fallback.value == false && fallback.origin == .defaultValue)
    }

    @Test func badLinesWarnWithFileAndLineAndAreSkipped() {
        let file = ConfigFile.parse(
            """
            timeout = soon
            colour = yes
            no equals sign
            frame = ftp
            [not a:port:at all]
            crlf = on
            [::1]:99999
            suggest = false
            """, path: "/etc/x")
        #expect(file.warnings.count == 6, "\(file.warnings)")
        #expect(file.warnings.allSatisfy { $0.hasPrefix("/etc/x:") && $0.hasSuffix("line ignored") })
        #expect(file.warnings.first == "/etc/x:1: timeout is a duration more than 0, like 1, 0.5s or 250ms; line ignored")
        #expect(file.warnings[1].hasPrefix("/etc/x:2: unknown key \"colour\""))
        // The lines under a bad section apply to no target, not to the lines before any section.
        #expect(file.value(.crlf, for: Target(host: "not a", port: 1)) == nil)
        #expect(file.value(.suggest, for: Target(host: "::1", port: 99)) == nil)
    }

    @Test func thePathFollowsXDG() {
        #expect(ConfigFile.defaultPath(environment: { ["XDG_CONFIG_HOME": "/x", "HOME": "/h"][$0] }) == "/x/netrepl/config")
        #expect(ConfigFile.defaultPath(environment: { ["XDG_CONFIG_HOME": "relative", "HOME": "/h"][$0] }) == "/h/.config/netrepl/config")
        #expect(ConfigFile.load("/nonexistent/netrepl/config") == nil)
    }
}
