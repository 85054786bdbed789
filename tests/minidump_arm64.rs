//! Linux arm64 minidumps of running Go programs (cores/minidumps-arm64/, written in a
//! qemu-system-aarch64 Linux by cores/generate-minidumps-arm64.sh in Breakpad's Linux
//! arm64 layout: MDRawContextARM64_Old thread contexts, processor architecture 0x8003)
//! against the runtime's own GOTRACEBACK=all traceback printed on SIGQUIT right after
//! the dumps.
//!
//! As in tests/minidump_linux.rs: goroutines that were running, runnable or in a
//! syscall may have moved between the dump and the SIGQUIT and are left out; every
//! other goroutine must match strictly (status, wait reason, creator, every frame with
//! file, line and PC). Full dumps: every such goroutine is read. Stacks-only and
//! data-segment dumps: those whose runtime.g and stack are in the dump match, the
//! others are counted. `full-ctxarm64` is a full dump written from the same stop in the
//! other arm64 context layout (Windows' and Crashpad's CONTEXT_ARM64, processor
//! architecture 12).
//!
//! Held-out dumps: `COROMER_EXTRA_MINIDUMPS_ARM64=root1:root2`, each directory under a
//! root with the layout of cores/minidumps-arm64/go1.NN-MODE (`live.zst`,
//! `stacks|datasegs|full.dmp.zst`, `service.stderr`); `COROMER_ONLY=TEXT` keeps the
//! cases whose name contains TEXT.

#[path = "support/dump_oracle.rs"]
mod dump_oracle;
#[path = "support/oracle.rs"]
mod oracle;
#[path = "support/traceback.rs"]
mod traceback;
use dump_oracle::{check, open, Case};

use coroner::arch::Arch;
use coroner::repl::{Output, Session};
use coroner::snapshot::minidump::Minidump;
use coroner::snapshot::Snapshot;
use coroner::target::{OpenOptions, Target};
use std::path::{Path, PathBuf};

