// The manual pages: lint-clean mdoc, and every option of netrepl-server's --help documented.

import Foundation
import Testing

private let repository = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private let mandoc: String? = ["/usr/bin/mandoc", "/usr/local/bin/mandoc"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// CI sets NETREPL_REQUIRE_MANDOC so that a missing linter fails instead of skipping.
private let lintRequired = ProcessInfo.processInfo.environment["NETREPL_REQUIRE_MANDOC"] != nil

@Suite struct ManPageTests {
    @Test(arguments: ["netrepl.1", "netrepl-server.1"])
    func lintClean(page: String) throws {
        guard let mandoc else {
            #expect(!lintRequired, "mandoc is not installed (apt-get install mandoc)")
            return
        }
        let lint = try Child(URL(fileURLWithPath: mandoc), ["-Tlint", "-W", "warning", repository.appendingPathComponent("man/\(page)").path])
        #expect(lint.waitForExit() == 0)
        #expect(lint.stdout + lint.stderr == "")
    }

    @Test func everyServerOptionIsInTheManPage() throws {
        let help = try Child(Built.server, ["--help"])
        #expect(help.waitForExit() == 0)
        let page = try String(contentsOf: repository.appendingPathComponent("man/netrepl-server.1"), encoding: .utf8)
        let options = Set(
            help.stdout.split(whereSeparator: { " ,\n".contains($0) }).filter { $0.hasPrefix("--") && $0.count > 2 }
                .map { String($0.prefix { $0 != "=" }) })
        #expect(options.count >= 12)
        for option in options {
            // mdoc writes a long option as `Fl -port`, `Fl \-port`, or `Fl h , -help`.
            let name = option.dropFirst(2)
            let documented = ["Fl -", "Fl \\-", ", -", ", \\-"].contains { page.contains("\($0)\(name) ") || page.contains("\($0)\(name)\n") }
            #expect(documented, "\(option) is missing from man/netrepl-server.1")
        }
    }
}
