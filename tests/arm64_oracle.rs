//! The oracle test on linux/arm64 cores (cores/arm64/, written by qemu-user from
//! GOARCH=arm64 programs, see cores/generate-arm64.sh): every goroutine's ID, status,
//! wait reason and frames (function, file, line, inlined frames, PC of each physical
//! frame) must equal the Go runtime's own crash traceback, as tests/traceback_oracle.rs
//! checks for amd64. No emulator is needed: the cores are committed.
//!
//! Held-out cores can be added with `COROMER_EXTRA_ARM64=root1:root2`: each root has the
//! layout of cores/arm64 (`go1.NN-MODE/scenarios.zst`, `SCENARIO.core.zst`,
//! `SCENARIO.stderr`); `COROMER_ONLY=TEXT` keeps the cases whose name contains TEXT.

#[path = "support/oracle.rs"]
mod oracle;
#[path = "support/traceback.rs"]
mod traceback;

use coroner::arch::Arch;
use coroner::target::{OpenOptions, Target};
use oracle::compare_goroutine;
use std::path::{Path, PathBuf};

struct Case {
    name: String,
    binary: PathBuf,
    core: PathBuf,
    stderr: PathBuf,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/arm64")
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut roots = vec![root()];
    if let Ok(extra) = std::env::var("COROMER_EXTRA_ARM64") {
        roots.extend(
            extra
                .split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
        );
    }
    let mut dirs: Vec<PathBuf> = roots
        .iter()
        .filter_map(|r| std::fs::read_dir(r).ok())
        .flat_map(|rd| rd.flatten().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let binary = dir.join("scenarios.zst");
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        files.sort();
        for p in files {
            let n = p
                .file_name()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string();
            let Some(stem) = n.strip_suffix(".core.zst") else {
                continue;
            };
            let d = dir.file_name().and_then(|s| s.to_str()).unwrap_or("?");
            out.push(Case {
                name: format!("{d}/{stem}"),
                binary: binary.clone(),
                core: p.clone(),
                stderr: dir.join(format!("{stem}.stderr")),
            });
        }
    }
    out
}

fn open(c: &Case) -> Result<Target, String> {
    Target::open(&OpenOptions {
        binary: c.binary.clone(),
        core: c.core.clone(),
        force: false,
    })
    .map_err(|e| format!("open failed: {e}"))
}

fn check_case(c: &Case) -> Result<usize, Vec<String>> {
    let text = std::fs::read_to_string(&c.stderr).map_err(|e| vec![e.to_string()])?;
    let tb = traceback::parse(&text).map_err(|e| vec![format!("{e:?}")])?;
    let t = open(c).map_err(|e| vec![e])?;
    let minor = t.runtime().version.minor;
    let mut problems = Vec::new();
    if t.snapshot().arch() != Arch::Arm64 || t.binary().arch() != Arch::Arm64 {
        problems.push("core or binary not read as arm64".to_string());
    }
    let mut compared = 0;
    let mut seen = std::collections::HashSet::new();
    for tg in tb.goroutines.iter().filter(|g| g.id != 0) {
        if !seen.insert(tg.id) && tg.frames.is_empty() {
            continue;
        }
        compared += 1;
        compare_goroutine(&t, tg, minor, &mut problems);
    }
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
fn arm64_goroutines_and_stacks_match_the_runtime_traceback() {
    let cases = cases();
    assert!(
        cases.len() >= 40,
        "expected the arm64 fixtures under {} (cores/generate-arm64.sh), found {}",
        root().display(),
        cases.len()
    );
    let only = std::env::var("COROMER_ONLY").ok();
    let mut failures = Vec::new();
    let (mut checked, mut total) = (0, 0);
    for c in &cases {
        if only.as_deref().is_some_and(|o| !c.name.contains(o)) {
            continue;
        }
        checked += 1;
        let before = oracle::frame_counts();
        let r = check_case(c);
        let after = oracle::frame_counts();
        let frames = format!(
            "{} frames, {} equal",
            after.0 - before.0,
            after.1 - before.1
        );
        match r {
            Ok(n) => {
                total += n;
                eprintln!("ok   {}: {n} goroutines, {frames}", c.name);
            }
            Err(p) => {
                eprintln!("FAIL {}: {} problems, {frames}", c.name, p.len());
                failures.push((c.name.clone(), p));
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
        "{} of {checked} arm64 cores differ from the runtime's traceback",
        failures.len()
    );
    let (frames, equal) = oracle::frame_counts();
    eprintln!("{checked} arm64 cores, {total} goroutines match, {frames} frames, {equal} equal");
    assert!(total > 0);
}

/// Every thread of a qemu core carries arm64 registers; each is matched to its M (by
/// m.procid: qemu writes no NT_ARM_TLS), and the thread that aborted is in
/// runtime.raise, the dying M's frames walking out to the goroutine that crashed.
#[test]
fn arm64_threads_have_registers_and_ms() {
    let Some(c) = cases()
        .into_iter()
        .find(|c| c.name.ends_with("go1.22-opt/panic_main"))
    else {
        panic!("cores/arm64/go1.22-opt/panic_main.core.zst is missing");
    };
    let t = match open(&c) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    let threads = t.snapshot().threads();
    assert!(!threads.is_empty());
    for th in threads {
        let r = th.arm64.as_ref().expect("arm64 registers on every thread");
        assert_eq!(th.pc(), r.pc);
        assert_eq!(th.sp(), r.sp);
        assert_eq!(th.regs, coroner::snapshot::Registers::default());
        let names: Vec<&str> = th.named_regs().iter().map(|(n, _)| *n).collect();
        assert_eq!(names.len(), 33);
        assert_eq!(&names[..3], &["PC", "SP", "X0"]);
        assert!(
            t.thread_context(th.tid).is_some_and(|ctx| !ctx.m.is_null()),
            "thread {} has no M",
            th.tid
        );
    }
    let dying = threads
        .iter()
        .find(|th| th.signal == 6)
        .expect("a thread with SIGABRT");
    let st = t.thread_stack(dying, 64);
    let names: Vec<&str> = st.frames.iter().map(|f| f.function.as_str()).collect();
    assert_eq!(names.first(), Some(&"runtime.raise"), "{names:?}");
    assert!(names.contains(&"main.applyLimit"), "{names:?}");
    assert_eq!(names.last(), Some(&"runtime.goexit"), "{names:?}");
}
