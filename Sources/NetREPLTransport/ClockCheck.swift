// This machine's clocks, measured as irtt's clock test does: the resolution the kernel claims,
// the smallest step seen between two readings, what a reading costs, how late a timed wait wakes,
// and whether the kernel stamps sends. What a round-trip figure can mean depends on all of them.

import Glibc

public struct ClockCheck: Sendable {
    /// clock_getres(CLOCK_MONOTONIC).
    public var resolution: Duration
    /// The smallest non-zero difference seen between consecutive readings.
    public var smallestStep: Duration
    /// The mean cost of one reading of the monotonic clock.
    public var readCost: Duration
    /// How much later than asked a wait of `wait` woke, sorted (the overshoot of each try).
    public var wakeLateness: [Duration]
    public var wait: Duration
    /// Whether the kernel accepted SO_TIMESTAMPING and stamped a loopback send.
    public var kernelSendStamps: Bool

    /// Measures, in well under a second: 2000 readings, `tries` waits of `wait` (whole milliseconds) each.
    public static func run(tries: Int = 50, wait: Duration = .milliseconds(1)) -> ClockCheck {
        var res = timespec()
        clock_getres(CLOCK_MONOTONIC, &res)
        let resolution = Duration.seconds(res.tv_sec) + .nanoseconds(res.tv_nsec)
        var smallest = Duration.seconds(1)
        let readings = 2_000
        let started = ContinuousClock.now
        var previous = started
        for _ in 0..<readings {
            let now = ContinuousClock.now
            if now > previous { smallest = min(smallest, now - previous) }
            previous = now
        }
        let readCost = (previous - started) / readings
        var lateness: [Duration] = []
        for _ in 0..<tries {
            let asked = ContinuousClock.now
            // poll(2) with no descriptors, as the transports' waits sleep (in whole milliseconds).
            _ = poll(nil, 0, Int32(wait.components.seconds * 1_000 + wait.components.attoseconds / 1_000_000_000_000_000))
            lateness.append(max(ContinuousClock.now - asked - wait, .zero))
        }
        return ClockCheck(
            resolution: resolution, smallestStep: smallest, readCost: readCost, wakeLateness: lateness.sorted(),
            wait: wait, kernelSendStamps: probeSendStamps())
    }

    /// Sends one datagram to a socket of our own on 127.0.0.1 and asks for its kernel stamp.
    private static func probeSendStamps() -> Bool {
        guard let receiver = try? Socket(family: AF_INET, kind: .datagram), let sender = try? Socket(family: AF_INET, kind: .datagram) else {
            return false
        }
        defer { receiver.close(); sender.close() }
        // Bind the receiver to a free port, then aim the sender at it.
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(receiver.rawDescriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, let local = SocketAddress.local(of: receiver.rawDescriptor) else { return false }
        do {
            try sender.connect(to: local)
            _ = try sender.send([0])
        } catch {
            return false
        }
        return sender.lastSendStamp() != nil
    }
}
