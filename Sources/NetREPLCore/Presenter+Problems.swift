// The presenter's sentences for the typed problems of the history and of command names: each
// worded here once, whoever meets it.

extension Presenter {
    func warning(_ problem: HistoryProblem) {
        warning(Self.describe(problem))
    }

    static func describe(_ problem: HistoryProblem) -> String {
        let choose = "choose another file with --history-file or NETREPL_HISTFILE"
        switch problem {
        case .notRegularFile(let path):
            return "history file \(path) is not a regular file; history is not saved this session (set --history-file or NETREPL_HISTFILE)"
        case .unreadable(let path, let error):
            return "cannot read history file \(path): \(describe(error)); history is not saved this session"
        case .foreignFile(let path, let lines, let bytesRead):
            let evidence = lines.map { "\($0) lines in another format" } ?? "no record in its last \(bytesRead) bytes"
            return "\(path) is not a netrepl history file (\(evidence)); leaving it untouched and saving no history this session — \(choose)"
        case .skippedLines(let path, let count, let firstLine):
            let first = firstLine.map { " (first: line \($0))" } ?? ""
            return "skipped \(count) unreadable line\(count == 1 ? "" : "s") in history file \(path)\(first); "
                + "\(count == 1 ? "it is" : "they are") dropped when the file is next compacted"
        case .unwritable(let path, let error):
            return "cannot write history file \(path): \(describe(error)); this session's lines may not be saved"
        case .capacityNotANumber(let text, let using):
            return "NETREPL_HISTSIZE=\(text) is not a whole number of records; using \(using)"
        }
    }

    static func describe(_ error: HistoryFileError) -> String {
        switch error {
        case .system(let errno): return errno.description
        case .notRegular: return "not a regular file"
        case .shortWrite: return "only part of a record was written (disk full or file too large?); the part was removed"
        case .keptBeingReplaced: return "the file kept being replaced while writing"
        case .noTemporaryName: return "no free name for a temporary file in its folder"
        }
    }

    static func describe(_ error: CommandError) -> String {
        switch error {
        case .ambiguous(let word, let candidates):
            return ":\(word) is ambiguous (\(candidates.map { ":" + $0 }.joined(separator: ", "))); type more of it"
        case .missingName:
            return "a command name must follow the colon; :help lists commands, and ::TEXT sends :TEXT"
        case .unknown(let word, let nearest?):
            return "unknown command :\(word); did you mean :\(nearest)? (:help lists commands)"
        case .unknown(let word, nil):
            return "unknown command :\(word); the commands are \(Commands.all.map { ":" + $0.name }.joined(separator: " ")) (:help explains them)"
        }
    }
}