fn cases() -> Vec<Case> {
    let mut roots = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/minidumps-arm64")];
    if let Ok(extra) = std::env::var("COROMER_EXTRA_MINIDUMPS_ARM64") {
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
    let mut out = Vec::new();
    for d in dirs {
        let tag = d
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for variant in [
            "stacks",
            "datasegs",
            "full",
            "full-ctxarm64",
            "crash-stacks",
            "crash-full",
        ] {
            let dump = d.join(format!("{variant}.dmp.zst"));
            let stderr = if variant.starts_with("crash") {
                "crash.stderr"
            } else {
                "service.stderr"
            };
            if dump.exists() {
                out.push(Case {
                    tag: tag.clone(),
                    binary: d.join("live.zst"),
                    dump,
                    stderr: d.join(stderr),
                    variant: variant.to_string(),
                });
            }
        }
    }
    out
}

#[test]
fn arm64_minidump_goroutines_match_the_runtime_traceback() {
    let cases = cases();
    assert!(
        cases.iter().filter(|c| c.is_full()).count() >= 4,
        "cores/minidumps-arm64: full-memory fixtures missing (cores/generate-minidumps-arm64.sh)"
    );
    assert!(cases.len() >= 8, "cores/minidumps-arm64: fixtures missing");
    let only = std::env::var("COROMER_ONLY").ok();
    let mut failures = Vec::new();
    let mut total = 0;
    let mut full_compared = 0;
    for c in &cases {
        let name = format!("{}/{}", c.tag, c.variant);
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let before = oracle::frame_counts();
        let r = check(c, Arch::Arm64);
        let after = oracle::frame_counts();
        let frames = format!(
            "{} frames, {} equal",
            after.0 - before.0,
            after.1 - before.1
        );
        match r {
            Ok((n, u)) => {
                total += n;
                if c.is_full() {
                    full_compared += n;
                }
                eprintln!("ok   {name}: {n} goroutines match, {u} not in the dump, {frames}");
            }
            Err(p) => {
                eprintln!("FAIL {name}: {} problems, {frames}", p.len());
                failures.push((name, p));
            }
        }
    }
    for (name, p) in &failures {
        eprintln!("\n=== {name}");
        for x in p.iter().take(8) {
            eprintln!("{x}");
        }
    }
    let (frames, equal) = oracle::frame_counts();
    eprintln!("{total} goroutines match, {frames} frames, {equal} equal");
    assert!(
        failures.is_empty(),
        "{} of {} arm64 minidumps differ from the runtime's traceback",
        failures.len(),
        cases.len()
    );
    assert!(total > 0 && (only.is_some() || full_compared >= 12));
}

fn text(o: Output) -> String {
    match o {
        Output::Text(s) => s,
        other => format!("{other:?}"),
    }
}

/// Every thread has its arm64 registers from the dump's context and its M through
/// runtime.allm; the header says what the dump is; `regs` prints arm64 registers.
#[test]
fn arm64_minidump_threads_registers_and_header() {
    let cases = cases();
    let full = cases
        .iter()
        .find(|c| c.variant == "full")
        .expect("a full arm64 minidump");
    let dump = Minidump::open(&full.dump).expect("open the minidump alone");
    assert_eq!(dump.arch(), Arch::Arm64);
    assert!(dump.threads().len() >= 3);
    for th in dump.threads() {
        let r = th.arm64.as_ref().expect("arm64 registers");
        assert!(r.pc != 0 && r.sp != 0, "thread {}: {r:?}", th.tid);
        assert_eq!(th.arch(), Arch::Arm64);
    }
    let t = open(full).expect("open");
    for th in t.threads() {
        let c = t.thread_context(th.tid).expect("thread context");
        assert!(
            !c.m.is_null() && !c.g0.is_null(),
            "thread {}: no M found through runtime.allm",
            th.tid
        );
    }
    let pid = t.snapshot().process().map(|p| p.pid).expect("pid");
    let mut s = Session::new(t);
    let h = s.header();
    assert!(
        h.contains(&format!(
            "Cause:       none: minidump of pid {pid} (live) written on request"
        )),
        "{h}"
    );
    assert!(!h.contains("Warning:"), "a full dump: {h}");
    let regs = text(s.execute("regs"));
    assert!(
        regs.contains("PC") && regs.contains("X28") && !regs.contains("Rip"),
        "{regs}"
    );
    let bt = text(s.execute("bt"));
    assert!(bt.contains("runtime."), "{bt}");
}

/// An amd64 binary given for an arm64 dump is refused, saying why.
#[test]
fn arm64_minidump_with_an_amd64_binary_is_refused() {
    let amd64_of = |c: &Case| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("cores/live-fixtures/{}/live.zst", c.tag))
    };
    let c = cases()
        .into_iter()
        .find(|c| c.variant == "stacks" && amd64_of(c).exists())
        .expect("a stacks arm64 minidump with an amd64 build of the same tag");
    let amd64 = amd64_of(&c);
    let e = Target::open(&OpenOptions {
        binary: amd64,
        core: c.dump.clone(),
        force: false,
    })
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(
        e.contains("the minidump is of an arm64 process") && e.contains("amd64 binary"),
        "{e}"
    );
}

/// On the dumps without the heap, `goroutines` lists what it can and the header says
/// why the others could not be read; the threads and their stacks are all there.
#[test]
fn arm64_partial_minidumps_say_what_is_missing() {
    let mut seen = 0;
    for c in cases().iter().filter(|c| !c.is_full()) {
        let name = format!("{}/{}", c.tag, c.variant);
        let t = open(c).unwrap_or_else(|e| panic!("{name}: {e}"));
        let listed = t.goroutines().len();
        let bad = t.goroutines().iter().filter(|g| g.error.is_some()).count();
        let w = t.warnings().join("\n");
        if listed == 0 {
            assert!(
                w.contains("no goroutine can be listed: the goroutine list is not in the snapshot"),
                "{name}: {w}"
            );
        } else if bad > 0 {
            assert!(
                w.contains(&format!("{bad} of {listed} goroutines could not be read")),
                "{name}: {w}"
            );
        }
        let n = t.threads().len();
        let mut s = Session::new(t);
        let h = s.header();
        assert!(
            h.contains("Warning:     the minidump saved "),
            "{name}: {h}"
        );
        let threads = text(s.execute("threads"));
        assert!(threads.lines().count() >= n.min(3), "{name}: {threads}");
        let bt = text(s.execute("bt"));
        assert!(bt.contains("runtime."), "{name}: {bt}");
        seen += 1;
    }
    assert!(seen >= 2);
}

