// Every way a server stops leaves its stderr free of complaints from SwiftNIO (issue 14: "ERROR:
// Cannot schedule tasks on an EventLoop that has already shut down" at every stop): netrepl --serve,
// netrepl-server on SIGTERM and SIGINT, idle, holding connections and delayed replies, with
// metrics, and when it cannot bind.

import Foundation
import Testing

import Glibc

/// The lines of `stderr` in which SwiftNIO (or anything else) complains: the server's own log
/// writes its levels in lower case, so a line with "ERROR" is never one of ours.
private func complaints(in stderr: String) -> [Substring] {
    stderr.split(separator: "\n").filter { $0.contains("ERROR") || $0.contains("Cannot schedule") }
}

/// A TCP connection and a UDP datagram to the server on argv[1]. Prints `held` once the TCP round
/// trip is done and the datagram sent; with `close` as argv[2] it then closes the connection at the
/// server's end-of-stream and prints the UDP reply; otherwise it holds the connection until its
/// standard input closes.
private let holdingPeer = """
    import socket, sys
    port = int(sys.argv[1])
    t = socket.create_connection(("127.0.0.1", port), timeout=30)
    t.sendall(b"hi\\n")
    got = b""
    while len(got) < 3: got += t.recv(10)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(30)
    u.sendto(b"delayed", ("127.0.0.1", port))
    print("held", flush=True)
    if sys.argv[2] == "close":
        assert t.recv(10) == b""
        t.close()
        print(u.recv(100).decode(), flush=True)
    else:
        sys.stdin.read()
    """

@Suite(.serialized) struct ServerStopTests {
    @Test func serveWithOneCommandStopsWithoutComplaint() throws {
        let r = try client(["--serve", "-c", "hello"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("HELLO\n"))
        #expect(complaints(in: r.stderr).isEmpty, "\(r.stderr)")
    }

    @Test(arguments: [SIGTERM, SIGINT], [1, 4])
    func idleServerStopsWithoutComplaint(signal: Int32, threads: Int) throws {
        let server = try ServerUnderTest(["--threads", String(threads)])
        server.child.signal(signal)
        #expect(server.child.waitForExit() == 0)
        #expect(server.child.stdout.contains("netrepl-server: stopped: 0 tcp connections"))
        #expect(complaints(in: server.child.stderr).isEmpty, "\(server.child.stderr)")
    }

    /// The client never closes and the datagram's reply is due after the grace period: both are
    /// cut by the shutdown, on connections spread over several event loops.
    @Test func serverCuttingAHeldConnectionAndADelayedReplyStopsWithoutComplaint() throws {
        let server = try ServerUnderTest(["--threads", "4", "--delay", "5s", "--grace-period", "500ms"])
        let peer = try Child(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", holdingPeer, String(server.port), "hold"])
        defer { peer.closeStdin() }
        #expect(peer.waitFor { $0.stdout.contains("held") || !$0.process.isRunning }, "\(peer.stderr)")
        #expect(server.stop() == 0)
        #expect(server.child.stdout.contains("1 cut at shutdown"), "\(server.child.stdout)")
        #expect(complaints(in: server.child.stderr).isEmpty, "\(server.child.stderr)")
    }

    /// The client closes at the server's end-of-stream and the delayed reply is sent within the
    /// grace period: the drain ends before the deadline, nothing cut, the reply delivered.
    @Test func serverDrainingInTimeStopsWithoutComplaint() throws {
        let server = try ServerUnderTest(["--threads", "4", "--delay", "300ms", "--grace-period", "30s"])
        let peer = try Child(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", holdingPeer, String(server.port), "close"])
        // The datagram went out before `held`; the server reads it long before the signal has
        // made its way through the service group to the drain.
        #expect(peer.waitFor { $0.stdout.contains("held") || !$0.process.isRunning }, "\(peer.stderr)")
        #expect(server.stop() == 0)
        #expect(peer.waitForExit() == 0, "\(peer.stderr)")
        #expect(peer.stdout == "held\nDELAYED\n")
        #expect(server.child.stdout.contains("0 cut at shutdown"), "\(server.child.stdout)")
        #expect(complaints(in: server.child.stderr).isEmpty, "\(server.child.stderr)")
    }

    @Test func serverWithMetricsStopsWithoutComplaint() throws {
        let server = try ServerUnderTest(["--threads", "4", "--metrics-port", "0"])
        #expect(server.child.stdout.contains("/metrics"))
        #expect(server.stop() == 0)
        #expect(complaints(in: server.child.stderr).isEmpty, "\(server.child.stderr)")
    }

    @Test func serversThatCannotBindStopWithoutComplaint() throws {
        let holder = try ServerUnderTest()
        defer { _ = holder.stop() }
        let second = try Child(Built.server, ["--port", String(holder.port), "--threads", "4"])
        #expect(second.waitForExit() == 1)
        #expect(second.stderr.contains("cannot listen on tcp"), "\(second.stderr)")
        #expect(complaints(in: second.stderr).isEmpty, "\(second.stderr)")

        let embedded = try client(["--serve", "--port", String(holder.port), "-c", "hello"])
        #expect(embedded.status != 0)
        #expect(embedded.stderr.contains("cannot start the embedded server"), "\(embedded.stderr)")
        #expect(complaints(in: embedded.stderr).isEmpty, "\(embedded.stderr)")
    }
}
