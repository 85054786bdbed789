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

#[path = "support/traceback.rs"]
mod traceback;

use coroner::goruntime::G_RUNNING;
use coroner::target::{OpenOptions, Target};
use std::path::{Path, PathBuf};
use traceback::{TbFrame, TbGoroutine, Traceback};

struct Case {
    dir: PathBuf,
    binary: PathBuf,
    core: PathBuf,
    stderr: PathBuf,
}

fn fixture_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/fixtures");
    if let Ok(rd) = std::fs::read_dir(&root) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                dirs.push(e.path());
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

/// Function names as the runtime prints them: runtime.gopanic is "panic", and the
/// type arguments of generic functions are "...".
fn norm_func(name: &str) -> String {
    let name = if name == "runtime.gopanic" {
        "panic"
    } else {
        name
    };
    let mut out = String::new();
    let mut depth = 0;
    for c in name.chars() {
        match c {
            '[' => {
                if depth == 0 {
                    out.push_str("[...]");
                }
                depth += 1;
            }
            ']' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
struct Fr {
    function: String,
    file: String,
    line: u32,
    pc: Option<u64>,
}

impl std::fmt::Display for Fr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}:{}", self.function, self.file, self.line)?;
        if let Some(pc) = self.pc {
            write!(f, " pc={pc:#x}")?;
        }
        Ok(())
    }
}

fn tb_frame(f: &TbFrame) -> Fr {
    Fr {
        function: norm_func(&f.function),
        file: f.file.clone(),
        line: f.line,
        pc: if f.inlined { None } else { f.pc },
    }
}

fn frames_equal(ours: &Fr, theirs: &Fr) -> bool {
    ours.function == theirs.function
        && ours.file == theirs.file
        && ours.line == theirs.line
        && (theirs.pc.is_none() || ours.pc == theirs.pc)
}

fn go_minor(tb_text: &str, t: &Target) -> u32 {
    let _ = tb_text;
    t.runtime().version.minor
}

/// Compare one goroutine; push human-readable problems.
fn compare_goroutine(t: &Target, tg: &TbGoroutine, minor: u32, problems: &mut Vec<String>) {
    let Some(g) = t.goroutine(tg.id) else {
        problems.push(format!("goroutine {} missing", tg.id));
        return;
    };
    let status = g.traceback_status();
    if status != tg.status {
        problems.push(format!(
            "goroutine {}: status {:?}, runtime says {:?}",
            tg.id, status, tg.status
        ));
    }
    if g.locked_to_thread != tg.locked_to_thread {
        problems.push(format!(
            "goroutine {}: locked_to_thread {}, runtime says {}",
            tg.id, g.locked_to_thread, tg.locked_to_thread
        ));
    }
    if let Some(cb) = &tg.created_by {
        let pcln = t.pclntab();
        let gopc = g.gopc.sub(t.bias());
        match pcln.func_for_pc(gopc) {
            Some(f) => {
                let (file, line) = pcln
                    .file_line(&f, gopc.sub(1))
                    .map(|(a, b)| (a.to_string(), b))
                    .unwrap_or_default();
                let ours = Fr {
                    function: norm_func(pcln.name(&f)),
                    file,
                    line,
                    pc: None,
                };
                let theirs = Fr {
                    function: norm_func(&cb.function),
                    file: cb.file.clone(),
                    line: cb.line,
                    pc: None,
                };
                if ours != theirs {
                    problems.push(format!(
                        "goroutine {}: created by {ours}, runtime says {theirs}",
                        tg.id
                    ));
                }
            }
            None => problems.push(format!(
                "goroutine {}: gopc {} not in a function",
                tg.id, g.gopc
            )),
        }
        if let (Some(p), Some(want)) = (g.parent_goid, tg.created_in_goroutine) {
            if p != want {
                problems.push(format!(
                    "goroutine {}: parent {p}, runtime says {want}",
                    tg.id
                ));
            }
        }
    }
    if tg.frames.is_empty() {
        return;
    }
    let st = t.goroutine_stack(g, 100_000);
    let ours: Vec<Fr> = st
        .frames
        .iter()
        .map(|f| Fr {
            function: norm_func(&f.function),
            file: f.file.clone(),
            line: f.line,
            pc: if f.inlined { None } else { Some(f.pc.get()) },
        })
        .collect();
    let theirs: Vec<Fr> = tg.frames.iter().map(tb_frame).collect();
    let running = g.state() == G_RUNNING || tg.status == "running";
    // Where the runtime's first frame is in ours: 0 for a parked goroutine; for a
    // running one, after coroner's extra inner frames (signal handler, system stack).
    let offset = if running {
        let first = &theirs[0];
        match (0..ours.len()).find(|&i| frames_equal(&ours[i], first)) {
            Some(i) => i,
            None => {
                problems.push(format!(
                    "goroutine {} (running): runtime's innermost frame {first} not in coroner's stack:\n    {}{}",
                    tg.id,
                    ours.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("\n    "),
                    st.error.as_deref().map(|e| format!("\n    (stopped: {e})")).unwrap_or_default()
                ));
                return;
            }
        }
    } else {
        0
    };
    // Elision: Go 1.21+ prints the innermost 50 and the outermost 50 frames; earlier
    // releases print the innermost 100 and stop.
    let (inner, outer): (&[Fr], &[Fr]) = if tg.elided {
        if minor >= 21 {
            let k = 50.min(theirs.len());
            (&theirs[..k], &theirs[k..])
        } else {
            (&theirs[..], &[])
        }
    } else {
        (&theirs[..], &[])
    };
    let ours_after = &ours[offset..];
    let mut bad = false;
    if ours_after.len() < inner.len() {
        bad = true;
    } else {
        for (a, b) in ours_after.iter().zip(inner.iter()) {
            if !frames_equal(a, b) {
                bad = true;
                break;
            }
        }
    }
    if !bad && !outer.is_empty() {
        if ours.len() < outer.len() {
            bad = true;
        } else {
            let tail = &ours[ours.len() - outer.len()..];
            bad = tail
                .iter()
                .zip(outer.iter())
                .any(|(a, b)| !frames_equal(a, b));
        }
    }
    if !tg.elided && !bad && ours_after.len() != inner.len() {
        bad = true;
    }
    if bad {
        problems.push(format!(
            "goroutine {} [{}]: frames differ (offset {offset})\n  coroner:\n    {}{}\n  runtime:\n    {}",
            tg.id,
            tg.status,
            ours.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("\n    "),
            st.error.as_deref().map(|e| format!("\n    (stopped: {e})")).unwrap_or_default(),
            theirs.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("\n    "),
        ));
    }
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
