//! Goroutine labels in the REPL: Delve's `Labels:` line and its label filters.

use crate::goruntime::labels::Labels;
use crate::goruntime::Goroutine;

/// The goroutine's labels, empty when it has none.
pub(super) fn of(g: &Goroutine) -> &Labels {
    static NONE: std::sync::OnceLock<Labels> = std::sync::OnceLock::new();
    g.labels
        .as_deref()
        .unwrap_or_else(|| NONE.get_or_init(Labels::default))
}

/// `-with label k=v` / `-with label k`.
pub(super) fn matches(g: &Goroutine, key: &str, value: Option<&str>) -> bool {
    of(g).matches(key, value)
}

/// Delve's writeGoroutineLabels: `PREFIX Labels: ...\n`, nothing when there are none.
pub(super) fn push_line(out: &mut String, g: &Goroutine, prefix: &str) {
    let l = of(g);
    if l.is_empty() {
        return;
    }
    out.push_str(prefix);
    out.push_str(&l.delve_text());
    out.push('\n');
}
