// netrepl-server end to end: nothing is lost without being counted and said — shutdown drains
// replies in flight, refused connections see end-of-stream, UDP bursts are answered whole, the
// per-source rate limit holds, and the default event-loop count follows the CPUs allowed.

import Foundation
import Testing

import Glibc

private let prelude = """
    import socket, sys, threading, time
    PORT = int(sys.argv[1])
    def tcp():
        return socket.create_connection(("127.0.0.1", PORT), timeout=20)
    def udp():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(20)
        return s

    """

/// Runs `source` with the server's port as argv[1] and returns its stdout.
private func peer(_ server: ServerUnderTest, _ source: String, seconds: Double = 60) throws -> String {
    let result = try python(prelude + source, [String(server.port)], seconds: seconds)
    #expect(result.status == 0, "python peer failed: \(result.stderr)")
    return result.stdout
}

/// The number before `label` in the stop summary: `3 dropped by impairment` → 3.
private func count(_ label: String, in summary: String) -> Int? {
    guard let range = summary.range(of: " " + label) else { return nil }
    let digits = summary[..<range.lowerBound].reversed().prefix { $0.isNumber }
    return Int(String(digits.reversed()))
}

@Suite(.serialized) struct ServerDeliveryTests {
    /// Room for 40 datagrams of 65,507 bytes in one socket's receive queue (kernel cap).
    static let roomForLargeBursts: Bool = {
        let text = (try? String(contentsOfFile: "/proc/sys/net/core/rmem_max", encoding: .utf8)) ?? "0"
        return (Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 4 << 20
    }()

    @Test func shutdownDeliversEveryReplyByteThenEndOfStream() throws {
        let server = try ServerUnderTest()
        // A streaming client: 1 MiB out, reading slowly, so that much of the reply is still in
        // flight (in the socket buffers) when the server is told to stop; it keeps sending a little.
        let client = try Child(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", "-c",
                prelude + """
                    data = (b"the quick brown fox jumps over the lazy dog\\n" * 30000)[:1 << 20]
                    s = tcp()
                    def send():
                        try:
                            s.sendall(data)
                        except OSError:
                            pass
                    sender = threading.Thread(target=send, daemon=True)
                    sender.start()
                    got = s.recv(1000)
                    print("READY", flush=True)
                    sys.stdin.readline()                       # the server has been told to stop
                    sender.join(20)                            # it reads (and discards) the rest now
                    for _ in range(5):                         # as a streaming client would
                        s.sendall(b"a few more bytes\\n"); time.sleep(0.02)
                    error = None
                    try:
                        while True:
                            chunk = s.recv(65536)
                            if not chunk: break
                            got += chunk
                    except OSError as e:
                        error = type(e).__name__
                    s.close()
                    print(len(got), got == data.upper()[:len(got)], error, flush=True)
                    """, String(server.port),
            ])
        #expect(client.waitFor { $0.stdout.contains("READY") })
        server.child.signal(SIGTERM)
        usleep(100_000)
        client.write("go\n")
        #expect(client.waitForExit() == 0, "client: \(client.stderr)")
        #expect(server.child.waitForExit() == 0)
        let fields = client.stdout.split(separator: "\n").last?.split(separator: " ") ?? []
        #expect(fields.count == 3)
        let received = fields.first.flatMap { Int($0) } ?? -1
        #expect(fields.dropFirst().first == "True", "reply bytes are not the uppercase of the request")
        #expect(fields.last == "None", "the client saw an error instead of end-of-stream")
        let summary = server.child.stdout
        // Every byte the server produced reached the client, and none was cut.
        #expect(count("bytes out", in: summary) == received, "\(summary)")
        #expect(received > 1000)
        #expect(count("cut at shutdown", in: summary) == 0, "\(summary)")
    }

