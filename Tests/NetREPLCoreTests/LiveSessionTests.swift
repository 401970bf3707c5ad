// The live session loop against real peers on 127.0.0.1, with a scripted terminal: keys become
// lines at chosen moments, and everything the session says while the prompt is up must come
// through printAbove. Late replies, unasked data, closes and floods show with no Enter pressed.

import Foundation
import Glibc
import MisbehavingPeers
import NetREPLTransport
import Testing
@testable import NetREPLCore

/// A terminal whose keys are scripted: each step's input is completed after a delay since the
/// previous step, or once the session has printed some text.
final class ScriptedTerminal: LiveLineSource {
    enum Step {
        case after(Duration, LineInput)
        case when(String, LineInput)
    }

    private var steps: [Step]
    private var lastStep = ContinuousClock.now
    private let keys: (read: Int32, write: Int32)
    private(set) var printed: [UInt8] = []
    /// Bytes written while the prompt was down (must be none between show and hide).
    private(set) var writtenWhilePromptUp: [UInt8] = []
    private(set) var prompts: [String] = []
    private(set) var promptUp = false
    private(set) var hides = 0
    private(set) var printAboveCalls = 0
    private(set) var recalled: [String] = []
    /// Gives up once this passes, so that a broken session cannot hang the test run.
    private let giveUpAt = ContinuousClock.now + .seconds(20)

    init(_ steps: [Step]) {
        self.steps = steps
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        keys = (fds[0], fds[1])
    }

    deinit {
        close(keys.read)
        close(keys.write)
    }

    var text: String { String(decoding: printed, as: UTF8.self) }
    var isInteractive: Bool { true }
    var inputDescriptor: Int32 { keys.read }

    func readLine(prompt: String) -> LineInput { .endOfInput }
    func addToRecall(_ line: String) { recalled.append(line) }

    func showPrompt(_ prompt: String) {
        prompts.append(prompt)
        promptUp = true
    }

    func hidePrompt() {
        promptUp = false
        hides += 1
    }

    func printAbove(_ bytes: [UInt8]) {
        #expect(promptUp, "printAbove while no prompt is up")
        #expect(bytes.last == UInt8(ascii: "\n"))
        printAboveCalls += 1
        printed += bytes
    }

    func service() -> [LineInput] {
        if ContinuousClock.now > giveUpAt { return [.endOfInput] }
        var due: [LineInput] = []
        while let step = steps.first {
            switch step {
            case .after(let delay, let input):
                guard ContinuousClock.now >= lastStep + delay else { return due }
                due.append(input)
            case .when(let text, let input):
                guard self.text.contains(text) else { return due }
                due.append(input)
            }
            steps.removeFirst()
            lastStep = .now
        }
        return due.isEmpty && steps.isEmpty ? [.endOfInput] : due
    }
}

/// A sink that must stay silent: with a live prompt, the terminal streams go through printAbove.
final class SilentSink: OutputSink {
    private(set) var bytes: [UInt8] = []
    func write(_ bytes: [UInt8]) { self.bytes += bytes }
}

@discardableResult
func runLive(
    _ terminal: ScriptedTerminal, port: Int, transport: TransportKind = .udp, tcpMode: TCPMode = .persistent,
    timeout: Duration = .seconds(2), interruptions: Interruptions = TestInterruptions()
) throws -> (status: Int32, direct: String, session: Session) {
    let direct = SilentSink()
    let style = OutputStyle(interactive: true, colour: false, stdoutIsTerminal: true, stderrIsTerminal: true)
    let configuration = SessionConfiguration(
        target: Target(host: "127.0.0.1", port: port), transport: transport,
        tcpMode: tcpMode, timeout: timeout, style: style)
    let session = try Session(
        configuration: configuration, source: terminal, history: HistoryStore(path: nil, capacity: 100),
        out: direct, err: direct, interruptions: interruptions)
    let status = session.run()
    return (status, String(decoding: direct.bytes, as: UTF8.self), session)
}

