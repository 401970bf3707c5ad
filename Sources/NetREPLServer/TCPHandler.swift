// The TCP side of the protocol: the reply stream is the uppercase of the request stream,
// written back as it arrives, with flow control instead of buffering.

import Logging
import NIOCore
import NIOExtras

final class TCPUppercaseHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var uppercaser = StreamingUppercaser()
    private let statistics: ServerStatistics
    private let logger: Logger
    private var pendingFlush = false
    private var bytesIn = 0
    private var bytesOut = 0
    private var finishing = false

    init(statistics: ServerStatistics, logger: Logger) {
        self.statistics = statistics
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let input = unwrapInboundIn(data)
        bytesIn += input.readableBytes
        var output = context.channel.allocator.buffer(capacity: input.readableBytes)
        uppercaser.transform(input, into: &output)
        guard output.readableBytes > 0 else { return }
        bytesOut += output.readableBytes
        context.write(wrapOutboundOut(output), promise: nil)
        pendingFlush = true
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        accountBytes()
        if pendingFlush {
            pendingFlush = false
            context.flush()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case ChannelEvent.inputClosed:
            // Half-close: answer with the rest of the reply, then FIN.
            logger.debug("client half-closed", metadata: ["peer": "\(context.remoteAddress.map(String.init(describing:)) ?? "?")"])
            finishAndClose(context: context)
        case is ChannelShouldQuiesceEvent:
            // Server shutdown: stop reading, let what was already transformed reach the client.
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
            finishAndClose(context: context)
        case let idle as IdleStateHandler.IdleStateEvent where idle == .all:
            logger.debug("closing idle connection", metadata: ["peer": "\(context.remoteAddress.map(String.init(describing:)) ?? "?")"])
            context.close(promise: nil)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        accountBytes()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Resets and the like are the client's business; one debug line, then close.
        logger.debug("connection error: \(error)")
        context.close(promise: nil)
    }

    private func finishAndClose(context: ChannelHandlerContext) {
        guard !finishing else { return }
        finishing = true
        var output = context.channel.allocator.buffer(capacity: uppercaser.pendingByteCount)
        uppercaser.finish(into: &output)
        bytesOut += output.readableBytes
        accountBytes()
        let channel = context.channel
        // close() would discard queued writes; close only once everything queued was written.
        context.writeAndFlush(wrapOutboundOut(output)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    private func accountBytes() {
        if bytesIn > 0 { statistics.bytesIn.add(bytesIn, ordering: .relaxed); bytesIn = 0 }
        if bytesOut > 0 { statistics.bytesOut.add(bytesOut, ordering: .relaxed); bytesOut = 0 }
    }
}
