// Everything a session says, worded in one place: replies and their round-trip lines, late
// replies and noise, failures with their hints, JSON objects. Below this layer nothing writes a
// sentence for a person; here each typed outcome becomes one.

import Glibc
import Grammars
import NetREPLProtocol
import NetREPLTransport
import SystemPackage

final class Presenter {
    let style: OutputStyle
    let out: OutputStream
    let err: OutputStream
    /// How replies are shown (`:view`, and RESP rendering under `--frame resp`).
    var display = ReplyDisplay()

    /// Events are shown the moment they happen (a live prompt), not before the next line's
    /// outcome: a late reply then needs no "not the reply to this line".
    var live = false
    /// The session is ending (Ctrl-D or :quit) and only waits for lines still out: nothing that
    /// comes after a cancellation will be shown.
    var leaving = false

    init(style: OutputStyle, out: OutputSink, err: OutputSink) {
        self.style = style
        self.out = OutputStream(sink: out, isTerminal: style.stdoutIsTerminal, colour: style.colour)
        self.err = OutputStream(sink: err, isTerminal: style.stderrIsTerminal, colour: style.colour)
    }

    /// Where meta lines (RTTs, notices, command output) go: next to replies for a person, else stderr.
    private var metaStream: OutputStream { style.interactive ? out : err }

    var outputClosed: Bool { out.sink.isClosed }

    /// Command output (asked for, so never suppressed): stdout for a person, else stderr, which
    /// keeps stdout for replies alone in scripts.
    func info(_ text: String) {
        metaStream.line(text)
    }

    /// Dimmed meta information (RTTs, connects, late replies), suppressed by --quiet and --json.
    func meta(_ text: String) {
        if !style.interactive && (style.quiet || style.json) { return }
        metaStream.line(text, tone: .dim)
    }

    /// Ends the line where the terminal echoed a signal's key (`^C`) itself, in its normal mode
    /// (after Ctrl-D, when readline has given it back), so that what follows starts a line.
    func endEchoedKey() {
        if style.stderrIsTerminal { err.sink.write([UInt8(ascii: "\n")]) }
    }

    /// A one-line error: always shown, on stderr.
    func error(_ text: String) {
        err.line("netrepl: " + text, tone: .red)
    }

    func warning(_ text: String) {
        err.line("netrepl: warning: " + text)
    }

    /// The line as it may be quoted in a message: at most 60 characters.
    func excerpt(_ line: String) -> String {
        line.count > 60 ? String(line.prefix(59)) + "…" : line
    }

    // MARK: exchanges

    func show(_ exchange: Exchange, target: String) {
        for event in exchange.events { show(event, transport: exchange.transport, peer: exchange.peer, target: target) }
        if style.json {
            out.json(json(exchange, target: target))
            return
        }
        switch exchange.outcome {
        case .reply(let reply):
            showReply(reply.bytes, request: exchange.line.bytes)
            meta(rttLine(exchange, reply))
        case .lost(let partial):
            // Named, because in a script many lines may be lost and stdout shows none of them.
            let got = partial > 0 ? " (\(counted(partial, "byte")) of a reply had come)" : ""
            error(
                "lost \"\(excerpt(exchange.line.text))\": no reply from \(peerText(exchange)) within \(DurationGrammar.format(exchange.timeout))\(got)"
                    + (style.interactive ? "; :timeout D waits longer" : ""))
        case .truncated(let received, let end):
            // A person sees what came; a script's stdout holds whole replies only.
            if style.interactive && !received.isEmpty { out.reply(received, raw: style.rawReplies) }
            error(
                "truncated reply to \"\(excerpt(exchange.line.text))\": \(counted(received.count, "byte")), then \(describe(end)) before the reply was complete"
            )
        case .malformed(let received, let problem):
            if style.interactive && !received.isEmpty { out.reply(received, raw: false) }
            error(
                "malformed reply to \"\(excerpt(exchange.line.text))\" after \(counted(received.count, "byte")): \(describe(problem)); "
                    + (style.interactive ? ":frame names another rule" : "--frame names another rule"))
        case .cancelled(let signal) where signal == SIGINT && style.interactive:
            error(
                "cancelled \"\(excerpt(exchange.line.text))\" while waiting for its reply"
                    + (leaving ? "" : "; a reply that comes later is shown as late"))
        case .cancelled(let signal):
            error("interrupted by \(signalName(signal)) while waiting for the reply to \"\(excerpt(exchange.line.text))\"")
        case .failed(let failure):
            error(describe(failure, exchange: exchange))
        }
    }

    /// A reply's bytes in the view asked for: rendered lines, or the bytes themselves.
    func showReply(_ bytes: [UInt8], request: [UInt8] = []) {
        if let lines = display.rendered(bytes, request: request) {
            for line in lines { out.line(line) }
        } else {
            out.reply(bytes, raw: style.rawReplies || display.view == .raw)
        }
    }

