// Prometheus text metrics over HTTP (`--metrics-port`), read from the server's counters at each scrape.

import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NetREPLProtocol
import Prometheus
import ServiceLifecycle

/// One exported series and the field of `ServerStatistics.Snapshot` it reads. A new counter in the
/// snapshot is exported by adding one line to `ServerMetrics.exported`.
public struct ExportedSeries: Sendable {
    public enum Kind: Sendable { case counter, gauge }
    public let kind: Kind
    /// The name without the `netrepl_` prefix: `connections_total`.
    public let name: String
    public let help: String
    /// `tcp`, `udp`, or nil when the counter covers both.
    public let transport: String?
    public let read: @Sendable (ServerStatistics.Snapshot) -> Int

    static func counter(_ name: String, _ transport: String?, _ help: String, _ read: @escaping @Sendable (ServerStatistics.Snapshot) -> Int) -> Self {
        Self(kind: .counter, name: name, help: help, transport: transport, read: read)
    }

    static func gauge(_ name: String, _ transport: String?, _ help: String, _ read: @escaping @Sendable (ServerStatistics.Snapshot) -> Int) -> Self {
        Self(kind: .gauge, name: name, help: help, transport: transport, read: read)
    }
}

/// The server's counters as a Prometheus registry, brought up to date from a snapshot per scrape.
public final class ServerMetrics: Sendable {
    public static let exported: [ExportedSeries] = [
        .gauge("connections_open", "tcp", "TCP connections open now.", { $0.activeConnections }),
        .counter("connections_total", "tcp", "TCP connections accepted, refused ones included.", { $0.tcpConnections }),
        .counter("connections_refused_total", "tcp", "TCP connections closed at once for --max-connections.", { $0.rejectedConnections }),
        .counter("datagrams_total", "udp", "UDP datagrams received.", { $0.udpDatagrams }),
        .counter("replies_dropped_total", "udp", "UDP replies not sent because the socket could not take them.", { $0.udpDropped }),
        .counter("impairment_drops_total", "udp", "UDP replies dropped on purpose by --loss.", { $0.impairmentDropped }),
        .counter("rate_limited_total", "udp", "UDP datagrams left unanswered by --udp-rate-limit.", { $0.udpRateLimited }),
        .counter("replies_cut_total", "udp", "UDP replies cut to the largest datagram.", { $0.udpTruncated }),
        .counter("received_bytes_total", nil, "Payload bytes received, UDP and TCP.", { $0.bytesIn }),
        .counter("sent_bytes_total", nil, "Payload bytes sent, UDP and TCP.", { $0.bytesOut }),
        .counter("connections_cut_total", "tcp", "TCP connections the shutdown grace period closed before their reply was done.", { $0.connectionsCut }),
    ]

    private let statistics: ServerStatistics
    /// Also the home of anything recorded through swift-metrics once `MetricsSystem` is bootstrapped
    /// with `PrometheusMetricsFactory(registry:)`: it is emitted with the server's own series.
    public let registry = PrometheusCollectorRegistry()
    /// The collectors; the lock makes reset-then-set and emit one step per scrape.
    private let state: NIOLockedValueBox<(counters: [Counter?], gauges: [Gauge?])>

    public init(statistics: ServerStatistics, version: String) {
        self.statistics = statistics
        var counters: [Counter?] = []
        var gauges: [Gauge?] = []
        for series in Self.exported {
            let labels = series.transport.map { [("protocol", $0)] } ?? []
            let descriptor = Self.descriptor(series.name, series.help)
            switch series.kind {
            case .counter:
                counters.append(registry.makeCounter(descriptor: descriptor, labels: labels))
                gauges.append(nil)
            case .gauge:
                counters.append(nil)
                gauges.append(registry.makeGauge(descriptor: descriptor, labels: labels))
            }
        }
        registry.makeGauge(descriptor: Self.descriptor("build_info", "The running release; always 1."), labels: [("version", version)]).set(to: 1.0)
        state = NIOLockedValueBox((counters, gauges))
    }

    private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        // The registry joins these with underscores; the whole name is kept in metricName.
        MetricNameDescriptor(namespace: "netrepl", metricName: name, unitName: "", helpText: help)
    }

    /// The exposition text (format 0.0.4) for the counters as they are now.
    public func scrape() -> [UInt8] {
        let snapshot = statistics.snapshot
        return state.withLockedValue { state in
            for (index, series) in Self.exported.enumerated() {
                let value = series.read(snapshot)
                // The server's own counters are the truth: a Prometheus counter only goes up, so
                // it is reset and set to the total, under the lock that also serialises emitting.
                state.counters[index]?.reset()
                state.counters[index]?.increment(by: Int64(value))
                state.gauges[index]?.set(Int64(value))
            }
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return buffer
        }
    }
}

/// A small HTTP/1.1 server answering `GET /metrics`; a Service, so it stops with the server.
public final class MetricsEndpoint: Service, Sendable {
    private let metrics: ServerMetrics
    private let logger: Logger
    private let channel = NIOLockedValueBox<Channel?>(nil)

    public init(metrics: ServerMetrics, logger: Logger) {
        self.metrics = metrics
        self.logger = logger
    }

    /// Binds and starts answering; returns the port (useful with port 0).
    public func start(host: String, port: Int) async throws -> Int {
        let metrics = self.metrics
        let bound: Channel
        do {
            bound = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(metrics: metrics))
                    }
                }
                .bind(host: host, port: port)
                .get()
        } catch {
            throw ListenError.binding(.metrics, host, port, error)
        }
        channel.withLockedValue { $0 = bound }
        let actual = bound.localAddress?.port ?? port
        logger.info("serving metrics", metadata: ["address": "\(formatHostPort(host, actual))"])
        return actual
    }

    public func run() async throws {
        try? await gracefulShutdown()
        let bound = channel.withLockedValue { channel -> Channel? in
            defer { channel = nil }
            return channel
        }
        try? await bound?.close()
    }
}

/// Answers each request on one connection: 200 with the metrics for GET or HEAD of /metrics,
/// 404 for other paths, 405 for other methods.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let metrics: ServerMetrics
    private var request: HTTPRequestHead?

    init(metrics: ServerMetrics) { self.metrics = metrics }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break
        case .end:
            guard let head = request else { return }
            request = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let status: HTTPResponseStatus
        var body: [UInt8]
        var headers = HTTPHeaders()
        if head.method != .GET && head.method != .HEAD {
            (status, body) = (.methodNotAllowed, Array("only GET /metrics is served\n".utf8))
            headers.add(name: "Allow", value: "GET, HEAD")
        } else if path != "/metrics" {
            (status, body) = (.notFound, Array("not found: the metrics are at /metrics\n".utf8))
        } else {
            (status, body) = (.ok, metrics.scrape())
        }
        headers.add(name: "Content-Type", value: status == .ok ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.count))
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        if head.method == .HEAD { body = [] }

        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if !body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
