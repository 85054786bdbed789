//! The ELF layer on the real fixture corpus (cores/fixtures/go1.NN-MODE/): core
//! parsing, the binary, the core+binary overlay, truncation, compression, mismatches.

use coroner::snapshot::{
    check_match, compute_bias, open_file, CoreChunk, CoreWithBinary, ElfCore, MemError, Memory,
    Snapshot,
};
use coroner::symbols::{Binary, SymError};
use coroner::Addr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/fixtures")
}

/// Fixture directories (go1.NN-MODE) with a binary, or None (with a note) when the
/// corpus is absent.
fn fixture_dirs() -> Option<Vec<PathBuf>> {
    let root = fixtures_root();
    let Ok(rd) = std::fs::read_dir(&root) else {
        eprintln!("NOTE: {} missing; fixture tests skipped", root.display());
        return None;
    };
    let mut dirs: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("scenarios.zst").is_file())
        .collect();
    dirs.sort();
    assert!(
        !dirs.is_empty(),
        "{} exists but holds no fixture",
        root.display()
    );
    Some(dirs)
}

fn cores_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".core.zst"))
        .collect();
    v.sort();
    v
}

fn fixture(dir: &str, scenario: &str) -> Option<(PathBuf, PathBuf)> {
    let d = fixtures_root().join(dir);
    let core = d.join(format!("{scenario}.core.zst"));
    let bin = d.join("scenarios.zst");
    (core.is_file() && bin.is_file()).then_some((bin, core))
}

/// exit_signal from the scenario's JSON description ("SIGABRT" -> 6).
fn json_signal(core: &Path) -> Option<i32> {
    let name = core.file_name()?.to_str()?.strip_suffix(".core.zst")?;
    let j = std::fs::read_to_string(core.with_file_name(format!("{name}.json"))).ok()?;
    let v: serde_json::Value = serde_json::from_str(&j).ok()?;
    Some(match v.get("exit_signal")?.as_str()? {
        "SIGABRT" => 6,
        "SIGSEGV" => 11,
        "SIGQUIT" => 3,
        "SIGKILL" => 9,
        "SIGTRAP" => 5,
        "SIGBUS" => 7,
        _ => return None,
    })
}

fn is_gcore(core: &Path) -> bool {
    let name = core.to_string_lossy().replace(".core.zst", ".json");
    std::fs::read_to_string(name).is_ok_and(|j| j.contains("\"gcore\""))
}

fn in_text(bin: &Binary, bias: u64, pc: u64) -> bool {
    bin.segments()
        .iter()
        .any(|s| s.flags & 1 != 0 && pc >= s.vaddr.0 + bias && pc < s.vaddr.0 + bias + s.memsz)
}