    /// The reply as `--json` holds it: as shown (RESP rendered), else its bytes.
    private func shownBytes(_ bytes: [UInt8], request: [UInt8]) -> [UInt8] {
        guard display.resp, RESPRendering.parse(bytes) != nil else { return bytes }
        return Array(display.shownText(bytes, request: request).utf8)
    }

    private func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(signal)"
        }
    }

    private func peerText(_ exchange: Exchange) -> String {
        transportName(exchange.transport, exchange.tcpMode) + " " + (exchange.peer?.description ?? "?")
    }

    /// `udp 127.0.0.1:12000 · 0.084 ms · 11 B`, `tcp/per-line 127.0.0.1:12000 · connect …`
    func rttLine(_ e: Exchange, _ reply: Reply) -> String {
        var parts = [transportName(e.transport, e.tcpMode) + " " + (e.peer?.description ?? "?")]
        if let connect = e.connectTime {
            parts.append("connect " + formatMilliseconds(connect))
            parts.append("exchange " + formatMilliseconds(reply.roundTrip))
        } else {
            parts.append(formatMilliseconds(reply.roundTrip))
        }
        if let first = reply.firstByte { parts.append("first byte " + formatMilliseconds(first)) }
        parts.append(e.bytesSent == reply.bytesReceived ? "\(e.bytesSent) B" : "\(e.bytesSent) B → \(reply.bytesReceived) B")
        return parts.joined(separator: " · ")
    }

    /// Something a transport saw or did, shown when it happened (live) or before the outcome of
    /// the line it came with (a script).
    func show(_ event: TransportEvent, transport: TransportKind, peer: SocketAddress?, target: String) {
        switch event {
        case .connected(let peer, let took, let replacing):
            if let replacing {
                meta("tcp: \(describe(replacing)); reconnected to \(peer) in \(formatMilliseconds(took))")
            } else {
                meta("tcp: connected to \(peer) in \(formatMilliseconds(took))")
            }
        case .greeting(let bytes, let after):
            if style.json {
                out.json(
                    "{"
                        + [
                            "\"transport\":" + jsonString(transport.rawValue), "\"target\":" + jsonString(target),
                            "\"outcome\":\"greeting\"", jsonReplyFields(bytes), "\"rtt_us\":" + micros(after),
                        ].joined(separator: ",") + "}")
                return
            }
            meta("the server said on connect, after \(formatMilliseconds(after)):")
            showReply(bytes)
        case .fellBack(let from, let to):
            meta("\(transport.rawValue): nothing listening on \(from); trying \(to)")
        case .late(let late):
            if style.json {
                out.json(jsonLate(late, transport: transport, peer: peer, target: target))
                return
            }
            meta(
                "late reply to \"\(excerpt(late.line.text))\" after \(formatMilliseconds(late.roundTrip))\(live ? "" : " (not the reply to this line)"): "
                    + String(decoding: late.bytes, as: UTF8.self))
        case .noise(let noise):
            if style.json {
                out.json(jsonNoise(noise, transport: transport, target: target))
                return
            }
            var parts: [String] = []
            if noise.duplicates > 0 { parts.append(counted(noise.duplicates, "duplicate reply", plural: "duplicate replies")) }
            if noise.unexpected > 0 { parts.append(counted(noise.unexpected, "unexpected message")) }
            let sample = noise.samples.first.map { ", first: " + String(decoding: $0, as: UTF8.self) } ?? ""
            meta("ignored \(parts.joined(separator: " and ")) from the server (\(noise.bytes) B, not the reply to any line)\(sample)")
        case .unasked(let unasked):
            for reply in unasked.replies {
                if style.json {
                    out.json(jsonUnasked(reply, transport: transport, peer: peer, target: target))
                } else if let lines = display.rendered(reply) {
                    // A RESP3 push reads as a reply does (:view hex dumps it).
                    meta("\(transport.rawValue) \(peer?.description ?? target) sent:")
                    for line in lines { meta(line) }
                } else {
                    meta("\(transport.rawValue) \(peer?.description ?? target) sent: " + String(decoding: reply, as: UTF8.self))
                }
            }
            if unasked.dropped > 0 { moreFromServer(unasked.dropped, in: nil) }
        case .connectionEnded(let peer, let end):
            meta("\(transport.rawValue): \(describe(end)) (\(peer)); the next line reconnects")
        case .unreachable(let peer):
            meta("\(transport.rawValue): \(peer) answered an earlier line with ICMP port unreachable: nothing listens there now")
        }
    }

    /// Lines the server sent that were counted but not shown (a flood), over `window` if known.
    func moreFromServer(_ count: Int, in window: Duration?) {
        let lines = count == 1 ? "line" : "lines"
        let when = window.map { $0 <= .seconds(1) ? " in the last second" : " in the last \(formatMilliseconds($0))" } ?? ""
        meta("… \(grouped(count)) more \(lines) from the server\(when) (not shown)")
    }

    /// A line queued behind others on the persistent connection.
    func queued(_ line: Line, ahead: Int) {
        meta("queued \"\(excerpt(line.text))\" behind \(ahead) \(ahead == 1 ? "line" : "lines") waiting on the connection")
    }

    func unsent(_ line: Line) {
        meta("not sent \"\(excerpt(line.text))\": it was queued when the wait was cancelled")
    }

    /// 9874 → "9,874".
    func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    // MARK: wording of typed failures

    func describe(_ end: StreamEnd) -> String {
        switch end {
        case .closed: return "the server closed the connection"
        case .reset: return "the server reset the connection"
        case .tooLarge(let limit): return "the reply grew past \(limit >> 20) MiB without ending, so netrepl stopped reading it"
        case .malformed(let problem): return "the reply broke its framing rule (\(describe(problem)))"
        }
    }

    func describe(_ problem: FrameProblem) -> String {
        switch problem {
        case .unexpectedByte(let byte, let offset):
            return "unexpected byte \(Sanitizer.escape([byte]).isEmpty ? "?" : Sanitizer.escape([byte])) (0x\(RESPRendering.hex(byte))) at offset \(offset)"
        case .badLength(let offset): return "a length or count at offset \(offset) is not a number netrepl accepts (at most 4 GiB)"
        case .badChunkSize(let offset): return "the chunk size at offset \(offset) is not hexadecimal"
        case .missingTerminator(let offset): return "no CR LF at offset \(offset) where the declared length ends"
        case .transferEncodingWithContentLength: return "Transfer-Encoding and Content-Length together (RFC 9112 6.3)"
        case .conflictingContentLength: return "two different Content-Length values"
        case .badHeader(let offset): return "the line at offset \(offset) is not a valid status or header line"
        case .tooDeep: return "aggregates nested more than \(FrameLimits.nesting) deep"
        case .headerTooLong: return "the status line and headers are longer than \(FrameLimits.header >> 10) KiB"
        }
    }

    func describe(_ end: ConnectionEnd) -> String {
        switch end {
        case .serverClosed: return "the server closed the connection"
        case .reset: return "the server reset the connection"
        case .failed(let errno): return "the connection failed (\(errno.description))"
        case .replyAbandoned: return "the previous reply was not awaited to its end, so its connection was set aside"
        }
    }

    func describe(_ failure: TransportFailure, exchange: Exchange) -> String {
        let kind = exchange.transport.rawValue
        let elsewhere = style.interactive ? ", or :connect to another host or port" : ""
        switch failure {
        case .cannotOpenSocket(let errno):
            return "cannot open a \(kind.uppercased()) socket: \(errno.description)"
        case .refused(let address):
            return "nothing listening on \(kind) \(address); start netrepl-server there\(elsewhere)"
        case .connectTimedOut(let address):
            return "no answer from \(kind) \(address) to the connection request within the timeout; check the host"
                + (style.interactive ? ", or raise :timeout" : ", or raise --timeout")
        case .cannotConnect(let address, let errno):
            return "cannot reach \(kind) \(address): \(errno.description); check the address and your network"
        case .datagramTooLarge(let size, let limit):
            return "line too long for one UDP datagram (\(size) bytes, at most \(limit)); "
                + (style.interactive ? "use :tcp" : "use --tcp")
        case .sendFailed(let address, let errno):
            return "sending to \(kind) \(address) failed: \(errno.description)"
        case .sendTimedOut(let address):
            return "\(kind) \(address) stopped reading: the line could not be sent within the timeout"
        case .receiveFailed(let address, let errno):
            return "receiving from \(kind) \(address) failed: \(errno.description)"
        case .closedBeforeReply(let address, let end):
            return "\(kind) \(address): \(describe(end)) without replying to \"\(excerpt(exchange.line.text))\""
        }
    }

    func describe(_ error: ResolutionError) -> String {
        switch error {
        case .portOutOfRange(let target):
            return "port \(target.port) is out of range; give 1 to 65535"
        case .notFound(let target, let reason):
            return "cannot resolve \(target.host): \(reason); check the name"
        case .wrongFamily(let target, let asked):
            return
                "\(target.host) is not an \(asked == .ipv6 ? "IPv6" : "IPv4") address; drop \(asked == .ipv6 ? "-6" : "-4") or give an \(asked == .ipv6 ? "IPv6" : "IPv4") address"
        case .noAddressOfFamily(let target, let asked):
            return "\(target.host) has no \(asked == .ipv6 ? "IPv6" : "IPv4") address here; drop \(asked == .ipv6 ? "-6" : "-4")"
        }
    }

    // MARK: JSON

    private func jsonReplyFields(_ raw: [UInt8]?, request: [UInt8] = []) -> String {
        guard let raw else { return "\"reply\":null" }
        let bytes = shownBytes(raw, request: request)
        if isValidUTF8(bytes) {
            return "\"reply\":" + jsonString(String(decoding: bytes, as: UTF8.self))
        }
        return "\"reply\":" + jsonString(String(decoding: bytes, as: UTF8.self)) + ",\"reply_base64\":" + jsonString(base64(bytes))
    }

    private func micros(_ duration: Duration?) -> String {
        duration.map { fixed(Double($0.wholeNanoseconds) / 1_000, 3) } ?? "null"
    }

    func json(_ e: Exchange, target: String) -> String {
        var replyBytes: [UInt8]?
        var rtt: Duration?
        var received = 0
        switch e.outcome {
        case .reply(let reply):
            replyBytes = reply.bytes
            rtt = reply.roundTrip
            received = reply.bytesReceived
        case .truncated(let partial, _), .malformed(let partial, _):
            replyBytes = partial
            received = partial.count
        case .lost(let partial):
            received = partial
        default:
            break
        }
        var fields = [
            "\"transport\":" + jsonString(e.transport.rawValue),
            "\"target\":" + jsonString(target),
            "\"peer\":" + jsonString(e.peer?.description ?? ""),
            "\"local\":" + jsonString(e.trace.local?.description ?? ""),
            "\"line\":" + jsonString(e.line.text),
            jsonReplyFields(replyBytes, request: e.line.bytes),
            "\"rtt_us\":" + micros(rtt),
            "\"rtt_clock\":" + (e.reply.map { jsonString($0.clock.rawValue) } ?? "null"),
            "\"first_byte_us\":" + micros(e.reply.map { $0.firstByte ?? $0.roundTrip }),
            "\"outcome\":" + jsonString(HistoryOutcome(e.outcome).rawValue),
            "\"bytes_sent\":\(e.bytesSent)",
            "\"bytes_received\":\(received)",
        ]
        if let mode = e.tcpMode { fields.insert("\"tcp_mode\":" + jsonString(mode.rawValue), at: 1) }
        if let connect = e.connectTime ?? e.openedConnection { fields.append("\"connect_us\":" + micros(connect)) }
        switch e.outcome {
        case .reply: break
        case .failed(let failure): fields.append("\"error\":" + jsonString(describe(failure, exchange: e)))
        case .truncated(_, let end): fields.append("\"error\":" + jsonString(describe(end)))
        case .malformed(_, let problem): fields.append("\"error\":" + jsonString(describe(problem)))
        case .lost: fields.append("\"error\":" + jsonString("no reply within the timeout"))
        case .cancelled: fields.append("\"error\":" + jsonString("cancelled"))
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    func jsonLate(_ late: LateReply, transport: TransportKind, peer: SocketAddress?, target: String) -> String {
        let fields = [
            "\"transport\":" + jsonString(transport.rawValue),
            "\"target\":" + jsonString(target),
            "\"peer\":" + jsonString(peer?.description ?? ""),
            "\"line\":" + jsonString(late.line.text),
            jsonReplyFields(late.bytes),
            "\"rtt_us\":" + micros(late.roundTrip),
            "\"outcome\":\"late\"",
            "\"bytes_received\":\(late.bytes.count)",
        ]
        return "{" + fields.joined(separator: ",") + "}"
    }

    func jsonUnasked(_ bytes: [UInt8], transport: TransportKind, peer: SocketAddress?, target: String) -> String {
        let fields = [
            "\"transport\":" + jsonString(transport.rawValue),
            "\"target\":" + jsonString(target),
            "\"peer\":" + jsonString(peer?.description ?? ""),
            jsonReplyFields(bytes),
            "\"outcome\":\"unasked\"",
            "\"bytes_received\":\(bytes.count)",
        ]
        return "{" + fields.joined(separator: ",") + "}"
    }

    func jsonNoise(_ noise: Noise, transport: TransportKind, target: String) -> String {
        let fields = [
            "\"transport\":" + jsonString(transport.rawValue),
            "\"target\":" + jsonString(target),
            "\"outcome\":\"ignored\"",
            "\"duplicates\":\(noise.duplicates)",
            "\"unexpected\":\(noise.unexpected)",
            "\"bytes_received\":\(noise.bytes)",
        ]
        return "{" + fields.joined(separator: ",") + "}"
    }
}
