// :view and :escapes at a real prompt: a hex dump of the reply, escapes sent as bytes, and the
// new commands completed by Tab.

import Foundation
import Testing

@Suite("views and escapes in a pseudo-terminal")
struct InteractiveViewTests {
    @Test("hex view, escapes, and back to text")
    func hexViewAndEscapes() throws {
        let session = try InteractiveSession()
        let client = session.client
        /// Types `line` and Enter, and waits for `shown` in order, then the prompt.
        func enter(_ line: String, shows shown: String...) throws {
            client.send(line + Key.enter)
            for text in shown { try client.expect(text) }
            try client.expect(session.prompt())
        }

        try enter(":view hex")
        try enter("hi", shows: "00000000  48 49", "|HI|")
        try enter(":escapes on")
        try enter("a\\tb\\x00", shows: "00000000  41 09 42 00", "|A.B.|")
        try enter(":view text")
        // A tab in a reply is shown escaped on a terminal.
        try enter("c\\td", shows: "C\\x09D")

        client.send(":esc" + Key.tab)
        try client.expect(":escapes ")
        client.send("off" + Key.enter)
        try client.expect(session.prompt())
        client.send(Key.ctrlD)
        #expect(try client.waitForExit() == 0)
    }
}
