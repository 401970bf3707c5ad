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

/// The impairment of UDP replies used in teaching, the same options for netrepl-server and for
/// netrepl --serve (whose embedded server it impairs), so that the pinger lab is one command.
public struct ImpairmentOptions: ParsableArguments, Sendable {
    @Option(help: ArgumentHelp("Drop each UDP reply with this probability (0.3 or 30%).", valueName: "p"))
    public var loss = ProbabilityOption(0)

    @Option(help: ArgumentHelp("Delay each UDP reply (100ms, 0.25s, 250us; a bare number is seconds, as everywhere).", valueName: "duration"))
    public var delay = DurationOption(.zero)

    @Option(help: ArgumentHelp("Add a uniform random delay in [-J, +J] to each UDP reply.", valueName: "duration"))
    public var jitter = DurationOption(.zero)

    @Option(help: ArgumentHelp("Send each UDP reply twice with this probability.", valueName: "p"))
    public var duplicate = ProbabilityOption(0)

    @Option(help: ArgumentHelp("Seed for reproducible impairment.", valueName: "n"))
    public var seed: UInt64?

    public init() {}

    /// Whether any option asks for impairment (a seed alone does not).
    public var isActive: Bool {
        loss.value > 0 || delay.duration > .zero || jitter.duration > .zero || duplicate.value > 0
    }
}
