// The history file: netrepl's own line format, appended one whole record per write(2) so that
// concurrent sessions never interleave, capped by a compaction that rewrites it under a lock, and
// read from its end, never more of it than the cap keeps.
//
// One record per line, six fields separated by tabs:
//   TIME  TRANSPORT  TARGET  OUTCOME  RTT  LINE
//   2026-11-25T08:44:04.123Z  udp  localhost:12000  ok  84.213  hello world
// TIME is UTC with milliseconds; TRANSPORT udp or tcp; OUTCOME ok, lost, late, error or cmd; RTT in
// microseconds with three decimals, or `-`. In TARGET and LINE a backslash is written `\\`, tab `\t`,
// newline `\n`, carriage return `\r`, and any other control character `\xHH`.

import NetREPLTransport
import SystemCalls
import SystemPackage

import Glibc

public struct HistoryRecord: Sendable, Equatable {
    /// Milliseconds since the Unix epoch (UTC).
    public var timeMilliseconds: Int
    public var transport: TransportKind
    public var target: String
    public var outcome: HistoryOutcome
    public var rttNanoseconds: UInt64?
    public var line: String

    public init(timeMilliseconds: Int, transport: TransportKind, target: String, outcome: HistoryOutcome, rttNanoseconds: UInt64?, line: String) {
        self.timeMilliseconds = timeMilliseconds
        self.transport = transport
        self.target = target
        self.outcome = outcome
        self.rttNanoseconds = rttNanoseconds
        self.line = line
    }

    /// A record stamped with the current wall-clock time.
    public static func now(transport: TransportKind, target: String, outcome: HistoryOutcome, rttNanoseconds: UInt64?, line: String) -> HistoryRecord {
        var clock = timespec()
        clock_gettime(CLOCK_REALTIME, &clock)
        return HistoryRecord(timeMilliseconds: Int(clock.tv_sec) * 1000 + Int(clock.tv_nsec) / 1_000_000, transport: transport,
                             target: target, outcome: outcome, rttNanoseconds: rttNanoseconds, line: line)
    }

    /// The record as one line of the file, newline included.
    public var encoded: String {
        let rtt = rttNanoseconds.map { fixed(Double($0) / 1_000, 3) } ?? "-"
        return [HistoryRecord.formatTime(timeMilliseconds), transport.rawValue, HistoryRecord.escape(target),
                outcome.rawValue, rtt, HistoryRecord.escape(line)].joined(separator: "\t") + "\n"
    }

    /// Parses one line of the file (without its newline); nil when it is not a record.
    public static func decode(_ text: Substring) -> HistoryRecord? {
        let fields = text.split(separator: "\t", maxSplits: 5, omittingEmptySubsequences: false)
        guard fields.count == 6,
              let time = parseTime(fields[0]),
              let transport = TransportKind(rawValue: String(fields[1])),
              let target = unescape(fields[2]), !target.isEmpty,
              let outcome = HistoryOutcome(rawValue: String(fields[3])),
              let line = unescape(fields[5]) else { return nil }
        var rtt: UInt64? = nil
        if fields[4] != "-" {
            guard fields[4].allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
                  let micros = Double(fields[4]), micros.isFinite, micros >= 0, micros < 1e15 else { return nil }
            rtt = UInt64((micros * 1_000).rounded())
        }
        return HistoryRecord(timeMilliseconds: time, transport: transport, target: target, outcome: outcome, rttNanoseconds: rtt, line: line)
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\x" + (hex.count == 1 ? "0" : "") + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    static func unescape(_ text: Substring) -> String? {
        var out = String.UnicodeScalarView()
        var scalars = text.unicodeScalars.makeIterator()
        while let scalar = scalars.next() {
            if scalar.value < 0x20 || scalar.value == 0x7f { return nil }
            guard scalar == "\\" else {
                out.append(scalar)
                continue
            }
            switch scalars.next() {
            case "\\": out.append("\\")
            case "t": out.append("\t")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "x":
                // Two hex digits exactly: UInt8(_:radix:) alone would also take a sign ("+1").
                guard let a = scalars.next(), let b = scalars.next(), a.properties.isASCIIHexDigit, b.properties.isASCIIHexDigit,
                      let value = UInt8(String([Character(a), Character(b)]), radix: 16), value < 0x80 else { return nil }
                out.append(Unicode.Scalar(value))
            default: return nil
            }
        }
        return String(out)
    }

