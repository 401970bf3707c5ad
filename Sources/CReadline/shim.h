// GNU readline and history for Swift: the headers, plus small accessors for readline's mutable
// globals, which Swift 6 rejects as not concurrency-safe when touched directly. Only the
// LineEditing module imports this, and only from its main thread: readline is single-threaded.
#ifndef NETREPL_CREADLINE_SHIM_H
#define NETREPL_CREADLINE_SHIM_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
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

static inline int netrepl_rl_point(void) {
    return rl_point;
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

// The line being printed above and the prompt taken down: readline's own redisplay goes through
// this hook, which the suggestions wrap (they must be erased before readline redraws).
static inline void netrepl_rl_set_redisplay_function(rl_voidfunc_t *function) {
    rl_redisplay_function = function;
}

static inline void netrepl_rl_redisplay(void) {
    (*rl_redisplay_function)();
}

// The column readline last left the cursor in, on the screen row it is on, counted in screen
// columns (wide characters and the prompt's invisible bytes accounted for). Not in readline's
// public header but exported by libreadline (8.2) and the only exact figure once a line wraps
// with a wide character at the edge.
extern int _rl_last_c_pos;
static inline int netrepl_rl_cursor_column(void) {
    return _rl_last_c_pos;
}

static inline int netrepl_rl_screen_width(void) {
    int rows = 0, columns = 0;
    rl_get_screen_size(&rows, &columns);
    return columns;
}

// True while the line is readline's own searching state (Ctrl-R, or a non-incremental search):
// nothing of ours may be drawn then.
static inline int netrepl_rl_is_searching(void) {
    return RL_ISSTATE(RL_STATE_ISEARCH | RL_STATE_NSEARCH | RL_STATE_COMPLETING) != 0;
}

// True when a search (Ctrl-R, Ctrl-S) has just ended, by Ctrl-G or a key that leaves it: readline
// redisplays for the last time while still searching, so the caller draws again.
static inline int netrepl_rl_search_just_ended(void) {
    return !netrepl_rl_is_searching()
        && (rl_last_func == rl_reverse_search_history || rl_last_func == rl_forward_search_history);
}

// readline initialises the terminal (termcap) only when the redisplay function is its own, and
// a resize redraws properly only then too: the caller's function is set after initialising,
// and set aside during a resize.
static inline void netrepl_rl_resize_terminal(void) {
    rl_voidfunc_t *own = rl_redisplay_function;
    rl_redisplay_function = rl_redisplay;
    rl_resize_terminal();
    rl_redisplay_function = own;
}

// True when the key just handled stepped through the history (Up, Down, their searching forms,
// M-<, M->): what is on the line is a recalled entry, not typing.
static inline int netrepl_rl_last_was_history_motion(void) {
    rl_command_func_t *f = rl_last_func;
    return f == rl_get_previous_history || f == rl_get_next_history
        || f == rl_history_search_backward || f == rl_history_search_forward
        || f == rl_history_substr_search_backward || f == rl_history_substr_search_forward
        || f == rl_beginning_of_history || f == rl_end_of_history;
}

// The newest history entry that starts with the `length` bytes at `typed`, is longer, and spans
// one line; NULL when none (owned by readline). Searched from the newest: the one fish shows.
static inline const char *netrepl_history_suggestion(const char *typed, int length) {
    for (int i = history_length - 1; i >= 0; i--) {
        HIST_ENTRY *entry = history_get(history_base + i);
        if (entry == NULL || entry->line == NULL) continue;
        const char *line = entry->line;
        if (strncmp(line, typed, (size_t)length) != 0 || line[length] == '\0') continue;
        if (strchr(line, '\n') != NULL) continue;
        return line;
    }
    return NULL;
}

// Binds `keyseq` to `function` in the emacs keymap before readline initialises, so that an
// inputrc binding of the same keys still wins.
static inline void netrepl_rl_bind(const char *keyseq, rl_command_func_t *function) {
    rl_bind_keyseq_in_map(keyseq, function, emacs_standard_keymap);
}

// The same in the vi keymaps too, for a key every editing mode has (Enter).
static inline void netrepl_rl_bind_in_every_mode(const char *keyseq, rl_command_func_t *function) {
    rl_bind_keyseq_in_map(keyseq, function, emacs_standard_keymap);
    rl_bind_keyseq_in_map(keyseq, function, vi_insertion_keymap);
    rl_bind_keyseq_in_map(keyseq, function, vi_movement_keymap);
}

// The locale's longest character in bytes (1: not a multibyte locale, such as C or POSIX), and
// the screen columns of a character (-1: not printable here), both macros or hidden from Swift.
int wcwidth(wchar_t c);
static inline int netrepl_mb_cur_max(void) {
    return (int)MB_CUR_MAX;
}

static inline int netrepl_wcwidth(unsigned int c) {
    return wcwidth((wchar_t)c);
}

// readline made 8-bit clean for a locale that is not UTF-8 (LC_ALL=C): bytes from 0x80 up are
// inserted and shown as they are, not turned into Meta keys (which would lose them).
static inline void netrepl_rl_eight_bit_clean(void) {
    rl_variable_bind("input-meta", "on");
    rl_variable_bind("output-meta", "on");
    rl_variable_bind("convert-meta", "off");
}

// Adds `line` to the recall list. The position Up starts from is moved to the new end unless
// the person is stepping through the list now: in callback mode readline resets the position
// right after the line handler returns, before the caller adds the line it got, which would
// leave the new entry behind the position and out of reach of Up and Ctrl-R.
static inline void netrepl_history_add(const char *line) {
    int at_end = where_history() >= history_length;
    add_history(line);
    if (at_end) using_history();
}

#endif
