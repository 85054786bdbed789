//! C frames in cgo programs (cores/cgo/, made by cores/generate-cgo.sh from
//! cores/cgo-scenarios/). On every core:
//!
//! - every goroutine that was in C (a `main._Cfunc_` frame in the runtime's traceback)
//!   has its C frames first, then `runtime.asmcgocall`, then Go frames equal to the
//!   runtime's traceback (function, file, line, PC): no gap;
//! - its C frames equal gdb's for the same thread (`SCENARIO.gdb.txt`: PCs and
//!   names; file:line for the fixture's own C code, also checked against the source);
//!   libc frames are named when the libc on this machine is the build the process had
//!   (its build ID), else shown as `(libc.so.6+0x…)`: the test says which it checked;
//! - the thread's own stack ends with the goroutine's stack;
//! - a callback from C into Go (`callback`) runs cgocallback → crosscall2 → the C
//!   callers → asmcgocall → cgocall without a gap;
//! - every other goroutine still matches the runtime's traceback.

#[path = "support/oracle.rs"]
mod oracle;
#[path = "support/traceback.rs"]
mod traceback;

use coroner::target::{OpenOptions, Target};
use coroner::unwind::Frame;
use oracle::{compare_goroutine, frames_equal, norm_func, tb_frame, Fr};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use traceback::TbGoroutine;

/// One frame of gdb_frames.py's output.
#[derive(Debug, Clone)]
struct GdbFrame {
    pc: u64,
    kind: String,
    function: String,
    file: String,
    line: u32,
}

/// `thread LWP` / `frame N PC KIND FUNCTION FILE LINE` lines after `---- frames ----`.
fn parse_gdb(text: &str) -> HashMap<u32, Vec<GdbFrame>> {
    let mut out: HashMap<u32, Vec<GdbFrame>> = HashMap::new();
    let mut cur = None;
    let body = text.split("---- frames ----").nth(1).unwrap_or("");
    for line in body.lines() {
        let w: Vec<&str> = line.split(' ').collect();
        match w.as_slice() {
            ["thread", tid] => cur = tid.parse().ok(),
            ["frame", _, pc, kind, function, file, line] => {
                let (Some(tid), Ok(pc)) =
                    (cur, u64::from_str_radix(pc.trim_start_matches("0x"), 16))
                else {
                    continue;
                };
                out.entry(tid).or_default().push(GdbFrame {
                    pc,
                    kind: kind.to_string(),
                    function: function.to_string(),
                    file: file.to_string(),
                    line: line.parse().unwrap_or(0),
                });
            }
            _ => {}
        }
    }
    out
}

/// libc's internal aliases (`__GI___clock_nanosleep`, `__libc_read`) as the exported
/// name in .dynsym (`clock_nanosleep`, `read`).
fn public_name(name: &str) -> &str {
    let mut n = name;
    loop {
        let m = n
            .strip_prefix("__GI_")
            .or_else(|| n.strip_prefix('_'))
            .or_else(|| n.strip_prefix("libc_"))
            .unwrap_or(n);
        if m == n {
            return n;
        }
        n = m;
    }
}

/// The line of cfuncs.c holding `needle`.
fn source_line(src: &str, needle: &str) -> u32 {
    let i = src.lines().position(|l| l.contains(needle));
    let i = i.unwrap_or_else(|| panic!("cfuncs.c has no line with {needle:?}"));
    i as u32 + 1
}

struct Case {
    dir: PathBuf,
    binary: PathBuf,
    core: PathBuf,
    scenario: String,
}

fn cases() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/cgo");
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(&root) else {
        return out;
    };
    let mut dirs: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let binary = dir.join("cgoscenarios.zst");
        for s in ["crash_in_c", "blocked_in_c", "callback"] {
            let core = dir.join(format!("{s}.core.zst"));
            if core.exists() && binary.exists() {
                out.push(Case {
                    dir: dir.clone(),
                    binary: binary.clone(),
                    core,
                    scenario: s.to_string(),
                });
            }
        }
    }
    out
}

fn fr(f: &Frame) -> Fr {
    Fr {
        function: norm_func(&f.function),
        file: f.file.clone(),
        line: f.line,
        pc: if f.inlined { None } else { Some(f.pc.get()) },
    }
}

