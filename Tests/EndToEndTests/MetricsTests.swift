// --metrics-port: real traffic to a running server, then real HTTP requests for its metrics.

import Foundation
import Testing

import Glibc

/// Sends UDP and TCP traffic, fetches /metrics while one connection is open and after it closed,
/// and prints `STATUS path code` lines and the two scrapes between markers.
private let trafficAndScrapes = """
    import socket, sys, time, urllib.request, urllib.error
    port, mport = int(sys.argv[1]), int(sys.argv[2])
    base = "http://127.0.0.1:%d" % mport

    def scrape(until):
        # The counters are updated as each read completes: wait (bounded) until they show.
        deadline = time.time() + 20
        while True:
            text = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
            if until(text) or time.time() > deadline:
                return text
            time.sleep(0.05)

    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(10)
    for payload in (b"ab", b"cd"):
        u.sendto(payload, ("127.0.0.1", port)); assert u.recv(100) == payload.upper()
    held = socket.create_connection(("127.0.0.1", port), timeout=10)
    held.sendall(b"hello")
    got = b""
    while len(got) < 5: got += held.recv(100)
    assert got == b"HELLO"
    # --max-connections 1: a second connection is accepted and closed at once.
    extra = socket.create_connection(("127.0.0.1", port), timeout=10)
    assert extra.recv(100) == b""
    extra.close()
    print("---open"); print(scrape(lambda t: "netrepl_connections_refused_total{protocol=\\"tcp\\"} 1" in t))
    held.close()
    # TCP bytes are added to the totals per connection, when it closes.
    print("---closed"); print(scrape(lambda t: "netrepl_connections_open{protocol=\\"tcp\\"} 0" in t and "sent_bytes_total 9" in t))
    for path, method in (("/", "GET"), ("/metrics", "POST")):
        try:
            urllib.request.urlopen(urllib.request.Request(base + path, method=method, data=b"" if method == "POST" else None), timeout=10)
            print("STATUS", method, path, 200)
        except urllib.error.HTTPError as e:
            print("STATUS", method, path, e.code)
    """

@Suite struct MetricsTests {
    @Test func countersOverHTTP() throws {
        let server = try ServerUnderTest(["--host", "127.0.0.1", "--metrics-port", "0", "--max-connections", "1"])
        defer { _ = server.stop() }
        let line = try #require(server.child.stdout.split(separator: "\n").first { $0.contains("metrics on http://") })
        #expect(line.hasSuffix("/metrics"))
        let metricsPort = try #require(ServerUnderTest.port(in: String(line.dropLast("/metrics".count))))

        let run = try python(trafficAndScrapes, [String(server.port), String(metricsPort)], seconds: 60)
        #expect(run.status == 0, "\(run.stderr)")
        let parts = run.stdout.components(separatedBy: "---closed")
        let open = parts.first ?? "", closed = parts.count > 1 ? parts[1] : ""

        for expected in [
            "netrepl_connections_open{protocol=\"tcp\"} 1.0",
            "netrepl_connections_total{protocol=\"tcp\"} 2",
            "netrepl_connections_refused_total{protocol=\"tcp\"} 1",
            "netrepl_datagrams_total{protocol=\"udp\"} 2",
            "netrepl_replies_dropped_total{protocol=\"udp\"} 0",
            "# TYPE netrepl_connections_total counter",
            "# TYPE netrepl_connections_open gauge",
            "# HELP netrepl_datagrams_total UDP datagrams received.",
        ] {
            #expect(open.contains(expected + "\n"), "missing '\(expected)' in:\n\(open)")
        }
        #expect(open.contains("netrepl_build_info{version=\""))
        for expected in [
            "netrepl_connections_open{protocol=\"tcp\"} 0.0",
            // 2 + 2 bytes of UDP and 5 of TCP, each way.
            "netrepl_received_bytes_total 9",
            "netrepl_sent_bytes_total 9",
        ] {
            #expect(closed.contains(expected + "\n"), "missing '\(expected)' in:\n\(closed)")
        }
        #expect(run.stdout.contains("STATUS GET / 404"))
        #expect(run.stdout.contains("STATUS POST /metrics 405"))
    }

    @Test func impairmentDropsAreCounted() throws {
        let server = try ServerUnderTest(["--host", "127.0.0.1", "--metrics-port", "0", "--loss", "100%"])
        defer { _ = server.stop() }
        let line = try #require(server.child.stdout.split(separator: "\n").first { $0.contains("metrics on http://") })
        let metricsPort = try #require(ServerUnderTest.port(in: String(line.dropLast("/metrics".count))))
        let run = try python(
            """
            import socket, sys, time, urllib.request
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for _ in range(3): u.sendto(b"x", ("127.0.0.1", int(sys.argv[1])))
            deadline = time.time() + 20
            while True:
                text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[2], timeout=10).read().decode()
                if 'impairment_drops_total{protocol="udp"} 3' in text or time.time() > deadline: break
                time.sleep(0.05)
            print(text)
            """, [String(server.port), String(metricsPort)], seconds: 60)
        #expect(run.stdout.contains("netrepl_impairment_drops_total{protocol=\"udp\"} 3\n"), "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("netrepl_replies_dropped_total{protocol=\"udp\"} 0\n"))
        #expect(run.stdout.contains("netrepl_sent_bytes_total 0\n"))
    }

    @Test func aTakenMetricsPortIsAOneLineError() throws {
        let holder = try ServerUnderTest(["--host", "127.0.0.1"])
        defer { _ = holder.stop() }
        let server = try Child(Built.server, ["--host", "127.0.0.1", "--port", "0", "--metrics-port", String(holder.port)])
        #expect(server.waitForExit() == 1)
        let errors = server.stderr.split(separator: "\n").filter { $0.hasPrefix("netrepl-server:") }
        #expect(errors.count == 1)
        #expect(errors.first?.contains("cannot listen on http (metrics) 127.0.0.1:\(holder.port)") == true, "\(server.stderr)")
        #expect(errors.first?.hasSuffix("choose another with --metrics-port)") == true, "\(server.stderr)")
    }
}
