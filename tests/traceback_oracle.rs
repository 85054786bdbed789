//! The oracle test: for every fixture core, coroner's goroutines (IDs, states, wait
//! reasons) and every goroutine's frames (function, file, line, inlined frames, and the
//! PC of each physical frame) must equal what the Go runtime itself printed in its
//! crash traceback just before it dumped the core (`SCENARIO.stderr`).
//!
//! For a goroutine that was running, the runtime printed the stack from the point it
//! was interrupted; coroner unwinds the whole thread (signal handler and system stack
//! included), so the runtime's frames must be the outermost frames of coroner's stack.
//!
//! Extra fixture directories (held-out cores: same layout, `BINARY` + `NAME.core[.zst]`
//! + `NAME.stderr`) can be added with `COROMER_EXTRA_FIXTURES=dir1:dir2`.

#[path = "support/oracle.rs"]
mod oracle;
#[path = "support/traceback.rs"]
mod traceback;

use coroner::target::{OpenOptions, Target};
use oracle::compare_goroutine;
use std::path::{Path, PathBuf};
use traceback::Traceback;

struct Case {
    dir: PathBuf,
    binary: PathBuf,
    core: PathBuf,
    stderr: PathBuf,
}

fn fixture_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    // The main corpus and the labels scenario (cores/generate-labels.sh).
    for sub in ["cores/fixtures", "cores/fixtures-labels"] {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(sub);
        if let Ok(rd) = std::fs::read_dir(&root) {
            for e in rd.flatten() {
                if e.path().is_dir() {
                    dirs.push(e.path());
                }
            }
        }
    }
    if let Ok(extra) = std::env::var("COROMER_EXTRA_FIXTURES") {
        for d in extra.split(':').filter(|s| !s.is_empty()) {
            dirs.push(PathBuf::from(d));
        }
    }
    dirs.sort();
    dirs
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for dir in fixture_dirs() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        files.sort();
        let binary = files
            .iter()
            .find(|p| {
                let n = p.file_name().and_then(|s| s.to_str()).unwrap_or("");
                !n.contains(".core")
                    && !n.ends_with(".stderr")
                    && !n.ends_with(".json")
                    && !n.ends_with(".md")
                    && !n.ends_with(".cmds")
                    && !n.ends_with(".txt")
            })
            .cloned();
        let Some(binary) = binary else {
            continue;
        };
        for p in &files {
            let n = p.file_name().and_then(|s| s.to_str()).unwrap_or("");
            let Some(stem) = n
                .strip_suffix(".core.zst")
                .or_else(|| n.strip_suffix(".core"))
            else {
                continue;
            };
            let stderr = dir.join(format!("{stem}.stderr"));
            if stderr.exists() {
                out.push(Case {
                    dir: dir.clone(),
                    binary: binary.clone(),
                    core: p.clone(),
                    stderr,
                });
            }
        }
    }
    out
}

fn go_minor(tb_text: &str, t: &Target) -> u32 {
    let _ = tb_text;
    t.runtime().version.minor
}

fn check_case(c: &Case) -> Result<usize, Vec<String>> {
    let text = std::fs::read_to_string(&c.stderr).map_err(|e| vec![e.to_string()])?;
    let tb: Traceback = traceback::parse(&text).map_err(|e| vec![format!("{e:?}")])?;
    let t = Target::open(&OpenOptions {
        binary: c.binary.clone(),
        core: c.core.clone(),
        force: std::env::var("COROMER_FORCE").is_ok(),
    })
    .map_err(|e| vec![format!("open failed: {e}")])?;
    let minor = go_minor(&text, &t);
    // A gcore core is taken from a live process before it is sent SIGQUIT for its
    // traceback: goroutines that were running or runnable moved on in between, so
    // only parked goroutines can be compared.
    let meta = std::fs::read_to_string(c.stderr.with_extension("json")).unwrap_or_default();
    let live_snapshot = meta.contains("\"gcore\"");
    let mut problems = Vec::new();
    let mut compared = 0;
    let mut seen = std::collections::HashSet::new();
    for tg in tb.goroutines.iter().filter(|g| g.id != 0) {
        // The crash dump can print a goroutine twice (once by the crashing M, once in
        // the all-goroutines section with no stack); keep the one with frames.
        if !seen.insert(tg.id) && tg.frames.is_empty() {
            continue;
        }
        if live_snapshot && matches!(tg.status.as_str(), "running" | "runnable" | "syscall") {
            continue;
        }
        compared += 1;
        compare_goroutine(&t, tg, minor, &mut problems);
    }
    // Every live goroutine coroner reports must be in the runtime's dump.
    for g in t.goroutines() {
        if !tb.goroutines.iter().any(|tg| tg.id == g.goid) {
            problems.push(format!(
                "coroner reports goroutine {} [{}] that the runtime did not print",
                g.goid,
                g.traceback_status()
            ));
        }
    }
    if problems.is_empty() {
        Ok(compared)
    } else {
        Err(problems)
    }
}

#[test]
fn goroutines_and_stacks_match_the_runtime_traceback() {
    let cases = cases();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/fixtures");
    assert!(
        !cases.is_empty() || !root.exists(),
        "cores/fixtures exists but no fixture case was found"
    );
    let only = std::env::var("COROMER_ONLY").ok();
    let mut failures = Vec::new();
    let mut total = 0;
    let mut checked = 0;
    for c in &cases {
        let name = format!(
            "{}/{}",
            c.dir.file_name().and_then(|s| s.to_str()).unwrap_or("?"),
            c.core.file_name().and_then(|s| s.to_str()).unwrap_or("?")
        );
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        checked += 1;
        match check_case(c) {
            Ok(n) => {
                total += n;
                eprintln!("ok   {name}: {n} goroutines");
            }
            Err(p) => {
                eprintln!("FAIL {name}: {} problems", p.len());
                failures.push((name, p));
            }
        }
    }
    for (name, p) in &failures {
        eprintln!("\n=== {name}");
        for x in p.iter().take(6) {
            eprintln!("{x}");
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} fixture cores differ from the runtime's traceback",
        failures.len()
    );
    eprintln!("{checked} cores, {total} goroutines match");
    assert!(checked == 0 || total > 0);
}
