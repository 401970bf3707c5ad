// Lines from standard input when it is not a terminal: no prompt, no editing, no recall.

import NetREPLTransport
import SystemCalls
import SystemPackage

public final class PipedLineSource: LineSource {
    private let input: FileDescriptor
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false

    public let isInteractive = false

    public init(input: FileDescriptor = .standardInput) {
        self.input = input
    }

    /// The next line without its newline; a last line without one still counts. A line ending
    /// in CR LF (a file from Windows, a protocol transcript) comes without its CR: the CR is
    /// part of the line's end, not of what is sent. A line that is not UTF-8 comes as text with
    /// U+FFFD in place of its invalid bytes, and its exact bytes, which are what gets sent. A
    /// signal while waiting for input ends the session: no prompt is showing, so Ctrl-C means
    /// stop, as with SIGTERM and SIGHUP.
    public func readLine(prompt: String) -> LineInput {
        // Checked before every line, not only before a read: lines already buffered must not
        // keep a terminated session sending.
        if let sig = Signals.take() { return .terminated(signal: sig) }
        while true {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = decodeLine(withoutCarriageReturn(buffer[start..<newline]))
                start = newline + 1
                compactIfWorthIt()
                return .line(line)
            }
            if atEnd {
                guard start < buffer.count else { return .endOfInput }
                let line = decodeLine(withoutCarriageReturn(buffer[start...]))
                start = buffer.count
                return .line(line)
            }
            if let sig = Signals.take() { return .terminated(signal: sig) }
            // A signal interrupts only the thread it is delivered to, which under the async main
            // need not be this one: wait in bounded slices, looking at the signals between them,
            // and read only what is there.
            guard !Poller.wait([PollInterest(descriptor: input.rawValue)], until: nil).isEmpty else { continue }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            do {
                // Interrupted: the signal is looked at before reading again.
                guard let n = try chunk.withUnsafeMutableBytes({ buffer throws(Errno) in try input.readInterruptibly(into: buffer) }) else {
                    continue
                }
                if n > 0 {
                    buffer += chunk[0..<n]
                } else {
                    atEnd = true
                }
            } catch {
                atEnd = true
            }
        }
    }

    private func withoutCarriageReturn(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        bytes.last == UInt8(ascii: "\r") ? bytes.dropLast() : bytes
    }

    private func decodeLine(_ bytes: ArraySlice<UInt8>) -> Line {
        Line(bytes: Array(bytes))
    }

    private func compactIfWorthIt() {
        if start > 65_536 && start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
    }

    public func addToRecall(_ line: String) {}
}
