// A test-only program that drives ReadlineLineSource as a live session does: one poll on the
// terminal, service() after each wake-up, and everything else printed above the prompt, so the
// terminal side is tested through a real pty apart from the session's loop.
//
// Arguments are the recall list, oldest first. SIGUSR1 prints "tick N" above the prompt (N
// counting from 1, PROBE_TICK_LINES lines at a time, default 1; with PROBE_TICK_HIDES set, the
// prompt is taken down, the tick written plainly, and the prompt put back); SIGUSR2 changes the prompt to
// "other> ". A line is answered with "got: LINE" above the next prompt; "hide" takes the prompt
// down, writes "hidden", and puts it back up; Ctrl-C prints "interrupted"; Ctrl-D, SIGTERM or
// SIGHUP leave.

import Glibc
import LineEditing
import NetREPLCore
import Synchronization
import SystemPackage

let tick = Atomic<Int>(0)
let promptChange = Atomic<Bool>(false)
for (signo, handler) in [
    (SIGUSR1, { (_: Int32) in _ = tick.add(1, ordering: .relaxed) }),
    (SIGUSR2, { (_: Int32) in promptChange.store(true, ordering: .relaxed) }),
] as [(Int32, @convention(c) (Int32) -> Void)] {
    var action = sigaction()
    action.__sigaction_handler.sa_handler = handler
    sigemptyset(&action.sa_mask)
    action.sa_flags = 0  // poll must return EINTR
    sigaction(signo, &action, nil)
}

let linesPerTick = Int(getenv("PROBE_TICK_LINES").map { String(cString: $0) } ?? "") ?? 1
let tickHides = getenv("PROBE_TICK_HIDES") != nil
/// With PROBE_TICK_CALLS=N, a tick is N separate calls of one line each, and the time they took
/// is printed after them (a measurement by hand, never asserted).
let callsPerTick = Int(getenv("PROBE_TICK_CALLS").map { String(cString: $0) } ?? "") ?? 1
let source = ReadlineLineSource(
    programName: "netrepl-probe", completer: { _, _ in [] },
    recall: Array(CommandLine.arguments.dropFirst()))
@MainActor func say(_ text: String) { source.printAbove(Array((text + "\n").utf8)) }

var printedTicks = 0
source.showPrompt("probe> ")
loop: while true {
    var wait = pollfd(fd: source.inputDescriptor, events: Int16(POLLIN), revents: 0)
    _ = poll(&wait, 1, 200)
    if promptChange.exchange(false, ordering: .relaxed) { source.showPrompt("other> ") }
    let ticks = tick.load(ordering: .relaxed)
    while printedTicks < ticks {
        printedTicks += 1
        let text = (1...linesPerTick).map { _ in "tick \(printedTicks)" }.joined(separator: "\n")
        if tickHides {
            source.hidePrompt()
            FileDescriptorSink(.standardOutput).write(Array((text + "\n").utf8))
            source.showPrompt("probe> ")
        } else if callsPerTick > 1 {
            let start = ContinuousClock.now
            for call in 1...callsPerTick { say("tick \(printedTicks) call \(call)") }
            say("\(callsPerTick) calls took \(ContinuousClock.now - start)")
        } else {
            say(text)
        }
    }
    for input in source.service() {
        switch input {
        case .line(let line):
            source.addToRecall(line.text)
            say("got: \(line.text)")
            if line.text == "hide" {
                source.hidePrompt()
                FileDescriptorSink(.standardOutput).write(Array("hidden\n".utf8))
                source.showPrompt("probe> ")
            }
        case .interrupted:
            say("interrupted")
        case .endOfInput, .terminated:
            break loop
        }
    }
}
source.hidePrompt()
source.restoreTerminal()
FileDescriptorSink(.standardOutput).write(Array("bye\n".utf8))
