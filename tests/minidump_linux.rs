//! Linux amd64 minidumps of running Go programs (cores/minidumps/, written by
//! cores/generate-minidumps.sh with minidump-writer) against the runtime's own
//! GOTRACEBACK=all traceback printed on SIGQUIT right after the dumps.
//!
//! The dumps were taken while the program ran, so goroutines that were running,
//! runnable or in a syscall may have moved before the SIGQUIT: those are left out, as
//! for gcore cores; every other goroutine must match strictly (status, wait reason,
//! creator, every frame with file, line and PC).
//!
//! - full dumps: every goroutine is read and matches.
//! - stacks-only and data-segment dumps: the goroutines whose runtime.g and stack are
//!   in the dump match; the others are counted, and coroner says how many could not
//!   be read and why.
//!
//! Held-out dumps can be added with `COROMER_EXTRA_MINIDUMPS=root1:root2`: each
//! directory under a root holds `stacks|datasegs|full.dmp.zst`, `service.stderr` and
//! the binary (its one other `.zst` file); `COROMER_ONLY=TEXT` keeps the matching
//! cases in the oracle comparison.

#[path = "support/dump_oracle.rs"]
mod dump_oracle;
#[path = "support/oracle.rs"]
mod oracle;
#[path = "support/traceback.rs"]
mod traceback;
use dump_oracle::{check, open, Case};

use coroner::repl::{Output, Session};
use coroner::snapshot::minidump::Minidump;
use coroner::snapshot::{MemError, Memory, Snapshot};
use coroner::target::{OpenOptions, Target};
use std::path::{Path, PathBuf};

fn cases() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cores");
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(root.join("minidumps")) else {
        return out;
    };
    let mut dirs: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    dirs.sort();
    for d in dirs {
        let tag = d
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let binary = root.join("live-fixtures").join(&tag).join("live.zst");
        for variant in ["stacks", "datasegs", "full"] {
            let dump = d.join(format!("{variant}.dmp.zst"));
            if dump.exists() {
                out.push(Case {
                    tag: tag.clone(),
                    binary: binary.clone(),
                    dump,
                    stderr: d.join("service.stderr"),
                    variant: variant.to_string(),
                });
            }
        }
    }
    out.extend(extra_cases());
    out
}

/// Dumps under `COROMER_EXTRA_MINIDUMPS` roots (see the module doc).
fn extra_cases() -> Vec<Case> {
    let mut out = Vec::new();
    let Ok(extra) = std::env::var("COROMER_EXTRA_MINIDUMPS") else {
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
            rd.flatten().map(|e| e.path()).find(|p| {
                let n = p.file_name().and_then(|s| s.to_str()).unwrap_or("");
                n.ends_with(".zst") && !n.ends_with(".dmp.zst")
            })
        }) else {
            continue;
        };
        for variant in ["stacks", "datasegs", "full"] {
            let dump = d.join(format!("{variant}.dmp.zst"));
            if dump.exists() {
                out.push(Case {
                    tag: tag.clone(),
                    binary: binary.clone(),
                    dump,
                    stderr: d.join("service.stderr"),
                    variant: variant.to_string(),
                });
            }
        }
    }
    out
}

