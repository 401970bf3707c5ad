// netrepl against real servers from Debian's packages (redis-server, memcached, nginx, aiosmtpd),
// each started by the test on a free loopback port and stopped after: whole replies under the
// presets, shown as a person expects them. A chunked response on a connection left open comes
// from a small Python peer.

import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A free TCP port on 127.0.0.1 (released again; the server binds it right after).
private func freeTCPPort() throws -> Int {
    let found = try python("import socket\ns = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
    guard let port = Int(found.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw HarnessError("no free port: \(found.stderr)") }
    return port
}

/// A server started in the foreground as the test's child, on `port`, stopped by `stop()`.
private final class RealServer {
    let child: Child
    let port: Int
    let folder: URL?

    init(_ binary: String, _ arguments: [String], port: Int, folder: URL? = nil) throws {
        self.port = port
        self.folder = folder
        child = try Child(URL(fileURLWithPath: binary), arguments)
        let up = Child.poll(seconds: 30) {
            let probe = try? python("import socket,sys\ntry:\n socket.create_connection(('127.0.0.1', \(port)), 1).close()\nexcept OSError:\n sys.exit(1)")
            return probe?.status == 0
        }
        if !up {
            stop()
            throw HarnessError("\(binary) did not listen on \(port): \(child.stderr)")
        }
    }

    func stop() {
        // SIGKILL: these servers keep no state worth a graceful end, and memcached's SIGTERM
        // shutdown takes about ten seconds.
        child.signal(SIGKILL)
        _ = child.waitForExit(seconds: 10)
        if let folder { try? FileManager.default.removeItem(at: folder) }
    }
}

/// A Python peer that listens on 127.0.0.1:`port` (as `s`) and runs `serve`; returned once it listens.
private func pythonPeer(port: Int, _ serve: String) throws -> Child {
    let peer = try Child(
        URL(fileURLWithPath: "/usr/bin/env"),
        [
            "python3", "-c",
            """
            import socket, time
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(('127.0.0.1', \(port))); s.listen(4)

            """ + serve,
        ])
    _ = Child.poll(seconds: 30) {
        (try? python("import socket\nsocket.create_connection(('127.0.0.1', \(port)), 1).close()"))?.status == 0
    }
    return peer
}

/// Runs netrepl over TCP to `port` with `arguments`, the lines on its standard input.
private func netrepl(_ arguments: [String], port: Int, lines: [String]) throws -> (status: Int32?, out: String, err: String) {
    let child = try Child(Built.client, ["--tcp", "--timeout", "5s"] + arguments + ["127.0.0.1", String(port)])
    child.write(lines.map { $0 + "\n" }.joined())
    child.closeStdin()
    let status = child.waitForExit(seconds: 60)
    return (status, child.stdout, child.stderr)
}

private func installed(_ path: String, _ package: String) -> Bool {
    if FileManager.default.isExecutableFile(atPath: path) { return true }
    #expect(!toolsRequired, "\(package) is not installed (apt-get install \(package))")
    return false
}

@Suite(.serialized) struct RealServerTests {
    @Test func redisSetGetInfoAndAnArray() throws {
        guard installed("/usr/bin/redis-server", "redis-server") else { return }
        let port = try freeTCPPort()
        let redis = try RealServer(
            "/usr/bin/redis-server",
            [
                "--port", String(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--daemonize", "no",
            ], port: port)
        defer { redis.stop() }
        let run = try netrepl(
            ["--frame", "resp"], port: port,
            lines: [
                "SET greeting hello", "GET greeting", "GET missing", "RPUSH list a b c", "LRANGE list 0 -1",
                "INFO server", "INCR counter",
            ])
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out.hasPrefix("OK\n\"hello\"\n(nil)\n(integer) 3\n1) \"a\"\n2) \"b\"\n3) \"c\"\n# Server\n"), "\(run.out)")
        #expect(run.out.contains("\nredis_version:"))
        #expect(run.out.hasSuffix("(integer) 1\n"))
        // Whole replies: nothing is left over as unexpected data, and no reply shows a stray CR.
        #expect(!run.err.contains("unexpected"), "\(run.err)")
        #expect(!run.out.contains("\r"))

        // Per line, the preset's CR LF ends the command before the half-close: INFO is answered.
        let perLine = try netrepl(["--per-line", "--frame", "resp"], port: port, lines: ["INFO server", "GET greeting"])
        #expect(perLine.status == 0, "\(perLine.err)")
        #expect(perLine.out.hasPrefix("# Server\nredis_version:") && perLine.out.hasSuffix("\n\"hello\"\n"), "\(perLine.out)")
    }

    @Test func aWellKnownPortSuggestsItsPresetWithoutChoosingIt() throws {
        // No line is sent, so nothing need listen on 6379.
        let suggested = try netrepl(["-c", ":frame"], port: 6379, lines: [])
        #expect(suggested.status == 0, "\(suggested.err)")
        #expect(suggested.err.split(separator: "\n").filter { $0.contains("--frame resp") }.count == 1, "\(suggested.err)")
        #expect(suggested.err.contains("frame: line"), "\(suggested.err)")
        let chosen = try netrepl(["--frame", "resp", "-c", ":frame"], port: 6379, lines: [])
        #expect(!chosen.err.contains("--frame resp"), "\(chosen.err)")
        #expect(chosen.err.contains("frame: resp"), "\(chosen.err)")
    }

    @Test func memcachedSetWithItsDataBlockGetAndStats() throws {
        guard installed("/usr/bin/memcached", "memcached") else { return }
        let port = try freeTCPPort()
        let memcached = try RealServer("/usr/bin/memcached", ["-l", "127.0.0.1", "-p", String(port), "-U", "0", "-u", "root"], port: port)
        defer { memcached.stop() }
        let run = try netrepl(
            ["--frame", "memcached", "--json"], port: port,
            lines: ["set k 0 0 5", "hello", "get k", "get k missing", "stats", "nonsense"])
        #expect(run.status == 0, "\(run.err)")
        let replies = run.out.split(separator: "\n").map(String.init)
        // The storage command and its data block are one exchange.
        #expect(replies.count == 5, "\(run.out)")
        guard replies.count == 5 else { return }
        #expect(replies[0].contains("\"line\":\"set k 0 0 5\\nhello\""), "\(replies[0])")
        #expect(replies[0].contains("\"reply\":\"STORED\""))
        #expect(replies[1].contains("\"reply\":\"VALUE k 0 5\\r\\nhello\\r\\nEND\""), "\(replies[1])")
        #expect(replies[2].contains("\"reply\":\"VALUE k 0 5\\r\\nhello\\r\\nEND\""), "\(replies[2])")
        #expect(replies[3].contains("STAT pid ") && replies[3].contains("\\r\\nEND\""), "\(replies[3])")
        #expect(replies[4].contains("\"reply\":\"ERROR\""), "\(replies[4])")
        #expect(replies.allSatisfy { $0.contains("\"outcome\":\"ok\"") && $0.contains("\"first_byte_us\":") })
    }

    @Test func nginxGetHeadAndKeepAlive() throws {
        guard installed("/usr/sbin/nginx", "nginx") else { return }
        let folder = try makeTemporaryFolder("nginx-http")
        let port = try freeTCPPort()
        let body = "hello from nginx\n"
        try body.write(to: folder.appendingPathComponent("hello.txt"), atomically: true, encoding: .utf8)
        let log = folder.appendingPathComponent("error.log").path
        let conf = folder.appendingPathComponent("nginx.conf")
        try """
        daemon off;
        master_process off;
        pid \(folder.path)/nginx.pid;
        error_log \(log) info;
        events { worker_connections 64; }
        http {
            access_log off;
            client_body_temp_path \(folder.path)/body;
            proxy_temp_path \(folder.path)/proxy;
            fastcgi_temp_path \(folder.path)/fastcgi;
            uwsgi_temp_path \(folder.path)/uwsgi;
            scgi_temp_path \(folder.path)/scgi;
            server {
                listen 127.0.0.1:\(port);
                root \(folder.path);
            }
        }
        """.write(to: conf, atomically: true, encoding: .utf8)
        let nginx = try RealServer("/usr/sbin/nginx", ["-p", folder.path + "/", "-c", conf.path, "-e", log], port: port, folder: folder)
        defer { nginx.stop() }
        let run = try netrepl(
            ["--frame", "http", "--json"], port: port,
            lines: ["GET /hello.txt", "HEAD /hello.txt", "GET /missing", "GET /hello.txt"])
        #expect(run.status == 0, "\(run.err)")
        let replies = run.out.split(separator: "\n").map(String.init)
        #expect(replies.count == 4, "\(run.out)\(run.err)")
        guard replies.count == 4 else { return }
        #expect(replies[0].contains("\"reply\":\"HTTP/1.1 200 OK\\r\\n"), "\(replies[0])")
        #expect(replies[0].contains("\\r\\n\\r\\nhello from nginx\\n\""), "\(replies[0])")
        #expect(replies[1].contains("HTTP/1.1 200 OK") && replies[1].contains("Content-Length: 17") && !replies[1].contains("hello from"), "\(replies[1])")
        #expect(replies[2].contains("HTTP/1.1 404 Not Found"), "\(replies[2])")
        #expect(replies[3].contains("hello from nginx"))
        // Keep-alive: one connection carried all four requests.
        #expect(replies[0].contains("\"connect_us\":"))
        #expect(replies.dropFirst().allSatisfy { !$0.contains("\"connect_us\":") }, "\(run.out)")
    }

    @Test func aChunkedResponseOnAConnectionLeftOpen() throws {
        let port = try freeTCPPort()
        // Answers every request with a chunked body and keeps the connection open.
        let peer = try pythonPeer(
            port: port,
            """
            while True:
                c, _ = s.accept(); buf = b''
                while True:
                    data = c.recv(4096)
                    if not data: break
                    buf += data
                    while b'\\r\\n\\r\\n' in buf:
                        _, buf = buf.split(b'\\r\\n\\r\\n', 1)
                        c.sendall(b'HTTP/1.1 200 OK\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n5\\r\\nhello\\r\\n7;x=y\\r\\n, world\\r\\n0\\r\\n\\r\\n')
            """)
        defer { peer.signal(SIGKILL); _ = peer.waitForExit() }
        let run = try netrepl(["--frame", "http"], port: port, lines: ["GET /a", "GET /b"])
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out.components(separatedBy: "5\r\nhello\r\n7;x=y\r\n, world\r\n0\r\n\r\n").count == 3, "\(run.out)")
        #expect(run.err.components(separatedBy: "connected to").count == 2, "\(run.err)")
    }

    @Test func smtpGreetingMultiLineEhloAndQuit() throws {
        let python3 = "/usr/bin/python3"
        let probe = try Child(URL(fileURLWithPath: python3), ["-c", "import aiosmtpd"])
        guard probe.waitForExit() == 0 else {
            #expect(!toolsRequired, "python3-aiosmtpd is not installed (apt-get install python3-aiosmtpd)")
            return
        }
        let port = try freeTCPPort()
        let smtp = try RealServer(python3, ["-m", "aiosmtpd", "-n", "-l", "127.0.0.1:\(port)"], port: port)
        defer { smtp.stop() }
        let run = try netrepl(["--frame", "smtp"], port: port, lines: ["EHLO netrepl.test", "QUIT"])
        #expect(run.status == 0, "\(run.err)")
        // In a Swift string CR LF is one character: split the bytes.
        let lines = Array(run.out.utf8).split(separator: 10).map { String(decoding: $0.last == 13 ? $0.dropLast() : $0, as: UTF8.self) }
        #expect(lines.first?.hasPrefix("220 ") == true, "\(run.out)")
        #expect(run.err.contains("the server said on connect"), "\(run.err)")
        let ehlo = lines.drop { !$0.hasPrefix("250-") }
        #expect(ehlo.count >= 3 && ehlo.contains { $0.hasPrefix("250 ") }, "\(run.out)")
        #expect(lines.contains { $0.hasPrefix("221") }, "\(run.out)")
        #expect(!run.err.contains("unexpected"), "\(run.err)")
    }

    @Test func memoryStaysBoundedWhateverAReplyDeclares() throws {
        let port = try freeTCPPort()
        // Declares a gigabyte, sends 32 MiB of it, then holds the connection open.
        let peer = try pythonPeer(
            port: port,
            """
            while True:
                c, _ = s.accept()
                if c.recv(4096): break
                c.close()  # the readiness probe
            c.sendall(b'$1073741824\\r\\n')
            try:
                for _ in range(512): c.sendall(b'A' * 65536)
            except OSError:
                pass
            time.sleep(30)
            """)
        defer { peer.signal(SIGKILL); _ = peer.waitForExit() }
        let client = try Child(Built.client, ["--tcp", "--frame", "resp", "--timeout", "10s", "--json", "-c", "GET big", "127.0.0.1", String(port)])
        var peakKiB = 0
        while client.process.isRunning {
            if let status = try? String(contentsOfFile: "/proc/\(client.process.processIdentifier)/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
                let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
            {
                peakKiB = max(peakKiB, kib)
            }
            usleep(20_000)
        }
        #expect(client.waitForExit() == 1, "\(client.stderr)")
        #expect(client.stdout.contains("\"outcome\":\"truncated\""), "\(client.stdout.prefix(300))")
        #expect(peakKiB > 0 && peakKiB < 64 << 10, "peak RSS \(peakKiB) KiB")
    }
}
