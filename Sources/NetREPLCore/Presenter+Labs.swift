// The labs' words: the pinger's lines in the textbook's form (`Ping 3 0.412 ms`, `Request timed
// out`) and their JSON objects, and :trace's lines. Kept beside Presenter, which words the exchanges.

import Glibc
import NetREPLTransport

extension Presenter {
    func show(_ event: PingEvent, target: String) {
        if style.json {
            out.json(json(event, target: target))
            return
        }
        switch event {
        case .reply(let sequence, let roundTrip, _, _, let reordered):
            info("Ping \(sequence) \(formatMilliseconds(roundTrip))" + (reordered ? " (reordered)" : ""))
        case .timedOut:
            info("Request timed out")
        case .duplicate(let sequence):
            info("Ping \(sequence) duplicate reply (DUP!)")
        case .late(let sequence, let roundTrip):
            meta("late reply to ping \(sequence) after \(formatMilliseconds(roundTrip))")
        case .unexpected(let bytes):
            meta("ignored a datagram of \(bytes) B that answers no probe")
        }
    }

    func json(_ event: PingEvent, target: String) -> String {
        var fields = ["\"transport\":\"udp\"", "\"target\":" + jsonString(target)]
        switch event {
        case .reply(let sequence, let roundTrip, let clock, let bytes, let reordered):
            fields += [
                "\"ping\":\(sequence)", "\"outcome\":\"reply\"", "\"rtt_us\":" + fixed(Double(roundTrip.wholeNanoseconds) / 1_000, 3),
                "\"rtt_clock\":" + jsonString(clock.rawValue), "\"bytes_received\":\(bytes)", "\"reordered\":\(reordered)",
            ]
        case .timedOut(let sequence):
            fields += ["\"ping\":\(sequence)", "\"outcome\":\"lost\""]
        case .duplicate(let sequence):
            fields += ["\"ping\":\(sequence)", "\"outcome\":\"duplicate\""]
        case .late(let sequence, let roundTrip):
            fields += ["\"ping\":\(sequence)", "\"outcome\":\"late\"", "\"rtt_us\":" + fixed(Double(roundTrip.wholeNanoseconds) / 1_000, 3)]
        case .unexpected(let bytes):
            fields += ["\"outcome\":\"ignored\"", "\"bytes_received\":\(bytes)"]
        }
        return "{" + fields.joined(separator: ",") + "}"
    }
}

extension Presenter {
    /// :trace's two lines after an exchange: the calls, then the addresses, bytes and reads.
    func showTrace(_ e: Exchange) {
        let trace = e.trace
        guard !trace.calls.isEmpty else { return }
        var calls = trace.calls.map(describe)
        if trace.omitted > 0 { calls.append("… \(trace.omitted) more") }
        meta("trace: " + calls.joined(separator: " → "))
        var sent = 0, received = 0
        for call in trace.calls {
            if case .send(let n) = call { sent += n }
            if case .receive(let n) = call { received += n }
        }
        let local = trace.local?.description ?? "?"
        let remote = e.peer?.description ?? "?"
        let reads = trace.reads
        meta(
            "trace: \(e.transport.rawValue) local \(local) → remote \(remote) · \(sent) B sent, \(received) B received"
                + " in \(reads) \(reads == 1 ? "read" : "reads")")
    }

    private func describe(_ call: SocketCall) -> String {
        switch call {
        case .socket(let family, let stream):
            return "socket(\(family == AF_INET6 ? "AF_INET6" : "AF_INET"), \(stream ? "SOCK_STREAM" : "SOCK_DGRAM"))"
        case .connect(let address, let failed):
            return "connect(\(address))" + (failed.map { $0 == .nowInProgress ? " in progress" : " failed: \($0.description)" } ?? "")
        case .connectCompleted(let failed):
            return failed.map { "connect failed: \($0.description)" } ?? "connected"
        case .send(let bytes):
            return "send \(bytes) B"
        case .sendFailed(let error):
            return "send failed: \(error.description)"
        case .receive(let bytes):
            return bytes == 0 ? "recvmsg: end of stream" : "recvmsg \(bytes) B"
        case .receiveFailed(let error):
            return "recvmsg failed: \(error.description)"
        case .shutdownWrite:
            return "shutdown(SHUT_WR)"
        case .close:
            return "close"
        }
    }
}
