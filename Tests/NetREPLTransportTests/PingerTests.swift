// The pinger: its bookkeeping as a pure value (replies, timeouts, duplicates, late and reordered
// replies by sequence number), its payload, and its open-loop schedule against real peers.

import Glibc
import MisbehavingPeers
import Testing
@testable import NetREPLTransport

@Suite struct PingStateTests {
    let t0 = ContinuousClock.now

    func reply(_ sequence: Int) -> [UInt8] { Array("PING \(sequence) 1.000000".utf8) }

    @Test func repliesTimeoutsDuplicatesLateAndReorderedAreToldApart() {
        var state = PingState(plan: PingPlan(count: 3, interval: .milliseconds(10), timeout: .milliseconds(100)))
        for i in 0..<3 {
            let sent = t0 + .milliseconds(10 * i)
            state.sentProbe(at: sent, clock: .kernel, deadline: sent + .milliseconds(100))
        }
        #expect(
            state.received(reply(2), at: t0 + .milliseconds(15), kernelStamped: true)
                == [.reply(sequence: 2, roundTrip: .milliseconds(5), clock: .kernel, bytes: 15, reordered: false)])
        #expect(
            state.received(reply(1), at: t0 + .milliseconds(20), kernelStamped: false)
                == [.reply(sequence: 1, roundTrip: .milliseconds(20), clock: .monotonic, bytes: 15, reordered: true)])
        #expect(state.received(reply(1), at: t0 + .milliseconds(21), kernelStamped: true) == [.duplicate(sequence: 1)])
        #expect(!state.isDone)
        #expect(state.expire(at: t0 + .milliseconds(119)) == [])
        #expect(state.expire(at: t0 + .milliseconds(121)) == [.timedOut(sequence: 3)])
        #expect(state.isDone)
        #expect(state.received(reply(3), at: t0 + .milliseconds(150), kernelStamped: true) == [.late(sequence: 3, roundTrip: .milliseconds(130))])
        #expect(state.received(Array("hello".utf8), at: t0, kernelStamped: true) == [.unexpected(bytes: 5)])
        #expect(state.received(reply(9), at: t0, kernelStamped: true) == [.unexpected(bytes: 15)])
    }

    @Test func aReplyStampedAfterItsDeadlineIsLateEvenIfReadBefore() {
        var state = PingState(plan: PingPlan(count: 1, timeout: .milliseconds(10)))
        state.sentProbe(at: t0, clock: .kernel, deadline: t0 + .milliseconds(10))
        #expect(
            state.received(reply(1), at: t0 + .milliseconds(11), kernelStamped: true)
                == [.timedOut(sequence: 1), .late(sequence: 1, roundTrip: .milliseconds(11))])
    }

    @Test func theNextWakeIsTheNextSendOrTheEarliestDeadline() {
        var state = PingState(plan: PingPlan(count: 2, interval: .seconds(1), timeout: .milliseconds(300)))
        #expect(state.nextWake(start: t0) == t0)
        state.sentProbe(at: t0, clock: .kernel, deadline: t0 + .milliseconds(300))
        #expect(state.nextWake(start: t0) == t0 + .milliseconds(300))
        _ = state.expire(at: t0 + .milliseconds(301))
        #expect(state.nextWake(start: t0) == t0 + .seconds(1))
    }

    @Test func thePayloadHasTheTextbookFormAndTheSizeAsked() {
        let payload = PingPayload.make(sequence: 7, size: 56)
        #expect(payload.count == 56)
        #expect(String(decoding: payload, as: UTF8.self).hasPrefix("Ping 7 "))
        #expect(PingPayload.make(sequence: 12345, size: 16).count == 16)
        #expect(PingPayload.sequence(in: upper(payload)) == 7)
        #expect(PingPayload.sequence(in: payload) == 7)
        #expect(PingPayload.sequence(in: Array("PONG 7".utf8)) == nil)
        #expect(PingPayload.sequence(in: Array("PING x".utf8)) == nil)
    }
}

@Suite(.serialized) struct PingerTests {
    @Test func everyProbeIsAnsweredOnLoopbackWithKernelStamps() throws {
        let peer = UDPPeer()
        defer { peer.stop() }
        var events: [PingEvent] = []
        let result = Pinger.run(
            PingPlan(count: 5, interval: .milliseconds(5), size: 32, timeout: .seconds(5)),
            to: try address(peer.port), interruption: { nil }
        ) { events.append($0) }
        #expect(result.end == .completed && result.sent == 5)
        let answered = events.compactMap { event -> Int? in
            if case .reply(let sequence, _, let clock, let bytes, _) = event, clock == .kernel, bytes == 32 { return sequence }
            return nil
        }
        #expect(answered.sorted() == [1, 2, 3, 4, 5])
    }

    @Test func theScheduleDoesNotWaitForASlowReply() throws {
        // The first reply takes 400 ms; the others come at once. Closed loop, probes 2 to 4 would
        // leave after it; open loop, they leave on schedule, and their replies come before it.
        let peer = UDPPeer { request in
            [UDPPeer.Send(upper(request), after: PingPayload.sequence(in: request) == 1 ? .milliseconds(400) : .zero)]
        }
        defer { peer.stop() }
        var order: [Int] = []
        let result = Pinger.run(
            PingPlan(count: 4, interval: .milliseconds(20), size: 32, timeout: .seconds(5)),
            to: try address(peer.port), interruption: { nil }
        ) { event in
            if case .reply(let sequence, _, _, _, _) = event { order.append(sequence) }
        }
        #expect(result.end == .completed)
        #expect(order == [2, 3, 4, 1])
    }

    @Test func silenceIsATimeoutPerProbeAndASignalEndsTheRun() throws {
        let peer = UDPPeer { _ in [] }
        defer { peer.stop() }
        var timedOut = 0
        let result = Pinger.run(
            PingPlan(count: 2, interval: .milliseconds(10), size: 16, timeout: .milliseconds(50)),
            to: try address(peer.port), interruption: { nil }
        ) { event in
            if case .timedOut = event { timedOut += 1 }
        }
        #expect(result.end == .completed && timedOut == 2)
        var asked = 0
        let stopped = Pinger.run(
            PingPlan(count: 1000, interval: .milliseconds(10), size: 16, timeout: .seconds(1)),
            to: try address(peer.port),
            interruption: {
                asked += 1
                return asked > 5 ? SIGINT : nil
            }
        ) { _ in }
        #expect(stopped.end == .interrupted(signal: SIGINT))
        #expect(stopped.sent < 1000)
    }

    @Test func nothingListeningIsARefusal() throws {
        let port = closedPort(type: Int32(SOCK_DGRAM.rawValue))
        let result = Pinger.run(
            PingPlan(count: 3, interval: .milliseconds(10), size: 16, timeout: .seconds(2)),
            to: try address(port), interruption: { nil }
        ) { _ in }
        #expect(result.end == .failed(.refused(try address(port))))
    }
}
