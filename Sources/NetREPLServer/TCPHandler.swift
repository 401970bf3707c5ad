// The TCP side of the protocol: the reply stream is the uppercase of the request stream,
// written back as it arrives, with flow control instead of buffering.
//
// One handler does the whole job (transform, backpressure, idle timeout): every handler a byte
// passes through costs a hop per read and per write, and the load test showed it.

import Logging
import NIOCore

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
    /// Shutting down: requests are read and discarded, so that closing never meets unread data
    /// (which would make the kernel send a reset and destroy the reply still in flight).
    private var discarding = false
    private var inputEnded = false
    private var outputClosed = false
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
        if discarding { return }
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
        if context.channel.isWritable || discarding {
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
            inputEnded = true
            if finishing {
                // Shutting down and our side is done or about to be: nothing more will come.
                if outputClosed { context.close(promise: nil) }
            } else {
                finishAndClose(context: context)
            }
        case is ChannelShouldQuiesceEvent:
            // Server shutdown: transform nothing more, let what was already transformed reach
            // the client, then FIN; keep reading (and discarding) until the client closes or
            // the grace period ends, so that our close never resets the connection.
            discarding = true
            if readHeld {
                readHeld = false
                context.read()
            }
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
        // close() would discard queued writes; close only once everything queued was written.
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(rest)).whenComplete { result in
            let (handler, context) = loopBound.value
            switch result {
            case .success: handler.replyWritten(context: context)
            case .failure: context.close(promise: nil)
            }
        }
    }

    /// Everything we produced is written. Done when the client's side has ended too; otherwise
    /// (shutdown) send FIN and wait, discarding, for the client to close.
    private func replyWritten(context: ChannelHandlerContext) {
        guard discarding, !inputEnded else {
            context.close(promise: nil)
            return
        }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.close(mode: .output).whenComplete { result in
            let (handler, context) = loopBound.value
            handler.outputClosed = true
            if case .failure = result {
                context.close(promise: nil)
            } else if handler.inputEnded {
                context.close(promise: nil)
            }
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

/// A connection over `--max-connections`: end-of-stream at once, no reply. What the client already
/// sent is read and discarded until it closes (for at most `linger`), because closing a socket
/// with unread data makes the kernel send a reset instead of the end-of-stream the protocol promises.
final class RefusedConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let linger: TimeAmount
    private var timer: Scheduled<Void>?
    private var started = false

    init(linger: TimeAmount) {
        self.linger = linger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        context.close(mode: .output, promise: nil)
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: linger) { channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case ChannelEvent.inputClosed, is ChannelShouldQuiesceEvent:
            context.close(promise: nil)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
