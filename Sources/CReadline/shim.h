// GNU readline and history for Swift: the headers, plus small accessors for readline's mutable
// globals, which Swift 6 rejects as not concurrency-safe when touched directly. Only the
// LineEditing module imports this, and only from its main thread: readline is single-threaded.
#ifndef NETREPL_CREADLINE_SHIM_H
#define NETREPL_CREADLINE_SHIM_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <readline/readline.h>
#include <readline/history.h>

// The name `$if NAME` in ~/.inputrc tests. readline keeps the pointer, so it gets its own copy,
// kept for the life of the process (set once).
static inline void netrepl_rl_set_readline_name(const char *name) {
    static char *owned = NULL;
    char *copy = strdup(name);
    if (copy == NULL) return;
    free(owned);
    owned = copy;
    rl_readline_name = owned;
}

// The application handles SIGINT, SIGTERM, SIGHUP and SIGWINCH itself (readline's own handlers
// would run on its schedule, not ours), and readline must not export LINES/COLUMNS.
static inline void netrepl_rl_set_signal_handling(int catch_signals, int catch_sigwinch) {
    rl_catch_signals = catch_signals;
    rl_catch_sigwinch = catch_sigwinch;
}

static inline void netrepl_rl_set_change_environment(int change) {
    rl_change_environment = change;
}

// Completion: words are separated by blanks only (so `:tcp` and `per-line` are single words),
// no quoting, no filename fallback.
static inline void netrepl_rl_set_attempted_completion_function(rl_completion_func_t *function) {
    static const char blanks[] = " \t\n";
    rl_attempted_completion_function = function;
    rl_completer_word_break_characters = blanks;
    rl_basic_word_break_characters = blanks;
    rl_completer_quote_characters = NULL;
}

// Set inside the completion function: 1 stops readline from falling back to filenames.
static inline void netrepl_rl_set_attempted_completion_over(int over) {
    rl_attempted_completion_over = over;
}

static inline void netrepl_rl_set_completion_append_character(int character) {
    rl_completion_append_character = character;
}

// The line being edited (owned by readline; copy before the next readline call) and the cursor,
// a byte offset into it.
static inline const char *netrepl_rl_line_buffer(void) {
    return rl_line_buffer;
}

static inline FILE *netrepl_rl_instream(void) {
    return rl_instream != NULL ? rl_instream : stdin;
}

static inline FILE *netrepl_rl_outstream(void) {
    return rl_outstream != NULL ? rl_outstream : stdout;
}

// Writes `text` where readline writes its prompt, and flushes.
static inline void netrepl_rl_write(const char *text) {
    FILE *out = netrepl_rl_outstream();
    fputs(text, out);
    fflush(out);
}

// Anything the program printed with stdio before a prompt must reach the terminal first.
static inline void netrepl_flush_stdout(void) {
    fflush(stdout);
    fflush(stderr);
}

// The length of the line being edited, in bytes, and moving the cursor within it.
static inline int netrepl_rl_end(void) {
    return rl_end;
}

static inline void netrepl_rl_set_point(int point) {
    rl_point = point < 0 ? 0 : (point > rl_end ? rl_end : point);
}

// Binds the start of a bracketed paste (ESC [ 200 ~) to `function` where readline would bind its
// own bracketed-paste-begin, before readline initialises: it binds its own only where nothing is.
static inline void netrepl_rl_bind_paste(rl_command_func_t *function) {
    static const char start[] = "\033[200~";
    rl_bind_keyseq_in_map(start, function, emacs_standard_keymap);
    rl_bind_keyseq_in_map(start, function, vi_insertion_keymap);
}

// In-memory history (the recall list for Up-arrow and Ctrl-R): the most recent entry's line (owned by readline), or NULL when the history is empty.
static inline const char *netrepl_history_last_line(void) {
    if (history_length <= 0) return NULL;
    HIST_ENTRY *entry = history_get(history_base + history_length - 1);
    return entry != NULL ? entry->line : NULL;
}

#endif