#[test]
fn every_fixture_core_opens_and_matches_its_binary() {
    let Some(dirs) = fixture_dirs() else { return };
    let mut checked = 0;
    for dir in &dirs {
        let bin = Arc::new(Binary::open(&dir.join("scenarios.zst")).unwrap());
        // Only the cgo+PIE fixtures are position independent.
        let pie = dir.to_string_lossy().ends_with("-cgopie");
        assert_eq!(bin.is_pie(), pie);
        let gid = bin.go_build_id().expect("Go build ID");
        assert_eq!(gid.matches('/').count(), 3, "{gid}");
        let text = bin.section(".text").expect(".text");
        assert!(text.size > 0);
        for core_path in cores_in(dir) {
            let ctx = core_path.display().to_string();
            let core = ElfCore::open(&core_path).unwrap();
            let bias = compute_bias(&core, &bin);
            assert!(core.warnings().is_empty(), "{ctx}: {:?}", core.warnings());

            // Threads: at least one, unique non-zero tids, the main thread (tid == pid)
            // among them.
            let threads = core.threads();
            assert!(!threads.is_empty(), "{ctx}");
            let mut tids: Vec<u32> = threads.iter().map(|t| t.tid).collect();
            tids.sort();
            tids.dedup();
            assert_eq!(tids.len(), threads.len(), "{ctx}: duplicate tids");
            assert!(
                tids.iter().all(|&t| t > 0 && t < 1 << 22),
                "{ctx}: {tids:?}"
            );
            let proc = core.process().expect("NT_PRPSINFO");
            assert!(
                tids.contains(&(proc.pid as u32)),
                "{ctx}: pid {} not a thread",
                proc.pid
            );
            assert_eq!(proc.name, "scenarios", "{ctx}");
            for t in threads {
                assert!(t.regs.rsp != 0, "{ctx}: thread {} has no rsp", t.tid);
                assert!(
                    t.regs.fs_base != 0,
                    "{ctx}: thread {} has no fs_base",
                    t.tid
                );
            }

            // The signal and the thread that took it.
            let gcore = is_gcore(&core_path);
            if !gcore {
                let sig = core.signal().expect("NT_SIGINFO");
                if let Some(want) = json_signal(&core_path) {
                    assert_eq!(sig.signo, want, "{ctx}");
                }
                // The runtime re-raises the fatal signal with tgkill: sent by itself.
                assert_eq!(sig.sender_pid, Some(proc.pid), "{ctx}");
                let tid = sig.tid.expect("signal tid");
                let t = threads
                    .iter()
                    .find(|t| t.tid == tid)
                    .expect("signal thread");
                assert_eq!(t.signal, sig.signo, "{ctx}");
                assert!(
                    in_text(&bin, bias, t.regs.rip),
                    "{ctx}: rip {:#x}",
                    t.regs.rip
                );
            }
            assert!(
                threads.iter().any(|t| in_text(&bin, bias, t.regs.rip)),
                "{ctx}: no thread in Go text"
            );

            // Auxv and file mappings agree with the binary.
            assert_eq!(
                core.auxv_value(9),
                Some(bin.entry().0 + bias),
                "{ctx}: AT_ENTRY"
            );
            assert_eq!(bias != 0, pie, "{ctx}: bias {bias:#x}");
            assert!(
                core.mapped_files().iter().any(|m| m
                    .path
                    .file_name()
                    .is_some_and(|n| n == "scenarios")
                    && m.start.0 <= bin.entry().0 + bias
                    && bin.entry().0 + bias < m.end.0),
                "{ctx}: NT_FILE lacks the executable"
            );
            let regions = core.regions();
            assert!(!regions.is_empty());
            assert!(
                regions.windows(2).all(|w| w[0].1 <= w[1].0),
                "{ctx}: regions overlap"
            );

            check_match(&core, &bin, bias).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            let cwb = CoreWithBinary::new(core, bin.clone());
            assert!(cwb.warnings().is_empty(), "{ctx}: {:?}", cwb.warnings());

            // Text through the overlay equals the binary's bytes, also across the
            // first page (saved by the kernel) and the rest (from the binary).
            let mut want = vec![0u8; text.size.min(1 << 20) as usize];
            assert!(bin.read_vaddr(text.addr, &mut want));
            let mut got = vec![0u8; want.len()];
            cwb.read(text.addr.add(bias), &mut got).unwrap();
            assert!(got == want, "{ctx}: text differs");
            let first_load = bin.segments().iter().map(|s| s.vaddr.0).min().unwrap();
            let mut head = vec![0u8; 2 * 4096];
            cwb.read(Addr(first_load + bias), &mut head).unwrap();
            let mut bhead = vec![0u8; head.len()];
            assert!(bin.read_vaddr(Addr(first_load), &mut bhead));
            assert!(head == bhead, "{ctx}: headers page stitched wrong");
            let slice = cwb
                .slice(text.addr.add(bias + 4096), 64)
                .expect("zero-copy text");
            assert_eq!(slice, &want[4096..4096 + 64]);
            // The core alone did not save text past the first page (kernel cores).
            if !gcore {
                assert!(
                    matches!(
                        cwb.core().chunk(text.addr.0 + bias + 8192),
                        CoreChunk::NotDumped(_)
                    ),
                    "{ctx}: text saved in a kernel core?"
                );
            }
            for t in cwb.threads() {
                if in_text(&bin, bias, t.regs.rip) {
                    let mut a = [0u8; 16];
                    let mut b = [0u8; 16];
                    cwb.read(Addr(t.regs.rip), &mut a).unwrap();
                    assert!(bin.read_vaddr(Addr(t.regs.rip - bias), &mut b));
                    assert_eq!(a, b, "{ctx}");
                }
                // A thread's stack is saved: reading at rsp works in the core itself.
                cwb.core().read_u64(Addr(t.regs.rsp)).unwrap();
            }

            // A read spanning two adjacent saved segments.
            let segs = cwb.core().segments();
            let pair = segs.windows(2).find(|w| {
                w[0].vaddr + w[0].memsz == w[1].vaddr
                    && w[0].filesz == w[0].memsz
                    && w[1].filesz > 0
            });
            if let Some(w) = pair {
                let a = w[1].vaddr - 8;
                let mut buf = [0u8; 16];
                cwb.core().read(Addr(a), &mut buf).unwrap();
                let lo = cwb.core().slice(Addr(a), 8).unwrap();
                let hi = cwb.core().slice(Addr(w[1].vaddr), 8).unwrap();
                assert_eq!(&buf[..8], lo);
                assert_eq!(&buf[8..], hi);
                assert!(
                    cwb.core().slice(Addr(a), 16).is_none()
                        || w[0].offset + w[0].filesz == w[1].offset
                );
            }
            // Unmapped addresses are errors, not panics.
            assert!(matches!(cwb.read_u64(Addr(8)), Err(MemError::Unmapped(_))));
            assert!(cwb.read_u64(Addr(u64::MAX - 3)).is_err());
            checked += 1;
        }
    }
    assert!(checked > 0, "no fixture core checked");
    eprintln!("checked {checked} fixture cores");
}

