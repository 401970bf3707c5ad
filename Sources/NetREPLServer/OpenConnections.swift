// The TCP connections a server has open: its shutdown asks each one to finish, learns when the
// last one has closed, and closes those left at the grace deadline while the event loops still run.
//
// In place of NIOExtras' ServerQuiescingHelper, whose state lives on the listening channel's event
// loop: every connection closing on another loop hops to that loop, and its deinit completes a
// promise there, so a connection cut by the loops' shutdown, or the helper released after it, made
// NIO print "Cannot schedule tasks on an EventLoop that has already shut down" at every stop.
// Here the state is behind a lock (one ThreadSanitizer sees), and nothing is scheduled on a loop
// from outside it.

import NIOConcurrencyHelpers
import NIOCore

final class OpenConnections: Sendable {
    private struct State {
        var open: [ObjectIdentifier: any Channel] = [:]
        var quiescing = false
        /// Called once, when the last connection has closed after `quiesce`.
        var whenAllClosed: (@Sendable () -> Void)?
    }

    private let state = NIOLockedValueBox(State())

    /// Follows an accepted connection until it closes. Called by the child channel initializer,
    /// so on the connection's own loop; one accepted after `quiesce` is asked to finish as soon as
    /// its handlers are in place.
    func admit(_ channel: any Channel) {
        let quiescing = state.withLockedValue { state in
            state.open[ObjectIdentifier(channel)] = channel
            return state.quiescing
        }
        channel.closeFuture.whenComplete { _ in self.closed(channel) }
        if quiescing {
            channel.eventLoop.execute { channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
        }
    }

    private func closed(_ channel: any Channel) {
        let last = state.withLockedValue { state -> (@Sendable () -> Void)? in
            state.open[ObjectIdentifier(channel)] = nil
            guard state.open.isEmpty else { return nil }
            defer { state.whenAllClosed = nil }
            return state.whenAllClosed
        }
        last?()
    }

    /// Asks every connection to finish its reply and close (`ChannelShouldQuiesceEvent`); calls
    /// `whenAllClosed` once none is open, at once when none is. Call it once the listening
    /// channel is closed, and while the event loops run.
    func quiesce(whenAllClosed: @escaping @Sendable () -> Void) {
        let (open, allClosed) = state.withLockedValue { state -> ([any Channel], Bool) in
            state.quiescing = true
            if state.open.isEmpty { return ([], true) }
            state.whenAllClosed = whenAllClosed
            return (Array(state.open.values), false)
        }
        if allClosed { whenAllClosed() }
        for channel in open {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }

    /// Whether any connection is still open.
    var isEmpty: Bool { state.withLockedValue { $0.open.isEmpty } }

    /// Closes the connections still open and returns, once they are closed, how many there were,
    /// so that the event loops' shutdown finds nothing left to close.
    func closeAll() async -> Int {
        let open = state.withLockedValue { Array($0.open.values) }
        for channel in open {
            channel.close(promise: nil)
        }
        for channel in open {
            try? await channel.closeFuture.get()
        }
        return open.count
    }
}
