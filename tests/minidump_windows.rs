//! Windows amd64 minidumps of a running Go program (cores/windows/, written under wine
//! by cores/generate-minidumps-windows.sh with MiniDumpWriteDump) against the
//! runtime's own traceback of the same instant: the dumper froze every thread, wrote
//! the dumps, then made one idle thread run runtime.abort, so the runtime printed
//! every goroutine of exactly the dumped state (GOTRACEBACK=all).
//!
//! - full dumps (MiniDumpWithFullMemory): every goroutine is read and equals the
//!   runtime's, strictly (status, wait reason, creator, every frame with file, line
//!   and PC); each thread's g is found through its TEB.
//! - normal dumps (MiniDumpNormal: thread stacks, no heap, no data, no TEB): the dump
//!   opens, threads and registers are there, and coroner says what could not be read
//!   and why.
//!
//! Held-out dumps can be added with `COROMER_EXTRA_WINDOWS=root1:root2`: each directory
//! under a root holds `normal.dmp.zst` and/or `full.dmp.zst`, `abort.stderr` and the
//! binary (its `.exe.zst`); `COROMER_ONLY=TEXT` keeps the matching full dumps in the
//! oracle comparison.

#[path = "support/oracle.rs"]
mod oracle;
#[path = "support/traceback.rs"]
mod traceback;

use coroner::repl::{Output, Session};
use coroner::target::{OpenOptions, Target};
use std::path::{Path, PathBuf};

struct Case {
    tag: String,
    binary: PathBuf,
    dump: PathBuf,
    stderr: PathBuf,
    full: bool,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cores")
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(root().join("windows")) else {
        return out;
    };
    let mut dirs: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    dirs.sort();
    for d in dirs.into_iter().filter(|d| d.is_dir()) {
        let tag = d
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (file, full) in [("normal.dmp.zst", false), ("full.dmp.zst", true)] {
            let dump = d.join(file);
            if dump.exists() {
                out.push(Case {
                    tag: tag.clone(),
                    binary: d.join("live.exe.zst"),
                    dump,
                    stderr: d.join("abort.stderr"),
                    full,
                });
            }
        }
    }
    out.extend(extra_cases());
    out
}

/// Dumps under `COROMER_EXTRA_WINDOWS` roots (see the module doc).
fn extra_cases() -> Vec<Case> {
    let mut out = Vec::new();
    let Ok(extra) = std::env::var("COROMER_EXTRA_WINDOWS") else {
        return out;
    };
    let mut dirs: Vec<PathBuf> = extra
        .split(':')
        .filter(|s| !s.is_empty())
        .filter_map(|r| std::fs::read_dir(r).ok())
        .flat_map(|rd| rd.flatten().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for d in dirs {
        let tag = d
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(binary) = std::fs::read_dir(&d).ok().and_then(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().ends_with(".exe.zst"))
        }) else {
            continue;
        };
        for (file, full) in [("normal.dmp.zst", false), ("full.dmp.zst", true)] {
            let dump = d.join(file);
            if dump.exists() {
                out.push(Case {
                    tag: tag.clone(),
                    binary: binary.clone(),
                    dump,
                    stderr: d.join("abort.stderr"),
                    full,
                });
            }
        }
    }
    out
}

fn name(c: &Case) -> String {
    format!("{}/{}", c.tag, if c.full { "full" } else { "normal" })
}

fn open(c: &Case) -> Result<Target, String> {
    Target::open(&OpenOptions {
        binary: c.binary.clone(),
        core: c.dump.clone(),
        force: false,
    })
    .map_err(|e| format!("{}: open failed: {e}", name(c)))
}

fn text(o: Output) -> String {
    match o {
        Output::Text(s) => s,
        other => format!("{other:?}"),
    }
}

