// The history file when the disk is full: the built netrepl writes its history on a tmpfs that
// really fills up, or, where none can be mounted, under a file size limit (RLIMIT_FSIZE, with
// SIGXFSZ ignored, so a write that crosses the limit is cut short and the next one fails, as on a
// full disk); either way no record is ever left half written. The tmpfs form is the one a
// sanitized build survives: ThreadSanitizer's runtime dies with SIGBUS under RLIMIT_FSIZE.

import Foundation
import MisbehavingPeers
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
    let child = try Child(
        URL(fileURLWithPath: "/usr/bin/env"),
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

/// A history file that the next record (about 60 bytes) overflows by all but 20 bytes, and the
/// way to give it room again.
private struct FullDisk {
    let history: String
    /// Limit for the run that meets the full disk; nil on a tmpfs, which is full by itself.
    let fileSizeLimit: Int?
    let makeRoom: () throws -> Void
    let keep: AnyObject?

    /// After the record of `one` is in `history`: on a tmpfs of three pages, valid records fill
    /// the history to two pages but 20 bytes, and a page of ballast, freed by `makeRoom`, the rest.
    static func make(history: String, tmpfs: SmallDisk?) throws -> FullDisk {
        let size = try #require(try FileManager.default.attributesOfItem(atPath: history)[.size] as? Int)
        guard let tmpfs else { return FullDisk(history: history, fileSizeLimit: size + 20, makeRoom: {}, keep: nil) }
        let ballast = tmpfs.folder + "/ballast"
        try Data(count: 4096).write(to: URL(fileURLWithPath: ballast))
        let record = try String(contentsOfFile: history, encoding: .utf8)
        var content = String(repeating: record, count: (8192 - 20) / record.utf8.count - 1)
        // One more record, its line padded so that the file ends 20 bytes short of two pages.
        let pad = 8192 - 20 - content.utf8.count - record.utf8.count
        content += record.dropLast(1) + String(repeating: "e", count: pad) + "\n"
        try content.write(toFile: history, atomically: false, encoding: .utf8)
        return FullDisk(history: history, fileSizeLimit: nil, makeRoom: { try FileManager.default.removeItem(atPath: ballast) }, keep: tmpfs)
    }
}

@Suite("the history file on a full disk")
struct HistoryFileTests {
    @Test("a record cut short by a full disk is removed, and the next starts on a line of its own")
    func aFullDiskNeverLeavesHalfARecord() throws {
        let server = try ServerUnderTest()
        defer { _ = server.stop() }
        let tmpfs = SmallDisk(kilobytes: 12)
        let folder = tmpfs?.folder ?? FileManager.default.temporaryDirectory.appendingPathComponent("netrepl-e2e-\(UUID().uuidString)").path
        defer { if tmpfs == nil { try? FileManager.default.removeItem(atPath: folder) } }
        let history = folder + "/history"
        let arguments = ["--history-file", history, "127.0.0.1", String(server.port)]

        #expect(try runClient(arguments, input: "one\n", fileSizeLimit: nil).status == 0)
        let disk = try FullDisk.make(history: history, tmpfs: tmpfs)
        let before = fileSize(history)
        #expect(before > 0)

        // The next record is cut short, the one after fails.
        let full = try runClient(arguments, input: "two is a line longer than the room left\nthree\n", fileSizeLimit: disk.fileSizeLimit)
        #expect(full.status == 0)
        #expect(full.stdout == "TWO IS A LINE LONGER THAN THE ROOM LEFT\nTHREE\n")
        #expect(full.stderr.contains("cannot write history file \(history)"))
        #expect(fileSize(history) == before)

        try disk.makeRoom()
        #expect(try runClient(arguments, input: "four\n", fileSizeLimit: nil).status == 0)
        let text = try String(contentsOfFile: history, encoding: .utf8)
        let records = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(records.last == "")
        #expect(records.first?.hasSuffix("\tone") == true)
        #expect(records.dropLast().last?.hasSuffix("\tfour") == true)
        #expect(!text.contains("\ttwo is") && !text.contains("\tthree"))
        #expect(records.dropLast().allSatisfy { $0.split(separator: "\t", omittingEmptySubsequences: false).count == 6 })
        let recall = try runClient(arguments, input: ":history\n", fileSizeLimit: nil)
        #expect(recall.stderr.contains("four"))
        #expect(!recall.stderr.contains("unreadable"))
    }
}
