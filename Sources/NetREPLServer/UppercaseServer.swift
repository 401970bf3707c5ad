// netrepl-server as a library: binds UDP and TCP on one port, serves until told to stop, and
// stops gracefully. Embedded by `netrepl --serve`, run by the netrepl-server executable and tests.

import Logging
import NetREPLProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import SystemPackage

/// A failure to listen: what could not be bound, where, and why, as a code and the errno behind
/// it. The executables word it (and the hint that names their own option).
public struct ListenError: Error, Sendable, Equatable {
    /// What was being bound.
    public enum Listener: String, Sendable {
        case tcp, udp
        case metrics = "http (metrics)"
    }

    public enum Code: Sendable, Equatable {
        /// EADDRINUSE: another program holds the port.
        case addressInUse
        /// EACCES: a privileged port without the privilege.
        case permissionDenied
        /// EADDRNOTAVAIL: not an address of this machine.
        case addressNotAvailable
        /// EAFNOSUPPORT: no such address family here (IPv6 disabled).
        case familyNotSupported
        /// The host name did not resolve.
        case unknownHost
        /// `run()` was called on a server that already ran.
        case alreadyRunning
        /// Any other failure; `errno` or `detail` says which.
        case other
    }

    public let code: Code
    public let listener: Listener
    public let host: String
    public let port: Int
    /// The errno behind it, when there is one.
    public let errno: Errno?
    /// What the failure said, when it was not an errno.
    public let detail: String?

    public init(_ code: Code, listener: Listener = .tcp, host: String = "", port: Int = 0, errno: Errno? = nil, detail: String? = nil) {
        self.code = code
        self.listener = listener
        self.host = host
        self.port = port
        self.errno = errno
        self.detail = detail
    }

    /// The failure of binding `listener` on `host`:`port`, from what NIO threw.
    static func binding(_ listener: Listener, _ host: String, _ port: Int, _ error: Error) -> ListenError {
        if let e = error as? ListenError { return e }
        if let io = error as? IOError {
            let errno = Errno(rawValue: io.errnoCode)
            let code: Code =
                switch errno {
                case .addressInUse: .addressInUse
                case .permissionDenied: .permissionDenied
                case .addressNotAvailable: .addressNotAvailable
                case .addressFamilyNotSupported: .familyNotSupported
                default: .other
                }
            return ListenError(code, listener: listener, host: host, port: port, errno: errno)
        }
        if error is SocketAddressError || error is SocketAddressError.UnknownHost {
            return ListenError(.unknownHost, listener: listener, host: host, port: port)
        }
        return ListenError(.other, listener: listener, host: host, port: port, detail: "\(error)")
    }
}

/// Where a server listens once bound: the address (`::`, `0.0.0.0` or the one asked for) and the
/// port (the kernel's choice when 0 was asked for).
public struct BoundAddress: Sendable, Equatable {
    public let host: String
    public let port: Int
}

/// The uppercase server as a swift-service-lifecycle `Service`: `run()` binds, reports readiness
/// through `onServerRunning` (as Hummingbird's server does), serves until the graceful shutdown,
/// then drains for at most the grace period. It is the one way to run a server: the executable
/// runs it in its `ServiceGroup`, `netrepl --serve` in a group of its own.
public final class UppercaseServer: Service, Sendable {
    /// Called once UDP and TCP are bound and serving, before `run()` waits for the shutdown. A
    /// throw stops the server (drained, closed) and `run()` rethrows it.
    public typealias OnServerRunning = @Sendable (BoundAddress) async throws -> Void

    public let configuration: ServerConfiguration
    public let statistics: ServerStatistics
    private let logger: Logger
    private let onServerRunning: OnServerRunning?
    private let delayedReplies = DelayedReplies()
    private let started = Atomic<Bool>(false)

    private struct Listening: Sendable {
        let tcp: Channel
        let udp: [Channel]
        let address: BoundAddress
    }

    public init(
        configuration: ServerConfiguration = .init(),
        statistics: ServerStatistics = .init(),
        logger: Logger = Logger(label: "netrepl-server"),
        onServerRunning: OnServerRunning? = nil
    ) {
        self.configuration = configuration
        self.statistics = statistics
        self.logger = logger
        self.onServerRunning = onServerRunning
    }

