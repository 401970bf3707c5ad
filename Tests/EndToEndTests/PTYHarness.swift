// A pseudo-terminal harness: runs a program with a fresh pty as its controlling terminal, types
// keys into it and waits for text in what it prints, so readline is exercised as a person uses it.

import Foundation
import LineEditing

import Glibc

/// Keys as the terminal sends them.
enum Key {
    static let enter = "\r"
    static let tab = "\t"
    static let up = "\u{1B}[A"
    static let ctrlC = "\u{03}"
    static let ctrlD = "\u{04}"
    static let ctrlR = "\u{12}"
    static let ctrlU = "\u{15}"
    static let ctrlF = "\u{06}"
    static let ctrlL = "\u{0C}"
    static let ctrlZ = "\u{1A}"
    static let right = "\u{1B}[C"
    static let left = "\u{1B}[D"
    static let end = "\u{1B}[F"
    static let altF = "\u{1B}f"
}

/// A child process whose stdin, stdout and stderr are the slave side of a pty we own; it is a
/// session leader with that pty as its controlling terminal, so Ctrl-C and the window size reach
/// it as they would from a terminal emulator. Not thread-safe: one test drives one session.
final class PTYProcess {
    let pid: pid_t
    private var master: Int32
    /// Kept open so the pty's modes can be read after the child exits (and reads of the master
    /// never fail with EIO while output is still wanted).
    private let slave: Int32
    private var output: [UInt8] = []
    /// Where the next `expect` starts looking, as an offset into the scalars of the output (not
    /// of `transcript`, which a later erase may shorten before this point).
    private var cursor = 0
    private(set) var exitStatus: Int32?
    /// The window's sizes, each with the offset into the output from which it applies.
    private var sizes: [(offset: Int, columns: Int, rows: Int, reflow: Bool)]

    /// The environment every interactive test starts from: the caller's, minus anything that
    /// could reach the user's own files, plus a known terminal and no inputrc; `extra` adds or
    /// (with nil) removes variables.
    static func isolatedEnvironment(home: String, historyFile: String, extra: [String: String?] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        for key in ["NETREPL_HISTFILE", "NETREPL_HISTSIZE", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "LINES", "COLUMNS", "NO_COLOR", "TMUX"] {
            env[key] = nil
        }
        env["HOME"] = home
        env["XDG_STATE_HOME"] = home + "/state"
        // Never the user's own configuration file.
        env["XDG_CONFIG_HOME"] = home + "/config"
        env["NETREPL_HISTFILE"] = historyFile
        env["INPUTRC"] = "/dev/null"
        env["TERM"] = "xterm"
        env["LANG"] = "C.UTF-8"
        env["NO_COLOR"] = "1"
        for (key, value) in extra { env[key] = value }
        return env
    }

    init(
        _ executable: URL, _ arguments: [String], environment: [String: String],
        columns: UInt16 = 200, rows: UInt16 = 50
    ) throws {
        let (master, slavePath) = try Self.openMaster()
        self.master = master
        let slave = open(slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard slave >= 0 else {
            close(master)
            throw HarnessError("cannot open \(slavePath): \(String(cString: strerror(errno)))")
        }
        self.slave = slave
        sizes = [(0, Int(columns), Int(rows), false)]
        // Wide enough that no test line wraps.
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &size)
        do {
            pid = try Self.spawn(executable.path, arguments, environment: environment, terminal: slavePath)
        } catch {
            close(master)
            close(slave)
            throw error
        }
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
        if master >= 0 { close(master) }
        close(slave)
    }

    // MARK: Driving

