//! Robustness: thousands of deterministic random byte mutations of real cores' headers
//! and notes and of real binaries' headers. Every mutated input is opened and queried
//! (threads, notes, memory reads, sections, symbols, the core+binary overlay); the only
//! requirement is that nothing panics and errors stay one-line messages.

use coroner::snapshot::{
    check_match, compute_bias, match_warnings, open_file, CoreWithBinary, ElfCore, FileBytes,
    Memory, Snapshot,
};
use coroner::symbols::Binary;
use coroner::Addr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// xorshift64*: deterministic, no extra crate.
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

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cores")
}

/// Mutate 1..=6 bytes inside one of `regions`, sometimes truncating the input.
fn mutate(base: &[u8], regions: &[Range<usize>], rng: &mut Rng) -> Vec<u8> {
    let mut v = base.to_vec();
    let n = 1 + rng.below(6);
    for _ in 0..n {
        let r = &regions[rng.below(regions.len())];
        if r.is_empty() {
            continue;
        }
        let at = r.start + rng.below(r.len());
        if at >= v.len() {
            continue;
        }
        v[at] = match rng.below(5) {
            0 => 0,
            1 => 0xff,
            2 => v[at] ^ (1 << rng.below(8)),
            3 => [0x7f, 0x80, 0x01, 0x40][rng.below(4)],
            _ => rng.next() as u8,
        };
        // Sometimes smash a whole 8-byte field (offsets, sizes, counts).
        if rng.below(4) == 0 && at + 8 <= v.len() {
            let val = match rng.below(4) {
                0 => u64::MAX,
                1 => rng.next(),
                2 => 1 << rng.below(64),
                _ => (v.len() as u64).wrapping_add(rng.below(4096) as u64),
            };
            v[at..at + 8].copy_from_slice(&val.to_le_bytes());
        }
    }
    if rng.below(20) == 0 {
        let keep = rng.below(v.len() + 1);
        v.truncate(keep);
    }
    v
}

fn u16_at(d: &[u8], o: usize) -> usize {
    u16::from_le_bytes(d[o..o + 2].try_into().unwrap()) as usize
}
fn u64_at(d: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(d[o..o + 8].try_into().unwrap())
}

/// ELF header, program headers and every PT_NOTE's bytes of a (valid) core.
fn core_header_regions(d: &[u8]) -> Vec<Range<usize>> {
    let phoff = u64_at(d, 32) as usize;
    let phnum = u16_at(d, 56);
    let mut r = vec![0..64, phoff..phoff + phnum * 56];
    for i in 0..phnum {
        let o = phoff + i * 56;
        if u32::from_le_bytes(d[o..o + 4].try_into().unwrap()) == 4 {
            let off = u64_at(d, o + 8) as usize;
            let sz = u64_at(d, o + 32) as usize;
            r.push(off..off + sz);
            // Note headers (sizes, types) are where parsers break: weight them.
            r.push(off..off + sz.min(512));
        }
    }
    r
}

fn exercise_core(core: &ElfCore, bin: Option<&Arc<Binary>>) {
    let _ = core.warnings().len();
    let _ = core.signal().map(|s| (s.signo, s.fault_addr, s.sender_pid));
    let _ = core.process().map(|p| p.name.len());
    let _ = core.mapped_files().len();
    let _ = core.auxv_value(9);
    let _ = core.describe();
    let regions = core.regions();
    let mut buf = [0u8; 64];
    for t in core.threads().iter().take(8) {
        let _ = core.read(Addr(t.regs.rsp), &mut buf);
        let _ = core.read(Addr(t.regs.rip), &mut buf);
        let _ = core.slice(Addr(t.regs.rsp), 4096);
    }
    for (lo, hi) in regions.iter().take(40) {
        let _ = core.read(lo.sub(8), &mut buf);
        let _ = core.read(hi.sub(8), &mut buf);
        let _ = core.read_u64(*lo);
        let _ = core.slice(*lo, 1 << 20);
    }
    for s in core.segments().iter().take(40) {
        let _ = core.chunk(s.vaddr);
        let _ = core.chunk(s.vaddr.wrapping_add(s.filesz));
        let _ = core.read(
            Addr(s.vaddr.wrapping_add(s.memsz).wrapping_sub(4)),
            &mut buf,
        );
    }
    let _ = core.read(Addr(u64::MAX - 8), &mut buf);
    let _ = core.read(Addr(0), &mut buf);
    if let Some(bin) = bin {
        let bias = compute_bias(core, bin);
        if let Err(e) = check_match(core, bin, bias) {
            assert!(!e.contains('\n'), "{e}");
        }
        let _ = match_warnings(core, bin, bias);
    }
}

