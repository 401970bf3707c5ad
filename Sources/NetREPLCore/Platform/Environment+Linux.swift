// The few C library calls the session layer needs (the transports have their own, in
// NetREPLTransport/Platform): whether a descriptor is a terminal, its width, and the environment.

import Glibc

/// True when `fd` refers to a terminal.
public func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

/// The terminal's width: the window size of the terminal on `fd` (TIOCGWINSZ), else `$COLUMNS`,
/// else 80.
public func terminalColumns(_ fd: Int32?, environment env: (String) -> String? = environment) -> Int {
    var size = winsize()
    if let fd, ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
    if let text = env("COLUMNS"), let columns = Int(text), columns > 0 { return columns }
    return 80
}

/// An environment variable, nil when unset.
public func environment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}
