//! Garbage in the process's memory must never crash coroner: corrupt goroutine
//! structures, stacks and the allgs array of a real core (deterministic xorshift), then
//! open it and ask for everything a front end asks for. Partial results are fine;
//! panics, hangs and runaway stacks are not.

use coroner::addr::Addr;
use coroner::target::{OpenOptions, Target};
use goblin::elf::program_header::PT_LOAD;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

/// (vaddr, file offset, filesz) of the core's PT_LOAD segments.
fn segments(core: &[u8]) -> Vec<(u64, u64, u64)> {
    let elf = goblin::elf::Elf::parse(core).expect("fixture core parses");
    elf.program_headers
        .iter()
        .filter(|p| p.p_type == PT_LOAD && p.p_filesz > 0)
        .map(|p| (p.p_vaddr, p.p_offset, p.p_filesz))
        .collect()
}

fn file_offset(segs: &[(u64, u64, u64)], addr: u64) -> Option<u64> {
    segs.iter()
        .find(|(v, _, n)| addr >= *v && addr < v + n)
        .map(|(v, o, _)| o + (addr - v))
}

fn exercise(t: &Target) -> usize {
    let mut frames = 0;
    let _ = t.crash();
    for g in t.goroutines() {
        let st = t.goroutine_stack(g, 10_000);
        assert!(st.frames.len() <= 10_000);
        frames += st.frames.len();
        let _ = g.traceback_status();
    }
    for th in t.threads() {
        frames += t.thread_stack(th, 10_000).frames.len();
        let _ = t.thread_goroutine(th.tid);
    }
    frames
}

fn run_case(dir: &Path, scenario: &str, iterations: u32, seed: u64) {
    let bin = dir.join("scenarios.zst");
    let core_zst = dir.join(format!("{scenario}.core.zst"));
    if !bin.exists() || !core_zst.exists() {
        eprintln!("skipped: {} missing", core_zst.display());
        return;
    }
    let raw = zstd::stream::decode_all(std::fs::File::open(&core_zst).expect("open"))
        .expect("decompress fixture");
    let segs = segments(&raw);
    let tmp = tempfile::tempdir().expect("tempdir");
    let core_path = tmp.path().join("core");
    std::fs::write(&core_path, &raw).expect("write core");
    let opts = OpenOptions {
        binary: bin.clone(),
        core: core_path.clone(),
        force: true,
    };
    // Where the interesting structures are, from a clean open.
    let clean = Target::open(&opts).expect("clean fixture opens");
    let mut hot: Vec<(u64, u64)> = Vec::new(); // (addr, len)
    for g in clean.goroutines() {
        hot.push((g.addr.get(), clean.runtime().layouts.g.size));
        if !g.sched.sp.is_null() {
            hot.push((g.sched.sp.get(), 512));
        }
    }
    hot.push((clean.runtime().allgs.get(), clean.runtime().allglen * 8));
    let baseline = exercise(&clean);
    assert!(baseline > 0);
    drop(clean);

    let mut rng = Rng(seed);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&core_path)
        .expect("reopen");
    for _ in 0..iterations {
        // Corrupt 1..16 places, most in hot structures, some anywhere in memory.
        let mut saved: Vec<(u64, Vec<u8>)> = Vec::new();
        for _ in 0..1 + rng.below(16) {
            let (addr, len) = if rng.below(4) > 0 && !hot.is_empty() {
                let (a, l) = hot[rng.below(hot.len() as u64) as usize];
                (a + rng.below(l.max(1)), 1 + rng.below(16))
            } else {
                let (v, _, n) = segs[rng.below(segs.len() as u64) as usize];
                (v + rng.below(n), 1 + rng.below(64))
            };
            let Some(off) = file_offset(&segs, addr) else {
                continue;
            };
            let mut old = vec![0u8; len as usize];
            file.seek(SeekFrom::Start(off)).expect("seek");
            let n = file.read(&mut old).expect("read");
            old.truncate(n);
            let garbage: Vec<u8> = (0..n)
                .map(|_| match rng.below(4) {
                    0 => 0,
                    1 => 0xff,
                    _ => rng.next() as u8,
                })
                .collect();
            file.seek(SeekFrom::Start(off)).expect("seek");
            file.write_all(&garbage).expect("write");
            saved.push((off, old));
        }
        file.flush().expect("flush");
        if let Ok(t) = Target::open(&opts) {
            exercise(&t);
            let _ = t.memory().read_ptr(Addr(0xdead_beef));
        }
        for (off, old) in saved.into_iter().rev() {
            file.seek(SeekFrom::Start(off)).expect("seek");
            file.write_all(&old).expect("restore");
        }
    }
}

#[test]
fn garbage_in_goroutines_and_stacks_never_panics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/fixtures");
    if !root.exists() {
        eprintln!("no fixtures: skipped");
        return;
    }
    run_case(
        &root.join("go1.22-opt"),
        "sigquit_service",
        200,
        0x9e37_79b9_7f4a_7c15,
    );
    run_case(
        &root.join("go1.27-stripped"),
        "panic_main",
        200,
        0x1234_5678_9abc_def1,
    );
    run_case(
        &root.join("go1.19-noopt"),
        "deep_recursion",
        100,
        0x0bad_cafe_f00d_d00d,
    );
}
