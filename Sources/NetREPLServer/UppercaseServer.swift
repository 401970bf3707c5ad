// netrepl-server as a library: binds UDP and TCP on one port, serves until told to stop, and
// stops gracefully. Embedded by `netrepl --serve`, run by the netrepl-server executable and tests.

import Dispatch
import Logging
import NetREPLProtocol
import NIOCore
import NIOExtras
import NIOPosix
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure to listen, naming what could not be bound: `tcp [::]:12000: Address already in use`.
public struct ListenError: Error, CustomStringConvertible, Sendable {
    public let transport: String
    public let host: String
    public let port: Int
    public let reason: String
    /// The errno behind it, when there is one.
    public let errnoCode: Int32?

    public var description: String {
        "cannot listen on \(transport) \(formatHostPort(host, port)): \(reason)"
    }
}

public final class UppercaseServer: Service, Sendable {
    public let configuration: ServerConfiguration
    public let statistics = ServerStatistics()
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let delayedReplies = DelayedReplies()
    private let state = Mutex<State>(.idle)

    private struct Listening: @unchecked Sendable {
        // Channels are Sendable; the quiescing helper is too. The struct is only moved between threads.
        let tcp: Channel
        let udp: [Channel]
        let quiesce: ServerQuiescingHelper
        let host: String
        let port: Int
    }

    private enum State {
        case idle
        case listening(Listening)
        case stopped
    }

    public init(configuration: ServerConfiguration = .init(), logger: Logger = Logger(label: "netrepl-server")) {
        self.configuration = configuration
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
    }

    /// The address and port bound, once listening: (`::`, 12000).
    public var boundAddress: (host: String, port: Int)? {
        state.withLock { state in
            if case .listening(let l) = state { return (l.host, l.port) }
            return nil
        }
    }

    /// Binds UDP and TCP and starts serving; returns the port. Blocking: for synchronous callers.
    @discardableResult
    public func start() throws -> Int {
        try record(listen().wait())
    }

    /// Binds UDP and TCP and starts serving; returns the port.
    @discardableResult
    public func startAsync() async throws -> Int {
        try record(await listen().get())
    }

    /// Service: serves until graceful shutdown (SIGINT/SIGTERM via ServiceGroup), then drains.
    public func run() async throws {
        if boundAddress == nil { try await startAsync() }
        try? await gracefulShutdown()
        await stop()
    }

    /// Stops accepting, lets replies in flight finish for at most the grace period, closes all.
    /// Blocking: for synchronous callers such as `netrepl --serve`.
    public func shutdown() {
        let done = DispatchSemaphore(value: 0)
        Task.detached { [self] in
            await self.stop()
            done.signal()
        }
        done.wait()
    }

    /// Stops accepting, lets replies in flight finish for at most the grace period, closes all.
    public func stop() async {
        guard await drainIfListening() else { return }
        try? await group.shutdownGracefully()
    }

    /// Drains when listening; false when already stopped. Everything tied to the event loops
    /// (channels, the quiescing helper) is released on return, before the loops shut down.
    private func drainIfListening() async -> Bool {
        let previous = state.withLock { state -> State in
            let previous = state
            state = .stopped
            return previous
        }
        switch previous {
        case .listening(let listening):
            logger.info("shutting down", metadata: ["grace_period_ms": "\(configuration.gracePeriod.nanoseconds / 1_000_000)"])
            await drain(listening)
            return true
        case .idle:
            return true
        case .stopped:
            return false
        }
    }

    private func record(_ listening: Listening) throws -> Int {
        let accepted = state.withLock { state -> Bool in
            guard case .idle = state else { return false }
            state = .listening(listening)
            return true
        }
        guard accepted else {
            listening.tcp.close(promise: nil)
            listening.udp.forEach { $0.close(promise: nil) }
            throw ListenError(transport: "tcp", host: listening.host, port: listening.port, reason: "server already started or stopped", errnoCode: nil)
        }
        logger.info("listening", metadata: ["address": "\(formatHostPort(listening.host, listening.port))", "threads": "\(configuration.threads)"])
        // Whoever reads the log must not mistake deliberate losses for a fault.
        if configuration.impairment.isActive {
            logger.notice("udp replies are impaired: \(configuration.impairment.summary)")
        }
        if let limit = configuration.udpRateLimit {
            logger.notice("udp replies are rate-limited: at most \(limit) a second per source address")
        }
        return listening.port
    }

