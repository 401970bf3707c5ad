// The built netrepl-server under hostile and unlucky clients, measured through /proc (resident
// memory, open descriptors), never by durations: one server lives through every stage in turn,
// and after each it must still answer correctly and hold no more descriptors than it started with.

import Foundation
import Testing

import Glibc

/// The server's process as the kernel sees it.
private struct ProcessProbe {
    let pid: pid_t

    var openDescriptors: Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
    }

    /// Resident memory now, in KiB.
    var residentKiB: Int? { status("VmRSS") }
    /// The most resident memory since the last `resetPeak()`, in KiB.
    var peakResidentKiB: Int? { status("VmHWM") }

    /// Starts a new peak (proc(5), clear_refs "5"); false when the kernel does not allow it.
    @discardableResult
    func resetPeak() -> Bool {
        (try? "5".write(toFile: "/proc/\(pid)/clear_refs", atomically: false, encoding: .utf8)) != nil
    }

    private func status(_ key: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            return Int(line.dropFirst(key.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
        }
        return nil
    }
}

/// Whether this test bundle (and so the server built with it) runs under a sanitizer, whose
/// shadow memory and quarantine make resident-memory bounds meaningless.
private let underSanitizer: Bool = {
    let me = dlopen(nil, RTLD_NOW)
    defer { if let me { dlclose(me) } }
    let names: [String] = ["__tsan_init", "__asan_init"]
    return names.contains { dlsym(me, $0) != nil }
}()

/// The soft and hard limits on open files of this process; peers and the server inherit them.
private let openFileLimit: (soft: Int, hard: Int) = {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (0, 0) }
    return (Int(limit.rlim_cur), Int(limit.rlim_max))
}()

/// Helpers for the Python peers: the expected reply is Python's own reading of the protocol
/// (invalid bytes kept by surrogateescape, valid text through str.upper()).
private let prelude = """
    import os, resource, socket, struct, sys, threading, time
    PORT = int(sys.argv[1])
    V4, V6 = ("127.0.0.1", PORT), ("::1", PORT)
    def upper(b):
        return b.decode("utf-8", "surrogateescape").upper().encode("utf-8", "surrogateescape")
    def cut(r, limit):
        # docs/PROTOCOL.md 7.3: the longest prefix within `limit` not ending inside a well-formed sequence.
        if len(r) <= limit: return r
        for c in range(limit, max(0, limit - 3) - 1, -1):
            if r[c] & 0xC0 != 0x80: break
        n = {0xC: 2, 0xD: 2, 0xE: 3, 0xF: 4}.get(r[c] >> 4, 0)
        try:
            r[c:c + n].decode("utf-8")
            whole = n > 0 and c + n > limit
        except UnicodeDecodeError:
            whole = False
        return r[:c] if whole else r[:limit]
    def family(addr): return socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
    def tcp(addr=V4):
        return socket.create_connection(addr, timeout=120)
    def udp(addr=V4):
        s = socket.socket(family(addr), socket.SOCK_DGRAM); s.settimeout(30); s.connect(addr); return s
    def ask_udp(data, addr=V4, tries=30):
        # UDP may lose a datagram (a server still draining a flood drops what its queue cannot
        # hold), so a client asks again, as netrepl does; a bounded number of times.
        u = udp(addr); u.settimeout(2)
        for _ in range(tries):
            u.send(data)
            try:
                got = u.recv(200000); u.close(); return got
            except socket.timeout:
                pass
        u.close(); return b"<no reply to %d tries>" % tries
    def recv_all(s):
        chunks = []
        while True:
            c = s.recv(1 << 20)
            if not c: return b"".join(chunks)
            chunks.append(c)
    def exchange(data, addr=V4):
        # Sends while reading (a large request must not deadlock on full buffers), half-closes, reads to EOF.
        s = tcp(addr)
        def send():
            s.sendall(data); s.shutdown(socket.SHUT_WR)
        t = threading.Thread(target=send); t.start()
        got = recv_all(s); t.join(); s.close()
        return got
    def reset(s):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); s.close()
    def more_files():
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    failures = []
    def check(name, got, want):
        if got != want:
            failures.append(name)
            g, w = got if len(got) < 80 else got[:40] + b"..." + got[-40:], want if len(want) < 80 else want[:40] + b"..." + want[-40:]
            print(f"FAIL {name}: got {len(got)} bytes {g!r}, want {len(want)} bytes {w!r}", flush=True)
    def done():
        print("ok" if not failures else f"{len(failures)} failed", flush=True)

    """

