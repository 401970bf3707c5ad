// The presenter words each typed problem once: the sentences a person reads for the history's
// problems and for an ambiguous command name.

import Testing
@testable import NetREPLCore

@Suite struct ProblemWordingTests {
    @Test func historyProblemsAreOneLineNamingTheFileAndWhatToDo() {
        #expect(
            Presenter.describe(HistoryProblem.skippedLines(path: "/h", count: 1, firstLine: 2))
                == "skipped 1 unreadable line in history file /h (first: line 2); it is dropped when the file is next compacted")
        #expect(
            Presenter.describe(HistoryProblem.skippedLines(path: "/h", count: 3, firstLine: nil))
                == "skipped 3 unreadable lines in history file /h; they are dropped when the file is next compacted")
        #expect(
            Presenter.describe(HistoryProblem.foreignFile(path: "/h", linesInOtherFormat: nil, bytesRead: 4096))
                .hasPrefix("/h is not a netrepl history file (no record in its last 4096 bytes); leaving it untouched"))
        #expect(
            Presenter.describe(HistoryProblem.unwritable(path: "/h", .system(.noSpace)))
                == "cannot write history file /h: No space left on device; this session's lines may not be saved")
        #expect(
            Presenter.describe(HistoryProblem.capacityNotANumber(text: "lots", using: 1000))
                == "NETREPL_HISTSIZE=lots is not a whole number of records; using 1000")
        let all: [HistoryProblem] = [
            .notRegularFile(path: "/h"), .unreadable(path: "/h", .shortWrite), .unwritable(path: "/h", .keptBeingReplaced),
            .unwritable(path: "/h", .noTemporaryName), .foreignFile(path: "/h", linesInOtherFormat: 2, bytesRead: 9),
        ]
        for problem in all {
            let sentence = Presenter.describe(problem)
            #expect(sentence.contains("/h") && !sentence.contains("\n"), "\(sentence)")
        }
    }

    @Test func anAmbiguousCommandNameListsTheCandidates() {
        #expect(
            Presenter.describe(CommandError.ambiguous(word: "h", candidates: ["history", "help"]))
                == ":h is ambiguous (:history, :help); type more of it")
    }
}