#[test]
fn binaries_sections_symbols_and_dwarf() {
    let Some(dirs) = fixture_dirs() else { return };
    let mut checked = 0;
    for dir in &dirs {
        let ctx = dir.display().to_string();
        let bin = Binary::open(&dir.join("scenarios.zst")).unwrap();
        let stripped = ctx.ends_with("stripped");
        let pcln = bin.section_data(".gopclntab").expect(".gopclntab");
        // The pclntab magic: 0xfffffffb (1.16), 0xfffffff0 (1.18), 0xfffffff1 (1.20+).
        let magic = u32::from_le_bytes(pcln[..4].try_into().unwrap());
        assert!(
            matches!(magic, 0xfffffffb | 0xfffffff0 | 0xfffffff1),
            "{ctx}: {magic:#x}"
        );
        if stripped {
            assert!(bin.section_data(".debug_info").is_none(), "{ctx}");
            assert!(bin.symbol("runtime.main").is_none(), "{ctx}");
        } else {
            let info = bin.section_data(".debug_info").expect(".debug_info");
            // First compilation unit header: length within the section, version 2..=5.
            let len = u32::from_le_bytes(info[..4].try_into().unwrap()) as usize;
            let ver = u16::from_le_bytes(info[4..6].try_into().unwrap());
            assert!(len > 0 && len + 4 <= info.len(), "{ctx}: unit length {len}");
            assert!((2..=5).contains(&ver), "{ctx}: DWARF version {ver}");
            let raw = bin.section(".debug_info").unwrap();
            assert!(
                info.len() as u64 > raw.size,
                "{ctx}: DWARF was not inflated"
            );
            // Cached: the same bytes come back.
            assert!(std::ptr::eq(
                bin.section_data(".debug_info").unwrap().as_ptr(),
                info.as_ptr()
            ));
            assert!(bin
                .section_data(".debug_line")
                .is_some_and(|d| d.len() > 100));
            let main = bin.symbol("runtime.main").expect("runtime.main");
            assert!(main.size > 0);
            assert_eq!(
                bin.symbol_at(main.addr.add(1)).unwrap().name,
                "runtime.main"
            );
            assert_eq!(bin.symbol_at(main.addr).unwrap().name, "runtime.main");
            assert_ne!(
                bin.symbol_at(main.addr.add(main.size)).map(|s| s.name),
                Some("runtime.main")
            );
            let syms: Vec<_> = bin.symbols().iter().collect();
            assert!(syms.len() > 1000, "{} symbols", syms.len());
            assert!(syms.windows(2).all(|w| w[0].addr <= w[1].addr));
        }
        checked += 1;
    }
    assert!(checked > 0);
}

