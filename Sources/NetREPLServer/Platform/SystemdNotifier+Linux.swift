// The sd_notify(3) datagram on Linux: a unix datagram socket, addressed by path or in the
// abstract namespace, sent through the one system-call wrapper.

import Glibc
import SystemCalls
import SystemPackage

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
        let bytes = Array(message.utf8)
        let sent: Int
        do throws(Errno) {
            let socket = FileDescriptor(
                rawValue: try retryingInterrupts {
                    Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                })
            defer { try? socket.close() }
            sent = try retryingInterrupts {
                bytes.withUnsafeBytes { payload in
                    withUnsafePointer(to: &address) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            sendto(socket.rawValue, payload.baseAddress, payload.count, 0, $0, length)
                        }
                    }
                }
            }
        } catch {
            throw NotifyError(socket: socketName, reason: error.description)
        }
        guard sent == bytes.count else { throw NotifyError(socket: socketName, reason: "short write") }
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
