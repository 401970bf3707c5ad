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

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

    @Option(help: ArgumentHelp("Port for both UDP and TCP; 0 picks one free for both.", valueName: "port"))
    var port: Int = 12000

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

    @Option(help: ArgumentHelp("Serve Prometheus metrics over HTTP at /metrics on this port, on the --host address; 0 picks a free one.", valueName: "port"))
    var metricsPort: Int?

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
        guard (0...65535).contains(port) else { throw ValidationError("--port must be from 0 to 65535, not \(port).") }
        if let metricsPort, !(0...65535).contains(metricsPort) { throw ValidationError("--metrics-port must be from 0 to 65535, not \(metricsPort).") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1.") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1.") }
        if let udpRateLimit, udpRateLimit < 1 { throw ValidationError("--udp-rate-limit must be at least 1 datagram a second; leave it out for no limit.") }
    }

    var impairment: Impairment {
        Impairment(loss: impairmentOptions.loss.value, delay: impairmentOptions.delay.duration,
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

        let server = UppercaseServer(
            configuration: ServerConfiguration(
                host: host,
                port: port,
                threads: threads,
                idleTimeout: idleTimeout.duration > .zero ? TimeAmount(idleTimeout.duration) : nil,
                maxConnections: maxConnections,
                gracePeriod: TimeAmount(gracePeriod.duration),
                impairment: impairment,
                udpRateLimit: udpRateLimit
            ),
            logger: logger
        )
        do {
            try await server.startAsync()
        } catch {
            await server.stop()
            writeLine(STDERR_FILENO, "netrepl-server: \(error)")
            throw ExitCode.failure
        }
        guard let bound = server.boundAddress else { throw ExitCode.failure }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let metricsPort {
            let metrics = ServerMetrics(statistics: server.statistics, version: netreplVersion)
            // Whatever is recorded through swift-metrics in this process is served beside our series.
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics.registry))
            let endpoint = MetricsEndpoint(metrics: metrics, logger: logger)
            do {
                let port = try await endpoint.start(host: bound.host, port: metricsPort)
                writeLine(STDOUT_FILENO, "netrepl-server: metrics on http://\(formatHostPort(bound.host, port))/metrics")
            } catch {
                await server.stop()
                writeLine(STDERR_FILENO, "netrepl-server: \(error)")
                throw ExitCode.failure
            }
            services.append(.init(service: endpoint))
        }
        services.append(.init(service: server))
        // Scripts and tests wait for this line, and may send SIGTERM as soon as they see it: so it
        // is written by a service of the group, once the group traps the signals.
        let notify = SystemdNotifier().map { notifier in
            SystemdNotifyService(notifier: notifier, status: "serving udp and tcp on \(formatHostPort(bound.host, bound.port))") {
                logger.warning("\($0)")
            }
        }
        services.append(.init(service: ReadyLine(text: "netrepl-server: ready, udp and tcp on \(formatHostPort(bound.host, bound.port))",
                                                 notify: notify)))

        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
        let summary = server.statistics.snapshot
        writeLine(STDOUT_FILENO, summary.summaryLine)
        // Losses also go to the log, where an operator watching it (not stdout) sees them.
        if summary.lostAnything {
            logger.notice("\(summary.summaryLine.dropFirst("netrepl-server: ".count))")
        }
    }
}

/// Writes the ready line when the service group runs (its signal handlers in place), then tells
/// systemd (READY=1, and STOPPING=1 at the stop) when it asked to be told, then waits for the stop.
struct ReadyLine: Service {
    let text: String
    let notify: SystemdNotifyService?

    func run() async throws {
        writeLine(STDOUT_FILENO, text)
        if let notify {
            try await notify.run()
        } else {
            try? await gracefulShutdown()
        }
    }
}

/// One whole line in one write(2), straight to the descriptor, never buffered.
func writeLine(_ fd: Int32, _ text: String) {
    var bytes = Array((text + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        offset += n
    }
}