    /// Binds UDP and TCP (throwing `ListenError` when it cannot), serves until the graceful
    /// shutdown or cancellation, then lets replies in flight finish for at most the grace period
    /// and closes everything. A server runs once.
    public func run() async throws {
        guard !started.exchange(true, ordering: .relaxed) else { throw ListenError(.alreadyRunning) }
        // The event loops live exactly as long as run(): nothing outlives it, nothing leaks when
        // the server is made and never run. They shut down only once serve() has returned, with
        // every channel closed and everything made for them released: anything that still touched
        // a loop after its shutdown (a connection the shutdown closed, a deinit completing a
        // promise) made NIO print "Cannot schedule tasks on an EventLoop that has already shut down".
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        do {
            try await serve(on: group)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try? await group.shutdownGracefully()
    }

    /// Everything of run() that needs the event loops: returns (or throws) with every channel closed.
    private func serve(on group: MultiThreadedEventLoopGroup) async throws {
        let connections = OpenConnections()
        let listening = try await listen(group: group, connections: connections).get()
        announce(listening)
        do {
            try await onServerRunning?(listening.address)
        } catch {
            await drain(listening, connections: connections)
            throw error
        }
        // Returns at the graceful shutdown; throws on cancellation, which ends the serving too.
        try? await gracefulShutdown()
        logger.info("shutting down", metadata: ["grace_period_ms": "\(configuration.gracePeriod.nanoseconds / 1_000_000)"])
        await drain(listening, connections: connections)
    }

    private func announce(_ listening: Listening) {
        let address = listening.address
        logger.info("listening", metadata: ["address": "\(formatHostPort(address.host, address.port))", "threads": "\(configuration.threads)"])
        // Whoever reads the log must not mistake deliberate losses for a fault.
        if configuration.impairment.isActive {
            logger.notice("udp replies are impaired: \(configuration.impairment.summary)")
        }
        if let limit = configuration.udpRateLimit {
            logger.notice("udp replies are rate-limited: at most \(limit) a second per source address")
        }
    }

    /// Closes the listening socket and asks each connection to finish its reply and close; waits
    /// for that and for the replies delayed by the impairment, or for the grace deadline, whichever
    /// comes first. Connections still open then are counted as cut and closed; so are the UDP sockets.
    private func drain(_ listening: Listening, connections: OpenConnections) async {
        try? await listening.tcp.close()
        let delayedReplies = self.delayedReplies
        let gracePeriod = configuration.gracePeriod
        // The first of two events resumes: all drained, or the grace deadline.
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let once = ResumeOnce(continuation)
            let deadline = listening.tcp.eventLoop.scheduleTask(in: gracePeriod) { once.resume() }
            connections.quiesce {
                delayedReplies.whenSettled {
                    deadline.cancel()
                    once.resume()
                }
            }
        }
        // Still open: their reply was not all written, or the client has not closed after our
        // end-of-stream. Close them now, while the loops run, and count them as cut.
        let cut = await connections.closeAll()
        if cut > 0 {
            statistics.connectionsCut.add(cut, ordering: .relaxed)
            logger.notice("grace period over: cut the remaining connections", metadata: ["cut": "\(cut)"])
        }
        for channel in listening.udp {
            try? await channel.close()
        }
    }

    // MARK: - Binding

    private func listen(group: EventLoopGroup, connections: OpenConnections) -> EventLoopFuture<Listening> {
        if let host = configuration.host {
            return listen(group: group, connections: connections, host: host, attemptsLeft: 32)
        }
        // All interfaces: dual stack where the machine has IPv6, else IPv4 only.
        return listen(group: group, connections: connections, host: "::", attemptsLeft: 32).flatMapError { error in
            if let e = error as? ListenError, e.listener == .tcp, e.code == .familyNotSupported || e.code == .addressNotAvailable {
                self.logger.info("IPv6 unavailable: listening on IPv4 only")
                return self.listen(group: group, connections: connections, host: "0.0.0.0", attemptsLeft: 32)
            }
            return group.next().makeFailedFuture(error)
        }
    }