/// One server for the whole suite's stages, with its descriptors and memory at rest.
private final class Gauntlet {
    let server: ServerUnderTest
    let probe: ProcessProbe
    let restingDescriptors: Int
    let restingKiB: Int
    var report: [String] = []

    init() throws {
        server = try ServerUnderTest()
        probe = ProcessProbe(pid: server.child.process.processIdentifier)
        // One exchange first, so that what the first request allocates is part of the resting state.
        _ = try Self.run(
            server,
            prelude + """
                check("warm-up tcp", exchange(b"warm up"), b"WARM UP")
                u = udp(); u.send(b"warm up"); check("warm-up udp", u.recv(100), b"WARM UP")
                done()
                """)
        restingDescriptors = try #require(probe.openDescriptors)
        restingKiB = try #require(probe.residentKiB)
    }

    /// Runs a Python peer with the port as argv[1]; returns its output.
    static func run(_ server: ServerUnderTest, _ source: String, seconds: Double = 300) throws -> String {
        let result = try python(source, [String(server.port)], seconds: seconds)
        #expect(result.status == 0, "python peer failed: \(result.stderr)")
        return result.stdout
    }

    /// Runs one stage: its peer must print "ok" last, and the server's peak resident memory during
    /// it must stay within `peakGrowthMiB` of the resting state (unless under a sanitizer).
    func stage(_ name: String, peakGrowthMiB: Int, seconds: Double = 300, _ source: String) throws {
        let start = beginStage()
        let out = try Self.run(server, prelude + source, seconds: seconds)
        #expect(out.hasSuffix("ok\n"), "stage \(name): \(out)")
        try afterStage(name, peakGrowthMiB: peakGrowthMiB, start: start)
    }

    /// Starts a new peak; returns the resident memory now (KiB) and whether the peak was reset.
    func beginStage() -> (residentKiB: Int, peakReset: Bool) {
        (probe.residentKiB ?? restingKiB, probe.resetPeak())
    }

    /// After every stage: the server answers correctly over UDP and TCP, every descriptor the stage
    /// opened is closed again, and the peak memory stayed within its bound of the stage's start.
    func afterStage(_ name: String, peakGrowthMiB: Int, start: (residentKiB: Int, peakReset: Bool)) throws {
        #expect(server.child.process.isRunning, "the server died in stage \(name): \(server.child.stderr)")
        guard server.child.process.isRunning else { return }
        let out = try Self.run(
            server,
            prelude + """
                check("udp after", ask_udp(b"still there?"), b"STILL THERE?")
                check("tcp after", exchange("stíll thére?".encode()), "STÍLL THÉRE?".encode())
                done()
                """)
        #expect(out == "ok\n", "after stage \(name): \(out)")
        // Closing is asynchronous on the server's side: wait (bounded) for the count to settle.
        var descriptors = probe.openDescriptors ?? -1
        let deadline = Date().addingTimeInterval(15)
        while descriptors > restingDescriptors, Date() < deadline {
            usleep(20_000)
            descriptors = probe.openDescriptors ?? -1
        }
        #expect(descriptors == restingDescriptors, "stage \(name) left \(descriptors - restingDescriptors) descriptors open")
        let peak = (start.peakReset ? probe.peakResidentKiB : probe.residentKiB) ?? 0
        let growthKiB = peak - start.residentKiB
        report.append("\(name): peak RSS \(peak / 1024) MiB (+\(growthKiB) KiB in the stage), \(descriptors) fds after")
        if !underSanitizer {
            #expect(growthKiB <= peakGrowthMiB * 1024, "stage \(name): peak RSS grew by \(growthKiB) KiB, bound \(peakGrowthMiB) MiB")
        }
    }
}