/// The thread the SIGQUIT landed on is printed as goroutine 0 (its g0's stack, from
/// the signal context). In every dump, stacks-only ones included (the thread stacks
/// are saved, code comes from the binary), the thread whose stack pointer and PC are
/// those of that traceback's innermost frame had not moved: its stack from the dump's
/// registers must begin with exactly the runtime's frames (function, file, line, PC).
#[test]
fn arm64_minidump_thread_stacks_match_goroutine_0() {
    let mut matched = 0;
    let mut frames = 0;
    let mut problems = Vec::new();
    for c in &cases() {
        let name = format!("{}/{}", c.tag, c.variant);
        let text = std::fs::read_to_string(&c.stderr).expect("read the traceback");
        let tb = traceback::parse(&text).expect("parse the traceback");
        // The first system stack: goroutine 0's, printed first (SIGQUIT on an idle M).
        let Some(g0) = tb.system_stacks.first() else {
            continue;
        };
        let Some(first) = g0.iter().find(|f| !f.inlined) else {
            continue;
        };
        let t = open(c).unwrap_or_else(|e| panic!("{name}: {e}"));
        let Some(th) = t
            .threads()
            .iter()
            .find(|th| Some(th.sp()) == first.sp && Some(th.pc()) == first.pc)
        else {
            eprintln!("{name}: no thread at the SIGQUIT's sp/pc (it moved)");
            continue;
        };
        let st = t.thread_stack(th, 1000);
        let ours: Vec<oracle::Fr> = st
            .frames
            .iter()
            .map(|f| oracle::Fr {
                function: oracle::norm_func(&f.function),
                file: f.file.clone(),
                line: f.line,
                pc: if f.inlined { None } else { Some(f.pc.get()) },
            })
            .collect();
        let theirs: Vec<oracle::Fr> = g0.iter().map(oracle::tb_frame).collect();
        let equal = ours
            .iter()
            .zip(&theirs)
            .filter(|(a, b)| oracle::frames_equal(a, b))
            .count();
        eprintln!(
            "{name}: thread {} ({} frames of the runtime's, {equal} equal)",
            th.tid,
            theirs.len()
        );
        frames += theirs.len();
        if equal != theirs.len() || ours.len() < theirs.len() {
            problems.push(format!(
                "{name}: thread {}:\n  ours:   {}\n  theirs: {}",
                th.tid,
                ours.iter()
                    .map(|f| f.to_string())
                    .collect::<Vec<_>>()
                    .join("\n          "),
                theirs
                    .iter()
                    .map(|f| f.to_string())
                    .collect::<Vec<_>>()
                    .join("\n          ")
            ));
        } else {
            matched += 1;
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    eprintln!("{matched} threads match goroutine 0, {frames} frames");
    assert!(
        matched >= 3,
        "only {matched} dumps had the SIGQUIT thread unmoved"
    );
}

/// Both arm64 context layouts, written from the same ptrace stop: Breakpad's
/// MDRawContextARM64_Old (architecture 0x8003) in `full`, CONTEXT_ARM64 (12) in
/// `full-ctxarm64`; coroner reads the same registers from both.
#[test]
fn arm64_context_layouts_give_the_same_registers() {
    use minidump::{MinidumpRawContext, MinidumpSystemInfo, MinidumpThreadList};
    let cases = cases();
    let mut pairs = 0;
    for new in cases.iter().filter(|c| c.variant == "full-ctxarm64") {
        let Some(old) = cases
            .iter()
            .find(|c| c.variant == "full" && c.dump.parent() == new.dump.parent())
        else {
            continue;
        };
        let kinds = |c: &Case| {
            let bytes = zstd::decode_all(std::fs::read(&c.dump).expect("read").as_slice())
                .expect("decompress");
            let md = minidump::Minidump::read(bytes).expect("parse");
            let sys: MinidumpSystemInfo = md.get_stream().expect("system info");
            let list: MinidumpThreadList = md.get_stream().expect("thread list");
            let k: Vec<&'static str> = list
                .threads
                .iter()
                .map(|t| match t.context(&sys, None) {
                    Some(c) => match &c.raw {
                        MinidumpRawContext::Arm64(_) => "CONTEXT_ARM64",
                        MinidumpRawContext::OldArm64(_) => "CONTEXT_ARM64_OLD",
                        _ => "other",
                    },
                    None => "none",
                })
                .collect();
            (sys.raw.processor_architecture, k)
        };
        let (arch_old, k_old) = kinds(old);
        let (arch_new, k_new) = kinds(new);
        assert_eq!(arch_old, 0x8003);
        assert_eq!(arch_new, 12);
        assert!(k_old.iter().all(|k| *k == "CONTEXT_ARM64_OLD"), "{k_old:?}");
        assert!(k_new.iter().all(|k| *k == "CONTEXT_ARM64"), "{k_new:?}");
        let a = Minidump::open(&old.dump).expect("open full");
        let b = Minidump::open(&new.dump).expect("open full-ctxarm64");
        let regs = |d: &Minidump| -> Vec<(u32, Option<coroner::snapshot::Arm64Registers>)> {
            d.threads()
                .iter()
                .map(|t| (t.tid, t.arm64.clone()))
                .collect()
        };
        assert_eq!(regs(&a), regs(&b));
        assert!(regs(&a)
            .iter()
            .all(|(_, r)| r.as_ref().is_some_and(|r| r.pc != 0)));
        pairs += 1;
    }
    assert!(pairs >= 1, "no full-ctxarm64 dump beside a full one");
}

/// A dump written at the crash (exception stream: SIGABRT raised by the runtime with
/// tgkill, si_code SI_TKILL) names the cause as the runtime printed it first: the
/// SIGABRT its handler caught ("SIGABRT: abort", "PC=... m=N sigcode=N"), read from
/// the signal frame on the handling thread's gsignal stack.
#[test]
fn arm64_crash_minidump_cause_is_what_the_runtime_printed_first() {
    let mut seen = 0;
    let mut full = 0;
    for c in cases().iter().filter(|c| c.is_crash()) {
        let name = format!("{}/{}", c.tag, c.variant);
        let text = std::fs::read_to_string(&c.stderr).expect("read the traceback");
        let want: Vec<String> = text
            .lines()
            .take_while(|l| !l.trim().is_empty())
            .map(String::from)
            .collect();
        let t = open(c).unwrap_or_else(|e| panic!("{name}: {e}"));
        let sig = t
            .snapshot()
            .signal()
            .cloned()
            .expect("the exception's signal");
        assert_eq!((sig.signo, sig.code), (6, -6), "{name}");
        let crash = t.crash();
        assert!(
            crash
                .final_signal
                .as_deref()
                .is_some_and(|s| s.starts_with("SIGABRT")),
            "{name}: {:?}",
            crash.final_signal
        );
        seen += 1;
        // Strictly on full dumps: without the heap, m.dying (which M caught the
        // signal first; before Go 1.22 the last M raises SIGABRT after catching the
        // relayed SIGQUIT) and m.id are unknown.
        if c.is_full() {
            assert_eq!(crash.cause.lines, want, "{name}");
            let h = Session::new(t).header();
            assert!(
                h.contains(&format!("Cause:       {}", want[0])),
                "{name}: {h}"
            );
            full += 1;
        }
    }
    assert!(
        seen >= 4 && full >= 2,
        "crash minidumps missing (crash-stacks, crash-full)"
    );
}