/// Rewrite one SHF_COMPRESSED section of a real binary into the legacy `.zdebug_*`
/// form ("ZLIB", 8-byte big-endian size, zlib stream) that old toolchains emit.
fn to_legacy_zdebug(bytes: &mut [u8], bin: &Binary, name: &str) -> bool {
    let shoff = u64::from_le_bytes(bytes[40..48].try_into().unwrap()) as usize;
    let Some(i) = bin.sections().iter().position(|s| s.name == name) else {
        return false;
    };
    let sec = &bin.sections()[i];
    if sec.flags & 0x800 == 0 {
        return false;
    }
    let h = shoff + i * 64;
    let off = sec.offset as usize;
    let chdr_type = u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap());
    assert_eq!(chdr_type, 1, "zlib");
    let size = u64::from_le_bytes(bytes[off + 8..off + 16].try_into().unwrap());
    // Legacy header is 12 bytes, Chdr 24: the stream stays where it is.
    bytes[off + 12..off + 16].copy_from_slice(b"ZLIB");
    bytes[off + 16..off + 24].copy_from_slice(&size.to_be_bytes());
    let new_off = sec.offset + 12;
    bytes[h + 24..h + 32].copy_from_slice(&new_off.to_le_bytes());
    bytes[h + 32..h + 40].copy_from_slice(&(sec.size - 12).to_le_bytes());
    let flags = sec.flags & !0x800;
    bytes[h + 8..h + 16].copy_from_slice(&flags.to_le_bytes());
    // Go's linker writes both ".debug_x" and ".zdebug_x" into .shstrtab: point the
    // section's name at the latter.
    let shstr = &bin.sections()[u16::from_le_bytes(bytes[62..64].try_into().unwrap()) as usize];
    let table = &bytes[shstr.offset as usize..(shstr.offset + shstr.size) as usize];
    let want = format!("\0.z{}\0", &name[1..]);
    let Some(pos) = table.windows(want.len()).position(|w| w == want.as_bytes()) else {
        return false;
    };
    bytes[h..h + 4].copy_from_slice(&(pos as u32 + 1).to_le_bytes());
    true
}

#[test]
fn shf_compressed_and_legacy_zdebug_sections_inflate() {
    let root = fixtures_root();
    let mut checked = 0;
    let mut legacy_checked = 0;
    for dir in ["go1.19-opt", "go1.22-opt", "go1.24-noopt"] {
        let p = root.join(dir).join("scenarios.zst");
        if !p.is_file() {
            eprintln!("NOTE: {} missing", p.display());
            continue;
        }
        let bin = Binary::open(&p).unwrap();
        let sec = bin.section(".debug_info").unwrap();
        assert!(sec.flags & 0x800 != 0, "{dir}: SHF_COMPRESSED");
        let info = bin.section_data(".debug_info").unwrap().into_owned();
        let abbrev = bin.section_data(".debug_abbrev").unwrap().into_owned();

        checked += 1;
        // Go 1.19's linker leaves ".zdebug_*" names in .shstrtab: that binary can be
        // turned into the legacy layout for real.
        let mut bytes = bin.bytes().to_vec();
        if !to_legacy_zdebug(&mut bytes, &bin, ".debug_info") {
            assert_ne!(dir, "go1.19-opt");
            continue;
        }
        assert!(to_legacy_zdebug(&mut bytes, &bin, ".debug_abbrev"), "{dir}");
        let tmp = tempfile::tempdir().unwrap();
        let lp = tmp.path().join("legacy");
        std::fs::write(&lp, &bytes).unwrap();
        let legacy = Binary::open(&lp).unwrap();
        assert!(legacy.sections().iter().any(|s| s.name == ".zdebug_info"));
        assert_eq!(legacy.section(".debug_info").unwrap().name, ".zdebug_info");
        assert!(legacy.section_data(".debug_info").unwrap() == info, "{dir}");
        assert!(
            legacy.section_data(".debug_abbrev").unwrap() == abbrev,
            "{dir}"
        );
        // A cut stream in the legacy form is "no data", not a panic.
        let s = legacy.section(".zdebug_abbrev").unwrap().clone();
        bytes[s.offset as usize + 20..(s.offset + s.size) as usize].fill(0);
        std::fs::write(&lp, &bytes).unwrap();
        let broken = Binary::open(&lp).unwrap();
        assert!(broken.section_data(".debug_abbrev").is_none());
        legacy_checked += 1;
    }
    if root.exists() {
        assert!(checked > 0);
    }
    if root.join("go1.19-opt").exists() {
        assert_eq!(legacy_checked, 1);
    }
}