    static func formatTime(_ milliseconds: Int) -> String {
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(milliseconds % 1000), 3))Z"
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    static func parseTime(_ text: Substring) -> Int? {
        let b = Array(text.utf8)
        guard b.count == 24, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T"),
              b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"), b[19] == UInt8(ascii: "."), b[23] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int32? {
            var v: Int32 = 0
            for i in range {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                v = v * 10 + Int32(b[i] - 0x30)
            }
            return v
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              let millis = number(20..<23), (1...12).contains(month), (1...31).contains(day),
              hour < 24, minute < 60, second < 61 else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        let seconds = timegm(&parts)
        return Int(seconds) * 1000 + Int(millis)
    }

    /// Local time for the `:history` table: `2026-11-25 09:44:04`.
    public var localTimeText: String {
        var seconds = time_t(timeMilliseconds / 1000)
        var parts = tm()
        localtime_r(&seconds, &parts)
        func pad(_ v: Int32) -> String { v < 10 ? "0\(v)" : String(v) }
        return "\(parts.tm_year + 1900)-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday)) \(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec))"
    }
}

/// Where the history file is, by the documented order: `--history-file`, `NETREPL_HISTFILE`,
/// `$XDG_STATE_HOME/netrepl/history`, `~/.local/state/netrepl/history`. Nil when nothing fits.
public func defaultHistoryPath(option: String?, environment env: (String) -> String? = environment) -> String? {
    if let option, !option.isEmpty { return option }
    if let path = env("NETREPL_HISTFILE"), !path.isEmpty { return path }
    if let state = env("XDG_STATE_HOME"), state.hasPrefix("/") { return state + "/netrepl/history" }
    if let home = env("HOME"), !home.isEmpty { return home + "/.local/state/netrepl/history" }
    return nil
}

/// The history size cap from `NETREPL_HISTSIZE` (default 1000; 0 keeps no history).
public func historyCapacity(environment env: (String) -> String? = environment) -> (capacity: Int, problem: HistoryProblem?) {
    guard let text = env("NETREPL_HISTSIZE"), !text.isEmpty else { return (1000, nil) }
    guard let n = Int(text), n >= 0 else {
        return (1000, .capacityNotANumber(text: text, using: 1000))
    }
    return (min(n, 10_000_000), nil)
}

/// What went wrong with the history, to tell the person once; the presenter words it.
public enum HistoryProblem: Equatable, Sendable {
    /// The path is a directory, a FIFO or the like: no history is saved this session.
    case notRegularFile(path: String)
    /// The file could not be read: no history is saved this session.
    case unreadable(path: String, HistoryFileError)
    /// The file holds no netrepl record: left untouched, no history saved this session. When the
    /// whole file was read, `linesInOtherFormat` counts its lines; else its last `bytesRead` bytes
    /// held none.
    case foreignFile(path: String, linesInOtherFormat: Int?, bytesRead: Int)
    /// Lines that are not records were skipped; they go at the next compaction. `firstLine`
    /// counts from 1, nil when only the file's end was read.
    case skippedLines(path: String, count: Int, firstLine: Int?)
    /// Appending failed (told once a session): this session's lines may not be saved.
    case unwritable(path: String, HistoryFileError)
    /// NETREPL_HISTSIZE is not a whole number of records; `using` is the cap taken instead.
    case capacityNotANumber(text: String, using: Int)
}

/// Why a history file could not be read or written.
public enum HistoryFileError: Error, Equatable, Sendable {
    case system(Errno)
    case notRegular
    /// Only part of a record was written (disk full, file too large); the part was removed.
    case shortWrite
    /// Another session's compaction kept replacing the file while this one appended.
    case keptBeingReplaced
    /// No free name for the compaction's temporary file in the history's folder.
    case noTemporaryName

    init(_ error: any Error) {
        switch error {
        case let error as HistoryFileError: self = error
        case let errno as Errno: self = .system(errno)
        default: self = .system(.ioError)
        }
    }
}

