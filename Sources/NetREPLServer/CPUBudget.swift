// How many CPUs this process may actually use, for the default number of event loops: the
// affinity mask (taskset, cpusets) and the cgroup CPU quota (containers, systemd's CPUQuota=),
// not the machine's core count, which overstates both.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

    private static func onlineCount() -> Int {
        Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }

    /// The affinity mask, as the kernel reports it in /proc/self/status (`Cpus_allowed_list:
    /// 0-1,4`); Glibc's module does not export sched_getaffinity(2) to Swift.
    private static func affinityCount() -> Int? {
        #if os(Linux)
        guard let status = readSmallFile("/proc/self/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("Cpus_allowed_list:") {
            return parseCPUList(line.dropFirst("Cpus_allowed_list:".count))
        }
        return nil
        #else
        return nil
        #endif
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

    /// The tightest quota on the way from this process's cgroup up to the root: a parent's limit
    /// binds its children too.
    private static func cgroupQuota() -> Int? {
        #if os(Linux)
        guard let text = readSmallFile("/proc/self/cgroup") else { return nil }
        let paths = parseProcCgroup(Substring(text))
        var best: Int?
        func consider(_ value: Int?) {
            if let value { best = min(best ?? value, value) }
        }
        if let v2 = paths.v2 {
            for dir in ancestors(of: v2) {
                consider(readSmallFile("/sys/fs/cgroup" + dir + "/cpu.max").flatMap { text in
                    text.split(separator: "\n").first.flatMap(parseCPUMax)
                })
            }
        }
        if let v1 = paths.v1cpu {
            for root in ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"] {
                for dir in ancestors(of: v1) {
                    let quota = readSmallFile(root + dir + "/cpu.cfs_quota_us").flatMap { Int($0.trimmingWhitespace) }
                    let period = readSmallFile(root + dir + "/cpu.cfs_period_us").flatMap { Int($0.trimmingWhitespace) }
                    if let quota, let period { consider(cpus(quota: quota, period: period)) }
                }
            }
        }
        return best
        #else
        return nil
        #endif
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

    private static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 16384)
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        return String(decoding: bytes[..<n], as: UTF8.self)
    }
}

extension StringProtocol {
    fileprivate var trimmingWhitespace: SubSequence {
        let s = drop { $0.isWhitespace }
        return s.dropLast(s.reversed().prefix { $0.isWhitespace }.count)
    }
}