#[test]
fn c_core_with_compressed_dwarf() {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/c");
    let (bp, cp) = (d.join("crash.zst"), d.join("crash.core.zst"));
    if !bp.is_file() || !cp.is_file() {
        eprintln!("NOTE: {} missing; skipped", d.display());
        return;
    }
    let bin = Arc::new(Binary::open(&bp).unwrap());
    assert!(bin.build_id().is_some_and(|b| b.len() == 20));
    assert!(bin.go_build_id().is_none());
    let sec = bin.section(".debug_info").unwrap();
    assert!(sec.flags & 0x800 != 0, "gcc -gz=zlib sets SHF_COMPRESSED");
    let info = bin.section_data(".debug_info").unwrap();
    assert!(info.len() as u64 > sec.size);
    let core = ElfCore::open(&cp).unwrap();
    assert_eq!(core.threads().len(), 1);
    let sig = core.signal().unwrap();
    assert_eq!(sig.signo, 11);
    assert!(sig.fault_addr.is_some());
    assert!(sig.sender_pid.is_none());
    let bias = compute_bias(&core, &bin);
    check_match(&core, &bin, bias).unwrap();
    let cwb = CoreWithBinary::new(core, bin.clone());
    let rip = cwb.threads()[0].regs.rip;
    assert!(in_text(&bin, bias, rip));
    let f = bin.symbol_at(Addr(rip - bias)).expect("symbol at rip");
    assert!(!f.name.is_empty());
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    cwb.read(Addr(rip), &mut a).unwrap();
    assert!(bin.read_vaddr(Addr(rip - bias), &mut b));
    assert_eq!(a, b);
}

#[test]
fn truncated_core_warns_and_reports_not_saved() {
    let Some((bin_path, core_path)) = fixture("go1.22-opt", "panic_main") else {
        eprintln!("NOTE: go1.22-opt/panic_main fixture missing; skipped");
        return;
    };
    let full = open_file(&core_path).unwrap();
    let cut = full.len() / 2;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("half.core");
    std::fs::write(&p, &full[..cut]).unwrap();
    let core = ElfCore::open(&p).unwrap();
    let w = core.warnings().join("\n");
    assert!(w.contains("core is truncated:"), "{w}");
    assert!(
        w.contains("MiB of") && w.contains("some memory is missing"),
        "{w}"
    );
    assert!(!core.threads().is_empty());
    // A segment wholly past the cut, and one before it.
    let past = core
        .segments()
        .iter()
        .find(|s| s.offset > cut as u64 && s.filesz > 0)
        .copied()
        .expect("a segment past the cut");
    assert!(matches!(
        core.read_u64(Addr(past.vaddr)),
        Err(MemError::NotSaved(_))
    ));
    let before = core
        .segments()
        .iter()
        .find(|s| s.offset + s.filesz <= cut as u64 && s.filesz > 0)
        .copied()
        .unwrap();
    let mut buf = vec![0u8; before.filesz as usize];
    core.read(Addr(before.vaddr), &mut buf).unwrap();
    assert_eq!(
        &buf[..],
        &full[before.offset as usize..(before.offset + before.filesz) as usize]
    );
    // A segment straddling the cut reads up to it, then NotSaved.
    if let Some(s) = core
        .segments()
        .iter()
        .find(|s| s.offset < cut as u64 && s.offset + s.filesz > cut as u64)
    {
        let at = s.vaddr + (cut as u64 - s.offset);
        core.read_u64(Addr(at - 8)).unwrap();
        assert!(matches!(
            core.read_u64(Addr(at - 4)),
            Err(MemError::NotSaved(_))
        ));
    }
    // The overlay does not paper over missing writable memory with the binary's bytes.
    let bin = Arc::new(Binary::open(&bin_path).unwrap());
    let cwb = CoreWithBinary::new(core, bin);
    assert!(matches!(
        cwb.read_u64(Addr(past.vaddr)),
        Err(MemError::NotSaved(_))
    ));
    assert!(cwb.warnings().iter().any(|w| w.contains("truncated")));
}

