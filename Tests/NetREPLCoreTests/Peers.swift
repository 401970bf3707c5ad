// Small socket peers on 127.0.0.1 (port 0) for session tests: UDP and TCP servers that behave as
// the textbook programs do, or misbehave on purpose (silence, late replies). No NIO needed.

import Foundation
import Glibc
import Synchronization
@testable import NetREPLCore

/// Creates a socket bound to 127.0.0.1 on a free port; returns (fd, port).
func boundSocket(type: Int32) -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, type, 0)
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return (fd, Int(UInt16(bigEndian: addr.sin_port)))
}

final class StopFlag: Sendable {
    let value = Atomic<Bool>(false)
}

func upper(_ bytes: [UInt8]) -> [UInt8] {
    Array(String(decoding: bytes, as: UTF8.self).uppercased().utf8)
}

/// A UDP peer: `respond` maps each datagram to the datagrams to send back (none: stay silent).
final class UDPPeer: @unchecked Sendable {
    let fd: Int32
    let port: Int
    private let respond: @Sendable ([UInt8]) -> [[UInt8]]
    private let stopped = StopFlag()

    init(respond: @escaping @Sendable ([UInt8]) -> [[UInt8]] = { [upper($0)] }) {
        (fd, port) = boundSocket(type: Int32(SOCK_DGRAM.rawValue))
        self.respond = respond
        let fd = self.fd
        let stopped = self.stopped
        Thread.detachNewThread { [respond] in
            var buffer = [UInt8](repeating: 0, count: 65_536)
            var from = sockaddr_storage()
            while true {
                var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let n = withUnsafeMutablePointer(to: &from) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buffer, buffer.count, 0, $0, &len) }
                }
                if n < 0 || stopped.value.load(ordering: .relaxed) {
                    close(fd)
                    return
                }
                for reply in respond(Array(buffer[0..<n])) {
                    _ = withUnsafePointer(to: &from) { p in
                        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, reply, reply.count, Int32(MSG_NOSIGNAL), $0, len) }
                    }
                }
            }
        }
    }

    /// Wakes the thread, which closes the socket itself: closing it here could let another test's
    /// socket reuse the number while the thread still reads from it.
    func stop() {
        stopped.value.store(true, ordering: .relaxed)
        shutdown(fd, Int32(SHUT_RDWR))
    }
}

/// A TCP peer. `lineMode`: uppercases each line on a connection that stays open (as
/// netrepl-server does for line-oriented clients); otherwise the textbook server: read once,
/// reply, close.
final class TCPPeer: @unchecked Sendable {
    let fd: Int32
    let port: Int
    private let stopped = StopFlag()

    init(lineMode: Bool) {
        (fd, port) = boundSocket(type: Int32(SOCK_STREAM.rawValue))
        listen(fd, 16)
        let fd = self.fd
        let stopped = self.stopped
        Thread.detachNewThread {
            while true {
                let c = accept(fd, nil, nil)
                if c < 0 || stopped.value.load(ordering: .relaxed) {
                    if c >= 0 { close(c) }
                    close(fd)
                    return
                }
                Thread.detachNewThread {
                    var buffer = [UInt8](repeating: 0, count: 1024)
                    repeat {
                        let n = recv(c, &buffer, buffer.count, 0)
                        if n <= 0 { break }
                        let reply = upper(Array(buffer[0..<n]))
                        _ = send(c, reply, reply.count, Int32(MSG_NOSIGNAL))
                    } while lineMode
                    close(c)
                }
            }
        }
    }

    func stop() {
        stopped.value.store(true, ordering: .relaxed)
        shutdown(fd, Int32(SHUT_RDWR))
    }
}

/// A port on which nothing listens (bound, then closed).
func closedPort(type: Int32) -> Int {
    let (fd, port) = boundSocket(type: type)
    close(fd)
    return port
}

/// A history file path in a fresh temporary directory.
func temporaryHistoryPath(_ name: String = "history") -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("netrepl-tests-\(UUID().uuidString)")
    return dir.appendingPathComponent(name).path
}

/// Runs a scripted session against 127.0.0.1:`port` and returns (stdout, stderr, exit status, session).
@discardableResult
func runSession(_ lines: [String], port: Int, transport: TransportKind = .udp, tcpMode: TCPMode = .persistent,
                timeout: UInt64 = 2_000_000_000, json: Bool = false, historyPath: String? = nil,
                interactive: Bool = false) throws -> (out: String, err: String, status: Int32, session: Session) {
    let out = BufferSink(), err = BufferSink()
    let style = OutputStyle(interactive: interactive, colour: false, escapeReplies: interactive, json: json)
    let configuration = SessionConfiguration(target: Target(host: "127.0.0.1", port: port), transport: transport,
                                             tcpMode: tcpMode, timeout: timeout, style: style)
    let session = try Session(configuration: configuration, source: ScriptedLineSource(lines: lines, interactive: interactive),
                              history: HistoryStore(path: historyPath, capacity: 1000), out: out, err: err)
    let status = session.run()
    return (out.text, err.text, status, session)
}
