// The history file when the disk is full: the built netrepl writes its history under a file size
// limit (RLIMIT_FSIZE, with SIGXFSZ ignored, so a write that crosses the limit is cut short
// and the next one fails, as on a full disk), and no record is ever left half written.

import Foundation
import Testing

import Glibc

/// Runs `netrepl ARGUMENTS` with `input` piped in, through a Python wrapper that first limits the
/// size of any file it writes to `fileSizeLimit` bytes (nil: no limit).
private func runClient(_ arguments: [String], input: String, fileSizeLimit: Int?) throws -> (status: Int32?, stdout: String, stderr: String) {
    var env = ProcessInfo.processInfo.environment
    env["NO_COLOR"] = "1"
    env.removeValue(forKey: "NETREPL_HISTSIZE")
    let wrapper = """
    import os, resource, signal, sys
    limit = int(sys.argv[1])
    if limit >= 0:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # inherited across exec: writes fail with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    os.execv(sys.argv[2], sys.argv[2:])
    """
    let child = try Child(URL(fileURLWithPath: "/usr/bin/env"),
                          ["python3", "-c", wrapper, String(fileSizeLimit ?? -1), Built.client.path] + arguments,
                          environment: env)
    child.write(input)
    child.closeStdin()
    let status = child.waitForExit(seconds: 60)
    return (status, child.stdout, child.stderr)
}

private func fileSize(_ path: String) -> Int {
    var st = stat()
    return stat(path, &st) == 0 ? Int(st.st_size) : -1
}

@Suite("the history file on a full disk")
struct HistoryFileTests {
    @Test("a record cut short by a full disk is removed, and the next starts on a line of its own")
    func aFullDiskNeverLeavesHalfARecord() throws {
        let server = try ServerUnderTest()
        defer { _ = server.stop() }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("netrepl-e2e-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let history = folder + "/history"
        let arguments = ["--history-file", history, "127.0.0.1", String(server.port)]

        #expect(try runClient(arguments, input: "one\n", fileSizeLimit: nil).status == 0)
        let before = fileSize(history)
        #expect(before > 0)

        // Room for 20 more bytes: the next record (about 60) is cut short, the one after fails.
        let full = try runClient(arguments, input: "two is a line longer than the room left\nthree\n", fileSizeLimit: before + 20)
        #expect(full.status == 0)
        #expect(full.stdout == "TWO IS A LINE LONGER THAN THE ROOM LEFT\nTHREE\n")
        #expect(full.stderr.contains("cannot write history file \(history)"))
        #expect(fileSize(history) == before)

        #expect(try runClient(arguments, input: "four\n", fileSizeLimit: nil).status == 0)
        let text = try String(contentsOfFile: history, encoding: .utf8)
        let records = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(records.count == 3 && records.last == "")
        #expect(records.first?.hasSuffix("\tone") == true)
        #expect(records.dropFirst().first?.hasSuffix("\tfour") == true)
        #expect(records.dropLast().allSatisfy { $0.split(separator: "\t", omittingEmptySubsequences: false).count == 6 })
        let recall = try runClient(arguments, input: ":history\n", fileSizeLimit: nil)
        #expect(recall.stderr.contains("four"))
        #expect(!recall.stderr.contains("unreadable"))
    }
}