/// Every goroutine of every full dump equals the runtime's, and nothing else is
/// listed. Returns the number of goroutines compared.
#[test]
fn full_dumps_match_the_runtime_traceback() {
    let cases = cases();
    assert!(
        cases.len() >= 6,
        "cores/windows: fixtures missing (cores/generate-minidumps-windows.sh)"
    );
    let fulls: Vec<&Case> = cases.iter().filter(|c| c.full).collect();
    assert!(!fulls.is_empty(), "cores/windows: no full dump");
    let only = std::env::var("COROMER_ONLY").ok();
    let mut failures = Vec::new();
    for c in fulls {
        if only.as_deref().is_some_and(|o| !name(c).contains(o)) {
            continue;
        }
        let before = oracle::frame_counts();
        let text = std::fs::read_to_string(&c.stderr).expect("read the traceback");
        let tb = traceback::parse(&text).expect("parse the traceback");
        let t = open(c).unwrap_or_else(|e| panic!("{e}"));
        let minor = t.runtime().version.minor;
        let mut problems = Vec::new();
        let mut compared = 0;
        for tg in tb.goroutines.iter().filter(|g| g.id != 0) {
            compared += 1;
            oracle::compare_goroutine(&t, tg, minor, &mut problems);
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
        if compared < 12 {
            problems.push(format!("only {compared} goroutines in the traceback"));
        }
        let after = oracle::frame_counts();
        eprintln!(
            "{}: {compared} goroutines compared, {} problems, {} frames, {} equal",
            name(c),
            problems.len(),
            after.0 - before.0,
            after.1 - before.1
        );
        if !problems.is_empty() {
            failures.push((name(c), problems));
        }
    }
    for (n, p) in &failures {
        eprintln!("\n=== {n}");
        for x in p.iter().take(8) {
            eprintln!("{x}");
        }
    }
    let (frames, equal) = oracle::frame_counts();
    eprintln!("{frames} frames, {equal} equal");
    assert!(failures.is_empty(), "{} full dumps differ", failures.len());
}

/// Each thread of a full dump has its M and g0 found through the TEB (Go's TLS slot),
/// not only through runtime.allm, and the TEB is the thread's GS base.
#[test]
fn full_dump_threads_find_their_g_through_the_teb() {
    for c in cases().iter().filter(|c| c.full) {
        let t = open(c).unwrap_or_else(|e| panic!("{e}"));
        let threads = t.threads();
        assert!(threads.len() >= 3, "{}: {} threads", name(c), threads.len());
        let mut via_teb = 0;
        for th in threads {
            assert_ne!(
                th.regs.gs_base,
                0,
                "{}: thread {} has no TEB",
                name(c),
                th.tid
            );
            assert!(!th.g_slots.is_empty(), "{}: thread {}", name(c), th.tid);
            let ctx = t.thread_context(th.tid).expect("thread context");
            assert!(
                !ctx.m.is_null() && !ctx.g0.is_null(),
                "{}: thread {}",
                name(c),
                th.tid
            );
            if !ctx.tls_g.is_null() {
                via_teb += 1;
                // The g in TLS runs on this M: g0, gsignal or curg.
                assert!(
                    ctx.tls_g == ctx.g0 || ctx.tls_g == ctx.curg || ctx.tls_g == ctx.gsignal,
                    "{}: thread {}: TLS g {} is none of the M's",
                    name(c),
                    th.tid,
                    ctx.tls_g
                );
            }
        }
        assert_eq!(via_teb, threads.len(), "{}: g through the TEB", name(c));
    }
}

/// A normal dump has the threads and their stacks but no heap and no data: it opens,
/// and says which goroutines could not be read and why.
#[test]
fn normal_dumps_open_and_say_what_is_missing() {
    let normals: Vec<Case> = cases().into_iter().filter(|c| !c.full).collect();
    assert!(normals.len() >= 5, "cores/windows: normal dumps missing");
    for c in &normals {
        let t = open(c).unwrap_or_else(|e| panic!("{e}"));
        let w = t.warnings().join("\n");
        assert!(
            w.contains("the minidump saved ") && w.contains("of writable memory"),
            "{}: {w}",
            name(c)
        );
        let listed = t.goroutines().len();
        let bad = t.goroutines().iter().filter(|g| g.error.is_some()).count();
        if listed == 0 {
            assert!(
                w.contains("no goroutine can be listed: the goroutine list is not in the snapshot"),
                "{}: {w}",
                name(c)
            );
        } else {
            assert!(
                w.contains(&format!("{bad} of {listed} goroutines could not be read")),
                "{}: {w}",
                name(c)
            );
        }
        // Every thread of the process, each with the registers of its context.
        assert!(t.threads().len() >= 3, "{}", name(c));
        for th in t.threads() {
            assert_ne!(th.regs.rsp, 0, "{}: thread {}", name(c), th.tid);
            // The top of each stack was saved.
            t.memory()
                .read_u64(coroner::addr::Addr(th.regs.rsp))
                .unwrap_or_else(|e| panic!("{}: thread {}: {e}", name(c), th.tid));
        }
        let mut s = Session::new(t);
        let threads = text(s.execute("threads"));
        assert!(threads.lines().count() >= 3, "{}: {threads}", name(c));
        eprintln!("{}: {listed} goroutines listed, {bad} unreadable", name(c));
    }
}

/// A MINIDUMP_THREAD's context, read here by hand from the file (the Windows
/// CONTEXT layout), as (tid, teb, rip, rsp, rbp, rax).
fn raw_contexts(dump: &Path) -> Vec<(u32, u64, u64, u64, u64, u64)> {
    let packed = std::fs::read(dump).expect("read dump");
    let v = zstd::decode_all(packed.as_slice()).expect("decompress");
    let u32_at = |o: usize| u32::from_le_bytes(v[o..o + 4].try_into().expect("4 bytes"));
    let u64_at = |o: usize| u64::from_le_bytes(v[o..o + 8].try_into().expect("8 bytes"));
    let (count, dir) = (u32_at(8) as usize, u32_at(12) as usize);
    let list = (0..count)
        .map(|i| dir + 12 * i)
        .find(|&e| u32_at(e) == 3)
        .map(|e| u32_at(e + 8) as usize)
        .expect("a ThreadListStream");
    (0..u32_at(list) as usize)
        .map(|i| {
            let t = list + 4 + 48 * i;
            let ctx = u32_at(t + 44) as usize;
            // CONTEXT: Rax 0x78, Rsp 0x98, Rbp 0xa0, Rip 0xf8.
            (
                u32_at(t),
                u64_at(t + 16),
                u64_at(ctx + 0xf8),
                u64_at(ctx + 0x98),
                u64_at(ctx + 0xa0),
                u64_at(ctx + 0x78),
            )
        })
        .collect()
}

/// `regs` shows each thread's Windows CONTEXT: the values in the file.
#[test]
fn regs_on_a_windows_context() {
    let c = cases()
        .into_iter()
        .find(|c| c.tag == "go1.22-noopt" && !c.full)
        .expect("cores/windows/go1.22-noopt/normal.dmp.zst missing");
    let raw = raw_contexts(&c.dump);
    assert!(raw.len() >= 3);
    let t = open(&c).unwrap_or_else(|e| panic!("{e}"));
    let mut s = Session::new(t);
    for (tid, teb, rip, rsp, rbp, rax) in raw {
        let out = text(s.execute(&format!("thread {tid}")));
        assert!(!out.contains("rror"), "thread {tid}: {out}");
        let regs = text(s.execute("regs"));
        for (reg, v) in [
            ("Rip", rip),
            ("Rsp", rsp),
            ("Rbp", rbp),
            ("Rax", rax),
            ("Gs_base", teb),
        ] {
            let line = regs
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("{reg} ")))
                .unwrap_or_else(|| panic!("thread {tid}: no {reg} in\n{regs}"));
            assert!(
                line.contains(&format!("{v:#018x}")) || line.contains(&format!("{v:#x}")),
                "thread {tid}: {reg} should be {v:#x}: {line}"
            );
        }
    }
}

