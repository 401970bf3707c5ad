// Where lines go: a host and port as the user typed them, and the socket addresses they resolve to
// (getaddrinfo, once per :connect, before any timing starts).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which address family to use: any (the resolver's order), IPv4 only (-4), IPv6 only (-6).
public enum AddressFamily: String, Sendable, CaseIterable {
    case any, ipv4, ipv6

    var cValue: Int32 {
        switch self {
        case .any: return AF_UNSPEC
        case .ipv4: return AF_INET
        case .ipv6: return AF_INET6
        }
    }
}

/// The host and port the user asked for, as typed (before resolution).
public struct Target: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `localhost:12000`, or `[::1]:12000` for an IPv6 literal.
    public var description: String { hostPort(host, port) }
}

func hostPort(_ host: String, _ port: Int) -> String {
    host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
}

/// One resolved socket address.
public struct SocketAddress: Sendable, Equatable, CustomStringConvertible {
    var storage: sockaddr_storage
    var length: socklen_t

    public var family: Int32 { Int32(storage.ss_family) }

    /// Numeric form, `127.0.0.1:12000` or `[::1]:12000`.
    public var description: String {
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var serv = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        var copy = storage
        let rc = withUnsafePointer(to: &copy) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                getnameinfo(sa, length, &host, socklen_t(host.count), &serv, socklen_t(serv.count),
                            NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        guard rc == 0 else { return "?" }
        let h = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let s = String(decoding: serv.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return hostPort(h, Int(s) ?? 0)
    }

    public static func == (a: SocketAddress, b: SocketAddress) -> Bool {
        a.description == b.description
    }

    /// Calls `body` with this address as a `sockaddr` pointer.
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var copy = storage
        return withUnsafePointer(to: &copy) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}

/// A name that could not be resolved, with the resolver's reason.
public struct ResolutionError: Error, Sendable, CustomStringConvertible {
    public let target: Target
    public let reason: String
    public var description: String {
        "cannot resolve \(target.host): \(reason); check the name, or give an IP address"
    }
}

public enum Resolver {
    /// Resolves `target` for `socketType` (SOCK_DGRAM or SOCK_STREAM), in the resolver's order,
    /// without duplicates.
    public static func resolve(_ target: Target, family: AddressFamily, socketType: Int32) throws(ResolutionError) -> [SocketAddress] {
        guard (0...65535).contains(target.port) else {
            throw ResolutionError(target: target, reason: "port \(target.port) is out of range 0-65535")
        }
        var hints = addrinfo()
        hints.ai_family = family.cValue
        #if canImport(Glibc)
        hints.ai_socktype = Int32(socketType)
        #else
        hints.ai_socktype = socketType
        #endif
        hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG
        var result: UnsafeMutablePointer<addrinfo>?
        var rc = getaddrinfo(target.host, String(target.port), &hints, &result)
        if rc != 0 && rc != EAI_AGAIN {
            // AI_ADDRCONFIG hides loopback-only families on machines without another interface of
            // that family; try again without it before giving up.
            hints.ai_flags = AI_NUMERICSERV
            rc = getaddrinfo(target.host, String(target.port), &hints, &result)
        }
        guard rc == 0 else {
            let reason = gai_strerror(rc).map { String(cString: $0) } ?? "error \(rc)"
            throw ResolutionError(target: target, reason: reason)
        }
        defer { freeaddrinfo(result) }
        var addresses: [SocketAddress] = []
        var cursor = result
        while let info = cursor {
            if let addr = info.pointee.ai_addr, Int(info.pointee.ai_addrlen) <= MemoryLayout<sockaddr_storage>.size {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { dest in
                    dest.copyMemory(from: UnsafeRawBufferPointer(start: addr, count: Int(info.pointee.ai_addrlen)))
                }
                let address = SocketAddress(storage: storage, length: info.pointee.ai_addrlen)
                if !addresses.contains(address) { addresses.append(address) }
            }
            cursor = info.pointee.ai_next
        }
        if addresses.isEmpty {
            throw ResolutionError(target: target, reason: "no address of the requested family")
        }
        return addresses
    }
}
