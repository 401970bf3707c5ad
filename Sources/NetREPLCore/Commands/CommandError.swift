// What is wrong with a typed `:` command name, as a value; the presenter words it, once for both
// places that meet it (a line typed at the prompt, and `:help NAME`).

/// A `:` command name that does not pick one command.
public enum CommandError: Error, Equatable, Sendable {
    /// `word` begins the names of several commands, `candidates`.
    case ambiguous(word: String, candidates: [String])
    /// A colon with no name after it.
    case missingName
    /// No command is named `word`; `nearest` is the closest name, if one is close.
    case unknown(word: String, nearest: String?)

    /// What a name that matched no single command is, from the name matcher's answer.
    init(_ word: String, _ match: CommandMatch) {
        let word = word.hasPrefix(":") ? String(word.dropFirst()) : word
        switch match {
        case .ambiguous(let names): self = .ambiguous(word: word, candidates: names)
        case .none where word.isEmpty, .exact, .prefix: self = .missingName
        case .none(let nearest): self = .unknown(word: word, nearest: nearest)
        }
    }
}

extension CommandContext {
    /// Fails the command with `error`, worded by the presenter.
    func fail(_ error: CommandError) {
        fail(Presenter.describe(error))
    }
}
