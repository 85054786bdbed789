//! Comparing coroner's goroutines with the runtime's own traceback (the oracle), shared
//! by tests/traceback_oracle.rs (ELF cores) and tests/minidump_linux.rs (minidumps).
//! Used with `#[path = "support/traceback.rs"] mod traceback;` beside it.

#![allow(dead_code)]

use super::traceback::{TbFrame, TbGoroutine};
use coroner::goruntime::G_RUNNING;
use coroner::target::Target;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Frames compared so far and how many of them were equal (the runtime's frames, one
/// by one against coroner's at the same place), for the tests' summaries.
static FRAMES: AtomicUsize = AtomicUsize::new(0);
static FRAMES_EQUAL: AtomicUsize = AtomicUsize::new(0);

/// (frames compared, frames equal) since the test binary started.
pub fn frame_counts() -> (usize, usize) {
    (
        FRAMES.load(Ordering::Relaxed),
        FRAMES_EQUAL.load(Ordering::Relaxed),
    )
}

/// Function names as the runtime prints them: runtime.gopanic is "panic", and the
/// type arguments of generic functions are "...".
pub fn norm_func(name: &str) -> String {
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
pub struct Fr {
    pub function: String,
    pub file: String,
    pub line: u32,
    pub pc: Option<u64>,
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

pub fn tb_frame(f: &TbFrame) -> Fr {
    Fr {
        function: norm_func(&f.function),
        file: f.file.clone(),
        line: f.line,
        pc: if f.inlined { None } else { f.pc },
    }
}

pub fn frames_equal(ours: &Fr, theirs: &Fr) -> bool {
    ours.function == theirs.function
        && ours.file == theirs.file
        && ours.line == theirs.line
        && (theirs.pc.is_none() || ours.pc == theirs.pc)
}

/// Compare one goroutine; push human-readable problems.
pub fn compare_goroutine(t: &Target, tg: &TbGoroutine, minor: u32, problems: &mut Vec<String>) {
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
                FRAMES.fetch_add(theirs.len(), Ordering::Relaxed);
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
    let tail_at = ours.len().saturating_sub(outer.len());
    let equal = ours_after
        .iter()
        .zip(inner.iter())
        .chain(ours[tail_at..].iter().zip(outer.iter()))
        .filter(|(a, b)| frames_equal(a, b))
        .count();
    FRAMES.fetch_add(inner.len() + outer.len(), Ordering::Relaxed);
    FRAMES_EQUAL.fetch_add(equal, Ordering::Relaxed);
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
