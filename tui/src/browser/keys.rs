//! Every key the browser understands; the `?` overlay and docs/browser.md list these.

pub const HELP: &[(&str, &str)] = &[
    ("q, Ctrl-C", "quit (the terminal is restored)"),
    ("?", "this help"),
    ("Tab / Shift-Tab", "next / previous pane"),
    ("Up/Down, k/j", "move the selection (source: scroll)"),
    ("PgUp/PgDn, Space", "move a page"),
    ("Home / End, G", "first / last row"),
    ("Enter", "expand a group, open a goroutine or a frame"),
    ("", "variables: expand or collapse a value"),
    (
        "Right/l, Left/h",
        "expand / collapse; on a leaf, h goes to its parent",
    ),
    ("Esc", "back: close a view, clear the filter, previous pane"),
    ("/", "filter by state, wait reason or function, as you type"),
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