    /// Types `keys` (all at once, as a paste would arrive).
    func send(_ keys: String) {
        var bytes = Array(keys.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return
            }
            bytes = bytes.dropFirst(written)
        }
    }

    func signal(_ signo: Int32) {
        kill(pid, signo)
    }

    /// Closes our side of the pty, as a terminal emulator does when its window is closed: the
    /// kernel hangs up the terminal and sends SIGHUP to the child. Output is no longer read.
    func hangUp() {
        guard master >= 0 else { return }
        close(master)
        master = -1
    }

    /// Changes the window size; the kernel sends SIGWINCH to the child. `reflow`: the screen
    /// model wraps long lines again at the new width, as tmux, VTE and kitty do (xterm does not).
    func resize(columns: UInt16, rows: UInt16, reflow: Bool = false) {
        // What was written before the resize is drawn at the old size.
        while pump(milliseconds: 0) {}
        sizes.append((output.count, Int(columns), Int(rows), reflow))
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &size)
    }

    /// Waits until `text` appears in the output after the previous match, and moves past it.
    /// Returns the output from the previous match up to and including this one. `seconds` is a
    /// generous bound against hangs, never a timing assertion.
    @discardableResult
    func expect(_ text: String, seconds: Double = 30) throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let (pending, origins) = unmatchedWithOrigins
            if let range = pending.range(of: text) {
                let upTo = String(pending[..<range.upperBound])
                let count = upTo.unicodeScalars.count
                if count > 0 { cursor = origins[count - 1] + 1 }
                return upTo
            }
            if Date() >= deadline {
                throw HarnessError(
                    "timed out waiting for \(String(reflecting: text)); output since the last match:\n\(pending)\n--- whole transcript ---\n\(transcript)")
            }
            pump(milliseconds: 50)
        }
    }

    /// Waits for the child to exit (bounded, reading its output meanwhile) and returns its
    /// wait status's exit code, or 128+signal if a signal killed it.
    func waitForExit(seconds: Double = 30) throws -> Int32 {
        let deadline = Date().addingTimeInterval(seconds)
        while exitStatus == nil {
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid {
                // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import as macros.
                let signal = status & 0x7F
                exitStatus = signal == 0 ? (status >> 8) & 0xFF : 128 + signal
                break
            }
            if Date() >= deadline {
                throw HarnessError("process \(pid) did not exit; transcript:\n\(transcript)")
            }
            pump(milliseconds: 20)
        }
        while pump(milliseconds: 0) {}
        return exitStatus ?? -1
    }

    /// The pty's current local modes (ICANON, ECHO, ...), as the child left or set them.
    func localModes() throws -> tcflag_t {
        var modes = termios()
        guard tcgetattr(slave, &modes) == 0 else {
            throw HarnessError("tcgetattr on the pty failed: \(String(cString: strerror(errno)))")
        }
        return modes.c_lflag
    }

    /// What the terminal shows now: everything printed so far, fed to a model of the emulator.
    var screen: TerminalScreen {
        var screen = TerminalScreen(columns: sizes[0].columns, rows: sizes[0].rows)
        var start = 0
        for size in sizes.dropFirst() {
            screen.feed(Array(output[start..<size.offset]))
            screen.resize(columns: size.columns, rows: size.rows, reflow: size.reflow)
            start = size.offset
        }
        screen.feed(Array(output[start...]))
        return screen
    }

    /// Waits until the screen satisfies `condition` and returns it; `what` names the wait in
    /// the error, which shows the screen. `seconds` bounds hangs, never asserts a time.
    @discardableResult
    func waitForScreen(_ what: String, seconds: Double = 30, _ condition: (TerminalScreen) -> Bool) throws -> TerminalScreen {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let now = screen
            if condition(now) { return now }
            if Date() >= deadline {
                let rows = now.lines.enumerated().filter { !$0.element.isEmpty }.map { "\($0.offset): \($0.element)" }
                throw HarnessError(
                    "timed out waiting for the screen to show \(what); it shows (cursor at row \(now.row), column \(now.column)):\n\(rows.joined(separator: "\n"))"
                )
            }
            pump(milliseconds: 50)
        }
    }

    /// Everything printed so far, as the bytes came.
    var rawOutput: [UInt8] { output }

    /// Everything printed so far, with escape sequences and carriage returns removed.
    var transcript: String { TerminalText.plain(output) }

    /// The output not yet matched by `expect`.
    var unmatched: String { unmatchedWithOrigins.text }

    /// The plain text of the output after the cursor, and for each of its scalars the offset of
    /// the output scalar it came from.
    private var unmatchedWithOrigins: (text: String, origins: [Int]) {
        let scalars = Array(String(decoding: output, as: UTF8.self).unicodeScalars)
        let (text, origins) = TerminalText.plain(scalars, from: min(cursor, scalars.count))
        return (String(String.UnicodeScalarView(text)), origins)
    }

    /// Reads what is available within `milliseconds`; true if anything was read.
    @discardableResult
    private func pump(milliseconds: Int32) -> Bool {
        guard master >= 0 else {
            usleep(useconds_t(milliseconds) * 1000)
            return false
        }
        var fds = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
        guard poll(&fds, 1, milliseconds) > 0, fds.revents & Int16(POLLIN) != 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
        guard count > 0 else { return false }
        output.append(contentsOf: buffer[..<count])
        return true
    }

    // MARK: Setting up

    /// posix_openpt, unlockpt and ptsname, which Swift's Glibc module does not import, as the
    /// Linux ioctls they are.
    private static func openMaster() throws -> (Int32, String) {
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard master >= 0 else { throw HarnessError("cannot open /dev/ptmx: \(String(cString: strerror(errno)))") }
        let TIOCSPTLCK: UInt = 0x4004_5431, TIOCGPTN: UInt = 0x8004_5430
        var unlock: Int32 = 0
        var number: UInt32 = 0
        guard ioctl(master, TIOCSPTLCK, &unlock) == 0, ioctl(master, TIOCGPTN, &number) == 0 else {
            close(master)
            throw HarnessError("cannot set up the pty: \(String(cString: strerror(errno)))")
        }
        return (master, "/dev/pts/\(number)")
    }

    /// posix_spawn with a new session (setsid) whose first open of the terminal makes it the
    /// controlling terminal; signals back to their defaults and unblocked, and no descriptor of
    /// the test process (other tests' pipes) leaking into the child.
    private static func spawn(_ path: String, _ arguments: [String], environment: [String: String], terminal: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, terminal, O_RDWR, 0)
        posix_spawn_file_actions_adddup2(&actions, 0, 1)
        posix_spawn_file_actions_adddup2(&actions, 0, 2)
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        let POSIX_SPAWN_SETSID: Int32 = 0x80  // glibc's value; not imported into Swift
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signo in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGWINCH, SIGCHLD, SIGTSTP, SIGTTIN, SIGTTOU] {
            sigaddset(&defaults, signo)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw HarnessError("cannot start \(path): \(String(cString: strerror(result)))")
        }
        return pid
    }
}

