// RESP as redis-cli shows it, the hex view, typed escapes, the reply commands, and malformed
// replies from misbehaving peers ending in a typed outcome within the timeout.

import MisbehavingPeers
import NetREPLTransport
import Testing
@testable import NetREPLCore

@Suite struct ReplyRenderingTests {
    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// `wire` as the RESP framer hands it on: without its final CR LF.
    func render(_ wire: String, request: String = "") -> [String]? {
        RESPRendering.render(Array(bytes(wire).dropLast(2)), request: bytes(request))
    }

    @Test func respAsRedisCliShowsIt() {
        #expect(render("+OK\r\n") == ["OK"])
        #expect(render("-ERR wrong\r\n") == ["(error) ERR wrong"])
        #expect(render(":5\r\n") == ["(integer) 5"])
        #expect(render("$5\r\nhello\r\n") == ["\"hello\""])
        #expect(render("$4\r\na\"\r\n\r\n") == ["\"a\\\"\\r\\n\""])
        #expect(render("$2\r\n\u{1}\u{7f}\r\n") == ["\"\\x01\\x7f\""])
        #expect(render("$-1\r\n") == ["(nil)"])
        #expect(render("*-1\r\n") == ["(nil)"])
        #expect(render("*0\r\n") == ["(empty array)"])
        #expect(render("_\r\n") == ["(nil)"])
        #expect(render("#f\r\n") == ["(false)"])
        #expect(render(",1.5\r\n") == ["(double) 1.5"])
    }

    @Test func nestedAggregatesAreNumberedAndIndented() {
        let wire = "*3\r\n$1\r\na\r\n*2\r\n:1\r\n:2\r\n%1\r\n+k\r\n+v\r\n"
        #expect(render(wire) == ["1) \"a\"", "2) 1) (integer) 1", "   2) (integer) 2", "3) 1# k => v"])
        let ten = "*10\r\n" + String(repeating: ":0\r\n", count: 10)
        #expect(render(ten)?.first == " 1) (integer) 0")
        #expect(render(ten)?.last == "10) (integer) 0")
    }

    @Test func infoIsShownAsItsText() {
        #expect(render("$21\r\n# Server\r\nversion:7\r\n\r\n", request: "INFO server") == ["# Server", "version:7"])
        #expect(render("$21\r\n# Server\r\nversion:7\r\n\r\n", request: "GET k") == ["\"# Server\\r\\nversion:7\\r\\n\""])
    }

