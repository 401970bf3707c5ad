// The channel handlers under EmbeddedChannel: stream transform, half-close, UDP limits, impairment.

import Logging
import NIOCore
import NIOEmbedded
import Testing
@testable import NetREPLServer

private let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

@Suite struct TCPHandlerTests {
    private func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            TCPUppercaseHandler(statistics: ServerStatistics(), logger: quiet, idleTimeout: nil, allocator: ByteBufferAllocator()))
        return channel
    }

    private func readAll(_ channel: EmbeddedChannel) throws -> [UInt8] {
        var out: [UInt8] = []
        while let b = try channel.readOutbound(as: ByteBuffer.self) { out += b.readableBytesView }
        return out
    }

    @Test func repliesAtOnceWithoutWaitingForNewline() throws {
        let ch = try channel()
        try ch.writeInbound(ByteBuffer(string: "no newline"))
        #expect(try readAll(ch) == Array("NO NEWLINE".utf8))
        try ch.writeInbound(ByteBuffer(string: "one\ntwo\n"))
        #expect(try readAll(ch) == Array("ONE\nTWO\n".utf8))
    }

    @Test func splitSequenceIsCompletedByNextRead() throws {
        let ch = try channel()
        try ch.writeInbound(ByteBuffer(bytes: [0x61, 0xC3]))  // "a" + first byte of "ß"
        #expect(try readAll(ch) == [0x41])
        try ch.writeInbound(ByteBuffer(bytes: [0x9F]))
        #expect(try readAll(ch) == Array("SS".utf8))
    }

    @Test func halfCloseAnswersTheRestThenCloses() throws {
        let ch = try channel()
        try ch.writeInbound(ByteBuffer(bytes: [0x78, 0xE2, 0x82]))
        #expect(try readAll(ch) == [0x58])
        ch.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        ch.embeddedEventLoop.run()
        #expect(try readAll(ch) == [0xE2, 0x82])
        #expect(!ch.isActive)
    }
}

@Suite struct UDPHandlerTests {
    private let peer = try! SocketAddress(ipAddress: "127.0.0.1", port: 5555)

    private func channel(_ impairment: Impairment = .none, statistics: ServerStatistics = ServerStatistics()) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            UDPUppercaseHandler(statistics: statistics, logger: quiet, impairment: impairment, delayedReplies: DelayedReplies())
        )
        return channel
    }

    private func send(_ ch: EmbeddedChannel, _ bytes: [UInt8]) throws {
        try ch.writeInbound(AddressedEnvelope(remoteAddress: peer, data: ByteBuffer(bytes: bytes)))
    }

    @Test func oneDatagramOneReplyToTheSender() throws {
        let ch = try channel()
        try send(ch, Array("hello".utf8))
        let reply = try #require(try ch.readOutbound(as: AddressedEnvelope<ByteBuffer>.self))
        #expect(reply.remoteAddress == peer)
        #expect(String(buffer: reply.data) == "HELLO")
        #expect(try ch.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) == nil)
    }

    @Test func oversizedReplyIsCutAtACharacterBoundary() throws {
        let stats = ServerStatistics()
        let ch = try channel(statistics: stats)
        // ΐ is 2 bytes and uppercases to 6: 30,000 of them would make a 180,000-byte reply.
        try send(ch, Array(String(repeating: "ΐ", count: 30_000).utf8))
        let reply = try #require(try ch.readOutbound(as: AddressedEnvelope<ByteBuffer>.self))
        #expect(reply.data.readableBytes <= UDPUppercaseHandler.maxPayloadIPv4)
        #expect(reply.data.readableBytes > UDPUppercaseHandler.maxPayloadIPv4 - 4)
        #expect(String(validating: reply.data.readableBytesView, as: UTF8.self) != nil)
        ch.pipeline.fireChannelReadComplete()
        #expect(stats.snapshot.udpTruncated == 1)
    }

    @Test func ipv4MappedPeersGetTheIPv4Limit() throws {
        #expect(UDPUppercaseHandler.maxPayload(for: try SocketAddress(ipAddress: "::ffff:127.0.0.1", port: 1)) == 65_507)
        #expect(UDPUppercaseHandler.maxPayload(for: try SocketAddress(ipAddress: "::1", port: 1)) == 65_527)
    }

    @Test func totalLossDropsEveryReply() throws {
        let ch = try channel(Impairment(loss: 1, seed: 1))
        for _ in 0..<20 { try send(ch, [0x61]) }
        #expect(try ch.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) == nil)
    }

    @Test func certainDuplicationSendsTwice() throws {
        let ch = try channel(Impairment(duplicate: 1, seed: 1))
        try send(ch, [0x61])
        #expect(try ch.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) != nil)
        #expect(try ch.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) != nil)
        #expect(try ch.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) == nil)
    }

    @Test func delayHoldsTheReplyUntilItsTime() throws {
        let ch = try channel(Impairment(delay: .milliseconds(100), seed: 1))
        try send(ch, [0x61])
        #expect(try ch.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) == nil)
        ch.embeddedEventLoop.advanceTime(by: .milliseconds(100))
        #expect(try ch.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) != nil)
    }

    @Test func aSeedFixesTheSequenceOfDrops() {
        func pattern() -> [Int] {
            var d = ImpairmentDecider(Impairment(loss: 0.3, jitter: .milliseconds(5), duplicate: 0.1, seed: 7))
            return (0..<200).map { _ in d.delays().count }
        }
        let a = pattern()
        #expect(a == pattern())
        let lost = a.filter { $0 == 0 }.count
        #expect(lost > 20 && lost < 100, "30% of 200 expected, got \(lost)")
    }
}

@Suite struct RateLimitTests {
    @Test func oneEventPerIntervalAndACountOfTheRest() {
        let limit = RateLimit(interval: .seconds(1))
        let start = ContinuousClock.now
        #expect(limit.permit(now: start) == 0)
        #expect(limit.permit(now: start + .milliseconds(10)) == nil)
        #expect(limit.permit(now: start + .milliseconds(999)) == nil)
        #expect(limit.permit(now: start + .milliseconds(1000)) == 2)
        #expect(limit.permit(now: start + .milliseconds(1500)) == nil)
    }
}
