// Process-wide record of SIGINT, SIGTERM and SIGHUP, so that blocking waits (readline's select,
// a transport's poll) can return on EINTR and the session decides what the signal means.

import Glibc
import Synchronization

public enum Signals {
    private static let pendingSignal = Atomic<Int32>(0)
    private static let installed = Mutex<Bool>(false)

    /// Installs handlers for SIGINT, SIGTERM and SIGHUP without SA_RESTART, so that poll(2) and
    /// select(2) return EINTR when one arrives. Idempotent.
    public static func install() {
        installed.withLock { done in
            guard !done else { return }
            done = true
            for sig in [SIGINT, SIGTERM, SIGHUP] {
                var action = sigaction()
                action.__sigaction_handler.sa_handler = { signo in Signals.pendingSignal.store(signo, ordering: .relaxed) }
                sigemptyset(&action.sa_mask)
                action.sa_flags = 0
                sigaction(sig, &action, nil)
            }
            // A parent may have started us with these signals blocked (Foundation's Process does),
            // and a blocked signal would never interrupt a wait: unblock them in this thread.
            var unblock = sigset_t()
            sigemptyset(&unblock)
            for sig in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&unblock, sig) }
            pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        }
    }

    /// The most recent signal not yet taken, if any; taking it clears it.
    public static func take() -> Int32? {
        let sig = pendingSignal.exchange(0, ordering: .relaxed)
        return sig == 0 ? nil : sig
    }

    /// The pending signal without clearing it.
    public static var pending: Int32? {
        let sig = pendingSignal.load(ordering: .relaxed)
        return sig == 0 ? nil : sig
    }
}

/// Where a session learns of SIGINT, SIGTERM and SIGHUP: the process's signals, or a test's own.
public protocol Interruptions: AnyObject, Sendable {
    /// The signal not yet taken, if any.
    var pending: Int32? { get }
    /// Takes the pending signal, clearing it.
    func take() -> Int32?
}

/// The process's signals, as `Signals` records them.
public final class ProcessSignals: Interruptions {
    public static let shared = ProcessSignals()
    public var pending: Int32? { Signals.pending }
    public func take() -> Int32? { Signals.take() }
}
