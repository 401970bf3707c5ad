// The line editor's settings that a `:` command changes (`:set suggest off`): the commands live
// here, the editor in LineEditing, and this is all either knows of the other.

import Synchronization

public enum EditingPreferences {
    private static let suggestionsOn = Atomic<Bool>(true)

    /// Fish-style suggestions from the history while typing (on unless turned off). NO_COLOR
    /// and TERM=dumb keep them off whatever this says; the editor checks those itself.
    public static var suggestions: Bool {
        get { suggestionsOn.load(ordering: .relaxed) }
        set { suggestionsOn.store(newValue, ordering: .relaxed) }
    }
}