public final class HistoryStore {
    /// Nil when history is disabled (`/dev/null`, no home, size 0).
    public let path: String?
    public let capacity: Int
    /// The records loaded at start, then those of this session.
    public private(set) var records: [HistoryRecord] = []
    /// Problems to tell the person once (unreadable lines, a foreign file, a failed write).
    public private(set) var warnings: [HistoryProblem] = []
    private var writable = true
    private var writeFailureReported = false
    /// Lines in the file as far as this process knows; others may add more.
    private var fileLines = 0
    /// Names for the compaction's temporary file, in the history's folder; tests plant files at them.
    var temporaryName: () -> String = HistoryStore.randomTemporaryName

    /// Opens (or prepares to create) the history at `path` and loads its newest `capacity` records.
    public init(path: String?, capacity: Int) {
        self.capacity = max(0, capacity)
        guard let path, path != "/dev/null", capacity > 0 else {
            self.path = nil
            return
        }
        self.path = path
        load()
    }

    /// True when records are written to a file.
    public var isEnabled: Bool { path != nil && writable }

    /// The recall list for the line editor: the lines of the records, oldest first, without late
    /// annotations and without a line repeated right after itself.
    public var recallLines: [String] {
        var lines: [String] = []
        for record in records where record.outcome != .late && lines.last != record.line {
            lines.append(record.line)
        }
        return lines
    }

    /// Problems not yet shown; taking them clears them.
    public func takeWarnings() -> [HistoryProblem] {
        defer { warnings = [] }
        return warnings
    }

    /// A problem found outside the store (its size setting), told with the store's own.
    public func note(_ problem: HistoryProblem) {
        warnings.append(problem)
    }

    /// Records allowed past the cap before compacting: amortises the rewrite (and its fsync).
    private var slack: Int { max(10, capacity / 2) }

    /// The most of the file's end that loading or compacting reads: what the cap and its slack
    /// keep, at up to `HistoryFile.bytesPerRecord` each. A huge or hostile file costs no more.
    private var tailBudget: Int {
        let (product, overflow) = (capacity + slack).multipliedReportingOverflow(by: HistoryFile.bytesPerRecord)
        return overflow ? Int.max : max(product, HistoryFile.minimumTailBytes)
    }