#[test]
fn wrong_binary_is_a_mismatch() {
    let (Some((_, core19)), Some((bin22, core22))) = (
        fixture("go1.19-opt", "panic_main"),
        fixture("go1.22-opt", "panic_main"),
    ) else {
        eprintln!("NOTE: go1.19-opt/go1.22-opt fixtures missing; skipped");
        return;
    };
    let bin = Binary::open(&bin22).unwrap();
    let core = ElfCore::open(&core19).unwrap();
    let e = check_match(&core, &bin, compute_bias(&core, &bin)).unwrap_err();
    assert!(e.contains("the core's Go build ID is"), "{e}");
    assert!(e.contains(bin.go_build_id().unwrap()), "{e}");
    assert!(!e.contains('\n'));
    // Same version, other build mode: still a different build.
    if let Some((strip22, _)) = fixture("go1.22-stripped", "panic_main") {
        let other = Binary::open(&strip22).unwrap();
        let core = ElfCore::open(&core22).unwrap();
        let e = check_match(&core, &other, 0).unwrap_err();
        assert!(e.contains("Go build ID"), "{e}");
    }
    // A C program's binary against a Go core: nothing lines up.
    let cbin = Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/c/crash.zst");
    if cbin.is_file() {
        let other = Binary::open(&cbin).unwrap();
        let core = ElfCore::open(&core22).unwrap();
        assert!(check_match(&core, &other, 0).is_err());
    }
}

