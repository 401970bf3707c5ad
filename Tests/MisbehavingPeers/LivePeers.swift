// Peers for the live display: a server that talks when not asked (a chat server, a redis push)
// and closes while the client is idle, and one that floods a persistent connection.

import Foundation
import Glibc

extension TCPPeer {
    /// Answers each line uppercased; after the first answer waits `after`, sends `pushes` (each a
    /// line) unasked, waits as long again and closes the connection.
    public static func chatty(pushes: [String], after: Duration) -> TCPPeer {
        TCPPeer { connection in
            guard let line = connection.readLine() else { return }
            connection.write(upper(line) + [UInt8(ascii: "\n")])
            connection.sleep(after)
            for push in pushes { connection.write(push + "\n") }
            connection.sleep(after)
        }
    }

    /// Answers the first line, then sends `linesPerSecond` lines a second, unasked, for `seconds`
    /// (bounded in count and time), and keeps the connection open for `linger` after.
    public static func flooding(linesPerSecond: Int, seconds: Int, linger: Duration = .seconds(2)) -> TCPPeer {
        TCPPeer { connection in
            guard let line = connection.readLine() else { return }
            connection.write(upper(line) + [UInt8(ascii: "\n")])
            // Sent in 100 bursts a second.
            let perBurst = max(1, linesPerSecond / 100)
            var burst: [UInt8] = []
            for i in 0..<perBurst { burst += Array("flood \(i) of a server that will not stop talking\n".utf8) }
            let start = ContinuousClock.now
            for n in 0..<(seconds * 100) {
                connection.write(burst)
                let next = start + .milliseconds(10 * (n + 1))
                if next > .now { connection.sleep(next - .now) }
            }
            connection.sleep(linger)
        }
    }
}
