// Where Linux tells how many CPUs this process may use: the affinity mask in /proc/self/status,
// the cgroup v2 and v1 CPU quotas under /sys/fs/cgroup, and the online count.

import Glibc
import SystemPackage

extension CPUBudget {
    static func onlineCount() -> Int {
        Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }

    /// The affinity mask, as the kernel reports it in /proc/self/status (`Cpus_allowed_list:
    /// 0-1,4`); Glibc's module does not export sched_getaffinity(2) to Swift.
    static func affinityCount() -> Int? {
        guard let status = readSmallFile("/proc/self/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("Cpus_allowed_list:") {
            return parseCPUList(line.dropFirst("Cpus_allowed_list:".count))
        }
        return nil
    }

    /// The tightest quota on the way from this process's cgroup up to the root: a parent's limit
    /// binds its children too.
    static func cgroupQuota() -> Int? {
        guard let text = readSmallFile("/proc/self/cgroup") else { return nil }
        let paths = parseProcCgroup(Substring(text))
        var best: Int?
        func consider(_ value: Int?) {
            if let value { best = min(best ?? value, value) }
        }
        if let v2 = paths.v2 {
            for dir in ancestors(of: v2) {
                consider(
                    readSmallFile("/sys/fs/cgroup" + dir + "/cpu.max").flatMap { text in
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
    }

    /// The start of a file of the kernel's (/proc, /sys): they are small and read in one go.
    private static func readSmallFile(_ path: String) -> String? {
        guard let file = try? FileDescriptor.open(FilePath(path), .readOnly, options: .closeOnExec) else { return nil }
        var bytes = [UInt8](repeating: 0, count: 16384)
        let n = try? file.closeAfter { try bytes.withUnsafeMutableBytes { try file.read(into: $0) } }
        guard let n, n > 0 else { return nil }
        return String(decoding: bytes[..<n], as: UTF8.self)
    }
}