    private func load() {
        guard let path else { return }
        let tail: HistoryFile.Tail
        do {
            // Non-blocking: opening a FIFO planted at the path must not hang the prompt.
            let fd = try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec, .nonBlocking])
            defer { try? fd.close() }
            tail = try HistoryFile.readTail(fd, lines: capacity + slack, budget: tailBudget)
        } catch Errno.noSuchFileOrDirectory {
            return
        } catch HistoryFileError.notRegular {
            warnings.append(.notRegularFile(path: path))
            writable = false
            return
        } catch {
            warnings.append(.unreadable(path: path, HistoryFileError(error)))
            writable = false
            return
        }
        let parsed = Self.parse(tail.bytes, numbered: tail.isWholeFile)
        let bad = parsed.bad + (tail.droppedPartialLine ? 1 : 0)
        if parsed.records.isEmpty && bad > 0 {
            warnings.append(.foreignFile(path: path, linesInOtherFormat: tail.isWholeFile ? bad : nil, bytesRead: tail.bytesRead))
            writable = false
            return
        }
        if parsed.bad > 0 {
            warnings.append(.skippedLines(path: path, count: parsed.bad, firstLine: parsed.firstBadLine > 0 ? parsed.firstBadLine : nil))
        }
        records = Array(parsed.records.suffix(capacity))
        // Read only in part, the file is over the cap and its slack (or a hostile size): compact.
        fileLines = tail.isWholeFile ? parsed.records.count + parsed.bad : Int.max
        if fileLines > capacity + slack && !parsed.records.isEmpty { compact() }
    }

    /// The records in `content` and the lines that are not records (`firstBadLine` counts from
    /// 1, and is 0 when unknown: `numbered` false, the content being a file's tail). An empty
    /// line is neither; neither is a last line without its newline, which a write still in
    /// progress or cut short leaves, and which the next append marks as unreadable.
    static func parse(_ content: [UInt8], numbered: Bool = true) -> (records: [HistoryRecord], bad: Int, firstBadLine: Int) {
        var records: [HistoryRecord] = []
        var bad = 0
        var firstBad = 0
        var lineNumber = 0
        var lines = content.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if !lines.isEmpty { lines.removeLast() }  // after the last newline: empty, or a line still being written
        for raw in lines {
            lineNumber += 1
            if raw.isEmpty { continue }
            if let text = String(validating: raw, as: UTF8.self), let record = HistoryRecord.decode(Substring(text)) {
                records.append(record)
            } else {
                bad += 1
                if firstBad == 0 && numbered { firstBad = lineNumber }
            }
        }
        return (records, bad, firstBad)
    }

    /// Records `record` in memory and appends it to the file with a single write(2).
    /// Returns the problem the first time writing fails, nil otherwise.
    @discardableResult
    public func append(_ record: HistoryRecord) -> HistoryProblem? {
        guard capacity > 0 else { return nil }
        records.append(record)
        if records.count > capacity + slack { records.removeFirst(records.count - capacity) }
        guard let path, writable else { return nil }
        do {
            try appendToFile(path, Array(record.encoded.utf8))
        } catch {
            guard !writeFailureReported else { return nil }
            writeFailureReported = true
            return .unwritable(path: path, HistoryFileError(error))
        }
        if fileLines < Int.max { fileLines += 1 }
        if fileLines > capacity + slack { compact() }
        return nil
    }

    private func appendToFile(_ path: String, _ record: [UInt8]) throws {
        try HistoryFile.makeParentDirectories(of: path)
        // A compaction replaces the file by rename; a writer that opened the old one must not
        // write into it. The lock orders us against the compactor, and comparing inodes
        // afterwards tells whether the file we hold is still the one at `path`. The lock is
        // exclusive so that the end of the file we look at, and undo, is ours alone.
        for _ in 0..<8 {
            // Read and write: the file's last byte is looked at before appending.
            let fd = try FileDescriptor.open(FilePath(path), .readWrite, options: [.append, .create, .closeOnExec, .nonBlocking],
                                             permissions: [.ownerReadWrite])
            defer { try? fd.close() }
            try fd.lock(exclusive: true)
            guard try HistoryFile.isSameFile(fd, path) else { continue }
            try HistoryFile.appendLine(fd, record)
            return
        }
        throw HistoryFileError.keptBeingReplaced
    }

    /// Rewrites the file with its newest `capacity` records: temporary file, fsync, rename, all
    /// under an exclusive lock on the old file so no append is lost. Through a symbolic link,
    /// the link's target is rewritten and the link stays.
    func compact() {
        guard let path, writable, let target = HistoryFile.resolved(path) else { return }
        // A compaction that cannot be done is tried again once the slack has filled again, not
        // at the next line: the folder may be read-only for good. One that lost a race to
        // another session's (the file was replaced meanwhile) is tried again at the next line.
        let backOff = { self.fileLines = self.capacity }
        do {
            let fd = try FileDescriptor.open(FilePath(target), .readOnly, options: [.closeOnExec, .nonBlocking])
            defer { try? fd.close() }
            try fd.lock(exclusive: true)
            guard try HistoryFile.isSameFile(fd, target) else { return }
            let tail = try HistoryFile.readTail(fd, lines: capacity + slack, budget: tailBudget)
            let parsed = Self.parse(tail.bytes, numbered: false)
            if parsed.records.isEmpty { return backOff() }
            let kept = parsed.records.suffix(capacity)
            var bytes: [UInt8] = []
            for record in kept { bytes += Array(record.encoded.utf8) }
            try HistoryFile.replace(target, with: bytes, temporaryName: temporaryName)
            fileLines = kept.count
        } catch {
            // The file stays as it was, only longer than the cap.
            backOff()
        }
    }

    /// `.netrepl-history-` and 16 random hex digits: unguessable, so nobody can plant a link
    /// at the name beforehand (which the exclusive, no-follow create refuses anyway).
    static func randomTemporaryName() -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = String(generator.next() as UInt64, radix: 16)
        return ".netrepl-history-" + String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// The history file's system calls, through swift-system or the one wrapper (`SystemCalls`) for