fn show(frames: &[Frame]) -> String {
    frames
        .iter()
        .map(|f| {
            format!(
                "{:#x} {} {}:{} ({:?})",
                f.pc.get(),
                f.function,
                f.file,
                f.line,
                f.source
            )
        })
        .collect::<Vec<_>>()
        .join("\n    ")
}

/// Checks of one case; what it verified goes to `notes`.
struct Check<'a> {
    t: &'a Target,
    gdb: HashMap<u32, Vec<GdbFrame>>,
    src: String,
    problems: Vec<String>,
    notes: Vec<String>,
}

impl Check<'_> {
    fn fail(&mut self, what: String) {
        self.problems.push(what);
    }

    /// The Go frames after the C part equal the runtime's; returns the index of
    /// asmcgocall in `ours`.
    fn go_part(&mut self, tg: &TbGoroutine, ours: &[Frame]) -> Option<usize> {
        let Some(p) = ours.iter().position(|f| f.function == "runtime.asmcgocall") else {
            self.fail(format!(
                "goroutine {}: no runtime.asmcgocall in\n    {}",
                tg.id,
                show(ours)
            ));
            return None;
        };
        // The runtime shows systemstack_switch where asmcgocall switched stacks (and
        // no C frames); coroner shows the C frames and asmcgocall instead.
        let cgo = |f: &Frame| {
            f.func_entry.is_none()
                || f.function == "runtime.asmcgocall"
                || f.function == "crosscall2"
        };
        let mine: Vec<Fr> = ours.iter().filter(|f| !cgo(f)).map(fr).collect();
        let theirs: Vec<Fr> = tg
            .frames
            .iter()
            .filter(|f| f.function != "runtime.systemstack_switch")
            .map(tb_frame)
            .collect();
        let Some(first) = theirs.first() else {
            return Some(p);
        };
        let off = (0..mine.len()).find(|&i| frames_equal(&mine[i], first));
        let same = off.is_some_and(|o| {
            mine.len() - o == theirs.len()
                && mine[o..]
                    .iter()
                    .zip(&theirs)
                    .all(|(a, b)| frames_equal(a, b))
        });
        if !same {
            self.fail(format!(
                "goroutine {}: Go frames differ from the runtime's\n  coroner:\n    {}\n  runtime:\n    {}",
                tg.id,
                show(ours),
                theirs.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("\n    ")
            ));
        }
        Some(p)
    }

    /// `ours` (C frames, innermost first, ending at asmcgocall) against gdb's frames
    /// of the same thread from the interrupted C frame to asmcgocall.
    fn c_part_vs_gdb(&mut self, goid: u64, tid: u32, ours: &[Frame]) {
        let Some(g) = self.gdb.get(&tid).cloned() else {
            self.fail(format!("goroutine {goid}: gdb recorded no thread {tid}"));
            return;
        };
        // From the interrupted C frame: after the last signal frame or injected sigpanic.
        let from = g
            .iter()
            .rposition(|f| f.kind == "sigtramp" || f.function == "runtime.sigpanic")
            .map_or(0, |i| i + 1);
        let theirs: Vec<&GdbFrame> = g[from..].iter().filter(|f| f.kind != "inline").collect();
        if theirs.last().map(|f| f.function.as_str()) != Some("runtime.asmcgocall") {
            self.fail(format!(
                "goroutine {goid}: gdb's thread {tid} does not reach asmcgocall"
            ));
            return;
        }
        let libc_named = ours
            .first()
            .and_then(|f| self.t.native().module_at(f.pc))
            .map(|m| m.binary().is_some());
        match libc_named {
            Some(false) => {
                // Another libc here: only the innermost frame's offset form can be
                // checked; unwinding through it needs its .eh_frame.
                eprintln!(
                    "LOUD: goroutine {goid}: the libc on this machine is not the core's build: checking the (libc.so.6+0x...) form only"
                );
                let m = self.t.native().module_at(ours[0].pc);
                let want = m.map(|m| m.offset_name(ours[0].pc)).unwrap_or_default();
                if ours[0].function != want || !want.starts_with('(') {
                    self.fail(format!(
                        "goroutine {goid}: innermost frame {} should read {want}",
                        ours[0].function
                    ));
                }
                if ours[0].pc.get() != theirs[0].pc {
                    self.fail(format!(
                        "goroutine {goid}: innermost pc {:#x}, gdb {:#x}",
                        ours[0].pc.get(),
                        theirs[0].pc
                    ));
                }
                self.notes.push("libc: offset form".into());
                return;
            }
            Some(true) => self.notes.push("libc: named".into()),
            None => {}
        }
        let same_len = ours.len() == theirs.len();
        let mut bad = !same_len;
        for (a, b) in ours.iter().zip(&theirs) {
            let name_ok =
                a.function == b.function || public_name(&a.function) == public_name(&b.function);
            // Lines: for the binary's C code (gdb's file names are as the compiler got
            // them, coroner's are joined with the compilation directory).
            let in_main = self.t.native().module_at(a.pc).is_none();
            let line_ok = !in_main
                || b.file == "?"
                || (a.file.ends_with(b.file.trim_start_matches("./")) && a.line == b.line);
            if a.pc.get() != b.pc || !name_ok || !line_ok {
                bad = true;
            }
        }
        if bad {
            self.fail(format!(
                "goroutine {goid}: C frames differ from gdb's (thread {tid})\n  coroner:\n    {}\n  gdb:\n    {}",
                show(ours),
                theirs
                    .iter()
                    .map(|f| format!("{:#x} {} {}:{}", f.pc, f.function, f.file, f.line))
                    .collect::<Vec<_>>()
                    .join("\n    ")
            ));
        }
    }

    /// A frame of the fixture's C: name and cfuncs.c line (from the source text).
    /// `slack` lines after it are accepted too: gcc -O2 attributes the faulting load
    /// of `crash_deref` to the line after it (gdb agrees, checked above; Delve 1.27
    /// shows the load's own line).
    fn c_frame(&mut self, goid: u64, f: Option<&Frame>, name: &str, needle: &str, slack: u32) {
        let line = source_line(&self.src, needle);
        match f {
            Some(f)
                if f.function == name
                    && f.file.ends_with("/cfuncs.c")
                    && (line..=line + slack).contains(&f.line) => {}
            other => self.fail(format!(
                "goroutine {goid}: expected {name} at cfuncs.c:{line}, got {:?}",
                other.map(|f| (&f.function, &f.file, f.line))
            )),
        }
    }
}

