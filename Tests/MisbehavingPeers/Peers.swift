// Socket peers on 127.0.0.1 (port 0) for the client's tests: servers that behave as the textbook
// programs do, or misbehave on purpose — delay, duplicate, flood, dribble, cut a reply short,
// reset. Every loop in them is bounded in count and time.

import Dispatch
import Foundation
import Glibc
import Synchronization

/// Creates a socket bound to 127.0.0.1 on a free port; returns (fd, port).
public func boundSocket(type: Int32) -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, type | Int32(SOCK_CLOEXEC.rawValue), 0)
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

/// A port on which nothing listens (bound, then closed).
public func closedPort(type: Int32) -> Int {
    let (fd, port) = boundSocket(type: type)
    close(fd)
    return port
}

/// The uppercase of UTF-8 text, as netrepl-server answers it.
public func upper(_ bytes: [UInt8]) -> [UInt8] {
    Array(String(decoding: bytes, as: UTF8.self).uppercased().utf8)
}

/// A count shared with a peer's threads.
public final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    public var count: Int { value.load(ordering: .relaxed) }
    func increment() { value.add(1, ordering: .relaxed) }
}

final class StopFlag: Sendable {
    let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
}

/// A peer's socket and the thread serving it: stopping wakes the thread, waits for it, and only
/// then closes the socket (closing first could let another test's socket reuse the number while
/// the thread still reads it).
final class PeerThread: Sendable {
    let fd: Int32
    let stopped = StopFlag()
    private let done = DispatchSemaphore(value: 0)

    init(fd: Int32, serve: @escaping @Sendable (_ fd: Int32, _ stopped: StopFlag) -> Void) {
        self.fd = fd
        let stopped = self.stopped, done = self.done
        Thread.detachNewThread {
            serve(fd, stopped)
            done.signal()
        }
    }

    func stop() {
        stopped.value.store(true, ordering: .relaxed)
        shutdown(fd, Int32(SHUT_RDWR))
        done.wait()
        close(fd)
    }
}

/// A UDP peer: for each datagram, `respond` gives the datagrams to send back to its sender, each
/// after a delay (zero: at once). A delayed send happens even if later datagrams came meanwhile.
public final class UDPPeer: @unchecked Sendable {
    public struct Send: Sendable {
        public var payload: [UInt8]
        public var after: Duration
        public init(_ payload: [UInt8], after: Duration = .zero) {
            self.payload = payload
            self.after = after
        }
    }

    public let port: Int
    private let thread: PeerThread
    public let received = Counter()

    public convenience init() {
        self.init(respond: { [Send(upper($0))] })
    }

    public init(respond: @escaping @Sendable ([UInt8]) -> [Send]) {
        let (fd, port) = boundSocket(type: Int32(SOCK_DGRAM.rawValue))
        self.port = port
        let received = self.received
        let queue = DispatchQueue(label: "udp-peer-sends")
        thread = PeerThread(fd: fd) { fd, stopped in
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                var from = sockaddr_storage()
                var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let n = withUnsafeMutablePointer(to: &from) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buffer, buffer.count, 0, $0, &len) }
                }
                if n < 0 || stopped.isSet { break }
                received.increment()
                let sender = from, senderLength = len
                for send in respond(Array(buffer[0..<n])) {
                    let deliver: @Sendable () -> Void = {
                        guard !stopped.isSet else { return }
                        var to = sender
                        _ = withUnsafePointer(to: &to) { p in
                            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                                sendto(fd, send.payload, send.payload.count, Int32(MSG_NOSIGNAL), $0, senderLength)
                            }
                        }
                    }
                    if send.after == .zero {
                        deliver()
                    } else {
                        let nanos = Int(send.after.components.seconds) * 1_000_000_000 + Int(send.after.components.attoseconds / 1_000_000_000)
                        queue.asyncAfter(deadline: .now() + .nanoseconds(nanos), execute: deliver)
                    }
                }
            }
        }
    }

    public func stop() { thread.stop() }
}

/// One accepted TCP connection, for a peer's handler to misbehave on.
public final class PeerConnection: @unchecked Sendable {
    public let fd: Int32
    private var pending: [UInt8] = []

    init(fd: Int32) {
        self.fd = fd
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Reads up to and without the next newline; nil at end of stream (or after 10 s of silence).
    public func readLine() -> [UInt8]? {
        while true {
            if let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(pending[..<nl])
                pending.removeFirst(nl + 1)
                return line
            }
            guard let chunk = read() else { return nil }
            pending += chunk
        }
    }

    /// One read: what is there, nil at end of stream.
    public func read() -> [UInt8]? {
        if !pending.isEmpty {
            defer { pending = [] }
            return pending
        }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? Array(buffer[0..<n]) : nil
    }

    /// Reads until the client half-closes (at most 16 MiB).
    public func readToEnd() -> [UInt8] {
        var all = pending
        pending = []
        while all.count < 16 << 20, let chunk = read() { all += chunk }
        return all
    }

    public func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    public func write(_ text: String) { write(Array(text.utf8)) }

    /// Ends the connection with a reset (SO_LINGER 0), as a crashing server would.
    public func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
    }

    public func sleep(_ duration: Duration) {
        Thread.sleep(forTimeInterval: Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }
}

/// A TCP peer that runs `handle` on each accepted connection (on a thread of its own) and closes
/// the connection when `handle` returns.
public final class TCPPeer: @unchecked Sendable {
    public let port: Int
    private let thread: PeerThread
    public let accepted = Counter()

    /// `lineMode`: uppercases each line on a connection that stays open, as netrepl-server does;
    /// otherwise the textbook server: read once, reply, close.
    public convenience init(lineMode: Bool) {
        self.init { connection in
            repeat {
                guard let chunk = connection.read() else { return }
                connection.write(upper(chunk))
            } while lineMode
        }
    }

    public init(handle: @escaping @Sendable (PeerConnection) -> Void) {
        let (fd, port) = boundSocket(type: Int32(SOCK_STREAM.rawValue))
        self.port = port
        listen(fd, 64)
        let accepted = self.accepted
        thread = PeerThread(fd: fd) { fd, stopped in
            while true {
                let c = accept(fd, nil, nil)
                if c < 0 || stopped.isSet {
                    if c >= 0 { close(c) }
                    break
                }
                accepted.increment()
                Thread.detachNewThread {
                    handle(PeerConnection(fd: c))
                    close(c)
                }
            }
        }
    }

    public func stop() { thread.stop() }
}

/// A history file path in a fresh temporary directory.
public func temporaryHistoryPath(_ name: String = "history") -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("netrepl-tests-\(UUID().uuidString)")
    return dir.appendingPathComponent(name).path
}

/// A TCP peer that answers each line with `reply` (bytes a framing rule should find malformed,
/// for one) and then holds the connection open, so that only the framing can end the wait.
/// `greeting` is sent on connect, as an SMTP server does.
public func fixedReplyPeer(_ reply: [UInt8], greeting: [UInt8] = []) -> TCPPeer {
    TCPPeer { connection in
        if !greeting.isEmpty { connection.write(greeting) }
        while connection.readLine() != nil { connection.write(reply) }
    }
}
