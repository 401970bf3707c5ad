// A small model of what a terminal emulator shows, fed the bytes a program wrote: enough of
// xterm (cursor motion, erasing, inserting and deleting characters, autowrap, wide characters,
// dim text) to say what a person sees, where text-only transcripts cannot (a carriage return that
// lets the next write cover a prompt, a dimmed suggestion, a line redrawn after a resize).

import Foundation

/// One screen: `rows` × `columns` cells, the cursor, and what scrolled off the top.
struct TerminalScreen {
    struct Cell: Equatable {
        var character: Character = " "
        var dim = false
        /// The right half of a wide character.
        var continuation = false
    }

    private(set) var columns: Int
    private(set) var rows: Int
    private var grid: [[Cell]]
    /// Whether each row ran on into the next by autowrap (one long line), as a reflowing
    /// terminal remembers.
    private var wrapped: [Bool]
    private(set) var scrolledOff: [String] = []
    private(set) var row = 0
    private(set) var column = 0
    private var pendingWrap = false
    private var dim = false
    private var insertMode = false

    init(columns: Int, rows: Int) {
        self.columns = columns
        self.rows = rows
        grid = Array(repeating: Array(repeating: Cell(), count: columns), count: rows)
        wrapped = Array(repeating: false, count: rows)
    }

    /// The text of screen row `index`, trailing blanks removed.
    func line(_ index: Int) -> String {
        text(of: grid[index]) { _ in true }
    }

    /// The dimmed characters of screen row `index`, blanks included, in order.
    func dimText(_ index: Int) -> String {
        String(grid[index].filter { $0.dim && !$0.continuation }.map(\.character))
    }

    /// Every row on screen.
    var lines: [String] { (0..<rows).map(line) }

    /// The row the cursor is on.
    var cursorLine: String { line(row) }

    /// Everything shown, scrolled off or not, one string per row.
    var history: [String] { scrolledOff + lines }

    private func text(of cells: [Cell], _ include: (Cell) -> Bool) -> String {
        var out = ""
        for cell in cells where !cell.continuation {
            out.append(include(cell) ? cell.character : " ")
        }
        while out.last == " " { out.removeLast() }
        return out
    }

    /// The window changes size: as xterm does, rows and columns are cut or padded; as tmux, VTE
    /// and kitty do (`reflow`), lines that wrapped are wrapped again at the new width, the
    /// cursor moving with its character.
    mutating func resize(columns: Int, rows: Int, reflow: Bool = false) {
        if reflow { return rewrap(columns: columns, rows: rows) }
        for i in grid.indices {
            grid[i] = Array(grid[i].prefix(columns)) + Array(repeating: Cell(), count: max(0, columns - grid[i].count))
        }
        while grid.count > rows {
            scrolledOff.append(text(of: grid.removeFirst()) { _ in true })
            row = max(0, row - 1)
        }
        while grid.count < rows { grid.append(Array(repeating: Cell(), count: columns)) }
        wrapped = Array(repeating: false, count: rows)
        self.columns = columns
        self.rows = rows
        column = min(column, columns - 1)
        row = min(row, rows - 1)
        pendingWrap = false
    }

