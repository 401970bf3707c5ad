// Readiness and stopping reported to systemd (`Type=notify`) over $NOTIFY_SOCKET, without libsystemd.

import ServiceLifecycle

/// A failure to notify the service manager, naming the socket: `cannot notify systemd on @abc: ...`.
public struct NotifyError: Error, CustomStringConvertible, Sendable {
    public let socket: String
    public let reason: String
    public var description: String { "cannot notify systemd on \(socket): \(reason) (check NOTIFY_SOCKET)" }
}

/// READY=1 when told the server is serving, and STOPPING=1 as a service of the ServiceGroup.
/// Listed last, it is shut down first: STOPPING=1 goes out before the server drains.
public struct SystemdNotifyService: Service {
    let notifier: SystemdNotifier
    let onError: @Sendable (NotifyError) -> Void

    public init(notifier: SystemdNotifier, onError: @escaping @Sendable (NotifyError) -> Void) {
        self.notifier = notifier
        self.onError = onError
    }

    /// `READY=1`; `status` is shown by `systemctl status` while serving.
    public func ready(status: String) {
        do { try notifier.ready(status: status) } catch { onError(error) }
    }

    public func run() async throws {
        try? await gracefulShutdown()
        do { try notifier.stopping() } catch { onError(error) }
    }
}
