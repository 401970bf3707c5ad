// The history file: its format, permissions, appends, the cap and its compaction, damaged and
// foreign files, and two sessions writing at once.

import Foundation
import Glibc
import Testing
import MisbehavingPeers
import NetREPLTransport
@testable import NetREPLCore

private func record(_ line: String, outcome: HistoryOutcome = .ok, rtt: UInt64? = 84_213, transport: TransportKind = .udp) -> HistoryRecord {
    HistoryRecord(
        timeMilliseconds: 1_764_060_244_123, transport: transport, target: "localhost:12000", outcome: outcome,
        rttNanoseconds: rtt, line: line)
}

private func fileLines(_ path: String) -> [String] {
    (try? String(contentsOfFile: path, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
}

private func mode(_ path: String) -> mode_t {
    var st = stat()
    stat(path, &st)
    return st.st_mode & 0o777
}

@Suite struct HistoryFormatTests {
    @Test func encodesTheDocumentedFields() {
        #expect(record("hello world").encoded == "2025-11-25T08:44:04.123Z\tudp\tlocalhost:12000\tok\t84.213\thello world\n")
        #expect(record(":tcp", outcome: .command, rtt: nil).encoded.hasSuffix("\tcmd\t-\t:tcp\n"))
    }

    @Test(arguments: ["plain", "tab\there", "new\nline", "back\\slash\\t", "cr\r", "esc\u{1b}[0m", "del\u{7f}", "ünïcødé ß", "", " lead and trail "])
    func roundTrips(line: String) throws {
        let r = record(line)
        let encoded = r.encoded
        #expect(encoded.filter { $0 == "\n" }.count == 1)
        let decoded = try #require(HistoryRecord.decode(Substring(encoded.dropLast())))
        #expect(decoded == r)
    }

    @Test(arguments: [
        "", "hello", "2025-11-25T08:44:04.123Z\tudp\tlocalhost:12000\tok\t84.213",
        "2025-11-25T08:44:04.123Z\tsctp\th:1\tok\t1\tx", "2025-11-25 08:44:04\tudp\th:1\tok\t1\tx",
        "2025-11-25T08:44:04.123Z\tudp\th:1\tmaybe\t1\tx", "2025-11-25T08:44:04.123Z\tudp\th:1\tok\tfast\tx",
        "2025-11-25T08:44:04.123Z\tudp\th:1\tok\t1\tbad\\escape", "#1700000000", "ls -la",
    ])
    func rejectsWhatIsNotARecord(text: String) {
        #expect(HistoryRecord.decode(Substring(text)) == nil)
    }
}

@Suite struct HistoryStoreTests {
    @Test func createsFileWithMode0600AndDirectoriesWith0700() throws {
        let path = temporaryHistoryPath("state/netrepl/history")
        let store = HistoryStore(path: path, capacity: 1000)
        #expect(store.append(record("first")) == nil)
        #expect(mode(path) == 0o600)
        #expect(mode((path as NSString).deletingLastPathComponent) == 0o700)
        #expect(fileLines(path).count == 1)
    }

    @Test func appendsAndReloads() {
        let path = temporaryHistoryPath()
        let first = HistoryStore(path: path, capacity: 1000)
        first.append(record("one"))
        first.append(record(":tcp", outcome: .command, rtt: nil, transport: .tcp))
        first.append(record("two", outcome: .lost, rtt: nil))
        let second = HistoryStore(path: path, capacity: 1000)
        #expect(second.records.map(\.line) == ["one", ":tcp", "two"])
        #expect(second.records[2].outcome == .lost)
        #expect(second.recallLines == ["one", ":tcp", "two"])
        #expect(second.takeWarnings().isEmpty)
    }

    @Test func recallSkipsLateRecordsAndRepeats() {
        let path = temporaryHistoryPath()
        let store = HistoryStore(path: path, capacity: 1000)
        for (line, outcome) in [("a", HistoryOutcome.lost), ("b", .ok), ("a", .late), ("b", .ok), ("c", .ok)] {
            store.append(record(line, outcome: outcome))
        }
        #expect(HistoryStore(path: path, capacity: 1000).recallLines == ["a", "b", "c"])
    }

    @Test func devNullAndZeroSizeKeepNothing() {
        let none = HistoryStore(path: "/dev/null", capacity: 1000)
        #expect(!none.isEnabled)
        #expect(none.append(record("x")) == nil)
        let path = temporaryHistoryPath()
        let zero = HistoryStore(path: path, capacity: 0)
        zero.append(record("x"))
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(zero.records.isEmpty)
    }

    @Test func capIsKeptByCompaction() {
        let path = temporaryHistoryPath()
        let store = HistoryStore(path: path, capacity: 20)
        for i in 1...100 { store.append(record("line \(i)")) }
        let lines = fileLines(path)
        // Compaction runs once the file holds the cap plus some slack (10 records here).
        #expect(lines.count <= 30)
        #expect(lines.last?.hasSuffix("\tline 100") == true)
        #expect(mode(path) == 0o600)
        let reloaded = HistoryStore(path: path, capacity: 20)
        #expect(reloaded.records.count == 20)
        #expect(reloaded.records.first?.line == "line 81")
        #expect(reloaded.records.last?.line == "line 100")
        // No temporary file is left behind.
        let dir = (path as NSString).deletingLastPathComponent
        #expect((try? FileManager.default.contentsOfDirectory(atPath: dir)) == ["history"])
    }

    @Test func loadingAnOversizedFileCompactsIt() throws {
        let path = temporaryHistoryPath()
        let big = HistoryStore(path: path, capacity: 1000)
        for i in 1...60 { big.append(record("l\(i)")) }
        let small = HistoryStore(path: path, capacity: 10)
        #expect(small.records.map(\.line) == (51...60).map { "l\($0)" })
        #expect(fileLines(path).count == 10)
    }

    @Test func corruptedLinesAreReportedOnceAndSkipped() throws {
        let path = temporaryHistoryPath()
        let good = HistoryStore(path: path, capacity: 1000)
        good.append(record("one"))
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data("garbage\n\u{ff}\u{fe}binary\n".utf8 + [0xff, 0x0a]))
        try handle.close()
        good.append(record("two"))
        let store = HistoryStore(path: path, capacity: 1000)
        #expect(store.records.map(\.line) == ["one", "two"])
        let warnings = store.takeWarnings()
        #expect(warnings.count == 1)
        #expect(warnings.first == .skippedLines(path: path, count: 3, firstLine: 2))
        #expect(store.takeWarnings().isEmpty)
        #expect(store.isEnabled)
    }

    @Test func aForeignFileIsLeftUntouched() throws {
        let path = temporaryHistoryPath()
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let bash = "ls -la\ncd /tmp\n#1700000000\nmake\n"
        try bash.write(toFile: path, atomically: true, encoding: .utf8)
        let store = HistoryStore(path: path, capacity: 2)
        #expect(store.records.isEmpty)
        #expect(!store.isEnabled)
        #expect(store.takeWarnings() == [.foreignFile(path: path, linesInOtherFormat: 4, bytesRead: bash.utf8.count)])
        store.append(record("x"))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == bash)
    }

    @Test func aDirectoryIsNotFatal() throws {
        let path = temporaryHistoryPath()
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let store = HistoryStore(path: path, capacity: 10)
        #expect(store.takeWarnings() == [.notRegularFile(path: path)])
        #expect(store.append(record("x")) == nil)
    }

    @Test func aWriteFailureIsReportedOnce() throws {
        let path = temporaryHistoryPath()
        let dir = (path as NSString).deletingLastPathComponent
        let store = HistoryStore(path: path, capacity: 10)
        // A regular file where the directory should be makes every write fail (even as root).
        try FileManager.default.createDirectory(atPath: (dir as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try "x".write(toFile: dir, atomically: true, encoding: .utf8)
        let first = store.append(record("a"))
        #expect(first == .unwritable(path: path, .system(.notDirectory)))
        #expect(store.append(record("b")) == nil)
        #expect(store.records.count == 2)
        // Found at start, the same problem is a warning and history stays in memory only.
        let later = HistoryStore(path: path, capacity: 10)
        #expect(later.takeWarnings() == [.unreadable(path: path, .system(.notDirectory))])
    }

    @Test func twoWritersAtOnceNeverInterleave() async throws {
        let path = temporaryHistoryPath()
        let perWriter = 400
        let long = String(repeating: "x", count: 3000)
        await withTaskGroup(of: Void.self) { group in
            for writer in ["a", "b"] {
                group.addTask {
                    let store = HistoryStore(path: path, capacity: 100_000)
                    for i in 0..<perWriter { store.append(record("\(writer) \(i) \(long)")) }
                }
            }
        }
        let store = HistoryStore(path: path, capacity: 100_000)
        #expect(store.takeWarnings().isEmpty)
        #expect(store.records.count == 2 * perWriter)
        for writer in ["a", "b"] {
            let mine = store.records.filter { $0.line.hasPrefix(writer + " ") }.map(\.line)
            #expect(mine == (0..<perWriter).map { "\(writer) \($0) \(long)" })
        }
    }

    @Test func twoWritersWithCompactionLoseNothingRecent() async throws {
        let path = temporaryHistoryPath()
        let perWriter = 300
        await withTaskGroup(of: Void.self) { group in
            for writer in ["a", "b"] {
                group.addTask {
                    let store = HistoryStore(path: path, capacity: 50)
                    for i in 0..<perWriter { store.append(record("\(writer) \(i)")) }
                }
            }
        }
        let lines = fileLines(path)
        // Each session counts its own appends towards the slack (25 past the cap of 50), so with
        // two writing at once the file holds at most the cap and one slack per writer.
        #expect(lines.count <= 50 + 2 * 25)
        let store = HistoryStore(path: path, capacity: 50)
        #expect(store.takeWarnings().isEmpty)
        #expect(store.records.count == 50)
        // Each writer's records stay in order, and the very last record written is there.
        for writer in ["a", "b"] {
            let numbers = store.records.filter { $0.line.hasPrefix(writer + " ") }.compactMap { Int($0.line.dropFirst(2)) }
            #expect(numbers == numbers.sorted())
        }
        #expect(lines.contains { $0.hasSuffix("\ta \(perWriter - 1)") } || lines.contains { $0.hasSuffix("\tb \(perWriter - 1)") })
    }

    @Test func defaultPathFollowsTheDocumentedOrder() {
        let env: [String: String] = ["HOME": "/home/u", "XDG_STATE_HOME": "/state", "NETREPL_HISTFILE": "/h"]
        #expect(defaultHistoryPath(option: "/opt", environment: { env[$0] }) == "/opt")
        #expect(defaultHistoryPath(option: nil, environment: { env[$0] }) == "/h")
        #expect(defaultHistoryPath(option: nil, environment: { $0 == "NETREPL_HISTFILE" ? nil : env[$0] }) == "/state/netrepl/history")
        #expect(defaultHistoryPath(option: nil, environment: { $0 == "HOME" ? "/home/u" : nil }) == "/home/u/.local/state/netrepl/history")
        #expect(historyCapacity(environment: { _ in nil }).capacity == 1000)
        #expect(historyCapacity(environment: { _ in "50" }).capacity == 50)
        #expect(historyCapacity(environment: { _ in "lots" }) == (1000, .capacityNotANumber(text: "lots", using: 1000)))
    }
}

/// The largest resident set this process has had, in KiB (VmHWM): only grows.
private func peakResidentKiB() -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
    return line.flatMap { Int($0.filter(\.isNumber)) } ?? 0
}

private func appendBytes(_ bytes: [UInt8], to path: String) throws {
    let handle = try #require(FileHandle(forWritingAtPath: path))
    handle.seekToEndOfFile()
    handle.write(Data(bytes))
    try handle.close()
}

private func isSymbolicLink(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
}

/// What history does when the file system, another program or an attacker misbehaves.
@Suite struct HistoryHostileFileTests {
    @Test func aRecordCutShortIsNeverReadAsALineAndTheNextStartsOnItsOwn() throws {
        let path = temporaryHistoryPath()
        let store = HistoryStore(path: path, capacity: 1000)
        store.append(record("one"))
        // What a crash (or a full disk before this version) leaves: part of a record, no newline.
        // Cut inside the line, it would read as a record of the wrong line: "hello wor".
        try appendBytes(Array(record("hello world").encoded.utf8.prefix(64)), to: path)
        let reopened = HistoryStore(path: path, capacity: 1000)
        #expect(reopened.records.map(\.line) == ["one"])
        #expect(reopened.append(record("two")) == nil)
        let bytes = try #require(FileManager.default.contents(atPath: path))
        #expect(bytes.last == UInt8(ascii: "\n"))
        let reloaded = HistoryStore(path: path, capacity: 1000)
        #expect(reloaded.records.map(\.line) == ["one", "two"])
        #expect(reloaded.takeWarnings() == [.skippedLines(path: path, count: 1, firstLine: 2)])
    }

    @Test func compactingThroughASymbolicLinkRewritesItsTarget() throws {
        let path = temporaryHistoryPath("link")
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder + "/real", withIntermediateDirectories: true)
        let target = folder + "/real/history"
        #expect(symlink("real/history", path) == 0)
        let store = HistoryStore(path: path, capacity: 10)
        for i in 1...40 { store.append(record("line \(i)")) }
        #expect(isSymbolicLink(path))
        let lines = fileLines(target)
        #expect(lines.count <= 20)
        #expect(lines.last?.hasSuffix("\tline 40") == true)
        #expect(mode(target) == 0o600)
        // The temporary file went where the target lives, and nothing is left of it.
        #expect((try? FileManager.default.contentsOfDirectory(atPath: folder + "/real")) == ["history"])
        #expect(HistoryStore(path: path, capacity: 10).records.map(\.line) == (31...40).map { "line \($0)" })
    }

    @Test func aLinkPlantedAtTheTemporaryNameIsNeverFollowed() throws {
        let path = temporaryHistoryPath()
        let folder = (path as NSString).deletingLastPathComponent
        let victim = folder + "/victim"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "precious\n".write(toFile: victim, atomically: false, encoding: .utf8)
        let store = HistoryStore(path: path, capacity: 5)
        // The attacker knows the names: a link to an existing file, then one to a file not yet there.
        var names = ["planted-existing", "planted-dangling", "free"]
        store.temporaryName = { names.isEmpty ? "spare" : names.removeFirst() }
        #expect(symlink(victim, folder + "/planted-existing") == 0)
        #expect(symlink(folder + "/created-by-attack", folder + "/planted-dangling") == 0)
        for i in 1...20 { store.append(record("line \(i)")) }
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
        #expect(!FileManager.default.fileExists(atPath: folder + "/created-by-attack"))
        #expect(isSymbolicLink(folder + "/planted-existing") && isSymbolicLink(folder + "/planted-dangling"))
        #expect(fileLines(path).count <= 15)
        #expect(fileLines(path).last?.hasSuffix("\tline 20") == true)
        #expect(mode(path) == 0o600)
    }

    @Test func theRandomTemporaryNamesDiffer() {
        let names = Set((0..<100).map { _ in HistoryStore.randomTemporaryName() })
        #expect(names.count == 100)
        #expect(names.allSatisfy { $0.hasPrefix(".netrepl-history-") && $0.count == 33 })
    }

    @Test func aGibibyteOfZerosIsNotReadAndLeftUntouched() throws {
        let path = temporaryHistoryPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        #expect(truncate(path, 1 << 30) == 0)  // sparse: no disk used
        let before = peakResidentKiB()
        let store = HistoryStore(path: path, capacity: 1000)
        #expect(peakResidentKiB() - before < 256 * 1024)
        #expect(store.records.isEmpty)
        #expect(!store.isEnabled)
        // Only the end is read: no line counts, and far less than the file's gigabyte.
        let problem = store.takeWarnings().first
        guard case .foreignFile(path, nil, let bytesRead) = problem else { Issue.record("\(String(describing: problem))"); return }
        #expect(bytesRead < 64 << 20)
        store.append(record("x"))
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(size == 1 << 30)
    }

    @Test func recordsAfterAGibibyteOfZerosLoadAndTheFileShrinks() throws {
        let path = temporaryHistoryPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        #expect(truncate(path, 1 << 30) == 0)
        try appendBytes(Array("\n".utf8) + (1...3).flatMap { Array(record("kept \($0)").encoded.utf8) }, to: path)
        let before = peakResidentKiB()
        let store = HistoryStore(path: path, capacity: 1000)
        #expect(peakResidentKiB() - before < 256 * 1024)
        #expect(store.records.map(\.line) == ["kept 1", "kept 2", "kept 3"])
        #expect(store.isEnabled)
        // Loading saw the file is far over what the cap keeps, and compacted it.
        #expect(fileLines(path).count == 3)
    }

    @Test func binaryGarbageNeverCrashesAndRecordsAroundItSurvive() throws {
        let path = temporaryHistoryPath()
        let store = HistoryStore(path: path, capacity: 100_000)
        store.append(record("before"))
        // Deterministic noise, with newlines, tabs and backslashes more often than chance.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var garbage: [UInt8] = []
        for _ in 0..<2_000_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let byte = UInt8(truncatingIfNeeded: state >> 56)
            switch byte % 16 {
            case 0: garbage.append(UInt8(ascii: "\n"))
            case 1: garbage.append(UInt8(ascii: "\t"))
            case 2: garbage.append(UInt8(ascii: "\\"))
            default: garbage.append(byte)
            }
        }
        garbage.append(UInt8(ascii: "\n"))
        try appendBytes(garbage, to: path)
        store.append(record("after"))
        let reloaded = HistoryStore(path: path, capacity: 100_000)
        #expect(reloaded.records.first?.line == "before")
        #expect(reloaded.records.last?.line == "after")
        #expect(reloaded.takeWarnings().first.map { if case .skippedLines = $0 { true } else { false } } == true)
        _ = reloaded.records.map { ($0.localTimeText, $0.encoded) }
    }

    @Test(arguments: [
        "2025-11-25T08:44:04.123Z\tudp\th:1\tok\t1\tbad\\x+1", "2025-11-25T08:44:04.123Z\tudp\th:1\tok\t1\t\\x-0",
        "2025-11-25T08:44:04.123Z\tudp\th:1\tok\t1e300\tx", "2025-11-25T08:44:04.123Z\tudp\th:1\tok\t99999999999999999999\tx",
        "9999-99-99T99:99:99.999Z\tudp\th:1\tok\t1\tx", "2025-11-25T08:44:04.123Z\tudp\t\tok\t1\tx",
        "2025-11-25T08:44:04.123Z\tudp\th:1\tok\t1\tx\\", "2025-11-25T08:44:04.123Z\tudp\th:1\tok\t1\tnul\u{0}",
    ])
    func rejectsHostileFields(text: String) {
        #expect(HistoryRecord.decode(Substring(text)) == nil)
    }
}

