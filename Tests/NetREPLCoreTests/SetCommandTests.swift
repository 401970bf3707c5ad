// :set, the line editor's settings as a person types them: shown, changed, and wrong words
// refused with what to type instead.

import MisbehavingPeers
import Testing
@testable import NetREPLCore

// Serialized: the setting is process-wide, as the one line editor is.
@Suite(.serialized) struct SetCommandTests {
    @Test func suggestTurnsOffAndOnAndIsShown() throws {
        let peer = UDPPeer()
        defer {
            peer.stop()
            EditingPreferences.suggestions = true
        }
        let r = try runSession([":set", ":set suggest off", ":set", ":set suggest on", ":set"], port: peer.port, interactive: true)
        #expect(r.out.components(separatedBy: "suggest: on\n").count - 1 == 3)
        #expect(r.out.components(separatedBy: "suggest: off\n").count - 1 == 2)
        #expect(EditingPreferences.suggestions)
    }

    @Test func wrongWordsAreRefusedAndChangeNothing() throws {
        let peer = UDPPeer()
        defer { peer.stop() }
        let r = try runSession([":set suggest maybe", ":set colour on", ":set suggest"], port: peer.port, interactive: true)
        #expect(r.err.contains("usage: :set suggest on|off"))
        #expect(r.err.contains("no setting \"colour\""))
        #expect(EditingPreferences.suggestions)
    }
}
