// The few C library calls the session layer needs (the transports have their own, in
// NetREPLTransport/Platform): whether a descriptor is a terminal, and the environment.

import Glibc

/// True when `fd` refers to a terminal.
public func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

/// An environment variable, nil when unset.
public func environment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}
