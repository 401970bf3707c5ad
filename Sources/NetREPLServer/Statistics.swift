// Counters shared by all event loops, read for the stop summary (and by anything that exports them).

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
    let impairmentDropped = Atomic<Int>(0)
    let udpRateLimited = Atomic<Int>(0)
    let connectionsCut = Atomic<Int>(0)

    public init() {}

    public struct Snapshot: Sendable, Equatable {
        public var tcpConnections: Int
        /// Open TCP connections being served (refused ones are not counted).
        public var activeConnections: Int
        /// TCP connections refused over `--max-connections`.
        public var rejectedConnections: Int
        public var udpDatagrams: Int
        /// UDP replies dropped because the socket could not take them (never by impairment).
        public var udpDropped: Int
        /// UDP replies cut to the largest datagram.
        public var udpTruncated: Int
        public var bytesIn: Int
        public var bytesOut: Int
        /// UDP replies dropped on purpose by `--loss`.
        public var impairmentDropped: Int
        /// UDP datagrams left unanswered by the per-source rate limit.
        public var udpRateLimited: Int
        /// TCP connections closed by the end of the grace period before their reply was done.
        public var connectionsCut: Int
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
            bytesOut: bytesOut.load(ordering: .relaxed),
            impairmentDropped: impairmentDropped.load(ordering: .relaxed),
            udpRateLimited: udpRateLimited.load(ordering: .relaxed),
            connectionsCut: connectionsCut.load(ordering: .relaxed)
        )
    }
}
