// The history file: netrepl's own line format, appended one whole record per write(2) so that
// concurrent sessions never interleave, capped by a compaction that rewrites it under a lock.
//
// One record per line, six fields separated by tabs:
//   TIME  TRANSPORT  TARGET  OUTCOME  RTT  LINE
//   2026-11-25T08:44:04.123Z  udp  localhost:12000  ok  84.213  hello world
// TIME is UTC with milliseconds; TRANSPORT udp or tcp; OUTCOME ok, lost, late, error or cmd; RTT in
// microseconds with three decimals, or `-`. In TARGET and LINE a backslash is written `\\`, tab `\t`,
// newline `\n`, carriage return `\r`, and any other control character `\xHH`.

import NetREPLTransport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
        let clock = wallClock()
        return HistoryRecord(timeMilliseconds: clock.seconds * 1000 + clock.nanoseconds / 1_000_000, transport: transport,
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
                guard let a = scalars.next(), let b = scalars.next(),
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
public func historyCapacity(environment env: (String) -> String? = environment) -> (capacity: Int, warning: String?) {
    guard let text = env("NETREPL_HISTSIZE"), !text.isEmpty else { return (1000, nil) }
    guard let n = Int(text), n >= 0 else {
        return (1000, "NETREPL_HISTSIZE=\(text) is not a whole number of records; using 1000")
    }
    return (min(n, 10_000_000), nil)
}

public final class HistoryStore {
    /// Nil when history is disabled (`/dev/null`, no home, size 0).
    public let path: String?
    public let capacity: Int
    /// The records loaded at start, then those of this session.
    public private(set) var records: [HistoryRecord] = []
    /// Problems to tell the person once (unreadable lines, a foreign file, a failed write).
    public private(set) var warnings: [String] = []
    private var writable = true
    private var writeFailureReported = false
    /// Records in the file as far as this process knows; others may add more.
    private var fileRecords = 0

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

    /// Warnings not yet shown; taking them clears them.
    public func takeWarnings() -> [String] {
        defer { warnings = [] }
        return warnings
    }

    /// Records allowed past the cap before compacting: amortises the rewrite (and its fsync).
    private var slack: Int { max(10, capacity / 2) }

    private func load() {
        guard let path else { return }
        var st = stat()
        if stat(path, &st) != 0 {
            if errno != ENOENT {
                warnings.append("cannot read history file \(path): \(errnoText(errno)); history is not saved this session")
                writable = false
            }
            return
        }
        if (st.st_mode & S_IFMT) != S_IFREG {
            warnings.append("history file \(path) is not a regular file; history is not saved this session (set --history-file or NETREPL_HISTFILE)")
            writable = false
            return
        }
        guard let content = readWholeFile(path) else {
            warnings.append("cannot read history file \(path): \(errnoText(errno)); history is not saved this session")
            writable = false
            return
        }
        let parsed = Self.parse(content)
        if parsed.bad > 0 && parsed.records.isEmpty {
            warnings.append("\(path) is not a netrepl history file (\(parsed.bad) lines in another format); leaving it untouched and saving no history this session — choose another file with --history-file or NETREPL_HISTFILE")
            writable = false
            return
        }
        if parsed.bad > 0 {
            warnings.append("skipped \(parsed.bad) unreadable line\(parsed.bad == 1 ? "" : "s") in history file \(path) (first: line \(parsed.firstBadLine)); \(parsed.bad == 1 ? "it is" : "they are") dropped when the file is next compacted")
        }
        records = Array(parsed.records.suffix(capacity))
        fileRecords = parsed.records.count + parsed.bad
        if fileRecords > capacity + slack { compact() }
    }

    static func parse(_ content: [UInt8]) -> (records: [HistoryRecord], bad: Int, firstBadLine: Int) {
        var records: [HistoryRecord] = []
        var bad = 0
        var firstBad = 0
        var lineNumber = 0
        for raw in content.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if raw.isEmpty { continue }
            if let text = String(validating: raw, as: UTF8.self), let record = HistoryRecord.decode(Substring(text)) {
                records.append(record)
            } else {
                bad += 1
                if firstBad == 0 { firstBad = lineNumber }
            }
        }
        return (records, bad, firstBad)
    }

    /// Records `record` in memory and appends it to the file with a single write(2).
    /// Returns a one-line error the first time writing fails, nil otherwise.
    @discardableResult
    public func append(_ record: HistoryRecord) -> String? {
        guard capacity > 0 else { return nil }
        records.append(record)
        if records.count > capacity + slack { records.removeFirst(records.count - capacity) }
        guard let path, writable else { return nil }
        if let failure = appendToFile(path, Array(record.encoded.utf8)) {
            guard !writeFailureReported else { return nil }
            writeFailureReported = true
            return "cannot write history file \(path): \(failure); this session's lines may not be saved"
        }
        fileRecords += 1
        if fileRecords > capacity + slack { compact() }
        return nil
    }

    private func appendToFile(_ path: String, _ bytes: [UInt8]) -> String? {
        if let failure = makeParentDirectories(path) { return failure }
        // A compaction replaces the file by rename; a writer that opened the old one must not
        // write into it. The shared lock orders us against the compactor's exclusive lock, and
        // comparing inodes afterwards tells whether the file we hold is still the one at `path`.
        for _ in 0..<8 {
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return errnoText(errno) }
            defer { closeDescriptor(fd) }
            while flock(fd, LOCK_SH) != 0 {
                if errno != EINTR { return errnoText(errno) }
            }
            guard isSameFile(fd: fd, path: path) else { continue }
            // One write: with O_APPEND the kernel places the whole record at the end at once.
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 { return errnoText(errno) }
            if n != bytes.count { return "short write (disk full?)" }
            return nil
        }
        return "the file kept being replaced while writing"
    }

    /// Rewrites the file with its newest `capacity` records: temporary file, fsync, rename, all
    /// under an exclusive lock on the old file so no append is lost.
    func compact() {
        guard let path, writable else { return }
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { closeDescriptor(fd) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { return }
        }
        guard isSameFile(fd: fd, path: path), let content = readAll(fd: fd) else { return }
        let parsed = Self.parse(content)
        if parsed.bad > 0 && parsed.records.isEmpty { return }
        let kept = parsed.records.suffix(capacity)
        var bytes: [UInt8] = []
        for record in kept { bytes += Array(record.encoded.utf8) }
        let temporary = path + ".tmp.\(getpid())"
        let out = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard out >= 0 else { return }
        let failed = writeAll(out, bytes) != nil || fsync(out) != 0
        closeDescriptor(out)
        if failed || rename(temporary, path) != 0 {
            unlink(temporary)
            return
        }
        fileRecords = kept.count
    }

    private func isSameFile(fd: Int32, path: String) -> Bool {
        var held = stat()
        var named = stat()
        guard fstat(fd, &held) == 0, stat(path, &named) == 0 else { return false }
        return held.st_ino == named.st_ino && held.st_dev == named.st_dev
    }

    /// Creates missing parent directories with mode 0700 (history is private).
    private func makeParentDirectories(_ path: String) -> String? {
        let components = path.split(separator: "/", omittingEmptySubsequences: true).dropLast()
        var current = path.hasPrefix("/") ? "" : "."
        for component in components {
            current += "/" + component
            var st = stat()
            if stat(current, &st) == 0 { continue }
            if mkdir(current, 0o700) != 0 && errno != EEXIST {
                return "cannot create directory \(current): \(errnoText(errno))"
            }
        }
        return nil
    }

    private func readWholeFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { closeDescriptor(fd) }
        return readAll(fd: fd)
    }

    private func readAll(fd: Int32) -> [UInt8]? {
        var content: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        _ = lseek(fd, 0, SEEK_SET)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { return content }
            content += chunk[0..<n]
        }
    }
}
