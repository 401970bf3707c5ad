// Counters shared by all event loops, read for the shutdown summary.

import Synchronization

public final class ServerStatistics: Sendable {
    let tcpConnections = Atomic<Int>(0)
    let activeConnections = Atomic<Int>(0)
    let rejectedConnections = Atomic<Int>(0)
    let udpDatagrams = Atomic<Int>(0)
    let udpDropped = Atomic<Int>(0)
    let udpTruncated = Atomic<Int>(0)
    let bytesIn = Atomic<Int>(0)
    let bytesOut = Atomic<Int>(0)

    init() {}

    public struct Snapshot: Sendable, Equatable {
        public var tcpConnections: Int
        public var activeConnections: Int
        public var rejectedConnections: Int
        public var udpDatagrams: Int
        public var udpDropped: Int
        public var udpTruncated: Int
        public var bytesIn: Int
        public var bytesOut: Int
    }

    public var snapshot: Snapshot {
        Snapshot(
            tcpConnections: tcpConnections.load(ordering: .relaxed),
            activeConnections: activeConnections.load(ordering: .relaxed),
            rejectedConnections: rejectedConnections.load(ordering: .relaxed),
            udpDatagrams: udpDatagrams.load(ordering: .relaxed),
            udpDropped: udpDropped.load(ordering: .relaxed),
            udpTruncated: udpTruncated.load(ordering: .relaxed),
            bytesIn: bytesIn.load(ordering: .relaxed),
            bytesOut: bytesOut.load(ordering: .relaxed)
        )
    }
}

extension ServerStatistics.Snapshot {
    /// The line printed at shutdown.
    public var summaryLine: String {
        "netrepl-server: stopped: \(tcpConnections) tcp connections, \(udpDatagrams) udp datagrams, "
            + "\(bytesIn) bytes in, \(bytesOut) bytes out"
    }
}