fn check_case(c: &Case) -> Result<Vec<String>, Vec<String>> {
    let text =
        |p: PathBuf| std::fs::read_to_string(&p).map_err(|e| vec![format!("{}: {e}", p.display())]);
    let stderr = text(c.dir.join(format!("{}.stderr", c.scenario)))?;
    let gdb_text = text(c.dir.join(format!("{}.gdb.txt", c.scenario)))?;
    let src = text(Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/cgo-scenarios/cfuncs.c"))?;
    let tb = traceback::parse(&stderr).map_err(|e| vec![format!("{e:?}")])?;
    let t = Target::open(&OpenOptions {
        binary: c.binary.clone(),
        core: c.core.clone(),
        force: false,
    })
    .map_err(|e| vec![format!("open failed: {e}")])?;
    let mut ck = Check {
        t: &t,
        gdb: parse_gdb(&gdb_text),
        src,
        problems: Vec::new(),
        notes: Vec::new(),
    };
    let minor = t.runtime().version.minor;
    let mut in_c = 0;
    let mut seen = std::collections::HashSet::new();
    for tg in &tb.goroutines {
        if tg.id == 0 || (!seen.insert(tg.id) && tg.frames.is_empty()) {
            continue;
        }
        if !tg
            .frames
            .iter()
            .any(|f| f.function.starts_with("main._Cfunc_"))
        {
            compare_goroutine(&t, tg, minor, &mut ck.problems);
            continue;
        }
        in_c += 1;
        let Some(g) = t.goroutine(tg.id) else {
            ck.fail(format!("goroutine {} missing", tg.id));
            continue;
        };
        let st = t.goroutine_stack(g, 1000);
        let Some(p) = ck.go_part(tg, &st.frames) else {
            continue;
        };
        let Some(tid) = g.thread else {
            ck.fail(format!("goroutine {} in C has no thread", tg.id));
            continue;
        };
        // The thread's stack ends with the goroutine's.
        if let Some(th) = t.threads().iter().find(|x| x.tid == tid) {
            let ts = t.thread_stack(th, 1000);
            let key = |f: &Frame| (f.pc, f.sp, f.function.clone());
            let n = st.frames.len();
            let tail_ok = ts.frames.len() >= n
                && ts.frames[ts.frames.len() - n..]
                    .iter()
                    .map(key)
                    .eq(st.frames.iter().map(key));
            if !tail_ok {
                ck.fail(format!(
                    "thread {tid} stack does not end with goroutine {}'s\n  thread:\n    {}\n  goroutine:\n    {}",
                    tg.id,
                    show(&ts.frames),
                    show(&st.frames)
                ));
            }
        }
        let cpart = &st.frames[..=p];
        match c.scenario.as_str() {
            "callback" => {
                let Some(cb) = st
                    .frames
                    .iter()
                    .position(|f| f.function == "runtime.cgocallback")
                else {
                    ck.fail(format!(
                        "goroutine {}: no cgocallback\n    {}",
                        tg.id,
                        show(&st.frames)
                    ));
                    continue;
                };
                let chain: Vec<&str> = st.frames[cb..=p]
                    .iter()
                    .map(|f| f.function.as_str())
                    .collect();
                let ok = chain.len() == 7
                    && chain[..5]
                        == [
                            "runtime.cgocallback",
                            "crosscall2",
                            "goCallback",
                            "call_back_level",
                            "c_call_back",
                        ]
                    && chain[5].starts_with("_cgo_")
                    && chain[5].ends_with("_Cfunc_c_call_back");
                if !ok {
                    ck.fail(format!("goroutine {}: callback chain {chain:?}", tg.id));
                }
                ck.c_frame(
                    tg.id,
                    st.frames.get(cb + 3),
                    "call_back_level",
                    "goCallback(n + 1)",
                    0,
                );
                ck.c_frame(
                    tg.id,
                    st.frames.get(cb + 4),
                    "c_call_back",
                    "call_back_level(n);",
                    0,
                );
                ck.notes.push("callback chain".into());
            }
            _ => {
                ck.c_part_vs_gdb(tg.id, tid, cpart);
                if c.scenario == "crash_in_c" {
                    ck.c_frame(
                        tg.id,
                        cpart.first(),
                        "crash_deref",
                        "SIGSEGV: r->value is NULL",
                        1,
                    );
                    ck.c_frame(
                        tg.id,
                        cpart.get(1),
                        "crash_walk",
                        "crash_deref(r, depth + 1)",
                        0,
                    );
                    ck.c_frame(
                        tg.id,
                        cpart.get(2),
                        "c_crash_entry",
                        "crash_walk(&r, depth)",
                        0,
                    );
                }
            }
        }
    }
    let want = if c.scenario == "blocked_in_c" { 3 } else { 1 };
    if in_c != want {
        ck.fail(format!(
            "{in_c} goroutines in C in the traceback, expected {want}"
        ));
    }
    if ck.problems.is_empty() {
        ck.notes.sort();
        ck.notes.dedup();
        Ok(ck.notes)
    } else {
        Err(ck.problems)
    }
}

#[test]
fn c_frames_match_gdb_and_go_frames_match_the_runtime() {
    let cases = cases();
    // The cores are committed: fewer than 27 means a broken checkout, not a machine
    // that cannot run the test.
    assert!(
        cases.len() >= 27,
        "cores/cgo holds {} cgo cores, 27 expected (cores/generate-cgo.sh makes them)",
        cases.len()
    );
    let mut failures = Vec::new();
    for c in &cases {
        let name = format!(
            "{}/{}",
            c.dir.file_name().and_then(|s| s.to_str()).unwrap_or("?"),
            c.scenario
        );
        match check_case(c) {
            Ok(notes) => eprintln!("ok   {name} ({})", notes.join(", ")),
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
        "{} of {} cgo cores are wrong",
        failures.len(),
        cases.len()
    );
}
