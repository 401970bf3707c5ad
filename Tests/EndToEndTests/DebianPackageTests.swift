// scripts/package-deb: the package's metadata and files, lintian, and an install into a scratch root.

import Foundation
import Testing

@Suite struct DebianPackageTests {
    @Test func packageInstallAndPurge() throws {
        let scratch = try makeTemporaryFolder("deb")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let build = try run(
            sourceTree.appendingPathComponent("scripts/package-deb").path,
            [
                "--products", Built.productsDirectory.path, "--output", scratch.path,
            ])
        #expect(build.status == 0, "\(build.stderr)")
        let deb = try #require(build.stdout.split(separator: "\n").last.map(String.init))
        #expect(deb.hasSuffix(".deb") && FileManager.default.fileExists(atPath: deb))

        let info = try run("dpkg-deb", ["--field", deb, "Package", "Version", "Depends"], seconds: 30)
        let fields = Dictionary(
            info.stdout.split(separator: "\n").compactMap { line -> (String, String)? in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }, uniquingKeysWith: { a, _ in a })
        #expect(fields["Package"] == "netrepl")
        #expect(fields["Version"] == releaseVersion)
        let depends = fields["Depends"] ?? ""
        #expect(depends.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix("libreadline") }, "Depends: \(depends)")

        let contents = try run("dpkg-deb", ["--contents", deb], seconds: 30).stdout
        for path in [
            "./usr/bin/netrepl", "./usr/bin/netrepl-server",
            "./usr/share/man/man1/netrepl.1.gz", "./usr/share/man/man1/netrepl-server.1.gz",
            "./usr/share/bash-completion/completions/netrepl", "./usr/share/zsh/site-functions/_netrepl-server",
            "./usr/share/fish/vendor_completions.d/netrepl.fish",
            "./usr/lib/systemd/system/netrepl-server.service",
            "./usr/share/doc/netrepl/copyright", "./usr/share/doc/netrepl/changelog.gz",
            "./usr/share/doc/netrepl/examples/nginx-netrepl.conf",
        ] {
            #expect(contents.contains(" \(path)\n"), "\(path) is not in the package")
        }
        // Root owns everything, whoever built it.
        #expect(!contents.split(separator: "\n").contains { !$0.contains(" root/root ") })

        if FileManager.default.isExecutableFile(atPath: "/usr/bin/lintian") {
            // The debug build's RUNPATH names the toolchain's runtime; the release build links that
            // runtime in (--static-swift-stdlib) and has only $ORIGIN, which lintian accepts.
            let lint = try run("lintian", ["--fail-on", "error", "--tag-display-limit", "0", "--suppress-tags", "custom-library-search-path", deb])
            #expect(lint.status == 0, "lintian: \(lint.stdout)\(lint.stderr)")
        } else {
            #expect(!toolsRequired, "lintian is not installed (apt-get install lintian)")
        }

        // dpkg installs into a scratch root with its own database, and purges it again.
        let root = scratch.appendingPathComponent("root")
        for folder in ["var/lib/dpkg/info", "var/lib/dpkg/updates"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try Data().write(to: root.appendingPathComponent("var/lib/dpkg/status"))
        let dpkg = ["--root=\(root.path)", "--log=/dev/null", "--force-not-root", "--force-script-chrootless", "--force-depends"]
        let install = try run("dpkg", dpkg + ["--install", deb])
        #expect(install.status == 0, "\(install.stderr)")
        let listed = try run("dpkg", dpkg + ["--listfiles", "netrepl"], seconds: 30).stdout
        #expect(listed.contains("/usr/bin/netrepl-server\n"))
        let server = root.appendingPathComponent("usr/bin/netrepl-server")
        #expect(try run(server.path, ["--version"], seconds: 30).stdout == releaseVersion + "\n")
        let purge = try run("dpkg", dpkg + ["--purge", "netrepl"])
        #expect(purge.status == 0, "\(purge.stderr)")
        #expect(!FileManager.default.fileExists(atPath: server.path))
    }
}
