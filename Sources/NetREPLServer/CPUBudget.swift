// How many CPUs this process may actually use, for the default number of event loops: the
// affinity mask (taskset, cpusets) and the cgroup CPU quota (containers, systemd's CPUQuota=),
// not the machine's core count, which overstates both.

public enum CPUBudget {
    /// The CPUs this process may run on, lowered to its cgroup quota (rounded up); at least 1.
    public static var available: Int {
        var count = affinityCount() ?? onlineCount()
        if let quota = cgroupQuota() { count = min(count, quota) }
        return max(1, count)
    }

    /// Whole CPUs allowed by a quota of `quota` microseconds per `period`: a fraction counts as one.
    static func cpus(quota: Int, period: Int) -> Int? {
        guard quota > 0, period > 0 else { return nil }
        return (quota + period - 1) / period
    }

    /// The quota in a cgroup v2 `cpu.max` line: `200000 100000`, or nil for `max 100000`.
    static func parseCPUMax(_ line: Substring) -> Int? {
        let fields = line.split(separator: " ")
        guard fields.count == 2, let quota = Int(fields[0]), let period = Int(fields[1]) else { return nil }
        return cpus(quota: quota, period: period)
    }

    /// The cgroup path of this process for v2 (`0::/path`) and for v1's cpu controller.
    static func parseProcCgroup(_ text: Substring) -> (v2: String?, v1cpu: String?) {
        var v2: String?, v1: String?
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            if parts[0] == "0" && parts[1].isEmpty {
                v2 = String(parts[2])
            } else if parts[1].split(separator: ",").contains("cpu") {
                v1 = String(parts[2])
            }
        }
        return (v2, v1)
    }

    /// The number of CPUs in a list such as `0-3,8,10-11`; nil when it does not parse.
    static func parseCPUList(_ text: Substring) -> Int? {
        var total = 0
        for item in text.split(separator: ",") {
            let bounds = item.split(separator: "-", maxSplits: 1).map { Int($0.trimmingWhitespace) }
            guard let first = bounds.first ?? nil, let last = bounds.last ?? nil, last >= first else { return nil }
            total += last - first + 1
        }
        return total > 0 ? total : nil
    }

    /// `/a/b` → `/a/b`, `/a`, `` (the root).
    static func ancestors(of path: String) -> [String] {
        var parts = path.split(separator: "/").map(String.init)
        var result: [String] = []
        while true {
            result.append(parts.isEmpty ? "" : "/" + parts.joined(separator: "/"))
            if parts.isEmpty { return result }
            parts.removeLast()
        }
    }
}

extension StringProtocol {
    var trimmingWhitespace: SubSequence {
        let s = drop { $0.isWhitespace }
        return s.dropLast(s.reversed().prefix { $0.isWhitespace }.count)
    }
}
