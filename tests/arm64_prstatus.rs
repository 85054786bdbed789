//! arm64 NT_PRSTATUS (and NT_ARM_TLS) parsing: the registers of a real qemu-user core
//! agree with what the runtime printed in its traceback (g in x28 is the crashing
//! goroutine's gp, the PC is in runtime.raise), and
//! thousands of deterministic mutations and truncations of its headers and notes open
//! without a panic, with one-line errors.

use coroner::arch::Arch;
use coroner::snapshot::{open_file, ElfCore, FileBytes, Memory, Snapshot};
use coroner::target::{OpenOptions, Target};
use coroner::Addr;
use std::ops::Range;
use std::path::{Path, PathBuf};

fn fixture(dir: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("cores/arm64")
        .join(dir)
        .join(name)
}

/// `gp=0x...` of the first goroutine header that is `[running]` in a traceback.
fn running_gp(stderr: &str) -> Option<u64> {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("goroutine ") && l.ends_with("[running]:"))?;
    let gp = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("gp=0x"))?;
    u64::from_str_radix(gp, 16).ok()
}

#[test]
fn registers_agree_with_the_runtime() {
    // Go 1.19 prints no gp= in goroutine headers.
    for dir in ["go1.22-opt", "go1.22-noopt", "go1.27-opt"] {
        let core = fixture(dir, "panic_main.core.zst");
        let stderr = std::fs::read_to_string(fixture(dir, "panic_main.stderr"))
            .unwrap_or_else(|e| panic!("{dir}: the arm64 fixture is missing ({e})"));
        let gp = running_gp(&stderr).expect("a running goroutine with gp= in the traceback");
        let t = Target::open(&OpenOptions {
            binary: fixture(dir, "scenarios.zst"),
            core,
            force: false,
        })
        .unwrap_or_else(|e| panic!("{dir}: {e}"));
        assert_eq!(t.snapshot().arch(), Arch::Arm64);
        let dying = t
            .snapshot()
            .threads()
            .iter()
            .find(|th| th.signal == 6)
            .expect("the thread that raised SIGABRT");
        let r = dying.arm64.as_ref().expect("arm64 registers");
        assert_eq!(r.x[28], gp, "{dir}: x28 is g");
        let top = t.thread_stack(dying, 1);
        let top = top.frames.first().map(|f| f.function.as_str());
        assert_eq!(top, Some("runtime.raise"), "{dir}");
        // SP may be on the gsignal stack (the runtime re-raises SIGABRT from its
        // handler), so it is not checked against g's stack; x28 still holds g.
        assert!(t.goroutines().iter().any(|g| g.addr == Addr(gp)), "{dir}");
        assert_eq!(r.tpidr, 0, "qemu-user writes no NT_ARM_TLS");
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn u64_at(d: &[u8], o: usize) -> usize {
    d.get(o..o + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, |b| u64::from_le_bytes(b) as usize)
}

/// The PT_NOTE bytes of a core, weighted towards each NT_PRSTATUS descriptor.
fn note_regions(d: &[u8]) -> Vec<Range<usize>> {
    let phoff = u64_at(d, 32);
    let phnum = d
        .get(56..58)
        .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]) as usize);
    let mut r = vec![0..64, phoff..phoff + phnum * 56];
    for i in 0..phnum {
        let o = phoff + i * 56;
        if d.get(o..o + 4) == Some(&4u32.to_le_bytes()) {
            let (off, sz) = (u64_at(d, o + 8), u64_at(d, o + 32));
            r.push(off..off + sz);
            // The prstatus header (sizes and types of the first notes) twice more.
            r.push(off..off + sz.min(0x1a0));
            r.push(off..off + sz.min(0x1a0));
        }
    }
    r
}

#[test]
fn mutated_arm64_cores_never_panic() {
    let path = fixture("go1.22-opt", "sigquit_service.core.zst");
    let full = open_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let regions = note_regions(&full);
    let end = regions
        .iter()
        .map(|r| r.end)
        .max()
        .unwrap_or(0)
        .max(1 << 20);
    let base = full.get(..end.min(full.len())).unwrap_or(&full).to_vec();
    let mut rng = Rng(0x00a6_4c0e);
    let mut opened = 0;
    for i in 0..3000 {
        let mut v = base.clone();
        for _ in 0..1 + rng.below(6) {
            let r = &regions[rng.below(regions.len())];
            let at = r.start + rng.below(r.len().max(1));
            if let Some(b) = v.get_mut(at) {
                *b = match rng.below(4) {
                    0 => 0,
                    1 => 0xff,
                    2 => *b ^ (1 << rng.below(8)),
                    _ => rng.next() as u8,
                };
            }
        }
        if rng.below(10) == 0 {
            let keep = rng.below(v.len() + 1);
            v.truncate(keep);
        }
        let name = format!("m{i}.core");
        match ElfCore::from_bytes(Path::new(&name), FileBytes::from_vec(&name, v)) {
            Ok(c) => {
                opened += 1;
                let mut buf = [0u8; 64];
                for t in c.threads() {
                    let _ = c.read(Addr(t.sp()), &mut buf);
                    let _ = c.read(Addr(t.pc()), &mut buf);
                    let _ = t.named_regs().len();
                    if let Some(r) = &t.arm64 {
                        let _ = c.read(Addr(r.fp()), &mut buf);
                    }
                }
            }
            Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
        }
    }
    assert!(
        opened > 1000,
        "only {opened} mutated cores opened: the mutation is too coarse"
    );
}
