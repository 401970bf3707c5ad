// Fish-style suggestions: the newest history line that starts with what is typed, shown dimmed
// after the cursor, accepted with Right, Ctrl-F, End or Ctrl-E (all of it) or Alt-F (one word)
// at the end of the line; elsewhere those keys move as always. readline
// cannot show text that is not part of the line, so the suggestion is drawn after each of
// readline's redisplays (its redisplay hook), never past the right edge of the screen row (so it
// never wraps or scrolls), and erased before readline writes anything again.

import CReadline
import Glibc
import NetREPLCore

enum Suggestions {
    /// False with NO_COLOR or TERM=dumb: nothing is ever drawn.
    nonisolated(unsafe) private static var allowed = false
    /// What is on screen: the suggestion's whole text after the cursor, and the screen columns of
    /// the part drawn. Whenever this is set, the cursor is at the start of the drawn part.
    nonisolated(unsafe) private static var shown: (suffix: String, columns: Int)?

    static func configure(environment: (String) -> String?) {
        allowed = (environment("NO_COLOR") ?? "").isEmpty && environment("TERM") != "dumb"
    }

    /// The keys that accept, each falling back to what readline binds it to. Bound before
    /// readline reads ~/.inputrc, so a binding of the user's wins.
    static func bindKeys() {
        for keys in ["\\C-f", "\\e[C", "\\eOC"] { netrepl_rl_bind(keys, acceptAllOrForwardChar) }
        for keys in ["\\C-e", "\\e[F", "\\eOF", "\\e[4~"] { netrepl_rl_bind(keys, acceptAllOrEndOfLine) }
        netrepl_rl_bind("\\ef", acceptWordOrForwardWord)
    }

    /// readline's redisplay, with the suggestion erased before and drawn again after.
    static let redisplay: @convention(c) () -> Void = {
        erase()
        rl_redisplay()
        draw()
    }

    /// Erases the suggestion drawn, if any: the cursor is at its start, and nothing but the
    /// suggestion follows it on the screen (text printed above goes above). Clearing to the end
    /// of the screen, not just of the row, also removes what a terminal that reflows on resize
    /// (tmux, VTE, kitty) moved to the rows below when it narrowed.
    static func erase() {
        guard shown != nil else { return }
        shown = nil
        netrepl_rl_write("\u{1B}[J")
    }

    /// readline cleared the lines itself (`rl_clear_visible_line`): nothing of ours is left.
    static func forget() {
        shown = nil
    }

    /// After each key: a search just ended redisplayed while it still was one, so the
    /// suggestion for the line it left is drawn now.
    static func afterKey() {
        if shown == nil && Readline.handlerInstalled && netrepl_rl_search_just_ended() != 0 { netrepl_rl_redisplay() }
    }

    private static func draw() {
        guard allowed, EditingPreferences.suggestions, Readline.handlerInstalled,
            netrepl_rl_is_searching() == 0, netrepl_rl_last_was_history_motion() == 0
        else { return }
        let end = netrepl_rl_end()
        guard end > 0, netrepl_rl_point() == end, let typed = netrepl_rl_line_buffer(),
            let entry = netrepl_history_suggestion(typed, end)
        else { return }
        let suffix = String(cString: entry + Int(end))
        // One column is left free: writing into the last one would leave the terminal waiting
        // to wrap, and moving back from there differs between terminals.
        let room = Int(netrepl_rl_screen_width() - netrepl_rl_cursor_column()) - 1
        let (visible, columns) = fit(suffix, columns: room, width: { Int(netrepl_wcwidth($0.value)) })
        guard columns > 0 else { return }
        netrepl_rl_write("\u{1B}[2m" + visible + "\u{1B}[0m\u{1B}[\(columns)D")
        shown = (suffix, columns)
    }

    /// The longest start of `text` that takes at most `columns` screen columns, and the columns
    /// it takes; it stops before a character the terminal would not simply print (a control,
    /// or one the locale cannot show), so nothing drawn can move the cursor.
    static func fit(_ text: String, columns: Int, width: (Unicode.Scalar) -> Int) -> (String, Int) {
        var fitted = String.UnicodeScalarView()
        var used = 0
        for scalar in text.unicodeScalars {
            let w = width(scalar)
            if w < 0 || used + w > columns { break }
            fitted.append(scalar)
            used += w
        }
        return (String(fitted), used)
    }

    /// One word of a suggestion as Alt-F moves over one: what is not a letter or digit, then
    /// the letters and digits after it.
    static func firstWord(of suffix: String) -> String {
        let scalars = suffix.unicodeScalars
        let isWord = { (s: Unicode.Scalar) in s.properties.isAlphabetic || s.properties.numericType != nil }
        guard let start = scalars.firstIndex(where: isWord) else { return suffix }
        let end = scalars[start...].firstIndex(where: { !isWord($0) }) ?? scalars.endIndex
        return String(scalars[..<end])
    }

    /// Inserts the suggestion (or its first word) when one is showing and the cursor is at the
    /// end of the line; false when there is none, for the key to do what it does otherwise.
    private static func accept(wholly: Bool) -> Bool {
        guard let suffix = shown?.suffix, netrepl_rl_point() == netrepl_rl_end() else { return false }
        erase()
        rl_insert_text(wholly ? suffix : firstWord(of: suffix))
        return true
    }

    private static let acceptAllOrForwardChar: @convention(c) (Int32, Int32) -> Int32 = { count, key in
        accept(wholly: true) ? 0 : rl_forward_char(count, key)
    }

    private static let acceptAllOrEndOfLine: @convention(c) (Int32, Int32) -> Int32 = { count, key in
        accept(wholly: true) ? 0 : rl_end_of_line(count, key)
    }

    private static let acceptWordOrForwardWord: @convention(c) (Int32, Int32) -> Int32 = { count, key in
        accept(wholly: false) ? 0 : rl_forward_word(count, key)
    }
}
