// What is wrong with a typed `:` command name, as a value; the presenter words it, once for both
// places that meet it (a line typed at the prompt, and `:help NAME`).

/// A `:` command name that does not pick one command.
public enum CommandError: Error, Equatable, Sendable {
    /// `word` begins the names of several commands, `candidates`.
    case ambiguous(word: String, candidates: [String])
}

extension CommandContext {
    /// Fails the command with `error`, worded by the presenter.
    func fail(_ error: CommandError) {
        fail(Presenter.describe(error))
    }
}
