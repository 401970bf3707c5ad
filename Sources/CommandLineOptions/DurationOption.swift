// Options that parse themselves, shared by both executables: durations and probabilities in the
// one grammar of NetREPLProtocol, shown in --help as a person writes them.

import ArgumentParser
import Grammars

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

/// A command-line probability: `0.3` or `30%`.
public struct ProbabilityOption: ExpressibleByArgument, Sendable, Equatable, CustomStringConvertible {
    public var value: Double

    public init(_ value: Double) {
        self.value = value
    }

    public init?(argument: String) {
        guard let value = ProbabilityGrammar.parse(argument) else { return nil }
        self.value = value
    }

    public var description: String { ProbabilityGrammar.format(value) }
    public var defaultValueDescription: String { description }
}