#[test]
fn minidump_goroutines_match_the_runtime_traceback() {
    let cases = cases();
    assert!(
        cases.iter().filter(|c| c.variant == "full").count() >= 4,
        "cores/minidumps: full-memory fixtures missing (cores/generate-minidumps.sh)"
    );
    assert!(cases.len() >= 20, "cores/minidumps: fixtures missing");
    let only = std::env::var("COROMER_ONLY").ok();
    let mut failures = Vec::new();
    let mut total = 0;
    for c in &cases {
        let name = format!("{}/{}", c.tag, c.variant);
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let before = oracle::frame_counts();
        let r = check(c, coroner::arch::Arch::Amd64);
        let after = oracle::frame_counts();
        let frames = format!(
            "{} frames, {} equal",
            after.0 - before.0,
            after.1 - before.1
        );
        match r {
            Ok((n, u)) => {
                total += n;
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
        for x in p.iter().take(6) {
            eprintln!("{x}");
        }
    }
    let (frames, equal) = oracle::frame_counts();
    eprintln!("{total} goroutines match, {frames} frames, {equal} equal");
    assert!(
        failures.is_empty(),
        "{} of {} minidumps differ from the runtime's traceback",
        failures.len(),
        cases.len()
    );
    assert!(total > 0);
}

fn text(o: Output) -> String {
    match o {
        Output::Text(s) => s,
        other => format!("{other:?}"),
    }
}

/// The header says what the dump is (written on request from a running process) and
/// whose it is; a partial dump says what it left out.
#[test]
fn header_and_partial_memory_are_reported() {
    let cases = cases();
    let Some(full) = cases
        .iter()
        .find(|c| c.tag == "go1.22-noopt" && c.variant == "full")
    else {
        panic!("cores/minidumps/go1.22-noopt/full.dmp.zst missing");
    };
    let t = open(full).expect("open full minidump");
    // No fs_base in minidump contexts: every thread's M is found through runtime.allm.
    assert!(t.threads().len() >= 3);
    for th in t.threads() {
        assert_eq!(th.regs.fs_base, 0);
        let c = t.thread_context(th.tid).expect("thread context");
        assert!(
            !c.m.is_null() && !c.g0.is_null(),
            "thread {}: no M found through runtime.allm",
            th.tid
        );
    }
    let pid = t.snapshot().process().map(|p| p.pid).expect("pid");
    assert!(pid > 0);
    assert_eq!(t.snapshot().kind(), "minidump");
    let s = Session::new(t);
    let h = s.header();
    assert!(
        h.contains(&format!(
            "Cause:       none: minidump of pid {pid} (live) written on request"
        )),
        "{h}"
    );
    assert!(
        h.contains("Signal:      none (the process was running)"),
        "{h}"
    );
    assert!(
        !h.contains("Warning:"),
        "a full dump has nothing missing: {h}"
    );

    let stacks = cases
        .iter()
        .find(|c| c.tag == "go1.22-noopt" && c.variant == "stacks")
        .expect("stacks-only dump");
    let t = open(stacks).expect("open stacks-only minidump");
    let mut s = Session::new(t);
    let h = s.header();
    assert!(h.contains("Warning:     the minidump saved "), "{h}");
    // Threads are all there, with their stacks.
    let threads = text(s.execute("threads"));
    assert!(threads.lines().count() >= 3, "{threads}");
    let bt = text(s.execute("bt"));
    assert!(bt.contains("runtime."), "{bt}");
}

/// On a dump without the heap, `goroutines` lists what it can and the header says how
/// many goroutines could not be read and why.
#[test]
fn unreadable_goroutines_are_counted() {
    let mut seen = 0;
    for c in cases().iter().filter(|c| c.variant != "full") {
        let t = open(c).unwrap_or_else(|e| panic!("{}/{}: {e}", c.tag, c.variant));
        let listed = t.goroutines().len();
        let bad = t.goroutines().iter().filter(|g| g.error.is_some()).count();
        let w = t.warnings().join("\n");
        if listed == 0 {
            assert!(
                w.contains("no goroutine can be listed: the goroutine list is not in the snapshot"),
                "{}/{}: {w}",
                c.tag,
                c.variant
            );
        } else if bad > 0 {
            assert!(
                w.contains(&format!("{bad} of {listed} goroutines could not be read")),
                "{}/{}: {w}",
                c.tag,
                c.variant
            );
        }
        seen += 1;
    }
    assert!(seen >= 16);
}

/// Memory the dump did not save reads as an error naming the minidump; code comes
/// from the binary.
#[test]
fn absent_memory_is_an_error_and_code_comes_from_the_binary() {
    let c = cases()
        .into_iter()
        .find(|c| c.tag == "go1.27-opt" && c.variant == "stacks")
        .expect("stacks-only dump");
    let t = open(&c).expect("open");
    let entry = t.entry_point();
    let mut b = [0u8; 16];
    t.memory()
        .read(entry, &mut b)
        .expect("code from the binary");
    let bin = coroner::symbols::Binary::open(&c.binary).expect("binary");
    let allgs = bin.symbol("runtime.allgs").expect("runtime.allgs").addr;
    match t.memory().read_u64(allgs) {
        Err(e @ MemError::NotInDump(_)) => {
            assert!(e.to_string().contains("not in the minidump"), "{e}")
        }
        other => panic!("runtime.allgs in a stacks-only dump: {other:?}"),
    }
}

/// A truncated or garbled minidump gives a one-line error or opens with what is left;
/// never a panic.
#[test]
fn truncated_and_garbage_minidumps() {
    let c = cases()
        .into_iter()
        .find(|c| c.tag == "go1.19-opt" && c.variant == "stacks")
        .expect("stacks-only dump");
    let packed = std::fs::read(&c.dump).expect("read dump");
    let plain = zstd::decode_all(packed.as_slice()).expect("decompress");
    let open_bytes = |v: Vec<u8>| {
        Minidump::from_bytes(
            Path::new("x.dmp"),
            coroner::snapshot::FileBytes::from_vec("x.dmp", v),
        )
    };
    let e = open_bytes(b"MDMP".to_vec()).unwrap_err().to_string();
    assert_eq!(
        e,
        "x.dmp is not a readable minidump: the header is incomplete (empty or truncated file?)"
    );
    let e = open_bytes(plain[..100].to_vec()).unwrap_err().to_string();
    assert!(
        !e.contains('\n') && e.starts_with("x.dmp is not a readable minidump: "),
        "{e}"
    );
    // Every cut and a spray of flipped bytes: one-line errors or partial dumps whose
    // reads fail cleanly, never a panic.
    let probe = |r: Result<Minidump, coroner::snapshot::minidump::MinidumpError>| match r {
        Ok(d) => {
            let mut b = [0u8; 64];
            for t in d.threads() {
                let _ = d.read(coroner::addr::Addr(t.regs.rsp), &mut b);
            }
            for (s, _) in d.regions() {
                let _ = d.read(s, &mut b);
            }
            true
        }
        Err(e) => {
            let e = e.to_string();
            assert!(!e.contains('\n') && e.starts_with("x.dmp "), "{e}");
            false
        }
    };
    let step = (plain.len() / 300).max(1);
    let mut opened = 0;
    for cut in (0..plain.len()).step_by(step) {
        opened += usize::from(probe(open_bytes(plain[..cut].to_vec())));
    }
    // The streams are at the end of minidump-writer's files: most cuts lose them.
    assert!(opened < 300, "{opened} truncated dumps opened");
    assert!(probe(open_bytes(plain.clone())));
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..200 {
        let mut v = plain.clone();
        for _ in 0..16 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Header, directory and streams (the tail), where parsing happens.
            let i = if x & 1 == 0 {
                (x as usize >> 1) % 4096
            } else {
                v.len() - 1 - (x as usize >> 1) % 16384
            };
            v[i] = (x >> 32) as u8;
        }
        probe(open_bytes(v));
    }
    // An ELF core named .dmp is still an ELF core; a minidump is never sent there.
    let e = Target::open(&OpenOptions {
        binary: c.binary.clone(),
        core: c.binary.clone(),
        force: false,
    })
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(e.contains("is an executable, not a core"), "{e}");
}

/// The same dump with its MemoryListStream rewritten as a Memory64ListStream (the
/// form Windows full dumps use, and the only one Delve reads) gives the same memory
/// and the same goroutines.
#[test]
fn memory64_list_reads_like_memory_list() {
    let c = cases()
        .into_iter()
        .find(|c| c.tag == "go1.27-noopt" && c.variant == "full")
        .expect("full dump");
    let packed = std::fs::read(&c.dump).expect("read dump");
    let mut v = zstd::decode_all(packed.as_slice()).expect("decompress");
    let u32_at = |v: &[u8], o: usize| u32::from_le_bytes(v[o..o + 4].try_into().unwrap());
    let u64_at = |v: &[u8], o: usize| u64::from_le_bytes(v[o..o + 8].try_into().unwrap());
    let (count, dir) = (u32_at(&v, 8) as usize, u32_at(&v, 12) as usize);
    let entry = (0..count)
        .map(|i| dir + 12 * i)
        .find(|&e| u32_at(&v, e) == 5)
        .expect("a MemoryListStream");
    let list = u32_at(&v, entry + 8) as usize;
    let n = u32_at(&v, list) as usize;
    let ranges: Vec<(u64, usize, usize)> = (0..n)
        .map(|i| {
            let d = list + 4 + 16 * i;
            (
                u64_at(&v, d),
                u32_at(&v, d + 8) as usize,
                u32_at(&v, d + 12) as usize,
            )
        })
        .collect();
    // All the bytes, contiguous, then the new stream.
    let base = v.len();
    let mut data = Vec::new();
    for &(_, size, rva) in &ranges {
        data.extend_from_slice(&v[rva..rva + size]);
    }
    let stream_at = base + data.len();
    let mut stream = Vec::new();
    stream.extend_from_slice(&(n as u64).to_le_bytes());
    stream.extend_from_slice(&(base as u64).to_le_bytes());
    for &(start, size, _) in &ranges {
        stream.extend_from_slice(&start.to_le_bytes());
        stream.extend_from_slice(&(size as u64).to_le_bytes());
    }
    v.extend_from_slice(&data);
    v.extend_from_slice(&stream);
    v[entry..entry + 4].copy_from_slice(&9u32.to_le_bytes());
    v[entry + 4..entry + 8].copy_from_slice(&(stream.len() as u32).to_le_bytes());
    v[entry + 8..entry + 12].copy_from_slice(&(stream_at as u32).to_le_bytes());
    let dir = tempfile::tempdir().expect("tempdir");
    let converted = dir.path().join("full64.dmp");
    std::fs::write(&converted, &v).expect("write");

    let a = open(&c).expect("open original");
    let b = Target::open(&OpenOptions {
        binary: c.binary.clone(),
        core: converted,
        force: false,
    })
    .expect("open Memory64List dump");
    assert_eq!(a.snapshot().regions(), b.snapshot().regions());
    let mut total = 0u64;
    for (s, e) in a.snapshot().regions() {
        let len = usize::try_from(e.get() - s.get()).expect("region size");
        let x = a.memory().read_bytes(s, len).expect("original bytes");
        let y = b.memory().read_bytes(s, len).expect("Memory64List bytes");
        assert!(x == y, "bytes differ in {s}..{e}");
        total += len as u64;
    }
    assert!(total > 1 << 20);
    let ga: Vec<(u64, String)> = a
        .goroutines()
        .iter()
        .map(|g| (g.goid, g.traceback_status()))
        .collect();
    let gb: Vec<(u64, String)> = b
        .goroutines()
        .iter()
        .map(|g| (g.goid, g.traceback_status()))
        .collect();
    assert_eq!(ga, gb);
    assert!(ga.len() >= 8);
}
