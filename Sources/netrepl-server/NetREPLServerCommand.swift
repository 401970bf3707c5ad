// netrepl-server: the command line around the NetREPLServer library.

import ArgumentParser
import CommandLineOptions
import Logging
import Metrics
import NIOCore
import NetREPLProtocol
import NetREPLServer
import Prometheus
import ServiceLifecycle
import SystemPackage

@main
struct NetREPLServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "netrepl-server",
        abstract: "Answer UDP and TCP on one port with the uppercase of what arrives.",
        discussion: """
            UDP: each datagram is answered with one datagram holding its uppercase. TCP: the reply \
            stream is the uppercase of the request stream. See netrepl-server(1) and docs/PROTOCOL.md.
            """,
        version: netreplVersion
    )

    @Option(help: ArgumentHelp("Address to listen on (default: all interfaces, IPv6 and IPv4).", valueName: "host"))
    var host: String?

    @Option(help: ArgumentHelp("Port for both UDP and TCP (0 to 65535); 0 picks one free for both.", valueName: "port"))
    var port: Port = .standard

    @Option(help: ArgumentHelp("Event loops (threads); default one per CPU this process may use (affinity, cgroup quota).", valueName: "n"))
    var threads: Int = CPUBudget.available

    @Option(help: ArgumentHelp("Close a TCP connection idle this long (300, 5m, 30s); 0 disables.", valueName: "duration"))
    var idleTimeout = DurationOption(.seconds(300))

    @Option(help: ArgumentHelp("Close TCP connections beyond this many at once.", valueName: "n"))
    var maxConnections: Int = 65536

    @Option(help: ArgumentHelp("How long to let replies in flight finish on SIGINT/SIGTERM (5, 500ms).", valueName: "duration"))
    var gracePeriod = DurationOption(.seconds(5))

    @OptionGroup var impairmentOptions: ImpairmentOptions

    @Option(help: ArgumentHelp("Answer at most this many UDP datagrams a second per source address (default: no limit).", valueName: "n"))
    var udpRateLimit: Int?

    @Option(
        help: ArgumentHelp(
            "Serve Prometheus metrics over HTTP at /metrics on this port (0 to 65535), on the --host address; 0 picks a free one.", valueName: "port"))
    var metricsPort: Port?

    @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error, critical.", valueName: "level"))
    var logLevel: LogLevel = .info

    struct LogLevel: ExpressibleByArgument {
        let level: Logger.Level
        static let info = LogLevel(level: .info)
        init(level: Logger.Level) { self.level = level }
        init?(argument: String) {
            guard let level = Logger.Level(rawValue: argument.lowercased()) else { return nil }
            self.level = level
        }
        static var allValueStrings: [String] { Logger.Level.allCases.map(\.rawValue) }
        /// `info`, not `LogLevel(level: info)`.
        var defaultValueDescription: String { level.rawValue }
    }

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1.") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1.") }
        if let udpRateLimit, udpRateLimit < 1 { throw ValidationError("--udp-rate-limit must be at least 1 datagram a second; leave it out for no limit.") }
    }

    var impairment: Impairment {
        Impairment(
            loss: impairmentOptions.loss.value, delay: impairmentOptions.delay.duration,
            jitter: impairmentOptions.jitter.duration, duplicate: impairmentOptions.duplicate.value,
            seed: impairmentOptions.seed)
    }

    func run() async throws {
        let logLevel = self.logLevel.level
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        let logger = Logger(label: "netrepl-server")
        if let limit = ResourceLimits.raiseOpenFileLimit() {
            logger.debug("open file limit", metadata: ["soft": "\(limit.soft)", "hard": "\(limit.hard)"])
        }

        let statistics = ServerStatistics()
        let metrics = metricsPort.map { _ in
            let metrics = ServerMetrics(statistics: statistics, version: netreplVersion)
            // Whatever is recorded through swift-metrics in this process is served beside our series.
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics.registry))
            return MetricsEndpoint(metrics: metrics, logger: logger)
        }
        let systemd = SystemdNotifier().map { notifier in
            SystemdNotifyService(notifier: notifier) { logger.warning("\($0)") }
        }
        let metricsPort = self.metricsPort
        let server = UppercaseServer(
            configuration: ServerConfiguration(
                host: host,
                port: port.value,
                threads: threads,
                idleTimeout: idleTimeout.duration > .zero ? TimeAmount(idleTimeout.duration) : nil,
                maxConnections: maxConnections,
                gracePeriod: TimeAmount(gracePeriod.duration),
                impairment: impairment,
                udpRateLimit: udpRateLimit
            ),
            statistics: statistics,
            logger: logger
        ) { bound in
            let address = formatHostPort(bound.host, bound.port)
            if let metrics, let metricsPort {
                let port = try await metrics.start(host: bound.host, port: metricsPort.value)
                writeLine(.standardOutput, "netrepl-server: metrics on http://\(formatHostPort(bound.host, port))/metrics")
            }
            // Scripts and tests wait for this line, and may send SIGTERM as soon as they see it: it
            // is written from within the group, whose signal handlers are in place by then.
            writeLine(.standardOutput, "netrepl-server: ready, udp and tcp on \(address)")
            systemd?.ready(status: "serving udp and tcp on \(address)")
        }
        // Shut down in reverse order: STOPPING=1 goes out first, then the server drains, and the
        // metrics are served to the end.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let metrics { services.append(.init(service: metrics)) }
        services.append(.init(service: server))
        if let systemd { services.append(.init(service: systemd)) }
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch {
            writeLine(.standardError, "netrepl-server: \(Self.describe(error))")
            throw ExitCode.failure
        }
        writeLine(.standardOutput, Self.summary(statistics.snapshot))
    }

    /// A failure to start, as one line with the hint that names our own option.
    static func describe(_ error: Error) -> String {
        guard let error = error as? ListenError else { return "\(error)" }
        let option = error.listener == .metrics ? "--metrics-port" : "--port"
        let hint: String
        switch error.code {
        case .addressInUse where error.listener == .metrics:
            hint = " (another program holds this port: choose another with \(option))"
        case .addressInUse: hint = " (another program holds this port: stop it, or choose another with \(option))"
        case .permissionDenied: hint = " (ports below 1024 need root or CAP_NET_BIND_SERVICE: choose another with \(option))"
        case .addressNotAvailable: hint = " (not an address of this machine: check --host)"
        case .unknownHost: hint = "unknown host (check --host)"
        default: hint = ""
        }
        return "cannot listen on \(error.listener.rawValue) \(formatHostPort(error.host, error.port)): "
            + (error.errno.map { "\($0)" } ?? error.detail ?? "") + hint
    }

    /// The line printed at the stop. Its first part is unchanged from earlier versions, for
    /// scripts; the losses follow, always all of them, so that a zero is visible as a zero.
    static func summary(_ s: ServerStatistics.Snapshot) -> String {
        "netrepl-server: stopped: \(s.tcpConnections) tcp connections, \(s.udpDatagrams) udp datagrams, "
            + "\(s.bytesIn) bytes in, \(s.bytesOut) bytes out; "
            + "\(s.rejectedConnections) connections refused, \(s.connectionsCut) cut at shutdown, "
            + "\(s.udpDropped) udp replies dropped, \(s.udpTruncated) cut to fit, "
            + "\(s.impairmentDropped) dropped by impairment, \(s.udpRateLimited) rate-limited"
    }
}

/// One whole line, straight to the descriptor, never buffered.
func writeLine(_ descriptor: SystemPackage.FileDescriptor, _ text: String) {
    _ = try? descriptor.writeAll((text + "\n").utf8)
}
