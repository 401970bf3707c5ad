// `netrepl bench`: the load generator's command line, its progress line and its exit status.

import ArgumentParser
import CommandLineOptions
import Glibc
import NetREPLBench
import NetREPLCore
import NetREPLServer
import Synchronization

/// Set by SIGINT: the run stops early and still prints its summary.
private let interruptRequested = Atomic<Bool>(false)

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "netrepl bench",
        abstract: "Load a netrepl-server (or any uppercase server) and report requests/s and latency percentiles.",
        discussion: """
            Each client keeps one request in flight and checks that every reply is its request \
            uppercased. Without --rate the load is closed loop: a client sends its next request as soon \
            as the last one is answered. With --rate the clients send on a fixed schedule (open loop) and \
            latency runs from each request's intended send time, so a stalled server shows up in the \
            percentiles. Exit status: 0 when every reply came back right and in time, 1 when some were \
            lost, wrong or failed, 2 for usage and connection errors.
            """
    )

    @Flag(help: "The transport (default: --udp).")
    var transport: TransportFlag?

    @Argument(help: ArgumentHelp("The server's host name or address (default: localhost).", valueName: "host"))
    var host: String?

    @Argument(help: ArgumentHelp("The server's port (default: 12000).", valueName: "port"))
    var port: Int?

    @Option(help: ArgumentHelp("Concurrent clients, each with its own socket and one request in flight.", valueName: "n"))
    var clients = 8

    @Option(help: ArgumentHelp("Worker threads (default: one per CPU this process may use, at most one per client).", valueName: "n"))
    var threads: Int?

    @Option(help: ArgumentHelp("How long to measure: 10, 2.5s, 500ms.", valueName: "duration"))
    var duration = DurationOption(.seconds(10))

    @Option(help: ArgumentHelp("Load before measuring, not counted.", valueName: "duration"))
    var warmup = DurationOption(.zero)

    @Option(help: ArgumentHelp("Bytes per request, the newline included.", valueName: "bytes"))
    var size = 32

    @Option(help: ArgumentHelp("Requests per second over all clients, sent on schedule (open loop); default: closed loop.", valueName: "per-second"))
    var rate: Double?

    @Option(help: ArgumentHelp("A request unanswered for this long counts as lost.", valueName: "duration"))
    var timeout = DurationOption(.seconds(1))

    @Flag(help: "Print the result as one JSON object instead of the summary.")
    var json = false

    func validate() throws {
        if let port, !(1...65535).contains(port) { throw ValidationError("PORT \(port) is out of range; give 1 to 65535") }
        if !(1...BenchPlan.maximumClients).contains(clients) {
            throw ValidationError("--clients must be 1 to \(BenchPlan.maximumClients)")
        }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be 1 to 256") }
        if duration.duration <= .zero || duration.duration > BenchPlan.maximumDuration {
            throw ValidationError("--duration must be more than 0 and at most 1 hour")
        }
        if warmup.duration < .zero || warmup.duration > BenchPlan.maximumDuration {
            throw ValidationError("--warmup must be 0 to 1 hour")
        }
        if !(BenchPlan.minimumSize...BenchPlan.maximumSize).contains(size) {
            throw ValidationError("--size must be \(BenchPlan.minimumSize) to \(BenchPlan.maximumSize) bytes")
        }
        if let rate, !(rate > 0 && rate <= 10_000_000) { throw ValidationError("--rate must be more than 0 and at most 10000000 per second") }
        if timeout.duration <= .zero || timeout.duration > .seconds(60) {
            throw ValidationError("--timeout must be more than 0 and at most 60 s")
        }
    }

    mutating func run() throws {
        signal(SIGPIPE, SIG_IGN)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in interruptRequested.store(true, ordering: .relaxed) }
        sigaction(SIGINT, &action, nil)
        // A parent may have blocked it (test runners do); the worker threads inherit this mask.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        let err = FileDescriptorSink(.standardError)
        let out = FileDescriptorSink(.standardOutput)
        let kind: BenchTransport = transport == .tcp ? .tcp : .udp
        let plan: BenchPlan
        do {
            let address = try BenchResolver.resolve(host: host ?? "localhost", port: port ?? 12000, transport: kind)
            plan = BenchPlan(
                transport: kind, address: address, clients: clients, threads: threads ?? CPUBudget.available,
                duration: duration.duration, warmup: warmup.duration, size: size, rate: rate,
                timeout: timeout.duration)
        } catch {
            err.write(Array("netrepl: \(BenchPresenter.describe(error))\n".utf8))
            Glibc.exit(ExitStatus.usageOrConnection)
        }
        let live = isTerminal(STDERR_FILENO)
        let engine = BenchEngine(plan: plan)
        let report: BenchReport
        do {
            report = try engine.run(shouldStop: { interruptRequested.load(ordering: .relaxed) }) { progress in
                guard live else { return }
                // Clear to the end of the line: the new text may be shorter than the last.
                err.write(Array("\r\(BenchPresenter.progressLine(progress, plan: plan))\u{1B}[K".utf8))
            }
        } catch {
            err.write(Array("netrepl: \(BenchPresenter.describe(error))\n".utf8))
            Glibc.exit(ExitStatus.usageOrConnection)
        }
        if live { err.write(Array("\r\u{1B}[K".utf8)) }
        out.write(Array((json ? BenchPresenter.json(report) : BenchPresenter.summary(report)).utf8))
        Glibc.exit(report.clean ? ExitStatus.success : ExitStatus.someFailed)
    }
}