fn exercise_binary(bin: &Binary, heavy: bool) {
    let _ = bin.sections().len();
    let _ = bin.section(".gopclntab");
    let _ = bin.section_data(".gopclntab").map(|d| d.len());
    let _ = bin.section_data(".debug_abbrev").map(|d| d.len());
    let _ = bin.section_data(".note.go.buildid");
    if heavy {
        for s in bin.sections().to_vec() {
            let _ = bin.section_data(&s.name).map(|d| d.len());
        }
    }
    let _ = bin.symbol("runtime.main");
    let _ = bin.symbol("main");
    let _ = bin.symbol_at(bin.entry());
    let _ = bin.build_id();
    let _ = bin.go_build_id();
    let _ = bin.phdr_vaddr();
    let mut buf = [0u8; 256];
    let _ = bin.read_vaddr(bin.entry(), &mut buf);
    for s in bin.segments().iter().take(16) {
        let _ = bin.read_vaddr(s.vaddr, &mut buf);
        let _ = bin.read_vaddr(s.vaddr.add(s.filesz).sub(8), &mut buf);
        let _ = bin.vaddr_bytes(s.vaddr.add(s.memsz));
    }
}

struct CoreBase {
    name: &'static str,
    bytes: Vec<u8>,
    regions: Vec<Range<usize>>,
    bin: Arc<Binary>,
}

fn core_bases() -> Vec<CoreBase> {
    let mut out = Vec::new();
    let c = root().join("c");
    if c.join("crash.core.zst").is_file() {
        let bytes = open_file(&c.join("crash.core.zst")).unwrap().to_vec();
        out.push(CoreBase {
            name: "c",
            regions: core_header_regions(&bytes),
            bytes,
            bin: Arc::new(Binary::open(&c.join("crash.zst")).unwrap()),
        });
    }
    let g = root().join("fixtures/go1.22-opt");
    if g.join("sigquit_service.core.zst").is_file() {
        let full = open_file(&g.join("sigquit_service.core.zst")).unwrap();
        let regions = core_header_regions(&full);
        // The first MiBs hold headers, notes and the first segments; copying the
        // whole 40 MB core thousands of times would only test memcpy.
        let end = regions
            .iter()
            .map(|r| r.end)
            .max()
            .unwrap_or(0)
            .max(2 << 20);
        out.push(CoreBase {
            name: "go",
            bytes: full[..end.min(full.len())].to_vec(),
            regions,
            bin: Arc::new(Binary::open(&g.join("scenarios.zst")).unwrap()),
        });
    }
    out
}

