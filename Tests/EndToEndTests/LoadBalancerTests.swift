// dist/nginx-netrepl.conf in front of three servers on loopback, driven by netrepl: one server is
// killed, and the TCP session reconnects (and says so) while UDP lines keep being answered.

import Foundation
import Testing

import Glibc

private let nginxBinary = "/usr/sbin/nginx"
private let streamModule = "/usr/lib/nginx/modules/ngx_stream_module.so"

/// A port free for both UDP and TCP on 127.0.0.1 (released again; nginx binds it right after).
private func freePortForBoth() throws -> Int {
    let found = try python(
        """
        import socket
        for _ in range(50):
            t = socket.socket(); t.bind(("127.0.0.1", 0)); port = t.getsockname()[1]
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                u.bind(("127.0.0.1", port)); print(port); break
            except OSError:
                pass
            finally:
                u.close(); t.close()
        """)
    guard let port = Int(found.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw HarnessError("no port free for both udp and tcp: \(found.stderr)")
    }
    return port
}

/// nginx with its own prefix, pid and logs in a temporary folder, in the foreground, as one process
/// (`master_process off`), so that stopping the test's child stops all of nginx.
final class BalancerUnderTest {
    let folder: URL
    let port: Int
    let child: Child

    init(upstreams: [Int]) throws {
        folder = try makeTemporaryFolder("nginx")
        port = try freePortForBoth()
        var stream = try String(contentsOf: sourceTree.appendingPathComponent("dist/nginx-netrepl.conf"), encoding: .utf8)
        for (index, upstream) in upstreams.enumerated() {
            stream = stream.replacingOccurrences(of: "127.0.0.1:1200\(index + 1) ", with: "127.0.0.1:\(upstream) ")
        }
        stream = stream.replacingOccurrences(of: "listen 12000", with: "listen 127.0.0.1:\(port)")
        guard !stream.contains("1200") else { throw HarnessError("dist/nginx-netrepl.conf: a port was not replaced:\n\(stream)") }
        let log = folder.appendingPathComponent("error.log").path
        let main = """
            load_module \(streamModule);
            daemon off;
            master_process off;
            pid \(folder.appendingPathComponent("nginx.pid").path);
            error_log \(log) info;
            events { worker_connections 256; }

            """ + stream
        let conf = folder.appendingPathComponent("nginx.conf")
        try main.write(to: conf, atomically: true, encoding: .utf8)
        // -e: the log before the configuration is read, which would otherwise be /var/log/nginx.
        child = try Child(URL(fileURLWithPath: nginxBinary), ["-p", folder.path + "/", "-c", conf.path, "-e", log])
    }

    var errorLog: String { (try? String(contentsOf: folder.appendingPathComponent("error.log"), encoding: .utf8)) ?? "" }

    func stop() {
        child.signal(SIGTERM)
        if child.waitForExit(seconds: 10) == nil { child.signal(SIGKILL); _ = child.waitForExit(seconds: 10) }
        try? FileManager.default.removeItem(at: folder)
    }
}

/// A piped netrepl session fed one line at a time, each line waited for before the next.
private final class PipedSession {
    let child: Child

    init(_ arguments: [String]) throws { child = try Child(Built.client, arguments) }

    /// Every exchange ends in one line on stderr: its round-trip time (`· 0.6 ms ·`), or a
    /// message quoting the line (lost, failed).
    private func outcomes(_ c: Child) -> Int { c.stderr.components(separatedBy: " ms · ").count - 1 }

    /// Sends `line` and waits (bounded) for its outcome. True when the reply was its uppercase.
    func exchange(_ line: String) -> Bool {
        let before = outcomes(child)
        child.write(line + "\n")
        child.waitFor(seconds: 30) { c in
            outcomes(c) > before || c.stderr.contains("\"\(line)\"") || !c.process.isRunning
        }
        return child.stdout.split(separator: "\n").contains { $0 == line.uppercased() }
    }
}

@Suite(.serialized) struct LoadBalancerTests {
    @Test func clientsCarryOnWhenAServerBehindNginxDies() throws {
        guard FileManager.default.isExecutableFile(atPath: nginxBinary), FileManager.default.fileExists(atPath: streamModule) else {
            #expect(!toolsRequired, "nginx with the stream module is not installed (apt-get install nginx libnginx-mod-stream)")
            return
        }
        // Debug logging names each accepted connection, which tells which server holds the TCP session.
        let servers = try (0..<3).map { _ in try ServerUnderTest(["--host", "127.0.0.1", "--log-level", "debug"]) }
        defer { servers.forEach { _ = $0.stop() } }
        let balancer = try BalancerUnderTest(upstreams: servers.map(\.port))
        defer { balancer.stop() }
        let target = ["127.0.0.1", String(balancer.port)]

        // Until nginx listens, a UDP probe is refused at once; UDP, so that no server logs a connection.
        let up = Child.poll(seconds: 30) {
            let probe = try? Child(Built.client, ["--udp", "--timeout", "1s", "-c", "probe"] + target)
            return probe?.waitForExit() == 0
        }
        try #require(up, "nginx did not come up: \(balancer.child.stderr)\(balancer.errorLog)")

        let tcp = try PipedSession(["--tcp"] + target)
        let udp = try PipedSession(["--udp", "--timeout", "2s"] + target)
        defer { tcp.child.closeStdin(); udp.child.closeStdin() }
        for n in 1...6 {
            #expect(tcp.exchange("tcp before \(n)"))
            #expect(udp.exchange("udp before \(n)"))
        }
        // UDP is balanced per datagram: the six went to more than one server.
        let holders = servers.filter { $0.child.stderr.contains("connection accepted") }
        let holder = try #require(holders.count == 1 ? holders.first : nil, "want one server holding the TCP session, not \(holders.count)")

        holder.child.signal(SIGKILL)
        _ = holder.child.waitForExit()

        // The TCP session's next line finds the connection closed, reconnects through nginx to a
        // live server and says so; every line after it is answered.
        var tcpAnswered = 0, udpAnswered = 0
        let after = 8
        for n in 1...after {
            if tcp.exchange("tcp after \(n)") { tcpAnswered += 1 }
            if udp.exchange("udp after \(n)") { udpAnswered += 1 }
        }
        #expect(tcp.child.stderr.contains("reconnected to 127.0.0.1:\(balancer.port)"), "\(tcp.child.stderr)")
        // At most the line in flight when the connection died is lost; nginx skips the dead server.
        #expect(tcpAnswered >= after - 1, "\(tcp.child.stderr)")
        // At most one datagram goes to the dead server before nginx marks it failed (max_fails=1);
        // nginx answers that one with an empty datagram.
        #expect(udpAnswered >= after - 1, "\(udp.child.stderr)")
        // The last lines, well after the kill, are answered on both.
        #expect(tcp.child.stdout.hasSuffix("TCP AFTER \(after)\n"))
        #expect(udp.child.stdout.hasSuffix("UDP AFTER \(after)\n"))
        // The survivors took the traffic.
        #expect(servers.filter { $0 !== holder }.allSatisfy { $0.child.process.isRunning })
    }
}

extension Child {
    /// Retries `attempt` (bounded by `seconds`, a guard against hangs) until it succeeds.
    static func poll(seconds: Double, _ attempt: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if attempt() { return true }
            usleep(100_000)
        }
        return false
    }
}