    private mutating func rewrap(columns newColumns: Int, rows newRows: Int) {
        // Logical lines (rows joined where they wrapped), trailing blanks dropped, and where
        // the cursor is in them.
        var lines: [[Cell]] = []
        var cursorAt: (line: Int, cell: Int) = (0, 0)
        var current: [Cell] = []
        for r in 0..<rows {
            if r == row { cursorAt = (lines.count, current.count + column) }
            current += grid[r]
            if !wrapped[r] || r == rows - 1 {
                while let last = current.last, last == Cell(), lines.count != cursorAt.line || current.count > cursorAt.cell + 1 {
                    current.removeLast()
                }
                lines.append(current)
                current = []
            }
        }
        var newGrid: [[Cell]] = []
        var newWrapped: [Bool] = []
        var newCursor = (row: 0, column: 0)
        for (index, line) in lines.enumerated() {
            var rowCells: [Cell] = []
            var i = 0
            func flush(wraps: Bool) {
                newGrid.append(rowCells + Array(repeating: Cell(), count: newColumns - rowCells.count))
                newWrapped.append(wraps)
                rowCells = []
            }
            if line.isEmpty && index == cursorAt.line { newCursor = (newGrid.count, min(cursorAt.cell, newColumns - 1)) }
            while i < line.count {
                let wide = i + 1 < line.count && line[i + 1].continuation
                let width = wide ? 2 : 1
                if rowCells.count + width > newColumns { flush(wraps: true) }
                if index == cursorAt.line && (i == cursorAt.cell || (wide && i + 1 == cursorAt.cell)) {
                    newCursor = (newGrid.count, rowCells.count)
                }
                rowCells += line[i..<(i + width)]
                i += width
            }
            if index == cursorAt.line && cursorAt.cell >= line.count && !line.isEmpty {
                if rowCells.count >= newColumns { flush(wraps: true) }
                newCursor = (newGrid.count, rowCells.count + cursorAt.cell - line.count)
            }
            flush(wraps: false)
        }
        // Keep the bottom of the screen; what no longer fits above scrolls off.
        let last = max(newCursor.row, (newGrid.lastIndex { $0.contains { $0 != Cell() } }) ?? 0)
        let top = max(0, last + 1 - newRows)
        scrolledOff += newGrid[..<top].map { text(of: $0) { _ in true } }
        grid = Array(newGrid[top...].prefix(newRows))
        wrapped = Array(newWrapped[top...].prefix(newRows))
        while grid.count < newRows {
            grid.append(Array(repeating: Cell(), count: newColumns))
            wrapped.append(false)
        }
        columns = newColumns
        rows = newRows
        row = newCursor.row - top
        column = min(newCursor.column, newColumns - 1)
        pendingWrap = false
    }