    @Test func theGracePeriodCutsAClientThatNeverReadsAndSaysSo() throws {
        let server = try ServerUnderTest(["--grace-period", "0.5"])
        let client = try Child(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", "-c",
                prelude + """
                    s = tcp(); s.setblocking(False)
                    sent = 0
                    deadline = time.time() + 20
                    stalled = 0
                    while time.time() < deadline and stalled < 20:   # until flow control stops us
                        try:
                            sent += s.send(b"x" * 65536); stalled = 0
                        except BlockingIOError:
                            stalled += 1; time.sleep(0.05)
                    print("STALLED", flush=True)
                    sys.stdin.readline()
                    """, String(server.port),
            ])
        #expect(client.waitFor { $0.stdout.contains("STALLED") })
        #expect(server.stop() == 0)
        client.write("done\n")
        _ = client.waitForExit()
        #expect(count("cut at shutdown", in: server.child.stdout) == 1, "\(server.child.stdout)")
        #expect(server.child.stderr.contains("grace period over"))
    }

    @Test func aConnectionOverTheLimitGetsEndOfStreamNotReset() throws {
        let server = try ServerUnderTest(["--max-connections", "1"])
        // The textbook client sends at once, then reads; ten times, each must see end-of-stream.
        let out = try peer(
            server,
            """
            a = tcp(); a.sendall(b"a\\n"); print(a.recv(10))
            results = []
            for i in range(10):
                c = tcp()
                try:
                    c.sendall(b"over the limit\\n")
                    time.sleep(0.05)
                    c.sendall(b"and more\\n")
                    results.append(repr(c.recv(10)))
                except ConnectionError as e:
                    results.append(type(e).__name__)
                c.close()
            print(sorted(set(results)))
            a.sendall(b"b\\n"); print(a.recv(10))
            """)
        #expect(out == "b'A\\n'\n[\"b''\"]\nb'B\\n'\n")
        #expect(server.stop() == 0)
        #expect(count("connections refused", in: server.child.stdout) == 10, "\(server.child.stdout)")
        #expect(server.child.stderr.contains("connection limit reached"))
    }

    @Test(.enabled(if: roomForLargeBursts, "net.core.rmem_max is below 4 MiB"))
    func aBurstOfLargestDatagramsIsAnsweredWhole() throws {
        let server = try ServerUnderTest()
        let out = try peer(
            server,
            """
            u = udp(); u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            u.connect(("127.0.0.1", PORT))
            msgs = [bytes([97 + i % 26]) * 65507 for i in range(40)]
            for m in msgs: u.send(m)
            u.settimeout(3)
            got = []
            try:
                while len(got) < 40: got.append(u.recv(70000))
            except socket.timeout:
                pass
            print(len(got), sorted(got) == sorted(m.upper() for m in msgs))
            """)
        #expect(out == "40 True\n")
        #expect(server.stop() == 0)
        #expect(count("udp replies dropped", in: server.child.stdout) == 0, "\(server.child.stdout)")
    }

    @Test func impairmentIsStatedAtStartAndItsDropsAreCounted() throws {
        let server = try ServerUnderTest(["--loss", "100%", "--seed", "1"])
        _ = try peer(
            server,
            """
            u = udp()
            for i in range(3): u.sendto(b"lost", ("127.0.0.1", PORT))
            t = tcp(); t.sendall(b"x\\n"); t.recv(10)   # the datagrams were read before this reply
            time.sleep(0.2)
            """)
        #expect(server.stop() == 0)
        #expect(server.child.stderr.contains("udp replies are impaired: loss 100%, seed 1"))
        #expect(count("dropped by impairment", in: server.child.stdout) == 3, "\(server.child.stdout)")
        #expect(count("udp replies dropped", in: server.child.stdout) == 0)
        // The summary is printed once, on stdout: not repeated in the log.
        #expect(server.child.stdout.components(separatedBy: "stopped:").count == 2, "\(server.child.stdout)")
        #expect(!server.child.stderr.contains("dropped by impairment"), "\(server.child.stderr)")
    }

    @Test func aReplyCutToTheLargestDatagramIsCountedAndLogged() throws {
        let server = try ServerUnderTest()
        let out = try peer(
            server,
            """
            u = udp(); u.sendto("ΐ".encode() * 30000, ("127.0.0.1", PORT))   # triples when uppercased
            print(len(u.recv(200000)))
            """)
        // 10,917 whole "Ϊ́" (6 bytes each), then the two scalars of the next that fit whole: the cut
        // falls between UTF-8 sequences, never inside one.
        #expect(out == "65506\n")
        #expect(server.stop() == 0)
        #expect(count("cut to fit", in: server.child.stdout) == 1, "\(server.child.stdout)")
        #expect(server.child.stderr.contains("udp reply cut to the largest datagram"))
    }

    @Test func thePerSourceRateLimitAnswersABurstOnlyUpToTheLimit() throws {
        let server = try ServerUnderTest(["--udp-rate-limit", "3"])
        let out = try peer(
            server,
            """
            import math
            def burst(source, n):
                u = udp(); u.bind((source, 0)); u.settimeout(0.5)
                start = time.monotonic()
                for i in range(n): u.sendto(b"ping %d" % i, ("127.0.0.1", PORT))
                got, last = 0, start
                try:
                    while True: u.recv(100); got += 1; last = time.monotonic()
                except socket.timeout:
                    pass
                # The bucket holds 3 and refills at 3 a second; every answered datagram was
                # answered between our first send and our receiving its reply.
                return got, 3 + math.ceil(3 * (last - start))
            got, bound = burst("127.0.0.1", 30)
            print(got >= 3, got <= bound, got < 30)
            other, _ = burst("127.0.0.2", 2)   # another source has its own bucket
            print(other)
            """)
        #expect(out == "True True True\n2\n")
        #expect(server.stop() == 0)
        let limited = count("rate-limited", in: server.child.stdout) ?? 0
        #expect(limited > 0 && limited <= 27, "\(server.child.stdout)")
        #expect(server.child.stderr.contains("at most 3 a second per source address"))
    }

    static let haveTaskset = FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset")

    @Test(.enabled(if: haveTaskset, "taskset (util-linux) is not installed"))
    func theDefaultEventLoopCountFollowsTheAffinityMask() throws {
        let child = try Child(URL(fileURLWithPath: "/usr/bin/taskset"), ["-c", "0", Built.server.path, "--port", "0", "--host", "127.0.0.1"])
        // The ready line, not the log's "listening": only once it is out does SIGTERM stop the
        // server gracefully (before, the signal is not trapped yet and kills it).
        #expect(child.waitFor { $0.stdout.contains("ready") || !$0.process.isRunning })
        #expect(child.stderr.contains("threads=1"), "\(child.stderr)")
        child.signal(SIGTERM)
        #expect(child.waitForExit() == 0)
    }
}
