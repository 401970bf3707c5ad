// The UDP side of the protocol: one datagram in, one datagram back to the sender with the
// uppercase of its payload, optionally impaired (dropped, delayed, duplicated).

import Logging
import NIOCore
import Synchronization

final class UDPUppercaseHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    /// Largest UDP payload: 65,535 − 8 (UDP) − 20 (IPv4 header); IPv6 has no header in the length.
    static let maxPayloadIPv4 = 65_507
    static let maxPayloadIPv6 = 65_527

    private let statistics: ServerStatistics
    private let logger: Logger
    private var decider: ImpairmentDecider?
    private var pendingFlush = false
    private var datagrams = 0, bytesIn = 0, bytesOut = 0
    private let delayedReplies: DelayedReplies

    init(statistics: ServerStatistics, logger: Logger, impairment: Impairment, delayedReplies: DelayedReplies) {
        self.statistics = statistics
        self.logger = logger
        self.decider = impairment.isActive ? ImpairmentDecider(impairment) : nil
        self.delayedReplies = delayedReplies
    }

    static func maxPayload(for address: SocketAddress) -> Int {
        guard case .v6(let v6) = address else { return maxPayloadIPv4 }
        // An IPv4-mapped address (::ffff:a.b.c.d) travels as IPv4.
        let isMapped = withUnsafeBytes(of: v6.address.sin6_addr) { b in
            b.prefix(10).allSatisfy { $0 == 0 } && b[10] == 0xFF && b[11] == 0xFF
        }
        return isMapped ? maxPayloadIPv4 : maxPayloadIPv6
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let request = unwrapInboundIn(data)
        datagrams += 1
        bytesIn += request.data.readableBytes
        // A UDP reply that cannot be queued is dropped, as the network would: memory stays bounded.
        guard context.channel.isWritable else {
            statistics.udpDropped.add(1, ordering: .relaxed)
            return
        }
        var reply = context.channel.allocator.buffer(capacity: request.data.readableBytes)
        StreamingUppercaser.uppercase(request.data, into: &reply)
        if reply.truncateAtCharacterBoundary(limit: Self.maxPayload(for: request.remoteAddress)) {
            statistics.udpTruncated.add(1, ordering: .relaxed)
            logger.debug("reply truncated to the largest datagram", metadata: ["peer": "\(request.remoteAddress)", "request_bytes": "\(request.data.readableBytes)"])
        }
        let envelope = AddressedEnvelope(remoteAddress: request.remoteAddress, data: reply)

        guard var decider else {
            bytesOut += reply.readableBytes
            context.write(wrapOutboundOut(envelope), promise: nil)
            pendingFlush = true
            return
        }
        let delays = decider.delays()
        self.decider = decider
        if delays.isEmpty { statistics.udpDropped.add(1, ordering: .relaxed) }
        for delay in delays {
            bytesOut += reply.readableBytes
            if delay == .zero {
                context.write(wrapOutboundOut(envelope), promise: nil)
                pendingFlush = true
            } else {
                let channel = context.channel
                let delayed = delayedReplies
                delayed.count.add(1, ordering: .relaxed)
                context.eventLoop.scheduleTask(in: delay) {
                    channel.writeAndFlush(envelope, promise: nil)
                    delayed.count.subtract(1, ordering: .relaxed)
                }
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        statistics.udpDatagrams.add(datagrams, ordering: .relaxed)
        statistics.bytesIn.add(bytesIn, ordering: .relaxed)
        statistics.bytesOut.add(bytesOut, ordering: .relaxed)
        datagrams = 0; bytesIn = 0; bytesOut = 0
        if pendingFlush {
            pendingFlush = false
            context.flush()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Per-datagram errors (an ICMP error reported on the socket, say) concern one peer only.
        logger.debug("udp error: \(error)")
    }
}

/// Replies the impairment scheduled for later; a graceful shutdown waits for them.
final class DelayedReplies: Sendable {
    let count = Atomic<Int>(0)
}