#[test]
fn mutated_cores_never_panic() {
    let bases = core_bases();
    if bases.is_empty() {
        eprintln!("NOTE: no fixture cores under {}; skipped", root().display());
        assert!(
            !root().join("fixtures").exists(),
            "fixtures exist but none was used"
        );
        return;
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut opened = 0;
    let mut refused = 0;
    const N: usize = 3000;
    for i in 0..N {
        let base = &bases[i % bases.len()];
        let bytes = mutate(&base.bytes, &base.regions, &mut rng);
        let fb = FileBytes::from_vec(format!("mutant-{}-{i}", base.name), bytes);
        match ElfCore::from_bytes(Path::new("mutant"), fb) {
            Ok(core) => {
                opened += 1;
                exercise_core(&core, Some(&base.bin));
                let cwb = CoreWithBinary::new(core, base.bin.clone());
                let mut buf = [0u8; 128];
                for t in cwb.threads().iter().take(4) {
                    let _ = cwb.read(Addr(t.regs.rip), &mut buf);
                    let _ = cwb.slice(Addr(t.regs.rip), 64);
                }
                let _ = cwb.read(base.bin.entry(), &mut buf);
                let _ = cwb.warnings();
            }
            Err(e) => {
                refused += 1;
                let m = e.to_string();
                assert!(!m.contains('\n') && !m.is_empty(), "{m}");
            }
        }
    }
    eprintln!("{N} core mutants: {opened} opened, {refused} refused");
    // Most mutations hit data the parser tolerates; some must be refused.
    assert!(
        opened > N / 4 && refused > 0,
        "{opened} opened, {refused} refused"
    );
}

/// ELF header, program headers (with the first page's notes) and section headers.
fn binary_header_regions(d: &[u8]) -> Vec<Range<usize>> {
    let phoff = u64_at(d, 32) as usize;
    let shoff = u64_at(d, 40) as usize;
    let phnum = u16_at(d, 56);
    let shnum = u16_at(d, 60);
    vec![
        0..64,
        phoff..phoff + phnum * 56,
        0..4096.min(d.len()),
        shoff..shoff + shnum * 64,
    ]
}

#[test]
fn mutated_binaries_never_panic() {
    let mut bins: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for p in [
        root().join("fixtures/go1.22-opt/scenarios.zst"),
        root().join("fixtures/go1.19-stripped/scenarios.zst"),
        root().join("c/crash.zst"),
    ] {
        if p.is_file() {
            let b = open_file(&p).unwrap().to_vec();
            bins.push((p, b));
        }
    }
    if bins.is_empty() {
        eprintln!(
            "NOTE: no fixture binaries under {}; skipped",
            root().display()
        );
        assert!(
            !root().join("fixtures").exists(),
            "fixtures exist but none was used"
        );
        return;
    }
    let cores: Vec<ElfCore> = [root().join("fixtures/go1.22-opt/panic_main.core.zst")]
        .iter()
        .filter(|p| p.is_file())
        .map(|p| ElfCore::open(p).unwrap())
        .collect();
    let regions: Vec<Vec<Range<usize>>> =
        bins.iter().map(|(_, b)| binary_header_regions(b)).collect();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut opened = 0;
    let mut refused = 0;
    const N: usize = 3000;
    for i in 0..N {
        let k = i % bins.len();
        let bytes = mutate(&bins[k].1, &regions[k], &mut rng);
        let fb = FileBytes::from_vec(&bins[k].0, bytes);
        match Binary::from_bytes(Path::new("mutant"), fb) {
            Ok(bin) => {
                opened += 1;
                // Inflating every section of every mutant is slow in debug builds.
                exercise_binary(&bin, i % 25 == 0);
                if let Some(core) = cores.first() {
                    let bias = compute_bias(core, &bin);
                    if let Err(e) = check_match(core, &bin, bias) {
                        assert!(!e.contains('\n'), "{e}");
                    }
                    let _ = match_warnings(core, &bin, bias);
                }
            }
            Err(e) => {
                refused += 1;
                let m = e.to_string();
                assert!(!m.contains('\n') && !m.is_empty(), "{m}");
            }
        }
    }
    eprintln!("{N} binary mutants: {opened} opened, {refused} refused");
    assert!(
        opened > N / 4 && refused > 0,
        "{opened} opened, {refused} refused"
    );
    // The overlay over a real core with a real binary still works after all that.
    if let Some(core) = cores.into_iter().next() {
        let bin = Arc::new(
            Binary::from_bytes(
                &bins[0].0,
                FileBytes::from_vec(&bins[0].0, bins[0].1.clone()),
            )
            .unwrap(),
        );
        let cwb = CoreWithBinary::new(core, bin.clone());
        cwb.check_match().unwrap();
        exercise_core(cwb.core(), Some(&bin));
    }
}
