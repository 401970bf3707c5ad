// The commands that make a session file a test: :expect and :assert check the last reply and the
// figures so far, and :record writes what was typed as a file that -f replays. A failed check is
// reported with the file and line it came from; the session goes on.

import Grammars
import NetREPLProtocol
import NetREPLTransport
import SystemPackage

/// `:assert` checks: a figure, a comparison, and a bound.
struct Assertion: Equatable {
    enum Figure: String { case rtt, loss }
    enum Comparison: String, CaseIterable { case atMost = "<=", atLeast = ">=", less = "<", more = ">", equal = "==" }

    let figure: Figure
    let comparison: Comparison
    /// Nanoseconds for rtt, per cent for loss.
    let bound: Double
    let text: String

    /// `rtt < 5ms`, `loss <= 10%`; nil with the reason when it cannot be read.
    static func parse(_ text: String) -> Result<Assertion, AssertionProblem> {
        let compact = text.filter { !$0.isWhitespace }
        guard let figure = [Figure.rtt, .loss].first(where: { compact.lowercased().hasPrefix($0.rawValue) }) else {
            return .failure(.figure)
        }
        let rest = compact.dropFirst(figure.rawValue.count)
        guard let comparison = Comparison.allCases.first(where: { rest.hasPrefix($0.rawValue) }) else { return .failure(.comparison) }
        let value = String(rest.dropFirst(comparison.rawValue.count))
        switch figure {
        case .rtt:
            guard let d = DurationGrammar.parse(value) else { return .failure(.duration(value)) }
            return .success(Assertion(figure: .rtt, comparison: comparison, bound: Double(d.wholeNanoseconds), text: text))
        case .loss:
            let number = value.hasSuffix("%") ? String(value.dropLast()) : value
            guard let p = Double(number), p >= 0, p <= 100 else { return .failure(.percent(value)) }
            return .success(Assertion(figure: .loss, comparison: comparison, bound: p, text: text))
        }
    }

    func holds(for value: Double) -> Bool {
        switch comparison {
        case .atMost: return value <= bound
        case .atLeast: return value >= bound
        case .less: return value < bound
        case .more: return value > bound
        case .equal: return value == bound
        }
    }
}

enum AssertionProblem: Error, Equatable {
    case figure, comparison
    case duration(String)
    case percent(String)
}

enum ScriptCommands {
    static func expect(_ c: CommandContext, _ arguments: String) {
        let pattern = arguments.trimmingWhitespace()
        guard !pattern.isEmpty else { return c.fail("usage: :expect TEXT or :expect /REGEX/") }
        guard let exchange = c.lastExchange else { return c.checkFailed("expected \(pattern), but no line has been sent yet") }
        guard let shown = c.shownReply(of: exchange) else {
            return c.checkFailed("expected \(pattern) in the reply to \"\(excerpt(exchange.line.text))\", which got no reply")
        }
        let found: Bool
        if pattern.count >= 2, pattern.hasPrefix("/"), pattern.hasSuffix("/") {
            let source = String(pattern.dropFirst().dropLast())
            guard let regex = try? Regex(source) else { return c.fail("cannot read /\(source)/ as a regular expression") }
            found = shown.contains(regex)
        } else {
            found = shown.contains(pattern)
        }
        if !found {
            c.checkFailed("expected \(pattern) in the reply to \"\(excerpt(exchange.line.text))\", got \"\(excerpt(shown))\"")
        }
    }

    static func assert(_ c: CommandContext, _ arguments: String) {
        let assertion: Assertion
        switch Assertion.parse(arguments) {
        case .success(let a): assertion = a
        case .failure(.figure), .failure(.comparison):
            return c.fail("usage: :assert rtt < 5ms or :assert loss < 10% (comparisons: < <= > >= ==)")
        case .failure(.duration(let text)): return c.fail("cannot read \"\(text)\" as a duration; write it like \(DurationGrammar.examples)")
        case .failure(.percent(let text)): return c.fail("cannot read \"\(text)\" as a percentage from 0 to 100, like 10%")
        }
        switch assertion.figure {
        case .rtt:
            guard let exchange = c.lastExchange else { return c.checkFailed("\(assertion.text): no line has been sent yet") }
            guard let reply = exchange.reply else {
                return c.checkFailed("\(assertion.text): \"\(excerpt(exchange.line.text))\" got no reply")
            }
            let rtt = Double(reply.roundTrip.wholeNanoseconds)
            if !assertion.holds(for: rtt) {
                c.checkFailed("\(assertion.text) does not hold: the rtt of \"\(excerpt(exchange.line.text))\" was \(formatMilliseconds(reply.roundTrip))")
            }
        case .loss:
            let kind = c.configuration.transport
            let figures = c.statistics[kind]
            guard figures.sent > 0 else { return c.checkFailed("\(assertion.text): no line has been sent over \(kind.rawValue) yet") }
            if !assertion.holds(for: figures.lossPercent) {
                c.checkFailed(
                    "\(assertion.text) does not hold: \(kind.rawValue) loss is \(significant(figures.lossPercent))% (\(figures.sent) sent, \(figures.received) received)"
                )
            }
        }
    }

    static func record(_ c: CommandContext, _ arguments: String) {
        let path = arguments.trimmingWhitespace()
        guard !path.isEmpty else { return c.fail("usage: :record FILE") }
        let text = c.transcript.map { $0 + "\n" }.joined()
        if let problem = writeFile(path, Array(text.utf8)) {
            return c.fail("cannot write \(path): \(problem); check the folder exists and is writable")
        }
        c.meta("recorded \(c.transcript.count) lines to \(path); netrepl -f \(path) replays them")
    }

    static func excerpt(_ text: String) -> String {
        text.count > 60 ? String(text.prefix(59)) + "…" : text
    }
}

/// Writes `bytes` to `path` (created or replaced); nil when done, else what failed.
private func writeFile(_ path: String, _ bytes: [UInt8]) -> String? {
    do {
        let fd = try FileDescriptor.open(FilePath(path), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite, .groupRead, .otherRead])
        try fd.closeAfter { _ = try fd.writeAll(bytes) }
        return nil
    } catch let error as Errno {
        return error.description
    } catch {
        return "\(error)"
    }
}
