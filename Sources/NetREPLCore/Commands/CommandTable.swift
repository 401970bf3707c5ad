// The one command table: each entry's name, usage, help, arguments and handler drive dispatch,
// :help and tab completion alike, through one name matcher.

import NetREPLTransport

/// What a command takes after its name.
public enum ArgumentShape: Sendable, Equatable {
    /// Nothing: extra words are an error.
    case none
    /// Up to `max` blank-separated words.
    case words(max: Int)
    /// The rest of the line, exactly as written.
    case rest
}

/// One `:` command.
public struct Command: Sendable {
    public let name: String
    public let usage: String
    public let help: String
    public let arguments: ArgumentShape
    /// Candidates for argument number `index` (0-based) of this command.
    let completions: @Sendable (_ index: Int) -> [String]
    /// Runs the command with the text after its name (leading blanks removed).
    let run: @Sendable (CommandContext, String) -> Void
}

/// What a typed line is.
public enum ParsedLine: Equatable, Sendable {
    /// Nothing to do (an empty line).
    case empty
    /// Text to send (a `::` prefix already reduced to `:`).
    case send(Line)
    /// A known command and the text after its name.
    case command(name: String, arguments: String)
    /// `!N`: send history entry N again; `!!` the last line.
    case recall(Recall)
    /// A `:` word that names no command.
    case unknown(word: String, match: CommandMatch)
}

public enum Recall: Equatable, Sendable {
    case entry(Int)
    case last
}

/// How a typed command name matches the table.
public enum CommandMatch: Equatable, Sendable {
    case exact(String)
    /// The unique command the word is a prefix of.
    case prefix(String)
    case ambiguous([String])
    /// No command; the nearest name, if any is near.
    case none(nearest: String?)

    public var name: String? {
        switch self {
        case .exact(let name), .prefix(let name): return name
        case .ambiguous, .none: return nil
        }
    }
}

public enum CommandTable {
    /// Every command, in the order :help lists them.
    public static let all: [Command] = Commands.all

    /// The lines :help adds after the table, for the forms that are not `:` commands.
    static let otherForms: [(name: String, help: String)] = [
        ("!N", "Handle history entry N (see :history) again: a line is sent again, a command runs again."),
        ("!!", "Handle the last line again: send it again, or run it again if it was a command."),
        ("::TEXT", "Send :TEXT (a line starting with a colon)."),
    ]

    /// The form `:help WORD` asks about when WORD is one of them: `!!`, `!N` or `!5`, `::TEXT` or `::`.
    static func otherForm(_ word: String) -> (name: String, help: String)? {
        let name: String
        switch word {
        case "!!": name = "!!"
        case "!N", "!n": name = "!N"
        case _ where word.hasPrefix("!") && word.count > 1 && word.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber }): name = "!N"
        case _ where word.hasPrefix("::"): name = "::TEXT"
        default: return nil
        }
        return otherForms.first { $0.name == name }
    }

    public static func command(named name: String) -> Command? {
        all.first { $0.name == name }
    }

    /// The one matcher for command names: dispatch, :help and completion all use it.
    public static func match(_ word: String) -> CommandMatch {
        let word = word.hasPrefix(":") ? String(word.dropFirst()) : word
        if let exact = command(named: word) { return .exact(exact.name) }
        let prefixed = word.isEmpty ? [] : all.filter { $0.name.hasPrefix(word) }.map(\.name)
        if prefixed.count == 1 { return .prefix(prefixed[0]) }
        if prefixed.count > 1 { return .ambiguous(prefixed) }
        return .none(nearest: word.isEmpty ? nil : nearest(to: word))
    }

    /// Classifies a typed line.
    public static func parse(_ line: Line) -> ParsedLine {
        let text = line.text
        if text.isEmpty { return .empty }
        if text.hasPrefix("::") { return .send(line.droppingFirstCharacter()) }
        if text.hasPrefix(":") {
            let body = text.dropFirst()
            let word = String(body.prefix { !$0.isWhitespace })
            // Only the blanks after the name go: `:nohist` sends the rest exactly as written.
            let rest = String(body.dropFirst(word.count).drop { $0 == " " || $0 == "\t" })
            let match = match(word)
            if let name = match.name { return .command(name: name, arguments: rest) }
            return .unknown(word: word, match: match)
        }
        if text == "!!" { return .recall(.last) }
        if text.hasPrefix("!"), text.count > 1, text.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber }),
            let n = Int(text.dropFirst())
        {
            return .recall(.entry(n))
        }
        return .send(line)
    }

    /// The command name closest to `word` by edit distance (ties: table order), if it is close.
    public static func nearest(to word: String) -> String? {
        var best: (name: String, distance: Int)?
        for command in all {
            let d = editDistance(word.lowercased(), command.name)
            if d < best?.distance ?? .max { best = (command.name, d) }
        }
        guard let best, best.distance <= max(2, word.count / 2) else { return nil }
        return best.name
    }

    /// Levenshtein distance, with a transposition counted as one edit (Damerau, restricted).
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previous2[j - 2] + 1)
                }
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }

    /// Tab-completion candidates for `word`, the text being completed, given the line up to the
    /// cursor (which ends with `word`). Only commands and their arguments complete: never files.
    public static func completions(word: String, lineBeforeCursor: String) -> [String] {
        let line = lineBeforeCursor.drop { $0 == " " || $0 == "\t" }
        guard line.hasPrefix(":"), !line.hasPrefix("::") else { return [] }
        let tokens = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        let endsInBlank = line.last == " " || line.last == "\t"
        if tokens.count <= 1 && !endsInBlank {
            // Completing the command name; the editor's word may or may not include the colon.
            let typed = String(line.dropFirst())
            let keepColon = word.hasPrefix(":")
            return all.map(\.name).filter { $0.hasPrefix(typed) }.map { keepColon ? ":" + $0 : $0 }
        }
        guard let first = tokens.first, let name = match(first).name, let command = command(named: name) else { return [] }
        let index = endsInBlank ? tokens.count - 1 : tokens.count - 2
        guard index >= 0 else { return [] }
        return command.completions(index).filter { $0.hasPrefix(word) }
    }

    /// The provider handed to the line editor.
    public static let completionProvider: CompletionProvider = { word, line in
        completions(word: word, lineBeforeCursor: line)
    }
}
