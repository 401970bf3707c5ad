// The load generator behind `netrepl bench`: N clients spread over worker threads, each thread
// with its own epoll set, sockets and histogram, merged at the end. One request per client in
// flight; in open loop a client's requests follow a fixed schedule and latency runs from the
// scheduled (intended) send time, as wrk2 measures, so a slow reply cannot hide the queue it made.

import Glibc
import CLinuxEvents
import Histogram
import Synchronization

/// Counters the workers bump and the progress line reads, and the stop request.
final class SharedState: Sendable {
    let settled = Atomic<Int>(0)
    let lostOrWrong = Atomic<Int>(0)
    let stop = Atomic<Bool>(false)
}

public final class BenchEngine: Sendable {
    public let plan: BenchPlan
    private let shared = SharedState()

    public init(plan: BenchPlan) {
        self.plan = plan
    }

    /// Opens every client's socket (so an unreachable target fails before any thread starts),
    /// runs the workers until the duration is over or `shouldStop` says so, and merges their results.
    /// `progress` is called about once a second from this thread.
    public func run(shouldStop: () -> Bool, progress: (BenchProgress) -> Void) throws(BenchSetupError) -> BenchReport {
        let clock = MonotonicClock()
        var sockets: [Int32] = []
        do {
            for _ in 0..<plan.clients { sockets.append(try ClientSocket.open(plan)) }
        } catch {
            for fd in sockets { close(fd) }
            throw error
        }
        let start = clock.now() + 1_000_000
        let measureFrom = start + plan.warmup.nanoseconds
        let end = measureFrom + plan.duration.nanoseconds
        var workers: [Worker] = []
        let per = plan.clients / plan.threads, extra = plan.clients % plan.threads
        var first = 0
        for t in 0..<plan.threads {
            let n = per + (t < extra ? 1 : 0)
            workers.append(
                Worker(
                    plan: plan, shared: shared, firstClient: first, sockets: Array(sockets[first..<(first + n)]),
                    start: start, measureFrom: measureFrom, end: end))
            first += n
        }
        var threads: [pthread_t] = []
        for worker in workers {
            var thread = pthread_t()
            let box = Unmanaged.passRetained(worker).toOpaque()
            let status = pthread_create(
                &thread, nil,
                { argument in
                    let worker = Unmanaged<Worker>.fromOpaque(argument!).takeRetainedValue()
                    worker.run()
                    return nil
                }, box)
            if status != 0 {
                Unmanaged<Worker>.fromOpaque(box).release()
                worker.markNotStarted()
            } else {
                threads.append(thread)
            }
        }
        var lastProgress = clock.now()
        var interrupted = false
        while clock.now() < end {
            var pause = timespec(tv_sec: 0, tv_nsec: 100_000_000)
            nanosleep(&pause, nil)
            if !interrupted && shouldStop() {
                interrupted = true
                shared.stop.store(true, ordering: .relaxed)
                break
            }
            let now = clock.now()
            if now - lastProgress >= 1_000_000_000 && now < end {
                lastProgress = now
                progress(
                    BenchProgress(
                        elapsed: .nanoseconds(max(0, now - start)),
                        settled: shared.settled.load(ordering: .relaxed),
                        lostOrWrong: shared.lostOrWrong.load(ordering: .relaxed),
                        warmingUp: now < measureFrom))
            }
        }
        for thread in threads { pthread_join(thread, nil) }

        var counts = BenchCounts()
        var histogram = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
        histogram.autoResize = true
        var inFlight = 0
        var stoppedAt = end
        for worker in workers {
            counts.add(worker.counts)
            histogram.add(worker.histogram)
            inFlight += worker.inFlightMeasured
            stoppedAt = min(stoppedAt, worker.stoppedAt)
            worker.closeAll()
        }
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        return BenchReport(
            plan: plan, counts: counts, inFlight: inFlight,
            measured: .nanoseconds(max(0, stoppedAt - measureFrom)), interrupted: interrupted,
            latency: histogram, cpuSeconds: cpu)
    }
}

struct MonotonicClock {
    func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}

