//! Every key the browser understands; the `?` overlay and docs/browser.md list these.

pub const HELP: &[(&str, &str)] = &[
    ("q, Ctrl-C", "quit (the terminal is restored)"),
    ("?", "this help"),
    ("Tab / Shift-Tab", "next / previous pane"),
    (
        "Up/Down, k/j",
        "move the selection (source: its line cursor)",
    ),
    ("PgUp/PgDn, Space", "move a page"),
    ("Home / End, G", "first / last row"),
    ("Enter", "expand a group, open a goroutine or a frame"),
    ("", "variables: expand or collapse a value"),
    (
        "Right/l, Left/h",
        "expand / collapse; on a leaf, h goes to its parent",
    ),
    ("Esc", "back: close a view, clear the filter, previous pane"),
    ("/", "filter by state, wait reason, function or label k=v"),
    ("g", "jump to a goroutine by ID"),
    ("c", "jump to the goroutine that crashed"),
    (":", "run any REPL command (same engine as the REPL)"),
    ("O", "command output (scroll with j/k, PgUp/PgDn)"),
    ("T", "threads (Enter: the goroutine a thread runs)"),
    ("R", "registers of the selected thread and frame"),
    ("x, M", "memory hex view at an address or expression"),
    ("mouse wheel", "scroll the pane under the pointer"),
    ("mouse click", "select a row (click it again: Enter)"),
];

/// The keys a live process adds (`coroner exec/debug/test/attach` on a terminal); they
/// come first in its help, and replace the core-only `c` and `q, Ctrl-C` lines.
pub const LIVE_HELP: &[(&str, &str)] = &[
    (
        "c",
        "continue (runs until a breakpoint, a signal or the end)",
    ),
    (
        "n / s / o",
        "next / step / stepout on the selected goroutine",
    ),
    (
        "C / N / S / E",
        "backwards (a replay): rewind / rev next / rev step / rev stepout",
    ),
    ("H, Ctrl-C", "halt the running program (it is not killed)"),
    (
        "b",
        "toggle a breakpoint on the source pane's selected line",
    ),
    (
        "L",
        "show a location (file.go:N, a function) in the source pane",
    ),
    ("w", "add a watch expression (re-evaluated at every stop)"),
    ("W, d (watch pane)", "remove the selected watch expression"),
    ("P", "what the launched program printed (stdout and stderr)"),
    (
        "q",
        "quit: kill a launched program; detach from an attached one",
    ),
];

/// The help overlay's lines for a core (`live` false) or a live process.
pub fn help(live: bool) -> Vec<(&'static str, &'static str)> {
    if !live {
        return HELP.to_vec();
    }
    let core_only = ["q, Ctrl-C", "c"];
    LIVE_HELP
        .iter()
        .chain(HELP.iter().filter(|(k, _)| !core_only.contains(k)))
        .copied()
        .collect()
}
