// The seam between a session and a transport: a transport is a non-blocking state machine that
// takes lines at once, says which descriptors to watch and when it next needs the clock, and
// reports what happened as typed notices in the order it happened. One wait (the session's, or
// `exchange`'s for a single line) drives any number of them.

import Glibc
import Synchronization
import SystemCalls

/// Identifies one line submitted to a transport, from submission until it settles.
public struct SubmissionID: Hashable, Sendable {
    let value: UInt64
}

/// What a transport tells its driver, in the order it happened.
public enum TransportNotice: Sendable {
    /// Something seen or done that belongs to no line's outcome: a connect, a fallback, a late
    /// reply, noise, data sent unasked, a connection ended while idle, an ICMP unreachable.
    case event(TransportEvent)
    /// The line `id` is queued behind `ahead` others (persistent TCP carries one line at a time).
    case queued(SubmissionID, Line, ahead: Int)
    /// The line `id` never went out: it was queued when the lines waiting were cancelled.
    case unsent(SubmissionID, Line)
    /// The line `id`'s exchange ended, with its outcome.
    case settled(SubmissionID, Exchange)
}

/// A descriptor to watch, and for what.
public struct PollInterest: Sendable, Equatable {
    public var descriptor: Int32
    public var writable: Bool

    public init(descriptor: Int32, writable: Bool = false) {
        self.descriptor = descriptor
        self.writable = writable
    }
}

public protocol Transport: AnyObject {
    var kind: TransportKind { get }
    /// Set for TCP only.
    var tcpMode: TCPMode? { get }
    /// Lines submitted that have not settled yet (in flight or queued).
    var waiting: Int { get }
    /// Takes `line` to send, and returns at once: the outcome comes later as a `.settled` notice.
    /// `timeout` bounds a connect and, separately, the send and the reply.
    @discardableResult
    func submit(_ line: Line, timeout: Duration) -> SubmissionID
    /// The descriptors to watch now.
    var interests: [PollInterest] { get }
    /// When the transport must be serviced even if nothing is ready (the nearest deadline).
    var nextDeadline: ContinuousClock.Instant? { get }
    /// Reads and writes what `ready` allows, and settles the lines whose deadline has passed.
    func service(ready: Set<Int32>)
    /// Gives up every line waiting (Ctrl-C): each settles as cancelled, or as unsent if queued.
    func cancelWaiting(signal: Int32)
    /// The notices since the last call, oldest first.
    func takeNotices() -> [TransportNotice]
    /// Closes every socket.
    func close()
    /// Asked between slices of the blocking `exchange`: a signal that cancels the wait.
    var interruption: @Sendable () -> Int32? { get }
}

extension Transport {
    /// Sends `line` and waits for its outcome: the non-blocking machine run to completion for one
    /// line (scripts and pipes). What was seen on the way is in the exchange's events, in order.
    public func exchange(_ line: Line, timeout: Duration) -> Exchange {
        let id = submit(line, timeout: timeout)
        var events: [TransportEvent] = []
        var cancelled = false
        while true {
            for notice in takeNotices() {
                switch notice {
                case .event(let event): events.append(event)
                case .settled(let settled, var exchange) where settled == id:
                    exchange.events = events + exchange.events
                    return exchange
                case .settled, .queued, .unsent: break
                }
            }
            if !cancelled, let signal = interruption() {
                cancelled = true
                cancelWaiting(signal: signal)
                continue
            }
            service(ready: Poller.wait(interests, until: nextDeadline))
        }
    }
}

/// One bounded wait on many descriptors.
public enum Poller {
    /// The longest single wait: a signal delivered to another thread (with `--serve`, one of the
    /// server's) does not interrupt this thread's poll, so the caller looks again this often.
    public static let slice = Duration.milliseconds(50)

    /// Waits until one of `interests` is ready (or in error), `deadline` passes, a signal
    /// arrives, or one slice has gone by; returns the descriptors that are ready.
    public static func wait(_ interests: [PollInterest], until deadline: ContinuousClock.Instant?) -> Set<Int32> {
        var wait = slice
        if let deadline { wait = max(min(deadline - .now, slice), .zero) }
        // Rounded up, so that a wait never wakes a hair early and spins.
        let milliseconds = Int32((wait.components.seconds * 1000) + (wait.components.attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
        var fds = interests.map { pollfd(fd: $0.descriptor, events: Int16($0.writable ? POLLOUT : POLLIN), revents: 0) }
        // Interrupted (nil) or failed: nothing is ready; the caller looks at its signals and clock.
        guard let rc = try? interruptible({ poll(&fds, nfds_t(fds.count), milliseconds) }), rc > 0 else { return [] }
        return Set(fds.filter { $0.revents != 0 }.map(\.fd))
    }
}

/// Hands out submission ids, unique within the process (a session may replace its transport
/// while the old one still has lines waiting).
enum Submissions {
    private static let last = Atomic<UInt64>(0)

    static func next() -> SubmissionID {
        SubmissionID(value: last.wrappingAdd(1, ordering: .relaxed).newValue)
    }
}
