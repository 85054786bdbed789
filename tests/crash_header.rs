//! The crash header (what killed the process) against the runtime's own words: the
//! `panic: ...` / `fatal error: ...` / `[signal ...]` lines it printed before dumping
//! core, and the goroutine it printed first (the one running on the crashing M).

#[path = "support/traceback.rs"]
mod traceback;

use coroner::target::{OpenOptions, Target};
use std::path::{Path, PathBuf};

fn fixtures() -> Vec<(PathBuf, PathBuf, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/fixtures");
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(&root) else {
        return out;
    };
    let mut dirs: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    dirs.sort();
    for d in dirs {
        let bin = d.join("scenarios.zst");
        for s in [
            "panic_main",
            "nil_goroutine",
            "generics_closures",
            "deep_recursion",
            "deadlock",
            "concurrent_map_writes",
        ] {
            let core = d.join(format!("{s}.core.zst"));
            let err = d.join(format!("{s}.stderr"));
            if bin.exists() && core.exists() && err.exists() {
                out.push((bin.clone(), core, err));
            }
        }
    }
    out
}

#[test]
fn crash_header_matches_what_the_runtime_printed() {
    let cases = fixtures();
    let mut problems = Vec::new();
    for (bin, core, err) in &cases {
        let text = std::fs::read_to_string(err).unwrap_or_default();
        let name = core.display().to_string();
        let t = match Target::open(&OpenOptions {
            binary: bin.clone(),
            core: core.clone(),
            force: std::env::var("COROMER_FORCE").is_ok(),
        }) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        let c = t.crash();
        // The process was killed by the signal the runtime raised to dump core.
        if c.signal.is_none() {
            problems.push(format!("{name}: no signal"));
        }
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("panic: ") {
                // The runtime appends " [recovered]" and goexit notes; compare the value.
                let v = v.trim_end_matches(" [recovered]");
                if !c.panics.iter().any(|p| p == v) {
                    problems.push(format!("{name}: panic {v:?} not in {:?}", c.panics));
                }
            }
            if let Some(v) = line.strip_prefix("fatal error: ") {
                if c.fatal.as_deref() != Some(v) {
                    problems.push(format!(
                        "{name}: fatal error {v:?}, coroner says {:?}",
                        c.fatal
                    ));
                }
            }
            if let Some(v) = line.strip_prefix("[signal ") {
                let v = v.trim_end_matches(']');
                if c.go_signal.as_deref() != Some(v) {
                    problems.push(format!(
                        "{name}: signal {v:?}, coroner says {:?}",
                        c.go_signal
                    ));
                }
            }
        }
        if let Ok(tb) = traceback::parse(&text) {
            if let Some(first) = tb.crashing {
                if text.starts_with("panic: ") && c.goroutine != Some(first) {
                    problems.push(format!(
                        "{name}: crashing goroutine {:?}, runtime printed {first} first",
                        c.goroutine
                    ));
                }
            }
        }
        let want = t.runtime().version.raw.clone();
        if c.go_version.as_deref() != Some(want.as_str()) || !want.starts_with("go1.") {
            problems.push(format!("{name}: go version {:?}", c.go_version));
        }
    }
    for p in &problems {
        eprintln!("{p}");
    }
    assert!(
        problems.is_empty(),
        "{} crash header mismatches",
        problems.len()
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/fixtures");
    assert!(!root.exists() || !cases.is_empty(), "no fixture checked");
}
