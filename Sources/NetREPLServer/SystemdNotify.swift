// Readiness and stopping reported to systemd (`Type=notify`) over $NOTIFY_SOCKET, without libsystemd.

import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure to notify the service manager, naming the socket: `cannot notify systemd on @abc: ...`.
public struct NotifyError: Error, CustomStringConvertible, Sendable {
    public let socket: String
    public let reason: String
    public var description: String { "cannot notify systemd on \(socket): \(reason) (check NOTIFY_SOCKET)" }
}

/// The sd_notify(3) protocol: one datagram of `KEY=VALUE` lines to the unix datagram socket named
/// by NOTIFY_SOCKET; a name starting with `@` is in the abstract namespace.
public struct SystemdNotifier: Sendable {
    public let socketName: String

    /// Nil when NOTIFY_SOCKET is unset or empty: not started by systemd, nothing to tell.
    public init?(environment value: String? = getenv("NOTIFY_SOCKET").map { String(cString: $0) }) {
        guard let value, !value.isEmpty else { return nil }
        socketName = value
    }

    /// `READY=1` once serving; STATUS shows in `systemctl status`.
    public func ready(status: String) throws(NotifyError) {
        try send("READY=1\nSTATUS=\(status)\nMAINPID=\(getpid())")
    }

    /// `STOPPING=1` as the graceful shutdown begins.
    public func stopping() throws(NotifyError) {
        try send("STOPPING=1\nSTATUS=draining")
    }

    public func send(_ message: String) throws(NotifyError) {
        var (address, length) = try Self.address(socketName)
        #if canImport(Glibc)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(AF_UNIX, SOCK_DGRAM, 0)
        #endif
        guard fd >= 0 else { throw NotifyError(socket: socketName, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let bytes = Array(message.utf8)
        var sent: Int
        repeat {
            sent = bytes.withUnsafeBytes { payload in
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, payload.baseAddress, payload.count, 0, $0, length)
                    }
                }
            }
        } while sent < 0 && errno == EINTR
        guard sent == bytes.count else {
            throw NotifyError(socket: socketName, reason: sent < 0 ? String(cString: strerror(errno)) : "short write")
        }
    }
}

extension SystemdNotifier {
    /// The socket address for a NOTIFY_SOCKET value, and its length: a path, or with a leading
    /// `@` an abstract name, which is counted by length and not NUL-terminated.
    public static func address(_ name: String) throws(NotifyError) -> (sockaddr_un, socklen_t) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(name.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity || (abstract && bytes.count <= capacity) else {
            throw NotifyError(socket: name, reason: "name longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? 2
        return (address, socklen_t(pathOffset + bytes.count + (abstract ? 0 : 1)))
    }
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
