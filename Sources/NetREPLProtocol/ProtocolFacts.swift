// The facts of the netrepl protocol that the client and the server both need: how a host and
// port are written, and the largest payload one UDP datagram can carry per address family.

/// `[::1]:12000` for an IPv6 address, `127.0.0.1:12000` or `localhost:12000` otherwise.
public func formatHostPort(_ host: String, _ port: Int) -> String {
    host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
}

/// Splits `HOST:PORT`, `[V6ADDR]:PORT`, `[V6ADDR]`, a bare IPv6 address or a bare host.
/// Returns nil for text that is none of these (`[::1`, `host:`, `host:port:x`).
public func parseHostPort(_ text: String) -> (host: String, port: Int?)? {
    if text.hasPrefix("[") {
        guard let close = text.firstIndex(of: "]") else { return nil }
        let host = String(text[text.index(after: text.startIndex)..<close])
        let rest = text[text.index(after: close)...]
        if rest.isEmpty { return host.isEmpty ? nil : (host, nil) }
        guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), !host.isEmpty else { return nil }
        return (host, port)
    }
    let colons = text.filter { $0 == ":" }.count
    if colons == 0 { return text.isEmpty ? nil : (text, nil) }
    if colons > 1 { return (text, nil) }  // an IPv6 address without brackets, and no port
    guard let colon = text.firstIndex(of: ":") else { return nil }
    let host = String(text[..<colon])
    guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]) else { return nil }
    return (host, port)
}

public enum Datagram {
    /// 65,535 less the IP and UDP headers: 65,507 over IPv4 (and IPv4-mapped IPv6), 65,527 over IPv6.
    public static func maximumPayload(ipv6: Bool) -> Int {
        ipv6 ? 65_527 : 65_507
    }
}
