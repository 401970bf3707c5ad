// Prepares a prompt for readline: colour escapes must be bracketed so readline can tell how wide
// the prompt really is, or the cursor lands in the wrong column after editing and recall.

/// Text helpers for readline prompts; pure, tested without a terminal.
public enum PromptMarkup {
    /// RL_PROMPT_START_IGNORE: readline counts nothing from here as visible...
    public static let startIgnore: Character = "\u{01}"
    /// ...until RL_PROMPT_END_IGNORE.
    public static let endIgnore: Character = "\u{02}"

    /// Brackets every ANSI escape sequence in `prompt` with \001 ... \002 (runs of adjacent
    /// sequences share one pair). A plain prompt comes back unchanged, and so does one that
    /// already carries the markers, so wrapping twice is harmless.
    public static func wrap(_ prompt: String) -> String {
        let scalars = Array(prompt.unicodeScalars)
        guard scalars.contains("\u{1B}"), !prompt.contains(startIgnore), !prompt.contains(endIgnore) else {
            return prompt
        }
        var out = String.UnicodeScalarView()
        var index = 0
        var inIgnored = false
        while index < scalars.count {
            if scalars[index] == "\u{1B}" {
                let end = escapeSequenceEnd(scalars, from: index)
                if !inIgnored { out.append("\u{01}"); inIgnored = true }
                out.append(contentsOf: scalars[index..<end])
                index = end
            } else {
                if inIgnored { out.append("\u{02}"); inIgnored = false }
                out.append(scalars[index])
                index += 1
            }
        }
        if inIgnored { out.append("\u{02}") }
        return String(out)
    }

    /// The index just past the escape sequence starting at `start` (which holds ESC).
    /// CSI (`ESC [` parameters, intermediates, one final byte) and OSC (`ESC ]` up to BEL or
    /// `ESC \`) are understood; any other escape is ESC plus one character.
    public static func escapeSequenceEnd(_ s: [Unicode.Scalar], from start: Int) -> Int {
        var i = start + 1
        guard i < s.count else { return i }
        switch s[i] {
        case "[":
            i += 1
            // Parameter bytes 0x30–0x3F, intermediate bytes 0x20–0x2F, then one final byte 0x40–0x7E.
            while i < s.count, (0x20...0x3F).contains(s[i].value) { i += 1 }
            if i < s.count, (0x40...0x7E).contains(s[i].value) { i += 1 }
            return i
        case "]":
            i += 1
            while i < s.count {
                if s[i] == "\u{07}" { return i + 1 }
                if s[i] == "\u{1B}", i + 1 < s.count, s[i + 1] == "\\" { return i + 2 }
                i += 1
            }
            return i
        default:
            return i + 1
        }
    }
}