/// what it does not make, failures typed.
enum HistoryFile {
    /// Tail bytes allowed per record when loading: far above a typical record (about 100 bytes),
    /// so only a file of very long lines or garbage is read in part.
    static let bytesPerRecord = 8 * 1024
    static let minimumTailBytes = 1 << 20
    /// Ends an unterminated last line before a new record goes after it. A control character
    /// makes that line unreadable, as it should be: it may be a record cut short.
    static let damagedLineEnd: [UInt8] = [0x18, UInt8(ascii: "\n")]

    /// The end of the file held by `fd`, read backwards until it holds `lines` whole lines
    /// and the newline before them, or `budget` bytes, or the whole file.
    struct Tail {
        /// Whole lines (the last may lack its newline); begins at a line's start.
        var bytes: [UInt8]
        /// The read reached the start of the file.
        var isWholeFile: Bool
        /// The budget ran out inside a line, which was left out.
        var droppedPartialLine: Bool
        /// How much of the file's end was read, the left-out line included.
        var bytesRead: Int
    }

    static func readTail(_ fd: FileDescriptor, lines wanted: Int, budget: Int) throws(HistoryFileError) -> Tail {
        let status = try call { try fd.stat() }
        guard status.type == .regular else { throw .notRegular }
        let chunkSize = 64 * 1024
        var chunks: [[UInt8]] = []
        var offset = Int64(status.size)
        var total = 0
        var newlines = 0
        while offset > 0 && total < budget && newlines <= wanted {
            let count = Int(min(Int64(min(chunkSize, budget - total)), offset))
            offset -= Int64(count)
            var chunk = [UInt8](repeating: 0, count: count)
            var filled = 0
            while filled < count {
                let n = try call {
                    try chunk.withUnsafeMutableBytes { buffer in
                        try fd.read(fromAbsoluteOffset: offset + Int64(filled),
                                    into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
                    }
                }
                if n == 0 { break }  // the file shrank under us: what is there is what counts
                filled += n
            }
            chunk.removeLast(count - filled)
            newlines += Self.newlines(in: chunk).count
            total += chunk.count
            chunks.append(chunk)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(total)
        for chunk in chunks.reversed() { bytes += chunk }
        guard offset > 0 else { return Tail(bytes: bytes, isWholeFile: true, droppedPartialLine: false, bytesRead: total) }
        // Cut off the line that began before what was read.
        guard let firstNewline = Self.newlines(in: bytes, limit: 1).first else {
            return Tail(bytes: [], isWholeFile: false, droppedPartialLine: !bytes.isEmpty, bytesRead: total)
        }
        let partial = firstNewline > 0 && total >= budget
        bytes.removeFirst(firstNewline + 1)
        return Tail(bytes: bytes, isWholeFile: false, droppedPartialLine: partial, bytesRead: total)
    }

    /// The offsets of the first `limit` newlines in `bytes`, by memchr(3): fast even in a debug
    /// build, where a Swift loop over megabytes of a hostile file is not.
    private static func newlines(in bytes: [UInt8], limit: Int = .max) -> [Int] {
        bytes.withUnsafeBytes { buffer in
            guard let start = buffer.baseAddress else { return [] }
            let end = start + buffer.count
            var cursor = start
            var found: [Int] = []
            while found.count < limit, cursor < end, let hit = memchr(cursor, Int32(UInt8(ascii: "\n")), end - cursor) {
                let position = UnsafeRawPointer(hit)
                found.append(position - start)
                cursor = position + 1
            }
            return found
        }
    }

    /// Appends `record` (one line, newline included) with one write. A file that does not end
    /// with a newline (a write cut short by a crash) first gets its last line ended, and marked
    /// unreadable; a write cut short here (disk full, file size limit) is removed again, so
    /// either way the next record starts on a line of its own.
    static func appendLine(_ fd: FileDescriptor, _ record: [UInt8]) throws(HistoryFileError) {
        let size = try call { try fd.stat() }.size
        var bytes = record
        if size > 0 {
            var last: UInt8 = 0
            let n = try call { try withUnsafeMutableBytes(of: &last) { try fd.read(fromAbsoluteOffset: size - 1, into: $0) } }
            if n == 1 && last != UInt8(ascii: "\n") { bytes = damagedLineEnd + record }
        }
        let written: Int
        do {
            // One write: with O_APPEND the kernel places the whole record at the end at once.
            written = try bytes.withUnsafeBytes { try fd.write($0) }
        } catch {
            // write(2) failing writes nothing (ENOSPC, EFBIG); nothing to undo.
            throw .system(error as? Errno ?? .ioError)
        }
        guard written < bytes.count else { return }
        // Best effort: if cutting fails too, the next append ends the line and marks it.
        try? fd.resize(to: size)
        throw .shortWrite
    }

    /// True when `fd` is still the file at `path` (no compaction replaced it meanwhile).
    static func isSameFile(_ fd: FileDescriptor, _ path: String) throws(HistoryFileError) -> Bool {
        let held = try call { try fd.stat() }
        guard let named = try? FilePath(path).stat() else { return false }
        return held.inode == named.inode && held.deviceID == named.deviceID
    }

    /// The file a path names, through any symbolic links, so that a compaction replaces the
    /// link's target and leaves the link. Nil when the path does not resolve.
    static func resolved(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Writes `bytes` to a new file in `target`'s folder, created exclusively without following
    /// links, mode 0600, synced, and renames it over `target`.
    static func replace(_ target: String, with bytes: [UInt8], temporaryName: () -> String) throws(HistoryFileError) {
        let folder = FilePath(target).removingLastComponent()
        var created: (FileDescriptor, FilePath)?
        for _ in 0..<8 {
            let candidate = folder.appending(temporaryName())
            do {
                let fd = try FileDescriptor.open(candidate, .writeOnly,
                                                 options: [.create, .exclusiveCreate, .noFollow, .closeOnExec],
                                                 permissions: [.ownerReadWrite])
                created = (fd, candidate)
                break
            } catch Errno.fileExists {
                continue  // taken, by a link or anything else: never touch it, pick another name
            } catch {
                throw .system(error as? Errno ?? .ioError)
            }
        }
        guard let (fd, temporary) = created else { throw .noTemporaryName }
        do throws(HistoryFileError) {
            defer { try? fd.close() }
            let written = try call { try fd.writeAll(bytes) }
            guard written == bytes.count else { throw HistoryFileError.shortWrite }
            try fd.sync()
            try call { try retryingInterrupts { rename(temporary.string, target) } }
        } catch {
            _ = unlink(temporary.string)
            throw error
        }
        // The rename itself is durable only once the folder is synced; failing that loses nothing now.
        if let directory = try? FileDescriptor.open(folder, .readOnly, options: [.directory, .closeOnExec]) {
            try? directory.sync()
            try? directory.close()
        }
    }

    /// Creates missing parent directories with mode 0700 (history is private).
    static func makeParentDirectories(of path: String) throws(HistoryFileError) {
        let components = path.split(separator: "/", omittingEmptySubsequences: true).dropLast()
        var current = path.hasPrefix("/") ? "" : "."
        for component in components {
            current += "/" + component
            if (try? FilePath(current).stat()) != nil { continue }
            do {
                try call { try retryingInterrupts { mkdir(current, 0o700) } }
            } catch .system(.fileExists) {
                continue
            }
        }
    }

    /// Runs a swift-system call, whose errors are `Errno`, with the error typed.
    @discardableResult
    static func call<T>(_ body: () throws -> T) throws(HistoryFileError) -> T {
        do {
            return try body()
        } catch {
            throw .system(error as? Errno ?? .ioError)
        }
    }
}

extension FileDescriptor {
    /// flock(2): shared or exclusive, waiting for it.
    fileprivate func lock(exclusive: Bool) throws(HistoryFileError) {
        try HistoryFile.call { try retryingInterrupts { flock(rawValue, exclusive ? LOCK_EX : LOCK_SH) } }
    }

    /// fsync(2).
    fileprivate func sync() throws(HistoryFileError) {
        try HistoryFile.call { try retryingInterrupts { fsync(rawValue) } }
    }
}