/// Session commands over a full dump: the goroutine list, a goroutine's stack, the
/// threads, a global.
#[test]
fn session_on_a_full_dump() {
    let c = cases()
        .into_iter()
        .find(|c| c.full)
        .expect("cores/windows: no full dump");
    let t = open(&c).unwrap_or_else(|e| panic!("{e}"));
    let g = t
        .goroutines()
        .iter()
        .find(|g| {
            let st = t.goroutine_stack(g, 100);
            st.frames
                .iter()
                .any(|f| f.function == "main.svcMutexWaiter")
        })
        .map(|g| g.goid)
        .expect("the mutex waiter");
    let pid = t.snapshot().process().map(|p| p.pid).expect("pid");
    let mut s = Session::new(t);
    let h = s.header();
    assert!(h.contains(&format!("pid {pid}")), "{h}");
    assert!(
        !h.contains("Warning:"),
        "a full dump has nothing missing: {h}"
    );
    let gs = text(s.execute("goroutines"));
    assert!(
        gs.contains("main.svcReceiver") || gs.contains("service.go"),
        "{gs}"
    );
    let bt = text(s.execute(&format!("goroutine {g} bt")));
    assert!(
        bt.contains("main.svcMutexWaiter") && bt.contains("service.go:43"),
        "{bt}"
    );
    let th = text(s.execute("threads"));
    assert!(th.lines().count() >= 3, "{th}");
    let p = text(s.execute("print main.Progress"));
    assert!(
        p.trim().parse::<i64>().is_ok_and(|n| n >= 10),
        "main.Progress: {p}"
    );
}

