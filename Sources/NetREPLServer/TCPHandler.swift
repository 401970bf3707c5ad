// The TCP side of the protocol: the reply stream is the uppercase of the request stream,
// written back as it arrives, with flow control instead of buffering.
//
// One handler does the whole job (transform, backpressure, idle timeout): every handler a byte
// passes through costs a hop per read and per write, and the load test showed it.

import Logging
import NIOCore
import NIOExtras

final class TCPUppercaseHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var uppercaser = StreamingUppercaser()
    private let statistics: ServerStatistics
    private let logger: Logger
    private let idleTimeout: TimeAmount?
    /// Reused for every reply: once the previous write has gone out its storage is ours again.
    private var output: ByteBuffer
    private var pendingFlush = false
    private var bytesIn = 0
    private var bytesOut = 0
    private var finishing = false
    /// A read the channel asked for while the client was not reading our replies.
    private var readHeld = false
    /// Set by any traffic; the idle check clears it and closes when it finds it still clear.
    private var active = true
    private var idleChecks = 0
    private var idleCheck: Scheduled<Void>?

    init(statistics: ServerStatistics, logger: Logger, idleTimeout: TimeAmount?, allocator: ByteBufferAllocator) {
        self.statistics = statistics
        self.logger = logger
        self.idleTimeout = idleTimeout
        // Empty until the first request: an idle connection holds no reply buffer.
        self.output = allocator.buffer(capacity: 0)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        scheduleIdleCheck(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleCheck?.cancel()
        idleCheck = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let input = unwrapInboundIn(data)
        active = true
        bytesIn += input.readableBytes
        if output.capacity > 64 * 1024 {
            // A burst grew it: give the memory back rather than hold it for the connection's life.
            output = context.channel.allocator.buffer(capacity: 0)
        } else {
            output.clear()
        }
        uppercaser.transform(input, into: &output)
        guard output.readableBytes > 0 else { return }
        bytesOut += output.readableBytes
        context.write(wrapOutboundOut(output), promise: nil)
        pendingFlush = true
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if pendingFlush {
            pendingFlush = false
            context.flush()
        }
    }

    // Backpressure: while the client leaves our replies unread, stop reading its requests, so
    // TCP flow control stops it from sending; memory per connection stays bounded.
    func read(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            context.read()
        } else {
            readHeld = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        active = true
        if context.channel.isWritable, readHeld {
            readHeld = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case ChannelEvent.inputClosed:
            // Half-close: answer with the rest of the reply, then FIN.
            logger.debug("client half-closed", metadata: ["peer": "\(Self.peer(context))"])
            finishAndClose(context: context)
        case is ChannelShouldQuiesceEvent:
            // Server shutdown: stop reading, let what was already transformed reach the client.
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
            finishAndClose(context: context)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        accountBytes()
        idleCheck?.cancel()
        idleCheck = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Resets and the like are the client's business; one debug line, then close.
        logger.debug("connection error: \(error)", metadata: ["peer": "\(Self.peer(context))"])
        context.close(promise: nil)
    }

    private func finishAndClose(context: ChannelHandlerContext) {
        guard !finishing else { return }
        finishing = true
        var rest = context.channel.allocator.buffer(capacity: uppercaser.pendingByteCount)
        uppercaser.finish(into: &rest)
        bytesOut += rest.readableBytes
        accountBytes()
        let channel = context.channel
        // close() would discard queued writes; close only once everything queued was written.
        context.writeAndFlush(wrapOutboundOut(rest)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    /// Counted per connection and added to the totals once, so that connections on different
    /// event loops do not contend for the shared counters on every request.
    private func accountBytes() {
        if bytesIn > 0 { statistics.bytesIn.add(bytesIn, ordering: .relaxed); bytesIn = 0 }
        if bytesOut > 0 { statistics.bytesOut.add(bytesOut, ordering: .relaxed); bytesOut = 0 }
    }

    // The idle timeout, checked four times a timeout: a connection without traffic is closed
    // after between 1 and 1.25 times the timeout, at the cost of a flag store per read.
    private func scheduleIdleCheck(context: ChannelHandlerContext) {
        guard let idleTimeout, idleTimeout > .zero else { return }
        let period = TimeAmount.nanoseconds(max(1, idleTimeout.nanoseconds / 4))
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleCheck = context.eventLoop.scheduleTask(in: period) {
            let (handler, context) = loopBound.value
            handler.checkIdle(context: context)
        }
    }

    private func checkIdle(context: ChannelHandlerContext) {
        if active {
            active = false
            idleChecks = 0
        } else {
            idleChecks += 1
            if idleChecks >= 4 {
                logger.debug("closing idle connection", metadata: ["peer": "\(Self.peer(context))"])
                context.close(promise: nil)
                return
            }
        }
        scheduleIdleCheck(context: context)
    }

    private static func peer(_ context: ChannelHandlerContext) -> String {
        context.remoteAddress.map { "\($0)" } ?? "?"
    }
}
