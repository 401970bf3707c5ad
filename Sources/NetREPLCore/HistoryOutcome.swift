// How an exchange is recorded in the history file and `--json`: one word per outcome.

import NetREPLTransport

public enum HistoryOutcome: String, Sendable, CaseIterable {
    /// The reply came within the timeout.
    case ok
    /// No reply within the timeout.
    case lost
    /// A reply that arrived after its line was given up (recorded as an extra history record).
    case late
    /// The reply began but was cut short.
    case truncated
    /// What came was not a reply under the framing rule.
    case malformed
    /// Ctrl-C ended the wait.
    case cancelled
    /// The line could not be sent or the exchange failed.
    case error
    /// A `:` command, not sent (history only).
    case command = "cmd"

    public init(_ outcome: ExchangeOutcome) {
        switch outcome {
        case .reply: self = .ok
        case .lost: self = .lost
        case .truncated: self = .truncated
        case .malformed: self = .malformed
        case .cancelled: self = .cancelled
        case .failed: self = .error
        }
    }
}
