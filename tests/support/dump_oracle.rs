//! The minidump oracle shared by tests/minidump_linux.rs and tests/minidump_arm64.rs:
//! one dump of a running fixture program against the runtime's own traceback printed
//! on SIGQUIT right after it (or, for a crash dump, just before it).
//!
//! Include it with `#[path = "support/dump_oracle.rs"] mod dump_oracle;` after the
//! `oracle` and `traceback` support modules.
#![allow(dead_code)]

use super::{oracle, traceback};
use coroner::arch::Arch;
use coroner::target::{OpenOptions, Target};
use std::path::PathBuf;

pub struct Case {
    pub tag: String,
    pub binary: PathBuf,
    pub dump: PathBuf,
    pub stderr: PathBuf,
    pub variant: String,
}

impl Case {
    /// Every readable mapping saved (`full`, `full-ctxarm64`: the same memory with
    /// CONTEXT_ARM64 thread contexts, `crash-full`).
    pub fn is_full(&self) -> bool {
        self.variant.starts_with("full") || self.variant == "crash-full"
    }
    /// Written at the crash, the world stopped after the runtime printed it: nothing
    /// moved between the traceback and the dump.
    pub fn is_crash(&self) -> bool {
        self.variant.starts_with("crash")
    }
}

pub fn open(c: &Case) -> Result<Target, String> {
    Target::open(&OpenOptions {
        binary: c.binary.clone(),
        core: c.dump.clone(),
        force: false,
    })
    .map_err(|e| format!("open failed: {e}"))
}

/// Goroutines whose state may have changed between the dump and the SIGQUIT.
pub fn may_have_moved(tg: &traceback::TbGoroutine) -> bool {
    tg.status.starts_with("running")
        || tg.status.starts_with("runnable")
        || tg.status.starts_with("syscall")
        || tg.has_frame("main.spinner")
}

/// Every goroutine the runtime printed against coroner's, strictly; those that may
/// have moved are left out of dumps not taken at the crash, and partial dumps count
/// the goroutines whose g or stack they lack. (compared, unreadable) on success.
pub fn check(c: &Case, arch: Arch) -> Result<(usize, usize), Vec<String>> {
    let text = std::fs::read_to_string(&c.stderr).map_err(|e| vec![e.to_string()])?;
    let tb = traceback::parse(&text).map_err(|e| vec![format!("{e:?}")])?;
    let t = open(c).map_err(|e| vec![e])?;
    if coroner::snapshot::Snapshot::arch(t.snapshot()) != arch {
        return Err(vec![format!("arch {}", t.snapshot().arch())]);
    }
    let minor = t.runtime().version.minor;
    let mut problems = Vec::new();
    let mut compared = 0;
    let mut unreadable = 0;
    for tg in tb.goroutines.iter().filter(|g| g.id != 0) {
        if !c.is_crash() && may_have_moved(tg) {
            continue;
        }
        let Some(g) = t.goroutine(tg.id) else {
            if c.is_full() {
                problems.push(format!("goroutine {} missing", tg.id));
            } else {
                unreadable += 1;
            }
            continue;
        };
        if !c.is_full() {
            let st = t.goroutine_stack(g, 100_000);
            let saved = t.memory().read_u64(g.sched.sp).is_ok();
            if !saved || st.frames.is_empty() {
                unreadable += 1;
                continue;
            }
        }
        compared += 1;
        oracle::compare_goroutine(&t, tg, minor, &mut problems);
    }
    for g in t.goroutines() {
        if g.error.is_none() && !tb.goroutines.iter().any(|tg| tg.id == g.goid) {
            problems.push(format!(
                "coroner reports goroutine {} [{}] that the runtime did not print",
                g.goid,
                g.traceback_status()
            ));
        }
    }
    if c.is_full() && compared < 6 {
        problems.push(format!("only {compared} goroutines compared"));
    }
    if problems.is_empty() {
        Ok((compared, unreadable))
    } else {
        Err(problems)
    }
}
