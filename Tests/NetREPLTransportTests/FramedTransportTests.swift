// Issue 12's framing hooks inside the non-blocking TCP transport, over real sockets: a reply
// ended by quiet (idle=D), a server that greets on connect, a reply a framer finds malformed,
// and a RESP3 push on a persistent connection.

import Glibc
import MisbehavingPeers
import Testing
@testable import NetREPLTransport

/// A persistent connection to `peer` framed by `rule`.
private func persistent(to peer: TCPPeer, _ rule: FramingRule) throws -> TCPTransport {
    TCPTransport(addresses: [try address(peer.port)], mode: .persistent, framing: rule.framing(host: "127.0.0.1"))
}

/// Runs `body` on a persistent connection framed by `rule` to a peer that answers each line
/// with `reply` (after `greeting` on connect) and holds the connection open.
private func withPeer(
    replying reply: String, greeting: String = "", _ rule: FramingRule,
    _ body: (TCPTransport, TCPPeer) throws -> Void
) throws {
    let peer = fixedReplyPeer(Array(reply.utf8), greeting: Array(greeting.utf8))
    defer { peer.stop() }
    let tcp = try persistent(to: peer, rule)
    defer { tcp.close() }
    try body(tcp, peer)
}

@Suite(.serialized) struct FramedTransportTests {
    /// Only the quiet period can end this reply (the peer holds the connection open, the timeout
    /// is far off): its deadline has to reach the driver's wait through `nextDeadline`.
    @Test func aReplyFramedByQuietEndsOnceTheConnectionIsQuiet() throws {
        let peer = TCPPeer { connection in
            while connection.readLine() != nil {
                connection.write("first ")
                connection.sleep(.milliseconds(50))
                connection.write("second")
            }
        }
        defer { peer.stop() }
        let tcp = try persistent(to: peer, .idle(.milliseconds(300)))
        defer { tcp.close() }
        let exchange = tcp.exchange(Line("go"), timeout: .seconds(30))
        let reply = try #require(exchange.reply, "\(exchange.outcome)")
        #expect(text(reply.bytes) == "first second")
        #expect(reply.firstByte != nil)
        // The connection is kept for the next line.
        #expect(tcp.exchange(Line("again"), timeout: .seconds(30)).reply.map { text($0.bytes) } == "first second")
        #expect(peer.accepted.count == 1)
    }

    @Test func aGreetingOnConnectIsAnEventAndTheLineGetsItsOwnReply() throws {
        try withPeer(replying: "250 ok\r\n", greeting: "220 hello\r\n", .smtp) { tcp, _ in
            let first = tcp.exchange(Line("EHLO me"), timeout: .seconds(5))
            #expect(first.reply.map { text($0.bytes) } == "250 ok")
            let greetings = first.events.compactMap { event -> String? in
                if case .greeting(let bytes, _) = event { return text(bytes) }
                return nil
            }
            #expect(greetings == ["220 hello"])
            // A reused connection does not greet again.
            let second = tcp.exchange(Line("NOOP"), timeout: .seconds(5))
            #expect(second.reply.map { text($0.bytes) } == "250 ok")
            #expect(
                !second.events.contains {
                    if case .greeting = $0 { return true }; return false
                })
        }
    }

    @Test func aMalformedReplyIsItsOwnOutcomeAndTheNextLineGetsANewConnection() throws {
        try withPeer(replying: "?what\r\n", .resp) { tcp, peer in
            let first = tcp.exchange(Line("PING"), timeout: .seconds(5))
            guard case .malformed(let received, .unexpectedByte(UInt8(ascii: "?"), offset: 0)) = first.outcome else {
                Issue.record("\(first.outcome)")
                return
            }
            #expect(text(received).hasPrefix("?what"))
            let second = tcp.exchange(Line("PING"), timeout: .seconds(5))
            #expect(
                second.events.contains {
                    if case .connected(_, _, replacing: .replyAbandoned) = $0 { return true }; return false
                })
            #expect(peer.accepted.count == 2)
        }
    }

    @Test func aPushBeforeAndAfterTheReplyIsUnaskedNotTheReply() throws {
        try withPeer(replying: ">2\r\n+message\r\n+before\r\n+PONG\r\n>2\r\n+message\r\n+after\r\n", .resp) { tcp, _ in
            let exchange = tcp.exchange(Line("PING"), timeout: .seconds(5))
            #expect(exchange.reply.map { text($0.bytes) } == "+PONG")
            // The push after the reply may come with it or just after: look until it has.
            var unasked = exchange.events.flatMap { event -> [[UInt8]] in
                if case .unasked(let u) = event { return u.replies }
                return []
            }
            let deadline = ContinuousClock.now + .seconds(5)
            while unasked.count < 2 && ContinuousClock.now < deadline {
                tcp.service(ready: Poller.wait(tcp.interests, until: tcp.nextDeadline))
                for case .event(.unasked(let u)) in tcp.takeNotices() { unasked += u.replies }
            }
            #expect(unasked.map(text) == [">2\r\n+message\r\n+before\r\n", ">2\r\n+message\r\n+after\r\n"])
            #expect(
                !exchange.events.contains {
                    if case .noise = $0 { return true }; return false
                })
        }
    }
}
