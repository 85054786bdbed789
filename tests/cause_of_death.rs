//! The cause of death against the runtime's own words. With `GOTRACEBACK=crash` the
//! kernel's record always says SIGABRT (the runtime raises it after its report), so the
//! truth is what the runtime printed first: every line of each fixture's `.stderr`
//! before its first blank line ("SIGQUIT: quit" then "PC=... m=N sigcode=N"; "panic: ..."
//! then "[signal ...]"; "fatal error: ..."). A gcore'd core (`core_kind: gcore`) was
//! written from the running process: the traceback in its `.stderr` came after, from a
//! SIGQUIT sent once the core was taken, so nothing had killed the process yet.
//! The linux/arm64 cores of cores/arm64 (qemu-user's) are checked the same way.

#[path = "support/traceback.rs"]
mod traceback;

use coroner::repl::format::crash_header;
use coroner::target::{CauseKind, OpenOptions, Target};
use std::path::{Path, PathBuf};

struct Case {
    bin: PathBuf,
    core: PathBuf,
    stderr: String,
    meta: serde_json::Value,
}

/// Every fixture core of every version, mode and scenario that has its traceback.
fn cases() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cores");
    let mut out = Vec::new();
    // amd64 kernel and gcore cores, and the arm64 cores qemu-user wrote (same layout).
    let mut dirs: Vec<PathBuf> = ["fixtures", "arm64"]
        .iter()
        .filter_map(|d| std::fs::read_dir(root.join(d)).ok())
        .flat_map(|rd| rd.flatten().map(|e| e.path()))
        .collect();
    dirs.sort();
    for d in dirs {
        let bin = d.join("scenarios.zst");
        let Ok(files) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut cores: Vec<PathBuf> = files
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".core.zst"))
            .collect();
        cores.sort();
        for core in cores {
            let stem = core
                .to_string_lossy()
                .trim_end_matches(".core.zst")
                .to_string();
            let (Ok(stderr), Ok(json)) = (
                std::fs::read_to_string(format!("{stem}.stderr")),
                std::fs::read_to_string(format!("{stem}.json")),
            ) else {
                continue;
            };
            let meta = serde_json::from_str(&json).unwrap_or(serde_json::Value::Null);
            out.push(Case {
                bin: bin.clone(),
                core,
                stderr,
                meta,
            });
        }
    }
    out
}

/// The runtime's first report: its lines up to the first blank one.
fn first_block(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn cause_of_death_is_what_the_runtime_printed_first() {
    let cases = cases();
    let mut problems = Vec::new();
    let (mut signals, mut panics, mut fatals, mut running) = (0, 0, 0, 0);
    for case in &cases {
        let name = case.core.display().to_string();
        let t = match Target::open(&OpenOptions {
            binary: case.bin.clone(),
            core: case.core.clone(),
            force: false,
        }) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        // The built-in m.dying offset (stripped binaries) must be DWARF's.
        if let Some(d) = t.dwarf().and_then(|d| d.field_offset("runtime.m", "dying")) {
            if d != t.runtime().layouts.m.id + 36 {
                problems.push(format!("{name}: m.dying at {d:#x} in DWARF"));
            }
        }
        let c = t.crash();
        let header = crash_header(c, t.warnings());
        let gcore = case.meta["core_kind"].as_str() == Some("gcore");
        if gcore {
            running += 1;
            if c.cause.kind != CauseKind::Running || c.final_signal.is_some() {
                problems.push(format!(
                    "{name}: written from a running process, coroner says {:?} / {:?}",
                    c.cause.lines, c.final_signal
                ));
            }
            if !header.starts_with("Cause:       none") || header.contains("SIGSTOP: stop") {
                problems.push(format!("{name}: gcore header:\n{header}"));
            }
            continue;
        }
        let want = first_block(&case.stderr);
        match c.cause.kind {
            CauseKind::Signal => signals += 1,
            CauseKind::Panic => panics += 1,
            CauseKind::Fatal => fatals += 1,
            _ => {}
        }
        if c.cause.lines != want {
            problems.push(format!(
                "{name}: runtime printed {want:?}, coroner says {:?}",
                c.cause.lines
            ));
        }
        // The header shows the same lines, the first one labelled.
        for (i, l) in want.iter().enumerate() {
            let label = if i == 0 { "Cause:" } else { "" };
            let line = format!("{label:<13}{}", l.trim_start());
            if !header.lines().any(|h| h == line) {
                problems.push(format!("{name}: header lacks {line:?}:\n{header}"));
            }
        }
        // The final signal is named separately: the one that ended the process.
        let exit = case.meta["exit_signal"].as_str().unwrap_or("?");
        let final_name = c.final_signal.as_deref().unwrap_or("none");
        if !final_name.starts_with(&format!("{exit}:")) {
            problems.push(format!(
                "{name}: final signal {final_name}, fixture says {exit}"
            ));
        }
        // The runtime then printed the goroutine the handling M was running (or its
        // idle g0, goroutine 0): the header's goroutine.
        if let Ok(tb) = traceback::parse(&case.stderr) {
            if let Some(first) = tb.crashing {
                let got = c.goroutine.unwrap_or(0);
                if want.first().is_some_and(|l| !l.starts_with("fatal error:")) && got != first {
                    problems.push(format!(
                        "{name}: goroutine {got}, runtime printed goroutine {first} first"
                    ));
                }
            }
        }
        // The sigquit scenarios signal themselves (kill(getpid(), SIGQUIT)).
        if case.meta["scenario"].as_str() == Some("sigquit_service") {
            let pid = t.snapshot().process().map(|p| p.pid);
            match c.cause.sender {
                Some(s) if s.itself && Some(s.pid) == pid => {}
                other => problems.push(format!(
                    "{name}: sender {other:?}, the process ({pid:?}) sent it itself"
                )),
            }
        }
    }
    for p in &problems {
        eprintln!("{p}");
    }
    eprintln!(
        "{} cores: {signals} caught signals, {panics} panics, {fatals} fatal errors, {running} running",
        cases.len()
    );
    assert!(
        problems.is_empty(),
        "{} cause-of-death mismatches",
        problems.len()
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/fixtures");
    if root.exists() {
        // Every kind of death the corpus holds was checked.
        assert!(
            signals > 0 && panics > 0 && fatals > 0 && running > 0,
            "corpus incomplete"
        );
    }
}
