// :help laid out for the terminal's width as git's and argument-parser's help are: a name column
// and descriptions wrapped at word boundaries with a hanging indent, or, when a name is too wide or
// the terminal too narrow, the name on its own line and its description indented below it.

enum HelpLayout {
    static let indent = 2
    static let gap = 2
    /// The widest name that still shares its line with its description.
    static let widestInlineName = 28
    /// Narrower than this, descriptions go below their names rather than beside them.
    static let narrowestDescription = 30
    /// How far a description below its name is indented.
    static let belowIndent = indent + 4

    /// The lines for `entries` (name, description) in at most `width` columns, a word longer than a
    /// line excepted: words are never broken.
    static func lines(_ entries: [(name: String, description: String)], width: Int) -> [String] {
        let nameColumn = entries.map(\.name.count).filter { $0 <= widestInlineName }.max() ?? 0
        let descriptionStart = indent + nameColumn + gap
        let beside = width - descriptionStart >= narrowestDescription
        var lines: [String] = []
        for (name, description) in entries {
            if beside && name.count <= nameColumn {
                let wrapped = wrap(description, width: width - descriptionStart)
                let head = pad(indent) + name
                lines.append(head + pad(descriptionStart - head.count) + (wrapped.first ?? ""))
                lines += wrapped.dropFirst().map { pad(descriptionStart) + $0 }
            } else {
                // A wide name may itself need wrapping: its continuation hangs two further in.
                let names = wrap(name, width: width - indent - 2)
                lines.append(pad(indent) + (names.first ?? ""))
                lines += names.dropFirst().map { pad(indent + 2) + $0 }
                let start = beside ? descriptionStart : belowIndent
                lines += wrap(description, width: width - start).map { pad(start) + $0 }
            }
        }
        return lines
    }

    /// `text`'s words in lines of at most `width` characters; a longer word has a line to itself.
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var current = ""
        for word in text.split(separator: " ") {
            if current.isEmpty {
                current = String(word)
            } else if current.count + 1 + word.count <= width {
                current += " " + word
            } else {
                lines.append(current)
                current = String(word)
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }

    private static func pad(_ count: Int) -> String { String(repeating: " ", count: max(0, count)) }
}