/// Terminal output as plain text: what a person would read, minus the cursor movements.
enum TerminalText {
    /// Removes ANSI escape sequences (CSI, OSC, two-character escapes, and an incomplete one at
    /// the end), carriage returns, backspaces, BEL and readline's prompt markers. A line erased
    /// from its start (a carriage return, then erase-line or, on a dumb terminal, spaces and a
    /// carriage return: how text printed above a live prompt first takes the prompt away) is
    /// dropped, as it is from the screen.
    static func plain(_ bytes: [UInt8]) -> String {
        let scalars = Array(String(decoding: bytes, as: UTF8.self).unicodeScalars)
        return String(String.UnicodeScalarView(plain(scalars, from: 0).text))
    }

    /// The plain text of `scalars[start...]`, with the offset in `scalars` each of its scalars came from.
    static func plain(_ scalars: [Unicode.Scalar], from start: Int) -> (text: [Unicode.Scalar], origins: [Int]) {
        var out: [Unicode.Scalar] = []
        var origins: [Int] = []
        var lineStart = 0
        var atColumnZero = true
        var i = start
        while i < scalars.count {
            let c = scalars[i]
            switch c {
            case "\u{1B}":
                // The same reading of escapes as the prompt markup's; an incomplete one runs to the end.
                let end = PromptMarkup.escapeSequenceEnd(scalars, from: i)
                let sequence = String(String.UnicodeScalarView(scalars[i..<end]))
                if atColumnZero && ["\u{1B}[K", "\u{1B}[0K", "\u{1B}[2K"].contains(sequence) {
                    out.removeSubrange(lineStart...)
                    origins.removeSubrange(lineStart...)
                }
                i = end
            case "\r":
                atColumnZero = true
                i += 1
                // Spaces over the whole line and back: the erase of a terminal without one (dumb).
                var blank = i
                while blank < scalars.count && scalars[blank] == " " { blank += 1 }
                if blank > i && blank < scalars.count && scalars[blank] == "\r" {
                    out.removeSubrange(lineStart...)
                    origins.removeSubrange(lineStart...)
                    i = blank
                }
            case "\u{08}", "\u{07}", "\u{01}", "\u{02}":
                i += 1
            case "\n":
                out.append(c)
                origins.append(i)
                lineStart = out.count
                atColumnZero = true
                i += 1
            default:
                out.append(c)
                origins.append(i)
                atColumnZero = false
                i += 1
            }
        }
        return (out, origins)
    }
}
