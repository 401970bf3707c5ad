// Runs scripted sessions against the peers of MisbehavingPeers and returns what they printed.

import Foundation
import MisbehavingPeers
import NetREPLTransport
@testable import NetREPLCore

/// Runs a scripted session against 127.0.0.1:`port` and returns (stdout, stderr, exit status, session).
@discardableResult
func runSession(
    _ lines: [String], port: Int, transport: TransportKind = .udp, tcpMode: TCPMode = .persistent,
    timeout: Duration = .seconds(2), json: Bool = false, historyPath: String? = nil,
    interactive: Bool = false, terminals: Bool? = nil, replies: ReplySettings = ReplySettings(),
    interruptions: Interruptions = ProcessSignals.shared
) throws -> (out: String, err: String, status: Int32, session: Session) {
    let out = BufferSink(), err = BufferSink()
    let onTerminal = terminals ?? interactive
    let style = OutputStyle(interactive: interactive, colour: false, stdoutIsTerminal: onTerminal, stderrIsTerminal: onTerminal, json: json)
    var configuration = SessionConfiguration(
        target: Target(host: "127.0.0.1", port: port), transport: transport,
        tcpMode: tcpMode, timeout: timeout, style: style)
    configuration.replies = replies
    let session = try Session(
        configuration: configuration, source: ScriptedLineSource(lines: lines, interactive: interactive),
        history: HistoryStore(path: historyPath, capacity: 1000), out: out, err: err,
        interruptions: interruptions)
    let status = session.run()
    return (out.text, err.text, status, session)
}

/// A test's own signals: raising one touches no other test (the process's are shared by all).
final class TestInterruptions: Interruptions, @unchecked Sendable {
    private let lock = NSLock()
    private var signal: Int32?

    var pending: Int32? { lock.withLock { signal } }

    func take() -> Int32? {
        lock.withLock {
            defer { signal = nil }
            return signal
        }
    }

    /// Raises `signal` after `delay`, from another thread.
    func raise(_ signal: Int32, after delay: Double) {
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: delay)
            self.lock.withLock { self.signal = signal }
        }
    }
}
