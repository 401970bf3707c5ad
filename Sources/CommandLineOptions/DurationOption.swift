// Options that parse themselves, shared by both executables: a duration in the one grammar of
// NetREPLProtocol, shown in --help as a person writes it.

import ArgumentParser
import NetREPLProtocol

/// A command-line duration: `1`, `0.5s`, `250ms`, `500us` (a bare number is seconds).
public struct DurationOption: ExpressibleByArgument, Sendable, Equatable, CustomStringConvertible {
    public var duration: Duration

    public init(_ duration: Duration) {
        self.duration = duration
    }

    public init?(argument: String) {
        guard let duration = DurationGrammar.parse(argument) else { return nil }
        self.duration = duration
    }

    public var description: String { DurationGrammar.format(duration) }

    /// `1 s`, not `DurationOption(duration: 1.0 seconds)`.
    public var defaultValueDescription: String { description }
}
