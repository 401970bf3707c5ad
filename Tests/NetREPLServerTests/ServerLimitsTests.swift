// The pieces behind the server's defaults and limits: the CPU budget's parsing of cgroup files,
// and the per-source UDP rate limit.

import NIOCore
import Testing

import Glibc
@testable import NetREPLServer

@Suite struct CPUBudgetTests {
    @Test func cgroupV2QuotaRoundsUpAndMaxMeansNone() {
        #expect(CPUBudget.parseCPUMax("200000 100000") == 2)
        #expect(CPUBudget.parseCPUMax("150000 100000") == 2)
        #expect(CPUBudget.parseCPUMax("50000 100000") == 1)
        #expect(CPUBudget.parseCPUMax("max 100000") == nil)
        #expect(CPUBudget.parseCPUMax("") == nil)
        #expect(CPUBudget.cpus(quota: -1, period: 100000) == nil)
    }

    @Test func procCgroupGivesTheV2PathAndTheV1CPUController() {
        let v2 = CPUBudget.parseProcCgroup("0::/system.slice/netrepl.service\n")
        #expect(v2.v2 == "/system.slice/netrepl.service" && v2.v1cpu == nil)
        let v1 = CPUBudget.parseProcCgroup("4:memory:/x\n2:cpu,cpuacct:/docker/abc\n1:name=systemd:/\n")
        #expect(v1.v2 == nil && v1.v1cpu == "/docker/abc")
    }

    @Test func ancestorsRunUpToTheRoot() {
        #expect(CPUBudget.ancestors(of: "/a/b") == ["/a/b", "/a", ""])
        #expect(CPUBudget.ancestors(of: "/") == [""])
    }

    @Test func theBudgetIsAtLeastOneAndAtMostTheOnlineCPUs() {
        #expect(CPUBudget.available >= 1)
        #expect(CPUBudget.available <= Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

@Suite struct SourceRateLimiterTests {
    private let a = try! SocketAddress(ipAddress: "192.0.2.1", port: 1000)
    private let aOtherPort = try! SocketAddress(ipAddress: "192.0.2.1", port: 2000)
    private let aMapped = try! SocketAddress(ipAddress: "::ffff:192.0.2.1", port: 3000)
    private let b = try! SocketAddress(ipAddress: "2001:db8::1", port: 1000)

    @Test func aBurstIsCutAtTheLimitAndRefillsWithTime() {
        var limiter = SourceRateLimiter(perSecond: 3)
        let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)
        let first = (0..<10).map { _ in limiter.permit(a, now: t0) }
        #expect(first == [true, true, true] + Array(repeating: false, count: 7))
        // A third of a second later one more token has come back.
        let t1 = t0 + .milliseconds(334)
        let second = (0..<2).map { _ in limiter.permit(a, now: t1) }
        #expect(second == [true, false])
    }

    @Test func aFullTableOfActiveSourcesIsForgottenNotSweptForEachNewSource() throws {
        var limiter = SourceRateLimiter(perSecond: 1)
        let t = NIODeadline.uptimeNanoseconds(9_000_000_000)
        let exhausted = (0..<2).map { _ in limiter.permit(a, now: t) }
        #expect(exhausted == [true, false])
        // One source seen long ago (refilled), the rest of the table active now: forgetting only
        // the refilled one would leave the table nearly full, to be swept again for the next new
        // source; the table is emptied instead, and `a` starts afresh.
        _ = limiter.permit(try SocketAddress(ipAddress: "192.0.2.99", port: 1), now: t - .seconds(5))
        for i in 2..<SourceRateLimiter.maxSources {
            let source = try SocketAddress(ipAddress: "10.\(i >> 16).\((i >> 8) & 255).\(i & 255)", port: 1)
            _ = limiter.permit(source, now: t)
        }
        _ = limiter.permit(b, now: t)
        let afresh = limiter.permit(a, now: t)
        #expect(afresh)
    }

    @Test func theSourceIsTheHostWhateverThePortOrMapping() {
        var limiter = SourceRateLimiter(perSecond: 1)
        let t = NIODeadline.uptimeNanoseconds(5_000_000_000)
        let answers = [a, aOtherPort, aMapped, b].map { limiter.permit($0, now: t) }
        #expect(answers == [true, false, false, true])
    }
}

@Suite struct CPUListTests {
    @Test func rangesAndSinglesAreCounted() {
        #expect(CPUBudget.parseCPUList("\t0-1") == 2)
        #expect(CPUBudget.parseCPUList(" 0-3,8,10-11") == 7)
        #expect(CPUBudget.parseCPUList("1") == 1)
        #expect(CPUBudget.parseCPUList("3-1") == nil)
        #expect(CPUBudget.parseCPUList("") == nil)
    }
}
