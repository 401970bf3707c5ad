// Shared harness for end-to-end tests: locate the built executables, run them, wait for output.

import Foundation
import Testing

import Glibc

enum Built {
    /// The folder holding the built products: the test bundle sits beside the executables.
    static let productsDirectory: URL = {
        if let dir = ProcessInfo.processInfo.environment["NETREPL_BIN_DIR"] {
            return URL(fileURLWithPath: dir)
        }
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        // On Linux the test binary is `<products>/netreplPackageTests.xctest`.
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("netrepl-server").path),
            dir.path != "/"
        {
            dir = dir.deletingLastPathComponent()
        }
        return dir
    }()

    static var server: URL { productsDirectory.appendingPathComponent("netrepl-server") }
    static var client: URL { productsDirectory.appendingPathComponent("netrepl") }
    /// The test-only program that drives the terminal line source as a live session does.
    static var liveProbe: URL { productsDirectory.appendingPathComponent("LiveLineProbe") }
}

/// A child process with its stdout and stderr collected in the background.
final class Child: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()
    /// Pipes whose end of file has been read (stdout, stderr): all the child wrote is collected.
    private var drained = 0
    /// Handlers reading at this moment.
    private var reading = 0
    /// The read ends of stdout and stderr.
    private let readDescriptors: [Int32]
    private let stdinPipe = Pipe()

    /// An empty folder for XDG_CONFIG_HOME, one per test process.
    static let emptyConfigHome: String = {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("netrepl-tests-config-\(getpid())")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.path
    }()

    init(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil) throws {
        process.executableURL = executable
        process.arguments = arguments
        // Never the user's own configuration file: an empty folder, unless the test chose one.
        var env = environment ?? ProcessInfo.processInfo.environment
        if environment?["XDG_CONFIG_HOME"] == nil { env["XDG_CONFIG_HOME"] = Child.emptyConfigHome }
        process.environment = env
        let o = Pipe(), e = Pipe()
        process.standardOutput = o
        process.standardError = e
        process.standardInput = stdinPipe
        readDescriptors = [o.fileHandleForReading.fileDescriptor, e.fileHandleForReading.fileDescriptor]
        o.fileHandleForReading.readabilityHandler = { [weak self] h in self?.collect(h, into: \.out) }
        e.fileHandleForReading.readabilityHandler = { [weak self] h in self?.collect(h, into: \.err) }
        try process.run()
    }

    private func collect(_ handle: FileHandle, into buffer: ReferenceWritableKeyPath<Child, Data>) {
        lock.withLock { reading += 1 }
        let d = handle.availableData
        lock.withLock {
            reading -= 1
            if d.isEmpty {
                handle.readabilityHandler = nil
                drained += 1
            } else {
                self[keyPath: buffer].append(d)
            }
        }
    }

    var stdout: String { lock.withLock { String(decoding: out, as: UTF8.self) } }
    var stdoutBytes: [UInt8] { lock.withLock { Array(out) } }
    var stderr: String { lock.withLock { String(decoding: err, as: UTF8.self) } }

    func write(_ s: String) { stdinPipe.fileHandleForWriting.write(Data(s.utf8)) }
    func write(bytes: [UInt8]) { stdinPipe.fileHandleForWriting.write(Data(bytes)) }
    func closeStdin() { try? stdinPipe.fileHandleForWriting.close() }

    /// Waits (up to `seconds`, a generous bound against hangs, not a timing assertion) until `predicate` holds.
    @discardableResult
    func waitFor(seconds: Double = 30, _ predicate: (Child) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if predicate(self) { return true }
            usleep(10_000)
        }
        return predicate(self)
    }

    /// Waits for exit (bounded) and returns the status, or nil if it did not exit.
    func waitForExit(seconds: Double = 30) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { return nil }
        // Until the handlers have read both pipes to their end, or nothing the child wrote is left
        // in them or being read: a long last line (a 4 MiB reply in --json) can take longer than
        // any fixed pause on a busy machine, and a process another test started meanwhile may
        // hold a pipe open (no end of file until it exits).
        while Date() < deadline {
            let (pipesDrained, busy) = lock.withLock { (drained == 2, reading > 0) }
            if pipesDrained || (!busy && readDescriptors.allSatisfy({ Self.unread($0) == 0 })) { break }
            usleep(5_000)
        }
        return process.terminationStatus
    }

    /// Bytes waiting in the pipe `fd`.
    private static func unread(_ fd: Int32) -> Int32 {
        var count: Int32 = 0
        return ioctl(fd, UInt(FIONREAD), &count) == 0 ? count : 0
    }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }
}

/// A running `netrepl-server` on a port chosen by the kernel.
final class ServerUnderTest: @unchecked Sendable {
    let child: Child
    let port: Int

    /// Starts `netrepl-server --port 0 <extra>` and waits for its ready line.
    init(_ extra: [String] = [], port: Int = 0) throws {
        child = try Child(Built.server, ["--port", String(port)] + extra)
        let ready = child.waitFor { $0.stdout.contains("ready") || !$0.process.isRunning }
        let line = child.stdout.split(separator: "\n").first { $0.contains("ready") }
        guard ready, let line, let p = Self.port(in: String(line)) else {
            throw HarnessError("server did not become ready: stdout=\(child.stdout) stderr=\(child.stderr)")
        }
        self.port = p
    }

    /// The port in a ready line such as `netrepl-server: ready, udp and tcp on [::]:40123`.
    static func port(in line: String) -> Int? {
        guard let colon = line.lastIndex(of: ":") else { return nil }
        let digits = line[line.index(after: colon)...].prefix { $0.isNumber }
        return Int(digits)
    }

    func stop() -> Int32? {
        child.signal(SIGTERM)
        return child.waitForExit()
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// The path of one of the lecture's programs in examples/textbook, which the README runs.
func textbookProgram(_ name: String) -> String {
    sourceTree.appendingPathComponent("examples/textbook/\(name)").path
}

/// Runs a small Python program (the textbook peers) and returns its stdout; python3 is on every machine.
func python(_ source: String, _ args: [String] = [], seconds: Double = 30) throws -> (status: Int32?, stdout: String, stderr: String) {
    let c = try Child(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", source] + args)
    let status = c.waitForExit(seconds: seconds)
    return (status, c.stdout, c.stderr)
}