@Suite(.serialized) struct LiveSessionTests {
    @Test func typingAheadOverUDPSendsAtOnceAndEachLineGetsItsOwnReply() throws {
        let peer = UDPPeer(respond: { [.init(upper($0), after: $0 == Array("slow".utf8) ? .milliseconds(400) : .zero)] })
        defer { peer.stop() }
        let terminal = ScriptedTerminal([
            .after(.zero, .line(Line("slow"))), .after(.milliseconds(30), .line(Line("fast"))),
            .when("SLOW\n", .endOfInput),
        ])
        let r = try runLive(terminal, port: peer.port)
        let text = terminal.text
        let fast = try #require(text.range(of: "FAST\n")), slow = try #require(text.range(of: "SLOW\n"))
        #expect(fast.lowerBound < slow.lowerBound, "the second line was not sent while the first waited")
        #expect(r.direct.contains("2 sent, 2 received, 0% loss"))
        #expect(r.status == 0)
        // The banner and the summary come while no prompt is up; nothing else goes around it.
        #expect(r.direct.contains("netrepl: udp to 127.0.0.1:\(peer.port)"))
        #expect(!r.direct.contains("FAST") && !r.direct.contains("SLOW"))
        #expect(terminal.hides == 1)
    }

    @Test func aLateReplyIsShownWhenItComesWithNoEnter() throws {
        let peer = UDPPeer(respond: { [.init(upper($0), after: .milliseconds(300))] })
        defer { peer.stop() }
        let terminal = ScriptedTerminal([.after(.zero, .line(Line("slow"))), .when("late reply to \"slow\"", .endOfInput)])
        let r = try runLive(terminal, port: peer.port, timeout: .milliseconds(100))
        let text = terminal.text
        let lost = try #require(text.range(of: "lost \"slow\"")), late = try #require(text.range(of: "late reply to \"slow\""))
        #expect(lost.lowerBound < late.lowerBound)
        #expect(text.contains("after ") && text.contains(" ms: SLOW"))
        #expect(!text.contains("not the reply to this line"), "at a live prompt there is no 'this line'")
        #expect(r.status == 1)
    }

    @Test func unaskedDataAndACloseAreShownAtAnIdlePrompt() throws {
        let peer = TCPPeer { connection in
            guard let line = connection.readLine() else { return }
            connection.write(upper(line) + [10])
            connection.sleep(.milliseconds(150))
            connection.write("news: the server says hello\nand more\n")
            connection.sleep(.milliseconds(150))
        }
        defer { peer.stop() }
        let terminal = ScriptedTerminal([.after(.zero, .line(Line("hi"))), .when("the next line reconnects", .endOfInput)])
        let r = try runLive(terminal, port: peer.port, transport: .tcp)
        let text = terminal.text
        let reply = try #require(text.range(of: "HI\n"))
        let push = try #require(text.range(of: "sent: news: the server says hello\n"))
        let closed = try #require(text.range(of: "tcp: the server closed the connection"))
        #expect(reply.lowerBound < push.lowerBound && push.lowerBound < closed.lowerBound)
        #expect(text.contains("sent: and more\n"))
        #expect(r.status == 0)
    }

    @Test func connectedIsSaidBeforeTheReplyAndItsNoise() throws {
        let peer = TCPPeer { connection in
            while let line = connection.readLine() { connection.write(upper(line) + [10]) }
        }
        defer { peer.stop() }
        let terminal = ScriptedTerminal([.after(.zero, .line(Line("one"))), .when("ONE\n", .endOfInput)])
        try runLive(terminal, port: peer.port, transport: .tcp)
        let text = terminal.text
        let connected = try #require(text.range(of: "tcp: connected to")), reply = try #require(text.range(of: "ONE\n"))
        #expect(connected.lowerBound < reply.lowerBound)
    }

    @Test func typingAheadOverPersistentTCPQueuesLinesAndSendsThemInOrder() throws {
        let peer = TCPPeer { connection in
            while let line = connection.readLine() {
                connection.sleep(.milliseconds(100))
                connection.write(upper(line) + [10])
            }
        }
        defer { peer.stop() }
        let terminal = ScriptedTerminal([
            .after(.zero, .line(Line("a"))), .after(.zero, .line(Line("b"))),
            .after(.zero, .line(Line("c"))), .when("C\n", .endOfInput),
        ])
        let r = try runLive(terminal, port: peer.port, transport: .tcp)
        let text = terminal.text
        #expect(text.contains("queued \"b\" behind 1 line"))
        #expect(text.contains("queued \"c\" behind 2 lines"))
        let a = try #require(text.range(of: "A\n")), b = try #require(text.range(of: "B\n")), c = try #require(text.range(of: "C\n"))
        #expect(a.lowerBound < b.lowerBound && b.lowerBound < c.lowerBound)
        #expect(r.direct.contains("3 sent, 3 received"))
        #expect(r.status == 0)
    }