/// Truncated dumps, and a binary of the other operating system, give one-line errors.
#[test]
fn bad_windows_inputs_give_one_line_errors() {
    let c = cases()
        .into_iter()
        .find(|c| c.tag == "go1.19-opt" && !c.full)
        .expect("cores/windows/go1.19-opt/normal.dmp.zst missing");
    let dir = tempfile::tempdir().expect("tempdir");
    let packed = std::fs::read(&c.dump).expect("read dump");
    let plain = zstd::decode_all(packed.as_slice()).expect("decompress");
    let one_line = |core: &Path, binary: &Path| -> String {
        let e = Target::open(&OpenOptions {
            binary: binary.to_path_buf(),
            core: core.to_path_buf(),
            force: false,
        })
        .err()
        .map(|e| e.to_string())
        .unwrap_or_else(|| panic!("{} with {} opened", core.display(), binary.display()));
        assert!(!e.contains('\n'), "{e}");
        e
    };
    let cut = dir.path().join("cut.dmp");
    for n in [3usize, 40, 300, plain.len() / 2] {
        std::fs::write(&cut, &plain[..n]).expect("write");
        match Target::open(&OpenOptions {
            binary: c.binary.clone(),
            core: cut.clone(),
            force: false,
        }) {
            Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
            // The streams come first in wine's files: a late cut keeps them.
            Ok(t) => assert!(!t.warnings().is_empty(), "a cut at {n} had no warning"),
        }
    }
    // Cut inside the system info stream (wine writes it first, at 128): the CPU and
    // OS are unknown.
    std::fs::write(&cut, &plain[..150]).expect("write");
    let e = one_line(&cut, &c.binary);
    assert!(e.contains("cut.dmp is not a readable minidump"), "{e}");
    // A Linux binary with the Windows dump, a Windows binary with a Linux minidump
    // and with an ELF core.
    let linux_bin = root().join("live-fixtures/go1.22-opt/live.zst");
    let e = one_line(&c.dump, &linux_bin);
    assert!(
        e.contains("is a minidump of a Windows process") && e.contains("ELF (Linux) executable"),
        "{e}"
    );
    let linux_dump = root().join("minidumps/go1.19-opt/stacks.dmp.zst");
    let e = one_line(&linux_dump, &c.binary);
    assert!(
        e.contains("is a minidump of a Linux process") && e.contains("Windows (PE) executable"),
        "{e}"
    );
    let elf_core = root().join("fixtures/go1.22-opt/panic_main.core.zst");
    let e = one_line(&elf_core, &c.binary);
    assert!(e.contains("is a Windows executable"), "{e}");
    // A truncated PE binary.
    let packed = std::fs::read(&c.binary).expect("read binary");
    let exe = zstd::decode_all(packed.as_slice()).expect("decompress");
    let short = dir.path().join("short.exe");
    std::fs::write(&short, &exe[..0x100]).expect("write");
    let e = one_line(&c.dump, &short);
    assert!(e.contains("short.exe"), "{e}");
}

/// A goroutine blocked in a Windows system call (cores/windows-syscall/, written by
/// cores/generate-windows-syscall.sh: ReadFile on a pipe, through syscall.SyscallN →
/// runtime.cgocall → asmcgocall → asmstdcall → the DLL) is shown as the runtime shows
/// it, from runtime.cgocall, not with its thread's frame in the DLL first (which
/// coroner printed as `? :0` before the runtime's frames); every other goroutine
/// matches too.
#[test]
fn a_goroutine_in_a_windows_system_call_is_the_runtimes_view() {
    let d = root().join("windows-syscall/go1.27-stripped");
    let c = Case {
        tag: "windows-syscall/go1.27-stripped".into(),
        binary: d.join("winsyscall.exe.zst"),
        dump: d.join("private.dmp.zst"),
        stderr: d.join("abort.stderr"),
        full: true,
    };
    let text = std::fs::read_to_string(&c.stderr).expect("read the traceback");
    let tb = traceback::parse(&text).expect("parse the traceback");
    let t = open(&c).unwrap_or_else(|e| panic!("{e}"));
    let minor = t.runtime().version.minor;
    let in_syscall: Vec<u64> = tb
        .goroutines
        .iter()
        .filter(|g| g.status == "syscall" && g.has_frame("main.pipeReader"))
        .map(|g| g.id)
        .collect();
    assert_eq!(in_syscall.len(), 1, "{in_syscall:?}");
    let g = t
        .goroutine(in_syscall[0])
        .expect("the goroutine in ReadFile");
    let st = t.goroutine_stack(g, 100);
    assert_eq!(
        st.frames.first().map(|f| f.function.as_str()),
        Some("runtime.cgocall")
    );
    let mut problems = Vec::new();
    let mut compared = 0;
    for tg in tb.goroutines.iter().filter(|g| g.id != 0) {
        compared += 1;
        oracle::compare_goroutine(&t, tg, minor, &mut problems);
    }
    assert!(compared >= 5, "{compared} goroutines");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The thread's own stack still starts in the DLL.
    let tid = g.thread.expect("the goroutine's thread");
    let th = t
        .threads()
        .iter()
        .find(|th| th.tid == tid)
        .expect("the thread in the dump");
    let ts = t.thread_stack(th, 100);
    assert!(
        ts.frames.first().is_some_and(|f| f.func_entry.is_none()),
        "{:?}",
        ts.frames.first().map(|f| &f.function)
    );
}
