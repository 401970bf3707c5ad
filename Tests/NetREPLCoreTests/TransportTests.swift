// Transports on their own: falling back through resolved addresses, and oversized lines.

import Glibc
import Testing
@testable import NetREPLCore

@Suite(.serialized) struct TransportTests {
    private func address(_ port: Int) throws -> SocketAddress {
        try #require(try Resolver.resolve(Target(host: "127.0.0.1", port: port), family: .ipv4, socketType: datagramSocket).first)
    }

    @Test func udpMovesOnFromAnAddressThatRefuses() throws {
        let peer = UDPPeer()
        defer { peer.stop() }
        let refusing = closedPort(type: Int32(SOCK_DGRAM.rawValue))
        let transport = UDPTransport(addresses: [try address(refusing), try address(peer.port)])
        let first = transport.exchange(line: "hi", timeout: 2_000_000_000)
        #expect(first.outcome == .ok)
        #expect(first.reply == Array("HI".utf8))
        #expect(first.peer == "127.0.0.1:\(peer.port)")
        #expect(first.events == [.notice("nothing listening on udp 127.0.0.1:\(refusing); trying 127.0.0.1:\(peer.port)")])
        let second = transport.exchange(line: "again", timeout: 2_000_000_000)
        #expect(second.outcome == .ok && second.events.isEmpty)
    }

    @Test func tcpConnectsToTheFirstAddressThatAccepts() throws {
        let peer = TCPPeer(lineMode: true)
        defer { peer.stop() }
        let refusing = closedPort(type: Int32(SOCK_STREAM.rawValue))
        let transport = TCPTransport(addresses: [try address(refusing), try address(peer.port)], mode: .persistent)
        let e = transport.exchange(line: "hi", timeout: 2_000_000_000)
        #expect(e.outcome == .ok)
        #expect(e.reply == Array("HI".utf8))
        #expect(e.bytesSent == 3 && e.bytesReceived == 3)
        #expect(transport.isConnected)
    }

    @Test func aLineTooLongForADatagramIsRefusedBeforeSending() throws {
        let peer = UDPPeer()
        defer { peer.stop() }
        let transport = UDPTransport(addresses: [try address(peer.port)])
        let e = transport.exchange(line: String(repeating: "x", count: 65_508), timeout: 1_000_000_000)
        #expect(e.outcome == .error)
        #expect(e.failure == .exchange)
        #expect(e.error?.contains("too long for one UDP datagram") == true)
        let largest = transport.exchange(line: String(repeating: "x", count: 60_000), timeout: 2_000_000_000)
        #expect(largest.outcome == .ok)
        #expect(largest.bytesReceived == 60_000)
    }

    @Test func tcpTimeoutClosesTheConnection() throws {
        // A listener that accepts (the kernel does) but never reads or answers.
        let (fd, port) = boundSocket(type: Int32(SOCK_STREAM.rawValue))
        listen(fd, 4)
        defer { close(fd) }
        let transport = TCPTransport(addresses: [try address(port)], mode: .persistent)
        let e = transport.exchange(line: "hello", timeout: 100_000_000)
        #expect(e.outcome == .lost)
        #expect(e.error?.contains("within 100 ms; the connection was closed") == true)
        #expect(!transport.isConnected)
    }
}