    @Test func hexDumpHasOffsetsAndTextBeside() {
        let lines = HexDump.lines(bytes("hello, world\r\n and more"))
        #expect(
            lines == [
                "00000000  68 65 6c 6c 6f 2c 20 77  6f 72 6c 64 0d 0a 20 61  |hello, world.. a|",
                "00000010  6e 64 20 6d 6f 72 65                              |nd more|",
            ])
    }

    @Test func escapesBecomeBytes() throws {
        #expect(try Escapes.decode("a\\tb\\r\\n\\\\\\x00\\xfF") == [97, 9, 98, 13, 10, 92, 0, 255])
        #expect(try Escapes.decode("é") == bytes("é"))
        #expect(throws: Escapes.Problem.unknown("\\q", column: 2)) { try Escapes.decode("a\\q") }
        #expect(throws: Escapes.Problem.badHex(column: 1)) { try Escapes.decode("\\x4") }
        #expect(throws: Escapes.Problem.unknown("\\", column: 2)) { try Escapes.decode("a\\") }
    }

    @Test func viewAndEscapesCommandsChangeWhatIsSentAndShown() throws {
        // The peer echoes what it got, as hex would show it.
        let peer = TCPPeer { connection in
            while let line = connection.readLine() { connection.write(line + [10]) }
        }
        defer { peer.stop() }
        let run = try runSession(
            [":escapes on", "a\\tb\\x01", ":view hex", "xy", ":view", ":view text", ":escapes off", "a\\tb"],
            port: peer.port, transport: .tcp)
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out == "a\tb\u{1}\n00000000  78 79                                             |xy|\na\\tb\n", "\(run.out)")
        #expect(run.err.contains("view: hex"))
        let bad = try runSession([":escapes on", "a\\q"], port: peer.port, transport: .tcp)
        #expect(bad.err.contains("\\q at column 2 is not an escape"), "\(bad.err)")
        #expect(bad.session.statistics.tcp.sent == 0)
    }

    @Test func aPushIsShownAsUnaskedAndRenderedNotTakenForTheReply() throws {
        let peer = fixedReplyPeer(Array(">2\r\n$7\r\nmessage\r\n$5\r\nhello\r\n+PONG\r\n".utf8))
        defer { peer.stop() }
        var replies = ReplySettings()
        replies.rule = .resp
        let run = try runSession(["PING"], port: peer.port, transport: .tcp, interactive: true, replies: replies)
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out.contains("PONG"), "\(run.out)")
        #expect((run.out + run.err).contains("sent:\n1) \"message\"\n2) \"hello\"\n"), "\(run.out)\(run.err)")
    }

    @Test func frameCommandRejectsWhatItCannotRead() throws {
        let peer = TCPPeer(lineMode: true)
        defer { peer.stop() }
        let run = try runSession([":frame ftp", ":frame lines=0", ":frame lines=2", ":frame", ":crlf on", ":crlf"], port: peer.port, transport: .tcp)
        #expect(run.err.contains("unknown framing rule \"ftp\""), "\(run.err)")
        #expect(run.err.contains("lines=0: give a whole number"), "\(run.err)")
        #expect(run.err.contains("frame: lines=2"))
        #expect(run.err.contains("crlf: on"))
        #expect(run.status == 2)
    }

    @Test(
        "a malformed reply is a typed outcome, and the session goes on",
        arguments: [
            (FramingRule.resp, "$4611686018427387904\r\n"),
            (FramingRule.resp, "?what\r\n"),
            (FramingRule.http, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
            (FramingRule.http, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nnothex\r\n"),
            (FramingRule.memcached, "VALUE k 0 99999999999999\r\n"),
            (FramingRule.smtp, "hello\r\n"),
        ])
    func malformedFromAMisbehavingPeer(rule: FramingRule, reply: String) throws {
        let peer = fixedReplyPeer(bytes(reply), greeting: rule == .smtp ? bytes("220 ready\r\n") : [])
        defer { peer.stop() }
        var replies = ReplySettings()
        replies.rule = rule
        let line = rule == .memcached ? "get k" : (rule == .http ? "GET /" : "PING")
        let run = try runSession([line], port: peer.port, transport: .tcp, timeout: .seconds(10), json: true, replies: replies)
        #expect(run.status == 1)
        #expect(run.out.contains("\"outcome\":\"malformed\""), "\(run.out)")
        guard case .malformed? = run.session.lastExchange?.outcome else {
            Issue.record("not malformed: \(String(describing: run.session.lastExchange?.outcome))")
            return
        }
    }

    @Test func aContentLengthTheConnectionDoesNotDeliverIsTruncated() throws {
        let peer = TCPPeer { connection in
            _ = connection.readLine()
            connection.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
        }
        defer { peer.stop() }
        var replies = ReplySettings()
        replies.rule = .http
        let run = try runSession(["GET /"], port: peer.port, transport: .tcp, timeout: .seconds(10), replies: replies)
        guard case .truncated(_, .closed)? = run.session.lastExchange?.outcome else {
            Issue.record("not truncated: \(String(describing: run.session.lastExchange?.outcome))")
            return
        }
        #expect(run.status == 1)
    }

    @Test func idleFramingEndsAReplyWhenTheServerGoesQuiet() throws {
        let peer = TCPPeer { connection in
            while connection.readLine() != nil {
                connection.write("part one\n")
                connection.sleep(.milliseconds(20))
                connection.write("part two\n")
            }
        }
        defer { peer.stop() }
        var replies = ReplySettings()
        replies.rule = .idle(.milliseconds(300))
        let run = try runSession(["x", "y"], port: peer.port, transport: .tcp, timeout: .seconds(10), replies: replies)
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out == "part one\npart two\n\npart one\npart two\n\n", "\(run.out)")
    }
}

@Suite struct HTTPRequestTests {
    @Test func headersAddedWithTheCommandGoIntoTheRequestsThatFollow() throws {
        // The peer answers with the request it got as the body.
        let peer = TCPPeer { connection in
            var request: [UInt8] = []
            while let chunk = connection.read() {
                request += chunk
                guard let end = request.indices.first(where: { request[$0...].starts(with: Array("\r\n\r\n".utf8)) }) else { continue }
                let head = Array(request[..<(end + 4)])
                request.removeFirst(end + 4)
                connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(head.count)\r\n\r\n")
                connection.write(head)
            }
        }
        defer { peer.stop() }
        var replies = ReplySettings()
        replies.rule = .http
        let run = try runSession(
            ["GET /one", ":header Accept: text/plain", ":header X-Trace: 1", "GET /two", ":header X-Trace:", "HEAD /three"],
            port: peer.port, transport: .tcp, timeout: .seconds(10), replies: replies)
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out.contains("GET /one HTTP/1.1\r\nHost: 127.0.0.1:\(peer.port)\r\nUser-Agent: netrepl/"), "\(run.out)")
        #expect(run.out.contains("GET /two HTTP/1.1\r\nHost: 127.0.0.1:\(peer.port)\r\nUser-Agent: netrepl/"))
        #expect(run.out.contains("Accept: text/plain\r\nX-Trace: 1\r\n\r\n"), "\(run.out)")
        // HEAD: the response has no body, whatever its Content-Length says.
        #expect(!run.out.contains("HEAD /three HTTP/1.1"), "\(run.out)")
        #expect(run.session.statistics.tcp.received == 3)
    }
}