    private func listen(group: EventLoopGroup, connections: OpenConnections, host: String, attemptsLeft: Int) -> EventLoopFuture<Listening> {
        let requestedPort = configuration.port
        return tcpBootstrap(group: group, connections: connections).bind(host: host, port: requestedPort)
            .flatMapErrorThrowing { error in throw ListenError.binding(.tcp, host, requestedPort, error) }
            .flatMap { tcp in
                let port = tcp.localAddress?.port ?? requestedPort
                return self.bindUDP(group: group, host: host, port: port)
                    .map { udp in Listening(tcp: tcp, udp: udp, address: BoundAddress(host: host, port: port)) }
                    .flatMapError { error in
                        tcp.close().flatMap {
                            // Port 0: the kernel's free TCP port may be taken for UDP; try another.
                            if requestedPort == 0, attemptsLeft > 0, (error as? ListenError)?.code == .addressInUse {
                                return self.listen(group: group, connections: connections, host: host, attemptsLeft: attemptsLeft - 1)
                            }
                            return group.next().makeFailedFuture(error)
                        }
                    }
            }
    }

    private func bindUDP(group: EventLoopGroup, host: String, port: Int) -> EventLoopFuture<[Channel]> {
        // One socket per event loop, spread by the kernel (SO_REUSEPORT); with impairment on, one
        // socket, so that a seed fixes the sequence of drops and delays in arrival order.
        // Likewise with a rate limit, so that one table sees every datagram from a source (the
        // kernel spreads one source's datagrams over the sockets by port).
        let sockets = configuration.impairment.isActive || configuration.udpRateLimit != nil ? 1 : configuration.threads
        return udpBootstrap(group: group, reusePort: sockets > 1).bind(host: host, port: port)
            .flatMapErrorThrowing { error in throw ListenError.binding(.udp, host, port, error) }
            .flatMap { first in
                let rest = (1..<sockets).map { _ in self.udpBootstrap(group: group, reusePort: true).bind(host: host, port: port) }
                // All of them settled, so that none bound is left open when one failed.
                return EventLoopFuture.whenAllComplete(rest, on: first.eventLoop).flatMap { results in
                    var bound = [first]
                    var failure: Error?
                    for result in results {
                        switch result {
                        case .success(let channel): bound.append(channel)
                        case .failure(let error): failure = failure ?? error
                        }
                    }
                    guard let failure else {
                        return first.eventLoop.makeSucceededFuture(bound)
                    }
                    return EventLoopFuture.andAllComplete(bound.map { $0.close() }, on: first.eventLoop)
                        .flatMapThrowing { throw ListenError.binding(.udp, host, port, failure) }
                }
            }
    }

    private func tcpBootstrap(group: EventLoopGroup, connections: OpenConnections) -> ServerBootstrap {
        let statistics = self.statistics
        let logger = self.logger
        let configuration = self.configuration
        let limitWarnings = RateLimit(interval: .seconds(1))
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
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
                connections.admit(channel)
                statistics.tcpConnections.add(1, ordering: .relaxed)
                let active = statistics.activeConnections.add(1, ordering: .relaxed).newValue
                if active > configuration.maxConnections {
                    // Refused connections do not count as active: they must not keep out the next
                    // client once a served one has closed.
                    statistics.activeConnections.subtract(1, ordering: .relaxed)
                    statistics.rejectedConnections.add(1, ordering: .relaxed)
                    // A flood over the limit must not become a flood in the log: one line a second.
                    if let suppressed = limitWarnings.permit() {
                        logger.warning(
                            "connection limit reached: closing new connection",
                            metadata: [
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

    private func udpBootstrap(group: EventLoopGroup, reusePort: Bool) -> DatagramBootstrap {
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
            bootstrap = bootstrap.channelOption(.socketOption(.reusePort), value: 1)
        }
        return bootstrap
    }
}

/// A continuation resumed by the first of several callers; the later ones do nothing.
private final class ResumeOnce: Sendable {
    private let continuation: NIOLockedValueBox<CheckedContinuation<Void, Never>?>

    init(_ continuation: CheckedContinuation<Void, Never>) {
        self.continuation = NIOLockedValueBox(continuation)
    }

    func resume() {
        continuation.withLockedValue { $0.take() }?.resume()
    }
}

/// At most one event per interval; counts the ones it turned away in between.
final class RateLimit: Sendable {
    private let interval: Duration
    private let state = NIOLockedValueBox<(last: ContinuousClock.Instant?, suppressed: Int)>((nil, 0))

    init(interval: Duration) { self.interval = interval }

    /// Nil when the event should be suppressed; otherwise how many were suppressed before it.
    func permit(now: ContinuousClock.Instant = .now) -> Int? {
        state.withLockedValue { state in
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
