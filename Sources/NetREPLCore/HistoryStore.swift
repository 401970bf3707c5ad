// The history's policy: where it is and how big it may grow, what is loaded at start (the newest
// records, read from the file's end, never more than the cap keeps), when the file is compacted,
// and which problems are told to the person. The record format is HistoryRecord; the file and
// its system calls, HistoryFile.

import SystemPackage

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
            let fd = try FileDescriptor.open(
                FilePath(path), .readWrite, options: [.append, .create, .closeOnExec, .nonBlocking],
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