enum ClientSocket {
    /// A connected socket (UDP connected too, so that only the server's datagrams arrive),
    /// non-blocking; TCP with NODELAY so that each request leaves at once.
    static func open(_ plan: BenchPlan) throws(BenchSetupError) -> Int32 {
        let type = plan.transport == .udp ? Int32(SOCK_DGRAM.rawValue) : Int32(SOCK_STREAM.rawValue)
        let fd = socket(plan.address.family, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .socket(call: "socket", errno: errno, target: plan.address.text) }
        var storage = plan.address.storage
        let connected = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, plan.address.length) }
        }
        guard connected == 0 else {
            let code = errno
            close(fd)
            throw .socket(call: "connect", errno: code, target: plan.address.text)
        }
        if plan.transport == .tcp {
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        return fd
    }
}

/// One client: its socket, its request and expected reply (only the sequence digits change),
/// and where its one request in flight stands.
final class Client {
    var fd: Int32
    let id: Int
    let request: UnsafeMutablePointer<UInt8>
    let expected: UnsafeMutablePointer<UInt8>
    let reply: UnsafeMutablePointer<UInt8>
    var sequence: UInt64 = 0
    var outstanding = false
    /// Whether the request in flight was sent inside the measured window (it then counts).
    var measured = false
    var got = 0
    /// Where this request's latency starts: the scheduled time in open loop, else the send time.
    var origin: Int64 = 0
    var sentAt: Int64 = 0
    var nextDue: Int64 = 0

    init(fd: Int32, id: Int, size: Int) {
        self.fd = fd
        self.id = id
        let (request, expected) = RequestLayout.templates(client: id, size: size)
        self.request = .allocate(capacity: size)
        self.request.initialize(from: request, count: size)
        self.expected = .allocate(capacity: size)
        self.expected.initialize(from: expected, count: size)
        self.reply = .allocate(capacity: size)
        self.reply.initialize(repeating: 0, count: size)
    }

    deinit {
        request.deallocate()
        expected.deallocate()
        reply.deallocate()
    }
}