@Suite struct HistoryFullDiskTests {
    @Test(.enabled(if: SmallDisk.available, "needs to mount a tmpfs (root with CAP_SYS_ADMIN)"))
    func aRecordThatDoesNotFitIsCutOffAndTheNextStartsOnItsOwnLine() throws {
        let disk = try #require(SmallDisk(kilobytes: 12))
        let path = disk.folder + "/history"
        // A page of ballast to free later, and a history filling two pages but for 20 bytes.
        try Data(count: 4096).write(to: URL(fileURLWithPath: disk.folder + "/ballast"))
        let filler = record("filler").encoded
        var content = String(repeating: filler, count: (8192 - 20) / filler.utf8.count)
        content += String(repeating: "x", count: 8192 - 20 - content.utf8.count - 1) + "\n"
        try content.write(toFile: path, atomically: false, encoding: .utf8)
        let sizeBefore = content.utf8.count

        let store = HistoryStore(path: path, capacity: 1000)
        let failure = store.append(record("the disk is full when this line is answered"))
        #expect(failure.map { if case .unwritable(path, _) = $0 { true } else { false } } == true, "\(String(describing: failure))")
        let afterFailure = try #require(FileManager.default.contents(atPath: path))
        #expect(afterFailure.count == sizeBefore)

        try FileManager.default.removeItem(atPath: disk.folder + "/ballast")
        #expect(store.append(record("after space was freed")) == nil)
        let reloaded = HistoryStore(path: path, capacity: 1000)
        #expect(reloaded.records.last?.line == "after space was freed")
        #expect(!reloaded.records.contains { $0.line.hasPrefix("the disk is full") })
        // The one line of x's is the only unreadable one: nothing of the cut record is left.
        #expect(reloaded.takeWarnings().map { if case .skippedLines(_, 1, _) = $0 { true } else { false } } == [true])
    }
}

@Suite struct HistoryOddFileTests {
    @Test func aFIFOAtThePathNeitherHangsNorIsWritten() throws {
        let path = temporaryHistoryPath()
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        #expect(mkfifo(path, 0o600) == 0)
        let store = HistoryStore(path: path, capacity: 10)
        #expect(!store.isEnabled)
        #expect(store.takeWarnings() == [.notRegularFile(path: path)])
        #expect(store.append(record("x")) == nil)
    }

    @Test func aFolderWhereNoTemporaryFileCanBeMadeKeepsEveryRecord() throws {
        // Every temporary name is taken: compaction fails, and appends go on as before.
        let path = temporaryHistoryPath()
        let store = HistoryStore(path: path, capacity: 5)
        store.temporaryName = { "taken" }
        for i in 1...40 { store.append(record("line \(i)")) }
        try "x".write(toFile: (path as NSString).deletingLastPathComponent + "/taken", atomically: false, encoding: .utf8)
        for i in 41...60 { store.append(record("line \(i)")) }
        let lines = fileLines(path)
        #expect(lines.last?.hasSuffix("\tline 60") == true)
        #expect(lines.contains { $0.hasSuffix("\tline 41") })
    }
}