    private func drain(_ listening: Listening) async {
        let deadline = ContinuousClock.now + .nanoseconds(configuration.gracePeriod.nanoseconds)
        let tcpDrained = Atomic<Bool>(false)
        let promise = listening.tcp.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { _ in tcpDrained.store(true, ordering: .relaxed) }
        // Closes the listening socket, asks each connection to finish its reply and close.
        listening.quiesce.initiateShutdown(promise: promise)
        // Replies already delayed by the impairment are in flight too.
        while ContinuousClock.now < deadline,
              !tcpDrained.load(ordering: .relaxed) || delayedReplies.count.load(ordering: .relaxed) > 0 {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if !tcpDrained.load(ordering: .relaxed) {
            // Still open: their reply was not all written, or the client has not closed after our
            // end-of-stream. The event loops' shutdown closes them; count them as cut.
            let open = statistics.activeConnections.load(ordering: .relaxed)
            statistics.connectionsCut.add(open, ordering: .relaxed)
            logger.notice("grace period over: cutting the remaining connections", metadata: ["cut": "\(open)"])
        }
        for channel in listening.udp {
            try? await channel.close()
        }
    }

    // MARK: - Binding

    private func listen() -> EventLoopFuture<Listening> {
        if let host = configuration.host {
            return listen(host: host, attemptsLeft: 32)
        }
        // All interfaces: dual stack where the machine has IPv6, else IPv4 only.
        return listen(host: "::", attemptsLeft: 32).flatMapError { error in
            if let e = error as? ListenError, e.transport == "tcp", e.errnoCode == EAFNOSUPPORT || e.errnoCode == EADDRNOTAVAIL {
                self.logger.info("IPv6 unavailable: listening on IPv4 only")
                return self.listen(host: "0.0.0.0", attemptsLeft: 32)
            }
            return self.group.next().makeFailedFuture(error)
        }
    }

    private func listen(host: String, attemptsLeft: Int) -> EventLoopFuture<Listening> {
        let requestedPort = configuration.port
        let quiesce = ServerQuiescingHelper(group: group)
        return tcpBootstrap(quiesce: quiesce).bind(host: host, port: requestedPort)
            .flatMapErrorThrowing { error in throw Self.listenError("tcp", host, requestedPort, error) }
            .flatMap { tcp in
                let port = tcp.localAddress?.port ?? requestedPort
                return self.bindUDP(host: host, port: port)
                    .map { udp in Listening(tcp: tcp, udp: udp, quiesce: quiesce, host: host, port: port) }
                    .flatMapError { error in
                        tcp.close().flatMap {
                            // Port 0: the kernel's free TCP port may be taken for UDP; try another.
                            if requestedPort == 0, attemptsLeft > 0, (error as? ListenError)?.errnoCode == EADDRINUSE {
                                return self.listen(host: host, attemptsLeft: attemptsLeft - 1)
                            }
                            return self.group.next().makeFailedFuture(error)
                        }
                    }
            }
    }

    private func bindUDP(host: String, port: Int) -> EventLoopFuture<[Channel]> {
        // One socket per event loop, spread by the kernel (SO_REUSEPORT); with impairment on, one
        // socket, so that a seed fixes the sequence of drops and delays in arrival order.
        // Likewise with a rate limit, so that one table sees every datagram from a source (the
        // kernel spreads one source's datagrams over the sockets by port).
        let sockets = configuration.impairment.isActive || configuration.udpRateLimit != nil ? 1 : configuration.threads
        return udpBootstrap(reusePort: sockets > 1).bind(host: host, port: port)
            .flatMapErrorThrowing { error in throw Self.listenError("udp", host, port, error) }
            .flatMap { first in
                let rest = (1..<sockets).map { _ in self.udpBootstrap(reusePort: true).bind(host: host, port: port) }
                return EventLoopFuture.whenAllSucceed(rest, on: first.eventLoop)
                    .map { [first] + $0 }
                    .flatMapErrorThrowing { error in
                        first.close(promise: nil)
                        throw Self.listenError("udp", host, port, error)
                    }
            }
    }

    private func tcpBootstrap(quiesce: ServerQuiescingHelper) -> ServerBootstrap {
        let statistics = self.statistics
        let logger = self.logger
        let configuration = self.configuration
        let limitWarnings = RateLimit(interval: .seconds(1))
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                }
            }
            // At IPPROTO_TCP: as a socket-level option the same number is SO_DEBUG, which needs
            // CAP_NET_ADMIN, so every accepted connection failed and closed when not run as root.
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            // A client that sends and never reads fills this, then the handler stops reading from it.
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 64 * 1024))
            // Fairness: one read of at most 16 KiB per connection per pass of the event loop (NIO's
            // default is four reads of up to 64 KiB), so that clients streaming at full speed
            // cannot hold the loop for long: the UDP socket and newcomers get their turn soon.
            .childChannelOption(.maxMessagesPerRead, value: 1)
            // NIO keeps each connection's receive buffer between reads; start it small (it grows
            // at once for a client that fills it) so that idle connections hold little memory:
            // NIO's default of 2 KiB a connection was most of the server's memory at 10,000.
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 16384))
            .childChannelInitializer { channel in
                statistics.tcpConnections.add(1, ordering: .relaxed)
                let active = statistics.activeConnections.add(1, ordering: .relaxed).newValue
                if active > configuration.maxConnections {
                    // Refused connections do not count as active: they must not keep out the next
                    // client once a served one has closed.
                    statistics.activeConnections.subtract(1, ordering: .relaxed)
                    statistics.rejectedConnections.add(1, ordering: .relaxed)
                    // A flood over the limit must not become a flood in the log: one line a second.
                    if let suppressed = limitWarnings.permit() {
                        logger.warning("connection limit reached: closing new connection", metadata: [
                            "peer": "\(channel.remoteAddress.map(String.init(describing:)) ?? "?")",
                            "max_connections": "\(configuration.maxConnections)",
                            "also_closed_since_last_line": "\(suppressed)",
                        ])
                    }
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(RefusedConnectionHandler(linger: .seconds(2)))
                    }
                }
                channel.closeFuture.whenComplete { _ in
                    statistics.activeConnections.subtract(1, ordering: .relaxed)
                }
                logger.debug("connection accepted", metadata: ["peer": "\(channel.remoteAddress.map(String.init(describing:)) ?? "?")"])
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        TCPUppercaseHandler(statistics: statistics, logger: logger, idleTimeout: configuration.idleTimeout, allocator: channel.allocator)
                    )
                }
            }
    }

    private func udpBootstrap(reusePort: Bool) -> DatagramBootstrap {
        let statistics = self.statistics
        let logger = self.logger
        let impairment = configuration.impairment
        let delayed = delayedReplies
        let rateLimit = configuration.udpRateLimit
        var bootstrap = DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            // Vector reads (recvmmsg): up to 16 datagrams a system call, each up to 64 KiB, so that
            // no datagram is ever truncated; NIO sends the replies in batches (sendmmsg) too.
            .channelOption(.datagramVectorReadMessageCount, value: 16)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 16 * 65_536))
            // Up to 256 datagrams a pass: the UDP socket is one descriptor among possibly
            // thousands of TCP connections on its loop, and its queue is shared by every client.
            .channelOption(.maxMessagesPerRead, value: 16)
            // Room for bursts: the default (about 208 KiB) holds only a few dozen large datagrams,
            // and the kernel drops the rest. The kernel caps this at net.core.rmem_max.
            .channelOption(.socketOption(.so_rcvbuf), value: 4 * 1024 * 1024)
            .channelOption(.writeBufferWaterMark, value: .init(low: 512 * 1024, high: 1024 * 1024))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        UDPUppercaseHandler(statistics: statistics, logger: logger, impairment: impairment, delayedReplies: delayed, rateLimit: rateLimit)
                    )
                }
            }
        if reusePort {
            bootstrap = bootstrap.channelOption(.socketOption(.init(rawValue: SO_REUSEPORT)), value: 1)
        }
        return bootstrap
    }

    static func listenError(_ transport: String, _ host: String, _ port: Int, _ error: Error) -> ListenError {
        if let e = error as? ListenError { return e }
        if let io = error as? IOError {
            let hint: String
            switch io.errnoCode {
            case EADDRINUSE: hint = " (another program holds this port: stop it, or choose another with --port)"
            case EACCES: hint = " (ports below 1024 need root or CAP_NET_BIND_SERVICE: choose another with --port)"
            case EADDRNOTAVAIL: hint = " (not an address of this machine: check --host)"
            default: hint = ""
            }
            return ListenError(transport: transport, host: host, port: port, reason: String(cString: strerror(io.errnoCode)) + hint, errnoCode: io.errnoCode)
        }
        if error is SocketAddressError || error is SocketAddressError.UnknownHost {
            return ListenError(transport: transport, host: host, port: port, reason: "unknown host (check --host)", errnoCode: nil)
        }
        return ListenError(transport: transport, host: host, port: port, reason: "\(error)", errnoCode: nil)
    }
}

/// At most one event per interval; counts the ones it turned away in between.
final class RateLimit: Sendable {
    private let interval: Duration
    private let state = Mutex<(last: ContinuousClock.Instant?, suppressed: Int)>((nil, 0))

    init(interval: Duration) { self.interval = interval }

    /// Nil when the event should be suppressed; otherwise how many were suppressed before it.
    func permit(now: ContinuousClock.Instant = .now) -> Int? {
        state.withLock { state in
            if let last = state.last, now - last < interval {
                state.suppressed += 1
                return nil
            }
            let suppressed = state.suppressed
            state = (now, 0)
            return suppressed
        }
    }
}

/// Raising the soft limit on open files to the hard limit, so that thousands of connections fit.
public enum ResourceLimits {
    @discardableResult
    public static func raiseOpenFileLimit() -> (soft: UInt64, hard: UInt64)? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }
}
