// CHANGELOG.md is tied to VERSION: its newest section is the version both executables report.

import Foundation
import Testing

private let repository = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite struct ChangelogTests {
    @Test func newestSectionIsTheVersion() throws {
        let version = try String(contentsOf: repository.appendingPathComponent("VERSION"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let changelog = try String(contentsOf: repository.appendingPathComponent("CHANGELOG.md"), encoding: .utf8)
        let newest = changelog.split(separator: "\n").first { $0.hasPrefix("## [") }
        #expect(newest?.hasPrefix("## [\(version)] - ") == true, "CHANGELOG.md's newest section is \(newest ?? "missing"), VERSION is \(version)")
        for program in [Built.client, Built.server] {
            let child = try Child(program, ["--version"])
            #expect(child.waitForExit() == 0)
            #expect(child.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == version)
        }
    }
}