#[test]
fn compressed_cores_open_transparently() {
    let Some((_, core_path)) =
        fixture("go1.21-opt", "nil_goroutine").or_else(|| fixture("go1.22-opt", "nil_goroutine"))
    else {
        eprintln!("NOTE: nil_goroutine fixture missing; skipped");
        return;
    };
    let plain = open_file(&core_path).unwrap();
    let reference = ElfCore::open(&core_path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let zst = dir.path().join("core.zst");
    std::fs::write(&zst, zstd::encode_all(&plain[..], 1).unwrap()).unwrap();
    let xz = dir.path().join("core.xz");
    let mut enc = xz2::write::XzEncoder::new(Vec::new(), 0);
    enc.write_all(&plain).unwrap();
    std::fs::write(&xz, enc.finish().unwrap()).unwrap();
    let lz4 = dir.path().join("core.lz4");
    let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
    enc.write_all(&plain).unwrap();
    std::fs::write(&lz4, enc.finish().unwrap()).unwrap();
    for p in [&zst, &xz, &lz4] {
        let c = ElfCore::open(p).unwrap();
        assert_eq!(c.bytes(), &plain[..], "{}", p.display());
        assert_eq!(c.segments(), reference.segments());
        let tids: Vec<u32> = c.threads().iter().map(|t| t.tid).collect();
        let want: Vec<u32> = reference.threads().iter().map(|t| t.tid).collect();
        assert_eq!(tids, want);
        assert_eq!(c.threads()[0].regs, reference.threads()[0].regs);
    }
    // A cut compressed stream: a one-line decompression error.
    let z = std::fs::read(&zst).unwrap();
    let cut = dir.path().join("cut.zst");
    std::fs::write(&cut, &z[..z.len() / 3]).unwrap();
    let e = ElfCore::open(&cut).unwrap_err().to_string();
    assert!(
        e.starts_with("cannot decompress") && e.contains("zstd:"),
        "{e}"
    );
    assert!(
        e.ends_with("is the file complete?") && !e.contains('\n'),
        "{e}"
    );
    let x = std::fs::read(&xz).unwrap();
    std::fs::write(&cut, &x[..x.len() / 2]).unwrap();
    let e = ElfCore::open(&cut).unwrap_err().to_string();
    assert!(
        e.starts_with("cannot decompress") && !e.contains('\n'),
        "{e}"
    );
}

#[test]
fn bad_inputs_give_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "goroutine 1 [running]:\n").unwrap();
    let e = ElfCore::open(&text).unwrap_err().to_string();
    assert!(e.contains("is not an ELF file") && !e.contains('\n'), "{e}");
    let e = Binary::open(&text).unwrap_err();
    assert!(matches!(e, SymError::NotElf(_)), "{e}");
    let missing = dir.path().join("no-such-core");
    let e = ElfCore::open(&missing).unwrap_err().to_string();
    assert!(
        e.starts_with("cannot read") && e.contains("no-such-core") && !e.contains('\n'),
        "{e}"
    );
    let e = Binary::open(&missing).unwrap_err();
    assert!(matches!(e, SymError::Io { .. }), "{e}");
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    assert!(ElfCore::open(&empty).is_err());
    assert!(Binary::open(&empty).is_err());
    let tiny = dir.path().join("tiny");
    std::fs::write(&tiny, b"\x7fELF\x02\x01").unwrap();
    assert!(ElfCore::open(&tiny)
        .unwrap_err()
        .to_string()
        .contains("truncated"));
    assert!(Binary::open(&tiny).is_err());

    // Binary and core swapped.
    if let Some((bin, core)) = fixture("go1.22-opt", "panic_main") {
        let e = ElfCore::open(&bin).unwrap_err().to_string();
        assert!(
            e.contains("is an executable, not a core; usage: coroner core BIN CORE"),
            "{e}"
        );
        let e = Binary::open(&core).unwrap_err().to_string();
        assert!(e.contains("is a core file, not an executable"), "{e}");
        // Wrong architecture: patch e_machine to aarch64.
        let mut bytes = open_file(&core).unwrap().to_vec();
        bytes[18] = 183;
        bytes[19] = 0;
        let p = dir.path().join("arm.core");
        std::fs::write(&p, &bytes).unwrap();
        // arm64 cores open now; paired with the amd64 binary it is refused.
        let e = match coroner::target::Target::open(&coroner::target::OpenOptions {
            binary: bin.clone(),
            core: p.clone(),
            force: false,
        }) {
            Ok(_) => panic!("an arm64 core opened with an amd64 binary"),
            Err(e) => e.to_string(),
        };
        assert!(
            e.contains("arm64") && e.contains("amd64") && !e.contains('\n'),
            "{e}"
        );
        let mut b = open_file(&bin).unwrap().to_vec();
        b[18] = 183;
        b[19] = 0;
        let p = dir.path().join("arm.bin");
        std::fs::write(&p, &b).unwrap();
        // An arm64 binary opens too; with the amd64 core it is refused.
        let e = match coroner::target::Target::open(&coroner::target::OpenOptions {
            binary: p.clone(),
            core: core.clone(),
            force: false,
        }) {
            Ok(_) => panic!("an amd64 core opened with an arm64 binary"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("arm64") && !e.contains('\n'), "{e}");
    }
}

