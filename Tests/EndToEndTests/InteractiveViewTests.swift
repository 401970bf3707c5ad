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

        client.send(":view hex" + Key.enter)
        try client.expect(session.prompt())
        client.send("hi" + Key.enter)
        try client.expect("00000000  48 49")
        try client.expect("|HI|")
        try client.expect(session.prompt())

        client.send(":escapes on" + Key.enter)
        try client.expect(session.prompt())
        client.send("a\\tb\\x00" + Key.enter)
        try client.expect("00000000  41 09 42 00")
        try client.expect("|A.B.|")
        try client.expect(session.prompt())

        client.send(":view text" + Key.enter)
        try client.expect(session.prompt())
        client.send("c\\td" + Key.enter)
        // A tab in a reply is shown escaped on a terminal.
        try client.expect("C\\x09D")
        try client.expect(session.prompt())

        client.send(":esc" + Key.tab)
        try client.expect(":escapes ")
        client.send("off" + Key.enter)
        try client.expect(session.prompt())
        client.send(Key.ctrlD)
        #expect(try client.waitForExit() == 0)
    }
}
