// What one `netrepl bench` run does: the target, the transport, the load's shape and its bounds.

import Glibc

public enum BenchTransport: String, Sendable {
    case udp, tcp
}

/// A resolved socket address, copied out of getaddrinfo so it can cross threads.
public struct BenchAddress: Sendable {
    var storage: sockaddr_storage
    var length: socklen_t
    public let family: Int32
    /// `127.0.0.1:12000` or `[::1]:12000`, for the report.
    public let text: String
}

public struct BenchPlan: Sendable {
    public var transport: BenchTransport
    public var address: BenchAddress
    public var clients: Int
    public var threads: Int
    public var duration: Duration
    public var warmup: Duration
    /// Request size in bytes, the final newline included.
    public var size: Int
    /// Requests per second over all clients (open loop); nil: closed loop, each client sends its
    /// next request as soon as the previous one is settled.
    public var rate: Double?
    /// A request still unanswered after this long is counted lost.
    public var timeout: Duration

    public init(
        transport: BenchTransport, address: BenchAddress, clients: Int, threads: Int, duration: Duration,
        warmup: Duration, size: Int, rate: Double?, timeout: Duration
    ) {
        self.transport = transport
        self.address = address
        self.clients = clients
        self.threads = max(1, min(threads, clients))
        self.duration = duration
        self.warmup = warmup
        self.size = size
        self.rate = rate
        self.timeout = timeout
    }

    /// The smallest request that holds the client and sequence header and the newline.
    public static let minimumSize = RequestLayout.headerLength + 1
    public static let maximumSize = 65_507
    public static let maximumClients = 10_000
    public static let maximumDuration = Duration.seconds(3600)
}

/// Why a run could not start; the presenter words it.
public enum BenchSetupError: Error, Sendable {
    case resolve(host: String, reason: String)
    case socket(call: String, errno: Int32, target: String)
}

public enum BenchResolver {
    /// The first address getaddrinfo gives for host and port, for the transport's socket type.
    public static func resolve(host: String, port: Int, transport: BenchTransport) throws(BenchSetupError) -> BenchAddress {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(transport == .udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list, let address = first.pointee.ai_addr else {
            let reason = status == 0 ? "no address" : String(cString: gai_strerror(status))
            throw .resolve(host: host, reason: reason)
        }
        defer { freeaddrinfo(list) }
        var storage = sockaddr_storage()
        let length = first.pointee.ai_addrlen
        withUnsafeMutableBytes(of: &storage) { raw in
            raw.copyMemory(from: UnsafeRawBufferPointer(start: address, count: Int(length)))
        }
        let family = first.pointee.ai_family
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        if family == AF_INET6 {
            address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                var a = $0.pointee.sin6_addr; _ = inet_ntop(AF_INET6, &a, &text, socklen_t(text.count))
            }
        } else {
            address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                var a = $0.pointee.sin_addr; _ = inet_ntop(AF_INET, &a, &text, socklen_t(text.count))
            }
        }
        let name = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return BenchAddress(
            storage: storage, length: length, family: family,
            text: family == AF_INET6 ? "[\(name)]:\(port)" : "\(name):\(port)")
    }
}

/// A request's bytes: `CCCCC SSSSSSSSSS ` (client and sequence, decimal), then lowercase filler,
/// then a newline. The reply must be the same bytes uppercased; digits and spaces do not change,
/// so a reply names the request it answers.
enum RequestLayout {
    static let clientDigits = 5
    static let sequenceDigits = 10
    static let sequenceOffset = clientDigits + 1
    static let headerLength = clientDigits + 1 + sequenceDigits + 1

    /// The request and the reply it must get, with sequence 0.
    static func templates(client: Int, size: Int) -> (request: [UInt8], reply: [UInt8]) {
        var request = [UInt8](repeating: 0, count: size)
        write(decimal: UInt64(client % 100_000), width: clientDigits, into: &request, at: 0)
        request[clientDigits] = UInt8(ascii: " ")
        write(decimal: 0, width: sequenceDigits, into: &request, at: sequenceOffset)
        request[headerLength - 1] = UInt8(ascii: " ")
        for i in headerLength..<(size - 1) { request[i] = UInt8(ascii: "a") + UInt8(i % 26) }
        request[size - 1] = UInt8(ascii: "\n")
        let reply = request.map { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) ? $0 - 32 : $0 }
        return (request, reply)
    }

    static func write(decimal value: UInt64, width: Int, into bytes: inout [UInt8], at offset: Int) {
        var v = value
        for i in stride(from: offset + width - 1, through: offset, by: -1) {
            bytes[i] = UInt8(ascii: "0") + UInt8(v % 10)
            v /= 10
        }
    }

    static func write(sequence: UInt64, into pointer: UnsafeMutablePointer<UInt8>) {
        var v = sequence
        for i in stride(from: sequenceOffset + sequenceDigits - 1, through: sequenceOffset, by: -1) {
            pointer[i] = UInt8(ascii: "0") + UInt8(v % 10)
            v /= 10
        }
    }

    /// The client and sequence a reply names, when its header is well formed.
    static func header(of reply: UnsafeRawBufferPointer) -> (client: Int, sequence: UInt64)? {
        guard reply.count >= headerLength else { return nil }
        var client = 0
        for i in 0..<clientDigits {
            let d = reply[i] &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            client = client * 10 + Int(d)
        }
        var sequence: UInt64 = 0
        for i in sequenceOffset..<(sequenceOffset + sequenceDigits) {
            let d = reply[i] &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            sequence = sequence * 10 + UInt64(d)
        }
        return (client, sequence)
    }
}
