// `netrepl --serve`: the same UppercaseServer service that netrepl-server runs, in a ServiceGroup
// of its own, started before the session and stopped when it ends.

import Logging
import NetREPLServer
import ServiceLifecycle

struct EmbeddedServer {
    let address: BoundAddress
    private let group: ServiceGroup
    private let running: Task<Void, Error>

    /// Runs the server and returns once it serves; throws what stopped it from serving. The group
    /// traps no signal: the session owns SIGINT, SIGTERM and SIGHUP and ends with `stop()`.
    static func start(configuration: ServerConfiguration, logger: Logger) async throws -> EmbeddedServer {
        let (addresses, ready) = AsyncStream.makeStream(of: BoundAddress.self)
        let server = UppercaseServer(configuration: configuration, logger: logger) { address in
            ready.yield(address)
            ready.finish()
        }
        let group = ServiceGroup(configuration: .init(services: [.init(service: server)], logger: logger))
        let running = Task.detached {
            // A failure to bind ends the stream without an address.
            defer { ready.finish() }
            try await group.run()
        }
        for await address in addresses {
            return EmbeddedServer(address: address, group: group, running: running)
        }
        try await running.value
        throw CancellationError()
    }

    /// Lets replies in flight finish (at most the grace period), then closes everything.
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = await running.result
    }

    /// Why it could not start, with the hint that names our own option.
    static func describe(_ error: Error) -> String {
        guard let error = error as? ListenError else { return "\(error)" }
        let reason = error.errno.map { "\($0)" } ?? error.detail ?? "\(error.code)"
        let hint = error.code == .addressInUse ? " (choose another with --port, or leave --port out for a free one)" : ""
        return "cannot listen on \(error.listener.rawValue) port \(error.port): \(reason)\(hint)"
    }
}