/// One thread's share of the clients. Only its own thread touches it until it is joined.
final class Worker: @unchecked Sendable {
    private let plan: BenchPlan
    private let shared: SharedState
    private let clients: [Client]
    private let start: Int64, measureFrom: Int64, end: Int64
    private let timeout: Int64
    /// Per-client interval between scheduled sends in open loop; nil in closed loop.
    private let interval: Int64?
    private let clock = MonotonicClock()
    private var epoll: Int32 = -1
    private var timer: Int32 = -1
    private var armedFor: Int64 = 0
    /// When the next scan for timeouts and due sends is needed.
    private var nextScan: Int64 = 0
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 16)
    private static let timerToken = UInt64.max

    private(set) var counts = BenchCounts()
    private(set) var histogram: Histogram<UInt64>
    private(set) var stoppedAt: Int64

    init(plan: BenchPlan, shared: SharedState, firstClient: Int, sockets: [Int32], start: Int64, measureFrom: Int64, end: Int64) {
        self.plan = plan
        self.shared = shared
        self.start = start
        self.measureFrom = measureFrom
        self.end = end
        self.stoppedAt = end
        timeout = plan.timeout.nanoseconds
        var histogram = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
        histogram.autoResize = true
        self.histogram = histogram
        clients = sockets.enumerated().map { Client(fd: $0.element, id: firstClient + $0.offset, size: plan.size) }
        if let rate = plan.rate {
            let perClient = 1e9 * Double(plan.clients) / rate
            interval = max(1, Int64(perClient))
            // Spread the clients' schedules evenly over one interval instead of all at the start.
            for client in clients {
                client.nextDue = start + Int64(perClient * Double(client.id) / Double(plan.clients))
            }
        } else {
            interval = nil
            for client in clients { client.nextDue = start }
        }
    }

    deinit {
        scratch.deallocate()
    }

    var inFlightMeasured: Int { clients.count(where: { $0.outstanding && $0.measured }) }

    func closeAll() {
        for client in clients where client.fd >= 0 { close(client.fd); client.fd = -1 }
        if epoll >= 0 { close(epoll); epoll = -1 }
        if timer >= 0 { close(timer); timer = -1 }
    }

    /// Only when its thread could not be started: the run goes on without this share's load.
    func markNotStarted() {
        stoppedAt = measureFrom
    }

    func run() {
        epoll = netrepl_epoll_create()
        for (index, client) in clients.enumerated() { watch(client, token: UInt64(index)) }
        if interval != nil {
            timer = netrepl_timer_create()
            netrepl_epoll_add(epoll, timer, Self.timerToken)
        }
        let tokens = UnsafeMutablePointer<UInt64>.allocate(capacity: 256)
        defer { tokens.deallocate() }
        while true {
            var now = clock.now()
            if now >= end || shared.stop.load(ordering: .relaxed) {
                stoppedAt = min(now, end)
                return
            }
            if now >= nextScan { now = scan(now) }
            let waitMilliseconds: Int32
            if interval != nil {
                arm(at: nextScan)
                waitMilliseconds = 50
            } else {
                waitMilliseconds = Int32(max(0, min(50, (nextScan - now + 999_999) / 1_000_000)))
            }
            let ready = netrepl_epoll_wait(epoll, tokens, 256, waitMilliseconds)
            guard ready > 0 else { continue }
            for i in 0..<Int(ready) {
                let token = tokens[i]
                if token == Self.timerToken {
                    var expirations: UInt64 = 0
                    _ = read(timer, &expirations, 8)
                    armedFor = 0
                    continue
                }
                receive(clients[Int(token)])
            }
        }
    }

    /// Settles the requests that timed out and sends the ones due, and sets `nextScan` to the
    /// earliest deadline or due time left. Between scans only replies are handled, so a busy
    /// closed loop does not walk every client on every wake-up. Returns the time after sending.
    private func scan(_ time: Int64) -> Int64 {
        var now = time
        var wake = end
        for client in clients {
            if client.outstanding {
                let deadline = client.sentAt + timeout
                if now >= deadline {
                    settle(client, at: now, as: .lost)
                } else {
                    wake = min(wake, deadline)
                    continue
                }
            }
            if now < start { wake = min(wake, start); continue }
            if client.nextDue <= now {
                send(client, at: now)
                now = clock.now()
                wake = min(wake, client.outstanding ? client.sentAt + timeout : client.nextDue)
            } else {
                wake = min(wake, client.nextDue)
            }
        }
        nextScan = wake
        return now
    }

    private func watch(_ client: Client, token: UInt64) {
        netrepl_epoll_add(epoll, client.fd, token)
    }

    /// The timer fires at `deadline` (absolute, monotonic): open-loop sends keep microsecond
    /// timing that epoll_wait's milliseconds cannot give.
    private func arm(at deadline: Int64) {
        guard deadline != armedFor else { return }
        armedFor = deadline
        netrepl_timer_arm(timer, deadline)
    }

    private func send(_ client: Client, at now: Int64) {
        if client.fd < 0 && !reconnect(client) {
            // Nothing to send on: this request fails at once; the next is tried a little later.
            client.sequence += 1
            beginRequest(client, at: now)
            settle(client, at: now, as: .failed)
            client.nextDue = max(client.nextDue, now + 10_000_000)
            return
        }
        client.sequence += 1
        RequestLayout.write(sequence: client.sequence, into: client.request)
        RequestLayout.write(sequence: client.sequence, into: client.expected)
        beginRequest(client, at: now)
        var offset = 0
        while offset < plan.size {
            let written = Glibc.send(client.fd, client.request + offset, plan.size - offset, Int32(MSG_NOSIGNAL))
            if written > 0 { offset += written; continue }
            let code = errno
            if code == EINTR { continue }
            if plan.transport == .udp && (code == EAGAIN || code == ENOBUFS) {
                return  // the datagram was dropped here; it times out as lost, as a network drop would
            }
            if plan.transport == .tcp && code == EAGAIN && clock.now() - now < timeout {
                var poller = pollfd(fd: client.fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&poller, 1, 10)
                continue
            }
            settle(client, at: clock.now(), as: .failed)
            if plan.transport == .tcp { drop(client) }
            return
        }
    }

    private func beginRequest(_ client: Client, at now: Int64) {
        client.origin = interval == nil ? now : client.nextDue
        client.sentAt = now
        client.outstanding = true
        client.got = 0
        client.measured = now >= measureFrom
        if client.measured { counts.sent += 1 }
    }

    enum Outcome { case ok, wrong, lost, failed }

    private func settle(_ client: Client, at now: Int64, as outcome: Outcome) {
        client.outstanding = false
        shared.settled.add(1, ordering: .relaxed)
        if outcome != .ok { shared.lostOrWrong.add(1, ordering: .relaxed) }
        if client.measured {
            switch outcome {
            case .ok:
                counts.ok += 1
                _ = histogram.record(UInt64(max(0, now - client.origin)))
            case .wrong: counts.wrong += 1
            case .lost: counts.lost += 1
            case .failed: counts.failed += 1
            }
        }
        if let interval {
            client.nextDue = client.origin + interval
            nextScan = min(nextScan, client.nextDue)
        } else {
            client.nextDue = now
            // A closed-loop client whose request failed is not resent by the reply path.
            if outcome == .failed { nextScan = min(nextScan, now) }
        }
        if outcome == .lost && plan.transport == .tcp {
            // A TCP reply that may still come would be read as the next one's: start afresh.
            drop(client)
        }
    }

    private func receive(_ client: Client) {
        if plan.transport == .udp { receiveDatagrams(client) } else { receiveStream(client) }
    }

    private func receiveDatagrams(_ client: Client) {
        while client.fd >= 0 {
            let count = recv(client.fd, scratch.baseAddress, scratch.count, Int32(MSG_DONTWAIT))
            let now = clock.now()
            if count < 0 {
                let code = errno
                if code == EAGAIN || code == EINTR { return }
                // ECONNREFUSED: an ICMP port unreachable for an earlier datagram. With nothing in
                // flight it concerns a request already settled, and counts for none.
                if client.outstanding { settle(client, at: now, as: .failed) }
                return
            }
            let bytes = UnsafeRawBufferPointer(start: scratch.baseAddress, count: count)
            if client.outstanding && count == plan.size && memcmp(bytes.baseAddress!, client.expected, count) == 0 {
                settle(client, at: now, as: .ok)
                if interval == nil && now < end { send(client, at: now) }
                // Its answer cannot be here yet, and anything else still queued keeps the socket
                // ready (epoll is level-triggered): a recv that finds nothing would be a third
                // system call per request.
                return
            }
            if let header = RequestLayout.header(of: bytes), header.client == client.id % 100_000,
                header.sequence < client.sequence || (header.sequence == client.sequence && !client.outstanding)
            {
                if now >= measureFrom { counts.stray += 1 }
                continue
            }
            if client.outstanding {
                settle(client, at: now, as: .wrong)
                if interval == nil && now < end { send(client, at: now) }
                return
            } else if now >= measureFrom {
                counts.stray += 1
            }
        }
    }

    private func receiveStream(_ client: Client) {
        while client.fd >= 0 {
            if !client.outstanding {
                // Bytes nobody asked for put the stream out of step, and a close between requests
                // ends it: either way the next request goes on a new connection.
                let count = recv(client.fd, scratch.baseAddress, scratch.count, Int32(MSG_DONTWAIT))
                if count < 0 && (errno == EAGAIN || errno == EINTR) { return }
                if count > 0 && clock.now() >= measureFrom { counts.stray += 1 }
                drop(client)
                return
            }
            let count = recv(client.fd, client.reply + client.got, plan.size - client.got, Int32(MSG_DONTWAIT))
            let now = clock.now()
            if count < 0 && (errno == EAGAIN || errno == EINTR) { return }
            if count <= 0 {
                settle(client, at: now, as: .failed)
                drop(client)
                return
            }
            client.got += count
            guard client.got == plan.size else { continue }
            let right = memcmp(client.reply, client.expected, plan.size) == 0
            settle(client, at: now, as: right ? .ok : .wrong)
            if interval == nil && now < end { send(client, at: now) }
            return
        }
    }

    /// Closes a client's TCP connection; the next send opens a new one.
    private func drop(_ client: Client) {
        // An idle closed-loop client has no reply to wait for; only a scan sends its next request.
        nextScan = min(nextScan, client.nextDue)
        guard client.fd >= 0 else { return }
        netrepl_epoll_remove(epoll, client.fd)
        close(client.fd)
        client.fd = -1
    }

    private func reconnect(_ client: Client) -> Bool {
        guard let fd = try? ClientSocket.open(plan) else { return false }
        client.fd = fd
        watch(client, token: UInt64(clients.firstIndex { $0 === client } ?? 0))
        return true
    }
}
