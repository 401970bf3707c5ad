// The reply tracker on its own, fed arrivals and instants without sockets: attribution by
// ticket, late and duplicate replies, framing, truncation, and bounded memory for noise.

import SeededRandom
import Testing
@testable import NetREPLTransport

@Suite struct ReplyTrackerTests {
    let t0 = ContinuousClock.now
    let datagram = DatagramFraming()
    let line = TerminatorFraming()

    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func aDatagramIsTheReplyOfTheLineWhoseSocketItCameOn() {
        var tracker = ReplyTracker()
        let a = tracker.sent(Line("a"), framing: datagram, at: t0)
        let b = tracker.sent(Line("b"), framing: datagram, at: t0 + .milliseconds(1))
        #expect(
            tracker.received(bytes("B"), for: b, at: t0 + .milliseconds(3))
                == .reply(b, Reply(bytes: bytes("B"), roundTrip: .milliseconds(2), bytesReceived: 1)))
        #expect(
            tracker.received(bytes("A"), for: a, at: t0 + .milliseconds(4))
                == .reply(a, Reply(bytes: bytes("A"), roundTrip: .milliseconds(4), bytesReceived: 1)))
    }

    @Test func aSendStampReadAfterTheSendStartsTheRoundTripAndMakesItKernelTimed() {
        var tracker = ReplyTracker()
        let a = tracker.sent(Line("a"), framing: datagram, at: t0, clock: .monotonic)
        #expect(tracker.awaitsSendStamp(a))
        tracker.restamp(a, sentAt: t0 + .milliseconds(1))
        #expect(!tracker.awaitsSendStamp(a))
        #expect(
            tracker.received(bytes("A"), for: a, at: t0 + .milliseconds(3), kernelStamped: true)
                == .reply(a, Reply(bytes: bytes("A"), roundTrip: .milliseconds(2), bytesReceived: 1, clock: .kernel)))
        // Answered: nothing more to stamp.
        #expect(!tracker.awaitsSendStamp(a))
    }

    @Test func aSecondCopyIsADuplicateAndOtherDataIsUnexpected() {
        var tracker = ReplyTracker()
        let a = tracker.sent(Line("a"), framing: datagram, at: t0)
        _ = tracker.received(bytes("A"), for: a, at: t0)
        #expect(tracker.received(bytes("A"), for: a, at: t0) == nil)
        #expect(tracker.received(bytes("other"), for: a, at: t0) == nil)
        let noise = tracker.takeNoise()
        #expect(noise?.duplicates == 1)
        #expect(noise?.unexpected == 1)
        #expect(noise?.samples == [bytes("other")])
        #expect(tracker.takeNoise() == nil)
    }

    @Test func aReplyToALineGivenUpIsLateAndNamesItsLine() {
        var tracker = ReplyTracker()
        let slow = tracker.sent(Line("slow"), framing: datagram, at: t0)
        #expect(tracker.abandon(slow) == 0)
        let fast = tracker.sent(Line("fast"), framing: datagram, at: t0 + .milliseconds(100))
        #expect(
            tracker.received(bytes("SLOW"), for: slow, at: t0 + .milliseconds(150))
                == .late(LateReply(line: Line("slow"), bytes: bytes("SLOW"), roundTrip: .milliseconds(150))))
        #expect(
            tracker.received(bytes("FAST"), for: fast, at: t0 + .milliseconds(151))
                == .reply(fast, Reply(bytes: bytes("FAST"), roundTrip: .milliseconds(51), bytesReceived: 4)))
    }

    @Test func dataOnASocketNoLineOwnsIsUnexpected() {
        var tracker = ReplyTracker()
        #expect(tracker.received(bytes("hello"), for: .unassigned, at: t0) == nil)
        #expect(tracker.takeNoise()?.unexpected == 1)
    }

    @Test("a line-framed reply completes at its newline, however the bytes are split", arguments: 0...7)
    func lineFramingAtEverySplit(split: Int) {
        var tracker = ReplyTracker()
        let ticket = tracker.sent(Line("hello"), framing: line, at: t0)
        let wire = bytes("HELLO\nX")
        // A stream read never returns an empty chunk (that is the end of it).
        let chunks = [wire[..<split], wire[split...]].filter { !$0.isEmpty }
        let resolved = chunks.compactMap { tracker.received($0, for: ticket, at: t0 + .milliseconds(1)) }
        #expect(resolved.count == 1)
        guard case .reply(let t, let reply)? = resolved.first else {
            Issue.record("no reply: \(resolved)")
            return
        }
        #expect(t == ticket)
        #expect(reply.bytes == bytes("HELLO"))
        #expect(reply.bytesReceived == 6)
        // The byte after the reply belongs to no line.
        #expect(tracker.takeNoise()?.unexpected == 1)
    }

    @Test func aMultiByteTerminatorIsFoundAcrossChunks() {
        var tracker = ReplyTracker()
        let smtpData = TerminatorFraming(terminator: bytes("\r\n.\r\n"))
        let ticket = tracker.sent(Line("DATA"), framing: smtpData, at: t0)
        #expect(tracker.received(bytes("a\r\n.b\r\n.\r"), for: ticket, at: t0) == nil)
        #expect(
            tracker.received(bytes("\n"), for: ticket, at: t0)
                == .reply(ticket, Reply(bytes: bytes("a\r\n.b"), roundTrip: .zero, bytesReceived: 10)))
    }

    @Test func theEndOfTheStreamBeforeTheNewlineCutsTheReply() {
        var tracker = ReplyTracker()
        let ticket = tracker.sent(Line("hello"), framing: line, at: t0)
        #expect(tracker.received(bytes("HEL"), for: ticket, at: t0) == nil)
        #expect(tracker.ended(ticket, by: .closed, at: t0) == .cut(ticket, received: bytes("HEL"), end: .closed))
        let reset = tracker.sent(Line("x"), framing: line, at: t0)
        #expect(tracker.ended(reset, by: .reset, at: t0) == .cut(reset, received: [], end: .reset))
    }

    @Test func endOfStreamFramingCompletesOnCloseButNotOnReset() {
        var tracker = ReplyTracker()
        let closed = tracker.sent(Line("a"), framing: EndOfStreamFraming(), at: t0)
        _ = tracker.received(bytes("A"), for: closed, at: t0)
        #expect(
            tracker.ended(closed, by: .closed, at: t0 + .milliseconds(2))
                == .reply(closed, Reply(bytes: bytes("A"), roundTrip: .milliseconds(2), bytesReceived: 1)))
        let reset = tracker.sent(Line("ab"), framing: EndOfStreamFraming(), at: t0)
        _ = tracker.received(bytes("A"), for: reset, at: t0)
        #expect(tracker.ended(reset, by: .reset, at: t0) == .cut(reset, received: bytes("A"), end: .reset))
        // An empty reply to an empty line is a reply; to anything else, the server said nothing.
        let empty = tracker.sent(Line(""), framing: EndOfStreamFraming(), at: t0)
        #expect(tracker.ended(empty, by: .closed, at: t0) == .reply(empty, Reply(bytes: [], roundTrip: .zero, bytesReceived: 0)))
        let silent = tracker.sent(Line("x"), framing: EndOfStreamFraming(), at: t0)
        #expect(tracker.ended(silent, by: .closed, at: t0) == .cut(silent, received: [], end: .closed))
    }

    @Test func aReplyThatNeverEndsIsCutAtTheLimit() {
        var tracker = ReplyTracker(maximumReply: 1000, maximumLateReply: 100)
        let ticket = tracker.sent(Line("x"), framing: line, at: t0)
        #expect(tracker.received([UInt8](repeating: 65, count: 1000), for: ticket, at: t0) == nil)
        guard case .cut(ticket, let received, .tooLarge(1000))? = tracker.received([65], for: ticket, at: t0) else {
            Issue.record("not cut at the limit")
            return
        }
        #expect(received.count == 1001)
        // A given-up line keeps less, and then nothing.
        let late = tracker.sent(Line("y"), framing: line, at: t0)
        tracker.abandon(late)
        #expect(tracker.received([UInt8](repeating: 65, count: 101), for: late, at: t0) == nil)
        #expect(tracker.received(bytes("\n"), for: late, at: t0) == nil)
    }

    @Test func aFloodIsCountedWithABoundedSample() {
        var tracker = ReplyTracker()
        let ticket = tracker.sent(Line("x"), framing: datagram, at: t0)
        _ = tracker.received(bytes("X"), for: ticket, at: t0)
        let big = [UInt8](repeating: 0x41, count: 60_000)
        for _ in 0..<10_000 { _ = tracker.received(big, for: ticket, at: t0) }
        let noise = tracker.takeNoise()
        #expect(noise?.unexpected == 10_000)
        #expect(noise?.bytes == 600_000_000)
        #expect(noise?.samples.count == Noise.sampleCount)
        #expect(noise?.samples.allSatisfy { $0.count == Noise.sampleLimit } == true)
    }

    /// Many lines, each answered zero to three times in a shuffled order, some given up first:
    /// a reply is only ever its own line's, and every copy is accounted for.
    @Test("attribution holds under any interleaving", arguments: 1...25)
    func attributionUnderShuffledArrivals(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var tracker = ReplyTracker()
        var tickets: [(Ticket, String)] = []
        for i in 0..<20 {
            let text = i % 4 == 0 ? "same" : "line \(i)"  // identical lines too
            tickets.append((tracker.sent(Line(text), framing: datagram, at: t0), text))
        }
        var arrivals: [(Ticket, String)] = []
        for (ticket, text) in tickets {
            for _ in 0..<Int(random.next() % 4) { arrivals.append((ticket, text.uppercased())) }
            if random.next() % 3 == 0 { tracker.abandon(ticket) }
        }
        arrivals.shuffle(using: &random)
        var answered: Set<Ticket> = []
        var lateOrReply = 0
        for (ticket, payload) in arrivals {
            switch tracker.received(bytes(payload), for: ticket, at: t0) {
            case .reply(let t, let reply)?:
                #expect(t == ticket)
                #expect(reply.bytes == bytes(payload))
                #expect(answered.insert(t).inserted)
                lateOrReply += 1
            case .late(let late)?:
                #expect(late.bytes == bytes(late.line.text.uppercased()))
                #expect(answered.insert(ticket).inserted)
                lateOrReply += 1
            case .cut?:
                Issue.record("a datagram never cuts")
            case nil:
                #expect(answered.contains(ticket))
            }
        }
        let noise = tracker.takeNoise() ?? Noise()
        #expect(lateOrReply + noise.duplicates == arrivals.count)
    }

    @Test func onAPersistentConnectionWholeRepliesAfterTheReplyAreUnasked() {
        var tracker = ReplyTracker()
        let a = tracker.sent(Line("a"), framing: line, at: t0, listensAfterReply: true)
        // The reply, and in the same chunk the start of a push; the rest of it comes later.
        #expect(
            tracker.received(bytes("A\n>push 1\n>pu"), for: a, at: t0)
                == .reply(a, Reply(bytes: bytes("A"), roundTrip: .zero, bytesReceived: 2)))
        #expect(tracker.received(bytes("sh 2\n"), for: a, at: t0) == nil)
        #expect(tracker.takeUnasked()?.replies == [bytes(">push 1"), bytes(">push 2")])
        #expect(tracker.takeUnasked() == nil)
        #expect(tracker.takeNoise() == nil)
    }

    @Test func aFloodOfUnaskedRepliesKeepsAFewAndCountsTheRest() {
        var tracker = ReplyTracker()
        let a = tracker.sent(Line("a"), framing: line, at: t0, listensAfterReply: true)
        _ = tracker.received(bytes("A\n"), for: a, at: t0)
        let flood = Array(repeating: bytes("spam\n"), count: 10_000).flatMap { $0 }
        _ = tracker.received(flood, for: a, at: t0)
        let unasked = tracker.takeUnasked()
        #expect(unasked?.replies.count == Unasked.keepAtMost)
        #expect(unasked?.count == 10_000)
        // A part that never ends is not kept past the bound for a late reply.
        _ = tracker.received([UInt8](repeating: 0x41, count: tracker.maximumLateReply + 1), for: a, at: t0)
        #expect(tracker.takeNoise()?.unexpected == 1)
    }

    @Test func withoutListeningBytesAfterTheReplyAreUnexpected() {
        var tracker = ReplyTracker()
        let a = tracker.sent(Line("a"), framing: line, at: t0)
        _ = tracker.received(bytes("A\nmore\n"), for: a, at: t0)
        #expect(tracker.takeUnasked() == nil)
        #expect(tracker.takeNoise()?.unexpected == 1)
    }
}