    mutating func feed(_ bytes: [UInt8]) {
        let scalars = Array(String(decoding: bytes, as: UTF8.self).unicodeScalars)
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            switch c {
            case "\u{1B}":
                i = escape(scalars, i)
                continue
            case "\r": column = 0; pendingWrap = false
            case "\n": lineFeed()
            case "\u{08}": column = max(0, column - 1); pendingWrap = false
            case "\t": column = min(columns - 1, (column / 8 + 1) * 8)
            case "\u{07}", "\u{01}", "\u{02}", "\u{0F}", "\u{0E}": break
            default: put(c)
            }
            i += 1
        }
    }

    private mutating func lineFeed() {
        pendingWrap = false
        if row == rows - 1 {
            scrolledOff.append(text(of: grid.removeFirst()) { _ in true })
            grid.append(Array(repeating: Cell(), count: columns))
            wrapped.removeFirst()
            wrapped.append(false)
        } else {
            row += 1
        }
    }

    private mutating func put(_ scalar: Unicode.Scalar) {
        let width = TerminalScreen.width(of: scalar)
        if width == 0 { return }
        if pendingWrap || column + width > columns {
            let from = row
            column = 0
            lineFeed()
            wrapped[row == from ? row - 1 : from] = true
        }
        if insertMode { insertBlanks(width) }
        grid[row][column] = Cell(character: Character(scalar), dim: dim)
        if width == 2 { grid[row][column + 1] = Cell(character: " ", dim: dim, continuation: true) }
        column += width
        if column >= columns {
            column = columns - 1
            pendingWrap = true
        }
    }

    private mutating func insertBlanks(_ count: Int) {
        let n = min(count, columns - column)
        grid[row].insert(contentsOf: Array(repeating: Cell(), count: n), at: column)
        grid[row].removeLast(n)
    }

    /// Reads the escape at `start`, acts on it, and returns the index after it.
    private mutating func escape(_ s: [Unicode.Scalar], _ start: Int) -> Int {
        guard start + 1 < s.count else { return s.count }
        let kind = s[start + 1]
        if kind == "]" {  // OSC, to BEL or ST
            var i = start + 2
            while i < s.count {
                if s[i] == "\u{07}" { return i + 1 }
                if s[i] == "\u{1B}", i + 1 < s.count, s[i + 1] == "\\" { return i + 2 }
                i += 1
            }
            return s.count
        }
        guard kind == "[" else {
            // ESC ( B and the like take one more character.
            return "()*+#".unicodeScalars.contains(kind) ? start + 3 : start + 2
        }
        var i = start + 2
        var parameters = ""
        while i < s.count, !(0x40...0x7E).contains(s[i].value) {
            parameters.unicodeScalars.append(s[i])
            i += 1
        }
        guard i < s.count else { return s.count }
        csi(s[i], parameters)
        return i + 1
    }

    private mutating func csi(_ final: Unicode.Scalar, _ parameters: String) {
        let isPrivate = parameters.hasPrefix("?")
        let numbers = parameters.drop { $0 == "?" }.split(separator: ";", omittingEmptySubsequences: false).map { Int($0) }
        let n = max(1, (numbers.first ?? nil) ?? 1)
        let p0 = (numbers.first ?? nil) ?? 0
        if final != "m" && final != "h" && final != "l" { pendingWrap = false }
        switch final {
        case "A": row = max(0, row - n)
        case "B": row = min(rows - 1, row + n)
        case "C": column = min(columns - 1, column + n)
        case "D": column = max(0, column - n)
        case "G": column = min(columns - 1, n - 1)
        case "H", "f":
            row = min(rows - 1, n - 1)
            column = min(columns - 1, max(1, (numbers.count > 1 ? numbers[1] : 1) ?? 1) - 1)
        case "J":
            if p0 == 2 || p0 == 3 {
                for r in 0..<rows { clear(r, from: 0) }
            } else if p0 == 0 {
                clear(row, from: column)
                for r in (row + 1)..<rows { clear(r, from: 0) }
            }
            for r in (p0 == 0 ? row : 0)..<rows { wrapped[r] = false }
        case "K":
            switch p0 {
            case 0: clear(row, from: column)
            case 1: for c in 0...column { grid[row][c] = Cell() }
            default: clear(row, from: 0)
            }
            if p0 != 1 { wrapped[row] = false }
        case "@": insertBlanks(n)
        case "P":
            let count = min(n, columns - column)
            grid[row].removeSubrange(column..<(column + count))
            grid[row].append(contentsOf: Array(repeating: Cell(), count: count))
        case "X": for c in column..<min(columns, column + n) { grid[row][c] = Cell() }
        case "m":
            for value in numbers.map({ $0 ?? 0 }) {
                if value == 0 || value == 22 { dim = false } else if value == 2 { dim = true }
            }
        case "h", "l":
            if !isPrivate && p0 == 4 { insertMode = final == "h" }
        default: break
        }
    }

    private mutating func clear(_ r: Int, from c: Int) {
        for i in c..<columns { grid[r][i] = Cell() }
    }

    /// Screen columns of a character as xterm counts them: East Asian wide and emoji take two,
    /// combining marks none.
    static func width(of scalar: Unicode.Scalar) -> Int {
        let v = scalar.value
        if v < 0x20 || (0x7F..<0xA0).contains(v) { return 0 }
        if scalar.properties.generalCategory == .nonspacingMark || scalar.properties.generalCategory == .enclosingMark || v == 0x200B { return 0 }
        let wide: [ClosedRange<UInt32>] = [
            0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
            0xA000...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60,
            0xFFE0...0xFFE6, 0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x3FFFD,
        ]
        return wide.contains { $0.contains(v) } ? 2 : 1
    }
}
