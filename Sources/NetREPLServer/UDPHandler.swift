// The UDP side of the protocol: one datagram in, one datagram back to the sender with the
// uppercase of its payload, optionally impaired (dropped, delayed, duplicated).

import Logging
import NIOCore
import NetREPLProtocol
import NIOConcurrencyHelpers

final class UDPUppercaseHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    /// Largest UDP payload per family: one fact, in NetREPLProtocol, for client and server.
    static let maxPayloadIPv4 = Datagram.maximumPayload(ipv6: false)
    static let maxPayloadIPv6 = Datagram.maximumPayload(ipv6: true)

    private let statistics: ServerStatistics
    private let logger: Logger
    private var decider: ImpairmentDecider?
    private var pendingFlush = false
    private var datagrams = 0, bytesIn = 0, bytesOut = 0
    private let delayedReplies: DelayedReplies
    private var rateLimiter: SourceRateLimiter?
    /// Reply buffers reused from one read batch to the next: by then the kernel has taken the
    /// previous batch's replies and NIO has let go of them, so `clear` finds each buffer ours
    /// alone and reuses it; no allocation per datagram. One still held (a delayed reply, or a
    /// reply the socket has not taken yet) gets fresh storage instead, never a copy.
    private var replyBuffers: [ByteBuffer] = []
    private var replyIndex = 0
    /// As many as one pass of the event loop reads (16 datagrams a read, 16 reads).
    static let replySlots = 256
    /// A slot that grew beyond this for a large reply gives the memory back before reuse.
    static let replyKeep = 4096
    /// Losses are logged as they happen, at most one line a second each, with the count between.
    private let dropWarnings = RateLimit(interval: .seconds(1))
    private let cutNotices = RateLimit(interval: .seconds(1))

    init(statistics: ServerStatistics, logger: Logger, impairment: Impairment, delayedReplies: DelayedReplies, rateLimit: Int? = nil) {
        self.statistics = statistics
        self.logger = logger
        self.decider = impairment.isActive ? ImpairmentDecider(impairment) : nil
        self.delayedReplies = delayedReplies
        self.rateLimiter = rateLimit.map { SourceRateLimiter(perSecond: $0) }
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
        if rateLimiter?.permit(request.remoteAddress) == false {
            // Spoofed sources cost nothing to forge: no reply, and no log line per datagram either.
            statistics.udpRateLimited.add(1, ordering: .relaxed)
            return
        }
        // Replies queued in this read batch are not yet handed to the kernel: hand them over
        // before deciding that the socket is full. Only a reply that the kernel cannot take
        // either is dropped, as the network would drop it: memory stays bounded.
        if !context.channel.isWritable, pendingFlush {
            pendingFlush = false
            context.flush()
        }
        guard context.channel.isWritable else {
            statistics.udpDropped.add(1, ordering: .relaxed)
            if let suppressed = dropWarnings.permit() {
                logger.warning(
                    "udp reply dropped: the socket's send queue is full",
                    metadata: ["peer": "\(request.remoteAddress)", "also_dropped_since_last_line": "\(suppressed)"])
            }
            return
        }
        let slot = nextReplySlot(context: context, capacity: request.data.readableBytes)
        StreamingUppercaser.uppercase(request.data, into: &replyBuffers[slot])
        // Only a reply longer than the smaller limit needs the address looked at (which copies it).
        let cut =
            replyBuffers[slot].readableBytes > Self.maxPayloadIPv4
            && replyBuffers[slot].truncateAtCharacterBoundary(limit: Self.maxPayload(for: request.remoteAddress))
        let reply = replyBuffers[slot]
        if cut {
            statistics.udpTruncated.add(1, ordering: .relaxed)
            if let suppressed = cutNotices.permit() {
                logger.notice(
                    "udp reply cut to the largest datagram",
                    metadata: [
                        "peer": "\(request.remoteAddress)", "request_bytes": "\(request.data.readableBytes)", "also_cut_since_last_line": "\(suppressed)",
                    ])
            }
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
        if delays.isEmpty { statistics.impairmentDropped.add(1, ordering: .relaxed) }
        for delay in delays {
            bytesOut += reply.readableBytes
            if delay == .zero {
                context.write(wrapOutboundOut(envelope), promise: nil)
                pendingFlush = true
            } else {
                let channel = context.channel
                let delayed = delayedReplies
                delayed.add()
                context.eventLoop.scheduleTask(in: delay) {
                    channel.writeAndFlush(envelope, promise: nil)
                    delayed.sent()
                }
            }
        }
    }

    /// An empty reply buffer with room for `capacity` bytes, from the reused slots.
    private func nextReplySlot(context: ChannelHandlerContext, capacity: Int) -> Int {
        let slot = replyIndex % Self.replySlots
        replyIndex += 1
        if slot == replyBuffers.count {
            replyBuffers.append(context.channel.allocator.buffer(capacity: capacity))
        } else if replyBuffers[slot].capacity > Self.replyKeep {
            replyBuffers[slot] = context.channel.allocator.buffer(capacity: capacity)
        } else {
            replyBuffers[slot].clear(minimumCapacity: capacity)
        }
        return slot
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        replyIndex = 0
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
    private let state = NIOLockedValueBox<(count: Int, waiters: [@Sendable () -> Void])>((0, []))

    /// A reply was scheduled for later.
    func add() {
        state.withLockedValue { $0.count += 1 }
    }

    /// A scheduled reply was sent.
    func sent() {
        let waiters = state.withLockedValue { state -> [@Sendable () -> Void] in
            state.count -= 1
            guard state.count == 0 else { return [] }
            defer { state.waiters = [] }
            return state.waiters
        }
        waiters.forEach { $0() }
    }

    /// Calls `body` once no reply is waiting to be sent: at once when none is. Not called when the
    /// event loops stop with replies still scheduled.
    func whenSettled(_ body: @escaping @Sendable () -> Void) {
        let idle = state.withLockedValue { state -> Bool in
            if state.count == 0 { return true }
            state.waiters.append(body)
            return false
        }
        if idle { body() }
    }
}

/// A token bucket per source address (the port is ignored: a reflection victim is a host):
/// `perSecond` replies a second, bursts of as many. The table is bounded; when full, entries whose
/// bucket has refilled (they carry no state worth keeping) are forgotten, and if that frees less
/// than a quarter, the whole table is, which errs on the side of answering.
struct SourceRateLimiter {
    let perSecond: Int
    static let maxSources = 65_536
    private var buckets: [SourceKey: (tokens: Double, last: NIODeadline)] = [:]

    init(perSecond: Int) {
        self.perSecond = max(1, perSecond)
    }

    mutating func permit(_ address: SocketAddress, now: NIODeadline = .now()) -> Bool {
        let key = SourceKey(address)
        let rate = Double(perSecond)
        var bucket = buckets[key] ?? (rate, now)
        let elapsed = Double((now - bucket.last).nanoseconds) / 1e9
        bucket.tokens = min(rate, bucket.tokens + max(0, elapsed) * rate)
        bucket.last = now
        let allowed = bucket.tokens >= 1
        if allowed { bucket.tokens -= 1 }
        if buckets[key] == nil, buckets.count >= Self.maxSources { evict(now: now) }
        buckets[key] = bucket
        return allowed
    }

    private mutating func evict(now: NIODeadline) {
        // A bucket untouched for a second has refilled: forgetting it changes nothing.
        let full = TimeAmount.nanoseconds(Int64(1e9))
        buckets = buckets.filter { now - $0.value.last < full }
        // If that freed little, forget all: sweeping a nearly full table for every new source
        // (many forged sources at once) would cost a pass over it per datagram.
        if buckets.count >= Self.maxSources * 3 / 4 { buckets.removeAll(keepingCapacity: true) }
    }
}

/// The host part of a socket address, as a dictionary key; IPv4-mapped IPv6 counts as IPv4.
struct SourceKey: Hashable {
    let high: UInt64
    let low: UInt64

    init(_ address: SocketAddress) {
        switch address {
        case .v4(let v4):
            high = 0
            low = 0xFFFF_0000_0000 | UInt64(UInt32(bigEndian: v4.address.sin_addr.s_addr))
        case .v6(let v6):
            var words = (UInt64(0), UInt64(0))
            withUnsafeBytes(of: v6.address.sin6_addr) { raw in
                words.0 = raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
                words.1 = raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            }
            high = UInt64(bigEndian: words.0)
            low = UInt64(bigEndian: words.1)
        default:
            high = .max
            low = .max
        }
    }
}
