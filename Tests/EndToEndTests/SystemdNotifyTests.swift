// Type=notify without systemd: the server started with a NOTIFY_SOCKET of the test's own says
// READY=1 once it serves and STOPPING=1 when SIGTERM starts the graceful shutdown.

import Foundation
import NetREPLServer
import Testing

import Glibc

/// A unix datagram socket standing in for systemd's notify socket.
final class NotifyListener {
    let name: String
    private let fd: Int32
    private let path: String?

    /// A socket at a path in the temporary folder, or (abstract) a name starting with `@`.
    init(abstract: Bool) throws {
        let unique = "netrepl-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        path = abstract ? nil : FileManager.default.temporaryDirectory.appendingPathComponent(unique).path
        name = path ?? "@" + unique
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket(AF_UNIX): \(String(cString: strerror(errno)))") }
        var (address, length) = try SystemdNotifier.address(name)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else {
            close(fd)
            throw HarnessError("bind \(name): \(String(cString: strerror(errno)))")
        }
    }

    /// The next message, or nil when none comes within `seconds` (a bound against hangs).
    func receive(seconds: Double = 30) -> String? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(seconds * 1000)) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n >= 0 ? String(decoding: buffer.prefix(n), as: UTF8.self) : nil
    }

    deinit {
        close(fd)
        if let path { unlink(path) }
    }
}

@Suite struct SystemdNotifyTests {
    @Test(arguments: [false, true])
    func readyThenStoppingOnSIGTERM(abstract: Bool) throws {
        let listener = try NotifyListener(abstract: abstract)
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = listener.name
        let server = try Child(Built.server, ["--host", "127.0.0.1", "--port", "0"], environment: environment)

        let ready = try #require(listener.receive(), "no READY=1 on \(listener.name); stderr: \(server.stderr)")
        let lines = ready.split(separator: "\n")
        #expect(lines.contains("READY=1"))
        #expect(lines.contains("MAINPID=\(server.process.processIdentifier)"))
        // Readiness means serving: the ready line is out (written before READY=1; the pipe may
        // bring it to us a moment later) and the port answers.
        #expect(server.waitFor { $0.stdout.contains("ready, udp and tcp on 127.0.0.1:") })
        let port = try #require(ServerUnderTest.port(in: server.stdout))
        let reply = try python(
            """
            import socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(10)
            s.sendto(b"ready?", ("127.0.0.1", int(sys.argv[1]))); print(s.recv(100).decode())
            """, [String(port)])
        #expect(reply.stdout == "READY?\n")

        server.signal(SIGTERM)
        let stopping = try #require(listener.receive(), "no STOPPING=1 after SIGTERM; stderr: \(server.stderr)")
        #expect(stopping.split(separator: "\n").contains("STOPPING=1"))
        #expect(server.waitForExit() == 0)
        #expect(server.stdout.contains("netrepl-server: stopped:"))
    }

    @Test func anUnreachableNotifySocketIsAWarningNotAFailure() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = "/nonexistent/netrepl-notify"
        let server = try Child(Built.server, ["--host", "127.0.0.1", "--port", "0"], environment: environment)
        #expect(server.waitFor { $0.stderr.contains("cannot notify systemd on /nonexistent/netrepl-notify") })
        #expect(server.stdout.contains("ready, udp and tcp on"))
        server.signal(SIGTERM)
        #expect(server.waitForExit() == 0)
    }
}
