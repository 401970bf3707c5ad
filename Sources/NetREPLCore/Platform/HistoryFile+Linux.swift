// The history file and its system calls: reading its end, appending one whole record per
// write(2), locking, replacing it atomically, creating its folders. Through swift-system, or the
// one wrapper (SystemCalls) for what swift-system does not make; failures typed.

import Glibc
import SystemCalls
import SystemPackage

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
                        try fd.read(
                            fromAbsoluteOffset: offset + Int64(filled),
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
                let fd = try FileDescriptor.open(
                    candidate, .writeOnly,
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
    func lock(exclusive: Bool) throws(HistoryFileError) {
        try HistoryFile.call { try retryingInterrupts { flock(rawValue, exclusive ? LOCK_EX : LOCK_SH) } }
    }

    /// fsync(2).
    func sync() throws(HistoryFileError) {
        try HistoryFile.call { try retryingInterrupts { fsync(rawValue) } }
    }
}
