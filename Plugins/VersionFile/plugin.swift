// Compiles the VERSION file at the package root into `netreplVersion`, so --version never drifts from it.

import Foundation
import PackagePlugin

@main
struct VersionFile: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let input = context.package.directoryURL.appending(path: "VERSION")
        let output = context.pluginWorkDirectoryURL.appending(path: "Version.swift")
        // A shell one-liner rather than a helper executable: nothing more to build, and the
        // command reruns only when VERSION changes (it is the declared input).
        let script = """
            v=$(tr -d '[:space:]' < "$1") && [ -n "$v" ] || { echo "VERSION: empty or unreadable: $1" >&2; exit 1; }
            printf '// Generated from VERSION by the VersionFile plugin.\\n/// The release, as in the VERSION file.\\npublic let netreplVersion = "%s"\\n' "$v" > "$2"
            """
        return [
            .buildCommand(
                displayName: "Compiling VERSION into Version.swift",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: ["-c", script, "sh", input.path, output.path],
                inputFiles: [input],
                outputFiles: [output]
            )
        ]
    }
}