#[test]
fn sstripped_binary_opens_from_segments() {
    let Some((bin_path, core_path)) = fixture("go1.22-stripped", "panic_main") else {
        eprintln!("NOTE: go1.22-stripped fixture missing; skipped");
        return;
    };
    let mut b = open_file(&bin_path).unwrap().to_vec();
    let orig = Binary::open(&bin_path).unwrap();
    // No section headers at all: e_shoff, e_shnum, e_shstrndx zeroed.
    b[40..48].fill(0);
    b[60..64].fill(0);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("scenarios");
    std::fs::write(&p, &b).unwrap();
    let bin = Arc::new(Binary::open(&p).unwrap());
    assert!(bin.sections().is_empty());
    assert!(bin.section_data(".gopclntab").is_none());
    assert_eq!(bin.segments().len(), orig.segments().len());
    assert_eq!(bin.go_build_id(), orig.go_build_id(), "found via PT_NOTE");
    let core = ElfCore::open(&core_path).unwrap();
    // Only section-header fields differ, which stripping rewrites: the same build.
    check_match(&core, &bin, 0).unwrap();
    let _ = CoreWithBinary::new(core, bin.clone())
        .read_u64(bin.entry())
        .unwrap();
}

/// A plain core file is read through `pread` and a per-thread page cache for small
/// reads, the mapping for the rest: every read must give the bytes an in-memory copy
/// of the same core gives, across page boundaries, from several threads at once, and
/// with two cores read alternately on one thread (their caches must not mix).
#[test]
fn small_reads_of_a_plain_core_equal_the_in_memory_core() {
    let (Some((_, a)), Some((_, b))) = (
        fixture("go1.22-opt", "panic_main"),
        fixture("go1.25-noopt", "deadlock"),
    ) else {
        eprintln!("NOTE: fixture cores missing; skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let open_both = |p: &Path, name: &str| {
        let bytes = open_file(p).unwrap();
        let plain = dir.path().join(name);
        std::fs::write(&plain, &bytes[..]).unwrap();
        (
            Arc::new(ElfCore::open(&plain).unwrap()),
            Arc::new(ElfCore::from_bytes(p, bytes).unwrap()),
        )
    };
    let (pa, ma) = open_both(&a, "a.core");
    let (pb, mb) = open_both(&b, "b.core");
    // Addresses near the ends of pages and segments, every read size up to past the
    // small-read limit.
    let probes = |c: &ElfCore| -> Vec<(u64, usize)> {
        let mut v = Vec::new();
        for s in c.segments().iter().filter(|s| s.filesz > 0) {
            for off in [0, 1, 4088, 4095, 4096, 8190, s.filesz.saturating_sub(3)] {
                for len in [1usize, 8, 15, 200, 1024, 1025, 5000] {
                    v.push((s.vaddr + off.min(s.filesz - 1), len));
                }
            }
        }
        v
    };
    let check = |plain: &ElfCore, mem: &ElfCore, what: &str| {
        let mut n = 0;
        for (addr, len) in probes(mem) {
            let (mut x, mut y) = (vec![0u8; len], vec![0u8; len]);
            let rx = plain.read(Addr(addr), &mut x);
            let ry = mem.read(Addr(addr), &mut y);
            assert_eq!(rx.is_ok(), ry.is_ok(), "{what}: {addr:#x}+{len}");
            if rx.is_ok() {
                assert!(x == y, "{what}: bytes differ at {addr:#x}+{len}");
                n += 1;
            }
        }
        assert!(n > 100, "{what}: only {n} reads compared");
    };
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                check(&pa, &ma, "a");
                check(&pb, &mb, "b");
            });
        }
    });
    // Alternating on one thread: a read of b between reads of a, page by page.
    for (addr, len) in probes(&ma).into_iter().take(400) {
        let (mut x, mut y, mut z) = (vec![0u8; len], vec![0u8; len], [0u8; 8]);
        let seg = mb.segments().iter().find(|s| s.filesz >= 8);
        if let Some(s) = seg {
            let _ = pb.read(Addr(s.vaddr), &mut z);
        }
        if pa.read(Addr(addr), &mut x).is_ok() {
            ma.read(Addr(addr), &mut y).unwrap();
            assert!(x == y, "alternating: bytes differ at {addr:#x}+{len}");
        }
    }
}
