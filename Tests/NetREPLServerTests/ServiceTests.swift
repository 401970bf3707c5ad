// The server as a Service, in process: readiness through the callback, serving until the graceful
// shutdown, a drain that returns, and failures to bind as typed ListenErrors.

import Glibc
import Logging
import NetREPLServer
import ServiceLifecycle
import Testing

private let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

/// One UDP exchange with 127.0.0.1:`port`; nil when no reply came within five seconds.
private func udpExchange(_ text: String, port: Int) -> String? {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bytes = Array(text.utf8)
    let sent = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard sent == bytes.count else { return nil }
    var reply = [UInt8](repeating: 0, count: 2048)
    let n = recv(fd, &reply, reply.count, 0)
    return n >= 0 ? String(decoding: reply.prefix(n), as: UTF8.self) : nil
}

@Suite struct ServiceTests {
    @Test func readyThenServesUntilTheGracefulShutdownThenReturns() async throws {
        let (addresses, ready) = AsyncStream.makeStream(of: BoundAddress.self)
        let server = UppercaseServer(configuration: .init(host: "127.0.0.1", port: 0, threads: 1), logger: quiet) { address in
            ready.yield(address)
            ready.finish()
        }
        let group = ServiceGroup(configuration: .init(services: [.init(service: server)], logger: quiet))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = addresses.makeAsyncIterator()
            let address = try #require(await iterator.next())
            #expect(address.host == "127.0.0.1" && address.port > 0)
            #expect(udpExchange("hello", port: address.port) == "HELLO")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(server.statistics.snapshot.udpDatagrams == 1)
    }

    @Test func aTakenPortIsATypedListenError() async throws {
        let (addresses, ready) = AsyncStream.makeStream(of: BoundAddress.self)
        let holder = UppercaseServer(configuration: .init(host: "127.0.0.1", port: 0, threads: 1), logger: quiet) { ready.yield($0) }
        let group = ServiceGroup(configuration: .init(services: [.init(service: holder)], logger: quiet))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = addresses.makeAsyncIterator()
            let taken = try #require(await iterator.next())
            let second = UppercaseServer(configuration: .init(host: "127.0.0.1", port: taken.port, threads: 1), logger: quiet)
            let error = await #expect(throws: ListenError.self) { try await second.run() }
            #expect(error?.code == .addressInUse)
            #expect(error?.errno == .addressInUse)
            #expect(error?.listener == .tcp && error?.port == taken.port)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test func aServerRunsOnce() async throws {
        let server = UppercaseServer(configuration: .init(host: "256.0.0.1", port: 0, threads: 1), logger: quiet)
        await #expect(throws: ListenError.self) { try await server.run() }
        let again = await #expect(throws: ListenError.self) { try await server.run() }
        #expect(again?.code == .alreadyRunning)
    }
}
