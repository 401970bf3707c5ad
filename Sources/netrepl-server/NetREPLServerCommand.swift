// netrepl-server: the command line around the NetREPLServer library.

import ArgumentParser
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

    @Option(help: ArgumentHelp("Close a TCP connection idle this many seconds; 0 disables.", valueName: "seconds"))
    var idleTimeout: Double = 300

    @Option(help: ArgumentHelp("Close TCP connections beyond this many at once.", valueName: "n"))
    var maxConnections: Int = 65536

    @Option(help: ArgumentHelp("Seconds to let replies in flight finish on SIGINT/SIGTERM.", valueName: "seconds"))
    var gracePeriod: Double = 5

    @Option(help: ArgumentHelp("Drop each UDP reply with this probability (0.3 or 30%).", valueName: "p"))
    var loss: String = "0"

    @Option(help: ArgumentHelp("Delay each UDP reply (100ms, 0.25s, 250us; a bare number is ms).", valueName: "duration"))
    var delay: String = "0"

    @Option(help: ArgumentHelp("Add a uniform random delay in [-J, +J] to each UDP reply.", valueName: "duration"))
    var jitter: String = "0"

    @Option(help: ArgumentHelp("Send each UDP reply twice with this probability.", valueName: "p"))
    var duplicate: String = "0"

    @Option(help: ArgumentHelp("Seed for reproducible impairment.", valueName: "n"))
    var seed: UInt64?

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
    }

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be from 0 to 65535, not \(port).") }
        if let metricsPort, !(0...65535).contains(metricsPort) { throw ValidationError("--metrics-port must be from 0 to 65535, not \(metricsPort).") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1.") }
        guard idleTimeout >= 0, idleTimeout.isFinite else { throw ValidationError("--idle-timeout must be 0 or more seconds.") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1.") }
        guard gracePeriod >= 0, gracePeriod.isFinite else { throw ValidationError("--grace-period must be 0 or more seconds.") }
        if let udpRateLimit, udpRateLimit < 1 { throw ValidationError("--udp-rate-limit must be at least 1 datagram a second; leave it out for no limit.") }
        _ = try impairment()
    }

    func impairment() throws -> Impairment {
        guard let loss = ValueParsing.probability(loss) else { throw ValidationError("--loss takes a probability from 0 to 1, or a percentage: 0.3, 30%; not '\(loss)'.") }
        guard let duplicate = ValueParsing.probability(duplicate) else { throw ValidationError("--duplicate takes a probability from 0 to 1, or a percentage: 0.1, 10%; not '\(duplicate)'.") }
        guard let delay = ValueParsing.duration(delay) else { throw ValidationError("--delay takes a duration: 100ms, 0.25s, 250us; not '\(delay)'.") }
        guard let jitter = ValueParsing.duration(jitter) else { throw ValidationError("--jitter takes a duration: 20ms, 0.02s; not '\(jitter)'.") }
        return Impairment(loss: loss, delay: delay, jitter: jitter, duplicate: duplicate, seed: seed)
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
                idleTimeout: idleTimeout > 0 ? .nanoseconds(Int64(idleTimeout * 1e9)) : nil,
                maxConnections: maxConnections,
                gracePeriod: .nanoseconds(Int64(gracePeriod * 1e9)),
                impairment: try impairment(),
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
        // Scripts and tests wait for this line: written straight to the descriptor, never buffered.
        writeLine(STDOUT_FILENO, "netrepl-server: ready, udp and tcp on \(formatHostPort(bound.host, bound.port))")
        if let notifier = SystemdNotifier() {
            services.append(.init(service: SystemdNotifyService(notifier: notifier, status: "serving udp and tcp on \(formatHostPort(bound.host, bound.port))") {
                logger.warning("\($0)")
            }))
        }

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

/// One whole line in one write(2).
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