@Suite(.serialized) struct AdversarialServerTests {
    @Test func theServerSurvivesEveryStageAndStaysCorrect() throws {
        let g = try Gauntlet()

        try g.stage(
            "invalid UTF-8 of every kind", peakGrowthMiB: 8,
            """
            kinds = {
                "lone continuation": b"\\x80", "last continuation": b"\\xbf", "ff": b"\\xff", "fe": b"\\xfe",
                "c0 c1 leads": b"\\xc0\\xc1", "f5..fd leads": bytes(range(0xf5, 0xfe)),
                "overlong 2": b"\\xc0\\xaf", "overlong 3": b"\\xe0\\x80\\xaf", "overlong 4": b"\\xf0\\x80\\x80\\xaf",
                "surrogate high": b"\\xed\\xa0\\x80", "surrogate low": b"\\xed\\xbf\\xbf", "above U+10FFFF": b"\\xf4\\x90\\x80\\x80",
                "truncated 2": b"\\xc3", "truncated 3": b"\\xe2\\x82", "truncated 4": b"\\xf0\\x9f\\x98",
                "lead then ascii": b"\\xe2a\\xf0\\x9fb", "too many continuations": "é".encode() + b"\\x80\\x80",
                "valid then stray": "\\U0001F600".encode() + b"\\x80\\x80\\x80",
            }
            for name, bad in kinds.items():
                for data in (bad, b"ab" + bad + "ßcd".encode(), bad * 3 + b"\\n"):
                    for addr in (V4, V6):
                        check(f"tcp {name} {data!r}", exchange(data, addr), upper(data))
                        u = udp(addr); u.send(data); check(f"udp {name} {data!r}", u.recv(70000), upper(data)); u.close()
            # Every byte value, alone and after a lead byte of each length.
            every = bytes(range(256))
            check("every byte", exchange(every), upper(every))
            for lead in (b"\\xc3", b"\\xe2", b"\\xf0"):
                data = b"".join(lead + bytes([b]) for b in range(256))
                check(f"every byte after {lead!r}", exchange(data), upper(data))
            done()
            """)

        try g.stage(
            "NUL and CR/LF mixes", peakGrowthMiB: 8,
            """
            mixes = [b"\\x00", b"a\\x00b\\r\\nc", b"\\r\\r\\n\\n\\r", b"line\\r\\n" * 100, b"\\x00" * 1000,
                     b"nul\\x00in\\x00the\\x00middle\\n", "ß\\x00ΐ\\r\\né\\rz".encode(), b"\\n" * 5000]
            for data in mixes:
                check(f"tcp {data[:20]!r}", exchange(data), upper(data))
                u = udp(); u.send(data); check(f"udp {data[:20]!r}", u.recv(70000), upper(data)); u.close()
            done()
            """)

        // The server keeps no line: its memory must not grow by anything near the line's size.
        try g.stage(
            "a 10 MiB line without newline", peakGrowthMiB: 8,
            """
            # Mostly ASCII, with a character of each length every KiB (a sanitized server is slow).
            line = ("a" * 1015 + "é€😀").encode() * (10 * 1024)  # 1 KiB * 10,240
            check("10 MiB line", exchange(line), upper(line))
            done()
            """)

        // A client that sends and never reads: flow control stops it long before 50 MiB, the
        // server's memory stays small, and others are served meanwhile.
        try g.stage(
            "a client sending 50 MiB that never reads", peakGrowthMiB: 16,
            """
            hog = tcp(); hog.setblocking(False)
            chunk = b"x" * 65536; sent = 0; stalled = 0; deadline = time.time() + 30
            while sent < 50 * 1024 * 1024 and time.time() < deadline and stalled < 40:
                try:
                    sent += hog.send(chunk); stalled = 0
                except BlockingIOError:
                    stalled += 1; time.sleep(0.025)
            if sent >= 50 * 1024 * 1024: print(f"FAIL the server read all {sent} bytes without their replies being read"); failures.append(1)
            check("others served over tcp", exchange(b"served meanwhile"), b"SERVED MEANWHILE")
            check("others served over udp", ask_udp(b"udp too"), b"UDP TOO")
            hog.close()
            done()
            """)

        // Held connections each cost some memory; 2,000 of them must not stop anyone else.
        if openFileLimit.hard >= 4_200 {
            let start = g.beginStage()
            let holder = try Child(
                URL(fileURLWithPath: "/usr/bin/env"),
                [
                    "python3", "-c",
                    prelude + """
                        more_files()
                        held = [tcp() for _ in range(2000)]
                        print("held", flush=True)
                        sys.stdin.readline()
                        check("fresh tcp", exchange(b"fresh client"), b"FRESH CLIENT")
                        check("fresh udp", ask_udp(b"fresh datagram"), b"FRESH DATAGRAM")
                        check("fresh tcp v6", exchange(b"fresh v6", V6), b"FRESH V6")
                        for s in held: s.close()
                        done()
                        """, String(g.server.port),
                ])
            #expect(holder.waitFor(seconds: 60) { $0.stdout.contains("held") || !$0.process.isRunning })
            // The server accepts asynchronously; the count reaches 2,000 more soon after connect().
            let deadline = Date().addingTimeInterval(30)
            while (g.probe.openDescriptors ?? 0) < g.restingDescriptors + 2_000, Date() < deadline { usleep(20_000) }
            let held = (g.probe.openDescriptors ?? 0) - g.restingDescriptors
            let heldKiB = (g.probe.residentKiB ?? 0) - start.residentKiB
            #expect(held == 2_000, "the server holds \(held) connections, not 2,000")
            g.report.append("2,000 idle connections: +\(held) fds, RSS +\(heldKiB) KiB (\(heldKiB * 1024 / max(1, held)) bytes each)")
            holder.write("go\n")
            #expect(holder.waitForExit(seconds: 60) == 0)
            #expect(holder.stdout.hasSuffix("ok\n"), "\(holder.stdout) \(holder.stderr)")
            try g.afterStage("2,000 idle connections", peakGrowthMiB: 48, start: start)
        } else {
            g.report.append("2,000 idle connections: skipped, the hard limit on open files is \(openFileLimit.hard)")
        }

        // Slowloris: many connections trickling a byte at a time, multi-byte characters split
        // across rounds; every byte is answered as soon as it completes a character.
        try g.stage(
            "slowloris", peakGrowthMiB: 16,
            """
            text = "€ß a 😀 ΐ".encode()
            conns = [tcp() for _ in range(200)]
            got = [b""] * len(conns)
            for byte in text:
                for s in conns: s.send(bytes([byte]))
                time.sleep(0.01)
            for i, s in enumerate(conns):
                s.settimeout(120)
                while len(got[i]) < len(upper(text)):
                    c = s.recv(100)
                    if not c: break
                    got[i] += c
            for i in range(len(conns)): check(f"trickled {i}", got[i], upper(text))
            check("served during slowloris", exchange(b"not starved"), b"NOT STARVED")
            for s in conns: s.close()
            done()
            """)

        try g.stage(
            "half-close with a tail inside a character", peakGrowthMiB: 8,
            """
            for tail in (b"\\xc3", b"\\xe2", b"\\xe2\\x82", b"\\xf0", b"\\xf0\\x9f", b"\\xf0\\x9f\\x98"):
                for body in (b"", b"abc", "ß".encode() * 40000):
                    for addr in (V4, V6):
                        check(f"tail {tail!r} after {len(body)}", exchange(body + tail, addr), upper(body) + tail)
            done()
            """)

        // Resets (SO_LINGER 0) at every stage of a connection's life.
        try g.stage(
            "resets at every stage", peakGrowthMiB: 16,
            """
            big = b"a" * (4 << 20)
            for i in range(100):
                reset(tcp())                                           # before sending
                s = tcp(); s.send(b"partial \\xe2"); reset(s)           # request sent, reply unread, byte held
                s = tcp(); s.sendall(b"line\\n"); s.recv(10); reset(s)  # after a full exchange
                s = tcp(); s.shutdown(socket.SHUT_WR); reset(s)         # after half-close
                s = tcp(V6); s.send(b"v6 \\xf0\\x9f"); reset(s)
            def send_until_full(s, data):
                s.setblocking(False); sent = 0
                try:
                    while sent < len(data): sent += s.send(data[sent:sent + 65536])
                except BlockingIOError:
                    pass
                s.setblocking(True); s.settimeout(120)
            for i in range(10):
                # In the middle of a large reply: with its replies unread, and after reading some.
                s = tcp(); send_until_full(s, big); reset(s)
                s = tcp(); send_until_full(s, big); s.recv(1000); reset(s)
            done()
            """)

        try g.stage(
            "2,000 connect/close cycles", peakGrowthMiB: 16,
            """
            for i in range(2000):
                s = tcp(V6 if i % 4 == 0 else V4)
                if i % 2 == 0:
                    s.sendall(b"cycle\\n"); check(f"cycle {i}", s.recv(100), b"CYCLE\\n")
                s.close()
            done()
            """)

        try g.stage(
            "UDP: empty, largest and would-triple datagrams", peakGrowthMiB: 16,
            """
            for addr, largest in ((V4, 65507), (V6, 65527)):
                u = udp(addr)
                u.send(b""); check(f"empty {addr[0]}", u.recv(70000), b"")
                data = b"q" * largest; u.send(data); check(f"largest {addr[0]}", u.recv(70000), upper(data))
                for n in (1, 10922, 10923, 21835, 21836, 32753):
                    data = "ΐ".encode() * n
                    if len(data) > largest: continue
                    u.send(data); check(f"triple {n} {addr[0]}", u.recv(200000), cut(upper(data), largest))
                data = ("a" + "ΐ" * 21845).encode(); u.send(data); check(f"odd triple {addr[0]}", u.recv(200000), cut(upper(data), largest))
                # A whole character just before the limit and stray continuation bytes at it.
                m, f = divmod(largest - 4, 6)
                data = ("ΐ" * m + "a" * f + "\\U0001F600").encode() + b"\\x80\\x80\\x80"
                u.send(data); got = u.recv(200000)
                check(f"stray bytes at the cut {addr[0]}", got, cut(upper(data), largest))
                check(f"whole character kept {addr[0]}", got[-4:], "\\U0001F600".encode())
                u.close()
            # Too large to send at all: the client's kernel refuses it; the server never sees it.
            u = udp()
            try:
                u.send(b"x" * 65508); failures.append("oversized sent"); print("FAIL a 65,508-byte datagram was sent")
            except OSError:
                pass
            done()
            """)

        // A bounded flood: 100,000 datagrams from 4 sockets that do not read their replies;
        // the server drops what it cannot send, its memory stays bounded, and it answers after.
        try g.stage(
            "100,000 datagrams flooded", peakGrowthMiB: 32,
            """
            def flood(n, addr):
                s = socket.socket(family(addr), socket.SOCK_DGRAM); s.connect(addr)
                msg = b"flood " * 10
                for i in range(n):
                    try: s.send(msg)
                    except OSError: pass
                s.close()
            threads = [threading.Thread(target=flood, args=(25000, V6 if i == 3 else V4)) for i in range(4)]
            for t in threads: t.start()
            for t in threads: t.join()
            done()
            """)

        // Finally: everything still works as on the first day, and the server stops cleanly.
        let out = try Gauntlet.run(
            g.server,
            prelude + """
                data = "après tout: ß ΐ ﬃ \\U0001F600 \\xff".encode("utf-8", "surrogateescape")
                for addr in (V4, V6):
                    check(f"final tcp {addr[0]}", exchange(data, addr), upper(data))
                    check(f"final udp {addr[0]}", ask_udp(data, addr), upper(data))
                done()
                """)
        #expect(out == "ok\n")
        let status = g.server.stop()
        #expect(status == 0)
        let stderr = g.server.child.stderr
        #expect(!stderr.contains("Sanitizer"), "\(stderr.suffix(4000))")
        #expect(g.server.child.stdout.contains("netrepl-server: stopped:"))
        print(
            "adversarial suite, resting state \(g.restingDescriptors) fds, RSS \(g.restingKiB / 1024) MiB; "
                + g.report.joined(separator: "; "))
    }
}
