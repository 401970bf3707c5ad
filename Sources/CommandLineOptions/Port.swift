// A port number as both executables take it: 0 to 65535, checked here once, whatever the option.

import ArgumentParser

/// A UDP/TCP port from the command line. 0 asks the kernel for a free port, which only makes
/// sense for listening: a command that connects says so with `isAny`.
public struct Port: ExpressibleByArgument, Sendable, Equatable, CustomStringConvertible {
    public static let range = 0...65535
    public let value: Int

    public init?(_ value: Int) {
        guard Self.range.contains(value) else { return nil }
        self.value = value
    }

    public init?(argument: String) {
        guard let value = Int(argument) else { return nil }
        self.init(value)
    }

    /// Port 0: any free port.
    public var isAny: Bool { value == 0 }

    public var description: String { String(value) }
    public var defaultValueDescription: String { description }
}

extension Port {
    /// 12000, the protocol's default port.
    public static let standard = Port(unchecked: 12000)

    private init(unchecked value: Int) { self.value = value }
}