    @Test func typingAheadOverPerLineTCPOpensAConnectionPerLineAtOnce() throws {
        let peer = TCPPeer { connection in
            let all = connection.readToEnd()
            if all == Array("slow".utf8) { connection.sleep(.milliseconds(400)) }
            connection.write(upper(all))
        }
        defer { peer.stop() }
        let terminal = ScriptedTerminal([
            .after(.zero, .line(Line("slow"))), .after(.milliseconds(30), .line(Line("fast"))),
            .when("SLOW\n", .endOfInput),
        ])
        let r = try runLive(terminal, port: peer.port, transport: .tcp, tcpMode: .perLine)
        let text = terminal.text
        let fast = try #require(text.range(of: "FAST\n")), slow = try #require(text.range(of: "SLOW\n"))
        #expect(fast.lowerBound < slow.lowerBound)
        #expect(!text.contains("queued"))
        #expect(r.status == 0)
    }

    @Test func ctrlCCancelsEveryLineWaitingAndASecondLeaves() throws {
        let peer = UDPPeer(respond: { _ in [] })
        defer { peer.stop() }
        let terminal = ScriptedTerminal([
            .after(.zero, .line(Line("one"))), .after(.zero, .line(Line("two"))),
            .after(.milliseconds(100), .interrupted), .after(.milliseconds(50), .interrupted),
            .after(.seconds(5), .line(Line("never"))),
        ])
        let r = try runLive(terminal, port: peer.port, timeout: .seconds(10))
        let text = terminal.text
        #expect(text.contains("cancelled \"one\""))
        #expect(text.contains("cancelled \"two\""))
        #expect(!text.contains("never"))
        #expect(r.direct.contains("2 sent, 0 received"))
        #expect(r.status == 1)
    }

    @Test func queuedLinesAreNotSentWhenTheWaitIsCancelled() throws {
        let peer = TCPPeer { connection in
            while connection.readLine() != nil {}
        }
        defer { peer.stop() }
        let terminal = ScriptedTerminal([
            .after(.zero, .line(Line("one"))), .after(.zero, .line(Line("two"))),
            .after(.milliseconds(100), .interrupted), .after(.milliseconds(20), .endOfInput),
        ])
        let r = try runLive(terminal, port: peer.port, transport: .tcp, timeout: .seconds(10))
        let text = terminal.text
        #expect(text.contains("cancelled \"one\""))
        #expect(text.contains("not sent \"two\""))
        #expect(r.direct.contains("1 sent, 0 received"))
    }

    @Test func endOfInputWaitsForTheLinesStillWaitingAndSaysSo() throws {
        let peer = UDPPeer(respond: { [.init(upper($0), after: .milliseconds(200))] })
        defer { peer.stop() }
        let terminal = ScriptedTerminal([.after(.zero, .line(Line("bye"))), .after(.zero, .endOfInput)])
        let r = try runLive(terminal, port: peer.port)
        #expect(r.direct.contains("waiting for 1 line sent and not yet answered"))
        #expect(r.direct.contains("BYE\n"))
        #expect(r.direct.contains("1 sent, 1 received"))
        #expect(r.status == 0)
    }

    @Test func aFloodIsCoalescedAndTheTerminalStaysResponsive() throws {
        let peer = TCPPeer { connection in
            guard connection.readLine() != nil else { return }
            connection.write("GO\n")
            let chunk = Array(String(repeating: "flood line of some length\n", count: 1_000).utf8)
            for _ in 0..<100 { connection.write(chunk) }
            connection.sleep(.milliseconds(1_500))
        }
        defer { peer.stop() }
        let terminal = ScriptedTerminal([.after(.zero, .line(Line("go"))), .when("more lines from the server", .endOfInput)])
        try runLive(terminal, port: peer.port, transport: .tcp)
        let text = terminal.text
        let shown = text.components(separatedBy: "sent: flood line of some length\n").count - 1
        #expect(shown > 0 && shown <= FloodGate.linesPerWindow * 3, "\(shown) flood lines reached the terminal")
        #expect(text.contains("more lines from the server in the last second"))
    }

    @Test func theFloodGateLetsAFewLinesThroughASecondAndCountsTheRest() {
        var gate = FloodGate()
        let start = ContinuousClock.now
        #expect(gate.admit(10, at: start) == 10)
        #expect(gate.admit(100, at: start) == FloodGate.linesPerWindow - 10)
        gate.hold(70)
        let early = gate.takeHeld(force: false, at: start + .milliseconds(500))?.count
        #expect(early == nil)
        let due = gate.takeHeld(force: false, at: start + .seconds(1))?.count
        #expect(due == 70)
        let again = gate.takeHeld(force: false, at: start + .seconds(2))?.count
        #expect(again == nil)
        #expect(gate.admit(5, at: start + .seconds(2)) == 5)
    }
}
