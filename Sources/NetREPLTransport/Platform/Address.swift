// Where lines go: a host and port as the user typed them, and the socket addresses they resolve to
// (getaddrinfo, once per :connect, before any timing starts).

import Glibc
import NetREPLProtocol

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
    public var description: String { formatHostPort(host, port) }
}

/// One resolved socket address.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    private let bytes: [UInt8]

    init(copying address: UnsafePointer<sockaddr>, length: socklen_t) {
        bytes = Array(UnsafeRawBufferPointer(start: address, count: Int(length)))
    }

    public var family: Int32 {
        bytes.withUnsafeBytes { Int32($0.load(as: sockaddr.self).sa_family) }
    }

    public var isIPv6: Bool { family == AF_INET6 }

    /// The largest UDP payload to this address: an IPv4-mapped IPv6 address travels as IPv4.
    public var maximumDatagram: Int {
        Datagram.maximumPayload(ipv6: isIPv6 && !numericHost.hasPrefix("::ffff:"))
    }

    var numeric: (host: String, port: Int) {
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var serv = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let rc = withSockaddr { sa, length in
            getnameinfo(sa, length, &host, socklen_t(host.count), &serv, socklen_t(serv.count), NI_NUMERICHOST | NI_NUMERICSERV)
        }
        guard rc == 0 else { return ("?", 0) }
        let h = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let s = String(decoding: serv.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (h, Int(s) ?? 0)
    }

    var numericHost: String { numeric.host }

    /// Numeric form, `127.0.0.1:12000` or `[::1]:12000`.
    public var description: String {
        let (host, port) = numeric
        return formatHostPort(host, port)
    }

    /// Calls `body` with this address as a `sockaddr` pointer.
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        bytes.withUnsafeBytes { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
    }
}

/// Why a target could not be resolved.
public enum ResolutionError: Error, Sendable, Equatable {
    case portOutOfRange(Target)
    /// The resolver's own reason (gai_strerror).
    case notFound(Target, reason: String)
    /// The host is an address literal of the other family than -4 or -6 asked for.
    case wrongFamily(Target, asked: AddressFamily)
    /// The name resolves, but not to an address of the family asked for.
    case noAddressOfFamily(Target, asked: AddressFamily)
}

// glibc's extensions to getaddrinfo's errors, which Swift does not import without _GNU_SOURCE.
private let gaiAddressFamily: Int32 = -9
private let gaiNoData: Int32 = -5

public enum Resolver {
    /// Resolves `target` in the resolver's order, without duplicates.
    public static func resolve(_ target: Target, family: AddressFamily) throws(ResolutionError) -> [SocketAddress] {
        guard (1...65535).contains(target.port) else { throw .portOutOfRange(target) }
        if family != .any, let literal = literalFamily(target.host), literal != family {
            throw .wrongFamily(target, asked: family)
        }
        var hints = addrinfo()
        hints.ai_family = family.cValue
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
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
            // glibc answers a lookup limited to one family with EAI_NONAME when /etc/hosts has the
            // name only in the other (`-6 localhost` without ::1): a name found without the limit
            // has no address of that family, which says more than "Name or service not known".
            if family != .any, rc == gaiAddressFamily || rc == gaiNoData || (rc == EAI_NONAME && resolvesInAnyFamily(target)) {
                throw .noAddressOfFamily(target, asked: family)
            }
            throw .notFound(target, reason: gai_strerror(rc).map { String(cString: $0) } ?? "error \(rc)")
        }
        defer { freeaddrinfo(result) }
        var addresses: [SocketAddress] = []
        var cursor = result
        while let info = cursor {
            if let addr = info.pointee.ai_addr, Int(info.pointee.ai_addrlen) <= MemoryLayout<sockaddr_storage>.size {
                let address = SocketAddress(copying: addr, length: info.pointee.ai_addrlen)
                if !addresses.contains(address) { addresses.append(address) }
            }
            cursor = info.pointee.ai_next
        }
        if addresses.isEmpty { throw .noAddressOfFamily(target, asked: family) }
        return addresses
    }

    private static func resolvesInAnyFamily(_ target: Target) -> Bool {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(target.host, String(target.port), &hints, &result) == 0 else { return false }
        freeaddrinfo(result)
        return true
    }

    /// The family of an address literal (`127.0.0.1`, `::1`), nil for a name.
    static func literalFamily(_ host: String) -> AddressFamily? {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return .ipv4 }
        if inet_pton(AF_INET6, host, &v6) == 1 { return .ipv6 }
        return nil
    }
}
