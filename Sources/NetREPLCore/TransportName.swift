// The one name of a transport and its TCP mode, used wherever a person reads it: the prompt, the
// banner, round-trip lines, :tcp, :stats, the :history table and the history file's TRANSPORT field.

import NetREPLTransport

/// `udp`, `tcp` (one persistent connection, the default) or `tcp/per-line`: one word, so that it
/// reads the same in a prompt and in a table column.
public func transportName(_ kind: TransportKind, _ mode: TCPMode?) -> String {
    kind == .tcp && mode == .perLine ? "tcp/" + TCPMode.perLine.rawValue : kind.rawValue
}

/// The transport and mode a name stands for; `tcp` is persistent. Nil for anything else.
public func parseTransportName(_ name: some StringProtocol) -> (kind: TransportKind, mode: TCPMode?)? {
    if name == transportName(.tcp, .perLine) { return (.tcp, .perLine) }
    guard let kind = TransportKind(rawValue: String(name)) else { return nil }
    return (kind, kind == .tcp ? .persistent : nil)
}
