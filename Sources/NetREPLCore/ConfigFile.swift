// The configuration file ($XDG_CONFIG_HOME/netrepl/config, else ~/.config/netrepl/config): lines
// of `key = value` with the long option names as keys, `[host:port]` (or `[host]`) sections for one
// target. A bad line is a warning naming FILE:LINE and is skipped: netrepl never refuses to start
// over its configuration. The command line wins over the file, a section over the lines before any.

import Grammars
import NetREPLProtocol
import NetREPLTransport
import SystemPackage

public enum ConfigKey: String, CaseIterable, Sendable {
    case transport
    case perLine = "per-line"
    case timeout
    case frame
    case crlf
    case suggest
    case historyFile = "history-file"
    case historySize = "history-size"

    /// Whether `value` is one this key takes; the reason when not.
    func problem(_ value: String) -> String? {
        switch self {
        case .transport: return ["udp", "tcp"].contains(value.lowercased()) ? nil : "transport is udp or tcp"
        case .perLine, .crlf, .suggest: return ConfigFile.boolean(value) == nil ? "\(rawValue) is true or false" : nil
        case .timeout:
            guard let d = DurationGrammar.parse(value), d > .zero else { return "timeout is a duration more than 0, like 1, 0.5s or 250ms" }
            return nil
        case .frame: return (try? FramingRule.parse(value)) == nil ? "frame is a rule: \(FramingRule.summary)" : nil
        case .historyFile: return value.isEmpty ? "history-file is a path" : nil
        case .historySize: return Int(value).map { $0 >= 0 } == true ? nil : "history-size is a whole number of records"
        }
    }
}

/// Where a value in force came from, for --print-config.
public enum ConfigOrigin: Sendable, Equatable, CustomStringConvertible {
    case defaultValue
    case commandLine
    case environment(String)
    case file(path: String, line: Int)

    public var description: String {
        switch self {
        case .defaultValue: return "default"
        case .commandLine: return "command line"
        case .environment(let name): return "environment \(name)"
        case .file(let path, let line): return "\(path):\(line)"
        }
    }
}

public struct ConfigFile: Sendable {
    public struct Entry: Sendable, Equatable {
        public let key: ConfigKey
        public let value: String
        public let line: Int
        /// The `[host:port]` section it is in (nil: before any section, for every target).
        public let section: String?
    }

    public let path: String
    public private(set) var entries: [Entry] = []
    /// `FILE:LINE: what is wrong`, one per bad line.
    public private(set) var warnings: [String] = []

    /// `$XDG_CONFIG_HOME/netrepl/config`, else `~/.config/netrepl/config`.
    public static func defaultPath(environment env: (String) -> String? = environment) -> String? {
        if let config = env("XDG_CONFIG_HOME"), config.hasPrefix("/") { return config + "/netrepl/config" }
        if let home = env("HOME"), !home.isEmpty { return home + "/.config/netrepl/config" }
        return nil
    }

    /// The file at `path`; nil when there is none (no file is no configuration, said nowhere).
    /// A file that cannot be read is an empty configuration with a warning.
    public static func load(_ path: String) -> ConfigFile? {
        do {
            let fd = try FileDescriptor.open(FilePath(path), .readOnly)
            var bytes: [UInt8] = []
            try fd.closeAfter {
                var chunk = [UInt8](repeating: 0, count: 16_384)
                while bytes.count < 1 << 20 {
                    let n = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) }
                    if n == 0 { break }
                    bytes += chunk[..<n]
                }
            }
            return parse(String(decoding: bytes, as: UTF8.self), path: path)
        } catch let error as Errno where error == .noSuchFileOrDirectory {
            return nil
        } catch {
            var file = ConfigFile(path: path)
            file.warnings.append("\(path): cannot read it (\((error as? Errno)?.description ?? "\(error)")); going on without it")
            return file
        }
    }

    init(path: String) { self.path = path }

    public static func parse(_ text: String, path: String) -> ConfigFile {
        var file = ConfigFile(path: path)
        var section: String?
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = raw.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            func warn(_ message: String) { file.warnings.append("\(path):\(number): \(message); line ignored") }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), line.count > 2 else {
                    section = "\u{0}"
                    warn("a section is written [host:port]; its lines apply to no target")
                    continue
                }
                let name = String(line.dropFirst().dropLast()).trimmingWhitespace()
                guard parseSection(name) != nil else {
                    // Its lines must not fall into the section before it: they apply to no target.
                    section = "\u{0}"
                    warn("cannot read [\(name)] as [host:port] or [host]; its lines apply to no target")
                    continue
                }
                section = name
                continue
            }
            guard let eq = line.firstIndex(of: "=") else { warn("expected key = value"); continue }
            let name = line[..<eq].trimmingWhitespace().lowercased()
            let value = line[line.index(after: eq)...].trimmingWhitespace()
            guard let key = ConfigKey(rawValue: name) else {
                warn("unknown key \"\(name)\" (keys: \(ConfigKey.allCases.map(\.rawValue).joined(separator: ", ")))")
                continue
            }
            if let problem = key.problem(value) { warn(problem); continue }
            file.entries.append(Entry(key: key, value: value, line: number, section: section))
        }
        return file
    }

    /// `host:port`, `[v6]:port` or `host` (any port).
    static func parseSection(_ name: String) -> (host: String, port: Int?)? {
        if name.hasPrefix("["), let close = name.firstIndex(of: "]") {
            let host = String(name[name.index(after: name.startIndex)..<close])
            let rest = name[name.index(after: close)...]
            if rest.isEmpty { return (host, nil) }
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (1...65535).contains(port) else { return nil }
            return (host, port)
        }
        let parts = name.split(separator: ":", omittingEmptySubsequences: false)
        guard let host = parts.first, !host.isEmpty, parts.count <= 2 else { return nil }
        if parts.count == 1 { return (String(host), nil) }
        guard let port = Int(parts[1]), (1...65535).contains(port) else { return nil }
        return (String(host), port)
    }

    /// The value of `key` for `target` and the line it is on: the last in a section naming the
    /// target (with its port, else without), else the last before any section.
    public func value(_ key: ConfigKey, for target: Target) -> (value: String, origin: ConfigOrigin)? {
        func matches(_ section: String?, exactPort: Bool) -> Bool {
            guard let section, let (host, port) = Self.parseSection(section), host.lowercased() == target.host.lowercased() else { return false }
            return exactPort ? port == target.port : port == nil
        }
        let ranked = [
            entries.last { $0.key == key && matches($0.section, exactPort: true) },
            entries.last { $0.key == key && matches($0.section, exactPort: false) },
            entries.last { $0.key == key && $0.section == nil },
        ]
        guard let entry = ranked.compactMap({ $0 }).first else { return nil }
        return (entry.value, .file(path: path, line: entry.line))
    }

    static func boolean(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: return nil
        }
    }
}

/// One setting in force and where it came from.
public struct Resolved<Value: Sendable>: Sendable {
    public let value: Value
    public let origin: ConfigOrigin
}

extension ConfigFile {
    /// `commandLine` if given, else the file's value for `target` read by `read`, else `fallback`.
    public func resolve<Value>(
        _ key: ConfigKey, for target: Target, commandLine: Value?, fallback: Value,
        read: (String) -> Value?
    ) -> Resolved<Value> {
        if let commandLine { return Resolved(value: commandLine, origin: .commandLine) }
        if let (text, origin) = value(key, for: target), let value = read(text) { return Resolved(value: value, origin: origin) }
        return Resolved(value: fallback, origin: .defaultValue)
    }

    public static func readBoolean(_ text: String) -> Bool? { boolean(text) }
}
