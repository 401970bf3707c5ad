// OpenConnections under EmbeddedChannel: who is asked to finish, and when the shutdown learns that all closed.

import NIOCore
import NIOEmbedded
import Synchronization
import Testing
@testable import NetREPLServer

/// Counts the ChannelShouldQuiesceEvents that reach the end of a pipeline.
private final class QuiesceRecorder: ChannelInboundHandler, Sendable {
    typealias InboundIn = Never
    let received = Atomic<Int>(0)

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent { received.add(1, ordering: .relaxed) }
    }
}

@Suite struct OpenConnectionsTests {
    private func connection() throws -> (EmbeddedChannel, QuiesceRecorder) {
        let recorder = QuiesceRecorder()
        let channel = EmbeddedChannel(handler: recorder)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, recorder)
    }

    @Test func withNoneOpenTheShutdownLearnsAtOnce() {
        let connections = OpenConnections()
        let called = Atomic<Int>(0)
        connections.quiesce { called.add(1, ordering: .relaxed) }
        #expect(called.load(ordering: .relaxed) == 1)
        #expect(connections.isEmpty)
    }

    @Test func eachIsAskedToFinishAndTheShutdownLearnsWhenTheLastHasClosed() throws {
        let connections = OpenConnections()
        let (first, firstEvents) = try connection()
        let (second, secondEvents) = try connection()
        connections.admit(first)
        connections.admit(second)
        let called = Atomic<Int>(0)
        connections.quiesce { called.add(1, ordering: .relaxed) }
        #expect(firstEvents.received.load(ordering: .relaxed) == 1)
        #expect(secondEvents.received.load(ordering: .relaxed) == 1)
        _ = try first.finish()
        #expect(called.load(ordering: .relaxed) == 0)
        #expect(!connections.isEmpty)
        _ = try second.finish()
        #expect(called.load(ordering: .relaxed) == 1)
        #expect(connections.isEmpty)
    }

    @Test func oneAcceptedDuringTheShutdownIsAskedToFinishToo() throws {
        let connections = OpenConnections()
        let (early, _) = try connection()
        connections.admit(early)
        let called = Atomic<Int>(0)
        connections.quiesce { called.add(1, ordering: .relaxed) }
        let (late, lateEvents) = try connection()
        connections.admit(late)
        late.embeddedEventLoop.run()
        #expect(lateEvents.received.load(ordering: .relaxed) == 1)
        _ = try early.finish()
        #expect(called.load(ordering: .relaxed) == 0)
        _ = try late.finish()
        #expect(called.load(ordering: .relaxed) == 1)
    }
}
