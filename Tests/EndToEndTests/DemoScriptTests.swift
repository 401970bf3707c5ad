// A newcomer's first ten minutes: scripts/demo against a stand-in `swift` (a real release build
// takes minutes) builds both executables, passes the build's progress through, says where they
// are, and says the first build is slow only when there is none yet; the README names nothing
// outside the repository.

import Foundation
import Testing

@Suite struct DemoScriptTests {
    /// A copy of scripts/ in a folder of its own, with a `swift` on PATH that logs its arguments,
    /// prints SwiftPM-style progress and makes stand-in executables that print their arguments.
    private struct Sandbox {
        let root: URL
        let log: URL
        let environment: [String: String]

        init() throws {
            let fm = FileManager.default
            root = try makeTemporaryFolder("demo")
            let scripts = root.appendingPathComponent("scripts"), tools = root.appendingPathComponent("tools")
            try fm.createDirectory(at: scripts, withIntermediateDirectories: true)
            try fm.createDirectory(at: tools, withIntermediateDirectories: true)
            for name in ["demo", "ensure-packages"] {
                try fm.copyItem(at: sourceTree.appendingPathComponent("scripts/\(name)"), to: scripts.appendingPathComponent(name))
            }
            log = root.appendingPathComponent("swift.log")
            let swift = tools.appendingPathComponent("swift")
            try """
            #!/bin/sh
            echo "$*" >> "\(log.path)"
            bin="$PWD/.build/release"
            case "$*" in *--show-bin-path*) echo "$bin"; exit 0;; esac
            echo "[1/3] Compiling NetREPLCore Session.swift"
            echo "[2/3] Linking netrepl"
            echo "[3/3] Linking netrepl-server"
            mkdir -p "$bin"
            for p in netrepl netrepl-server; do printf '#!/bin/sh\\necho "%s $*"\\n' "$p" > "$bin/$p"; chmod +x "$bin/$p"; done
            """.write(to: swift, atomically: true, encoding: .utf8)
            chmod(swift.path, 0o755)
            var env = ProcessInfo.processInfo.environment
            env["PATH"] = tools.path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
            environment = env
        }

        func run(_ arguments: [String]) throws -> (status: Int32?, stdout: String, stderr: String) {
            let c = try Child(root.appendingPathComponent("scripts/demo"), arguments, environment: environment)
            c.closeStdin()
            let status = c.waitForExit(seconds: 120)
            return (status, c.stdout, c.stderr)
        }
    }

    @Test(.enabled(if: libreadlineInstalled, "scripts/demo first installs libreadline-dev"))
    func buildsBothShowsProgressAndSaysWhereTheyAre() throws {
        let sandbox = try Sandbox()
        defer { try? FileManager.default.removeItem(at: sandbox.root) }
        let first = try sandbox.run(["--tcp"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout == "netrepl --serve --tcp\n")
        #expect(first.stderr.contains("the first build takes a few minutes"))
        #expect(first.stderr.contains("[1/3] Compiling NetREPLCore Session.swift\n[2/3] Linking netrepl\n[3/3] Linking netrepl-server\n"))
        let bin = sandbox.root.appendingPathComponent(".build/release").path
        #expect(first.stderr.contains("netrepl: built \(bin)/netrepl and \(bin)/netrepl-server"))
        // One build of every product (both executables), not of netrepl alone.
        let builds = try String(contentsOf: sandbox.log, encoding: .utf8).split(separator: "\n").filter { !$0.contains("--show-bin-path") }
        #expect(builds == ["build -c release"])

        // A rebuild makes no promise of minutes.
        let again = try sandbox.run([])
        #expect(again.status == 0)
        #expect(again.stdout == "netrepl --serve\n")
        #expect(!again.stderr.contains("minutes"))
        #expect(again.stderr.contains("[1/3] Compiling"))
    }
}

private let libreadlineInstalled: Bool = {
    guard let c = try? Child(URL(fileURLWithPath: "/usr/bin/dpkg-query"), ["-W", "-f=${Status}", "libreadline-dev"]) else { return false }
    _ = c.waitForExit()
    return c.stdout.contains("install ok installed")
}()

/// The README is read in a fresh clone: whatever it links or runs is in the repository.
@Suite struct ReadmeTests {
    @Test func everythingTheReadmeNamesIsInTheRepository() throws {
        let readme = try String(contentsOf: sourceTree.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(!readme.contains("../"), "the README points outside the repository")
        // Links, and the files its commands run (`python3 examples/textbook/UDPServer.py`).
        var paths = Set<String>()
        for piece in readme.split(whereSeparator: { " \n()`[]".contains($0) }) {
            let word = String(piece)
            if ["examples/", "docs/", "man/", "scripts/", "dist/"].contains(where: word.hasPrefix) { paths.insert(word) }
        }
        #expect(paths.contains("examples/textbook/UDPServer.py") && paths.contains("examples/textbook/TCPClient.py"))
        for path in paths {
            #expect(FileManager.default.fileExists(atPath: sourceTree.appendingPathComponent(path).path), "README names \(path)")
        }
    }
}
