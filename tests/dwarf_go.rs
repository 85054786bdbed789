//! DWARF and CFI on the Go fixture corpus (`cores/fixtures/go1.NN-MODE/scenarios.zst`,
//! built by `cores/generate.sh` with every installed Go toolchain). Checks what the Go
//! runtime model depends on, on every version present.

use coroner::addr::Addr;
use coroner::snapshot::{MemError, Memory};
use coroner::symbols::cfi::{reg, Cfi, RegSet};
use coroner::symbols::dwarf::Dwarf;
use coroner::symbols::Binary;
use std::path::{Path, PathBuf};

/// (directory name, Go version "go1.NN", mode, binary path) of every fixture present.
fn fixtures() -> Option<Vec<(String, String, String, PathBuf)>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/fixtures");
    let rd = std::fs::read_dir(&root).ok()?;
    let mut out = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some((ver, mode)) = name.split_once('-') else {
            continue;
        };
        let bin = e.path().join("scenarios.zst");
        if ver.starts_with("go1.") && bin.is_file() {
            out.push((name.clone(), ver.to_string(), mode.to_string(), bin));
        }
    }
    out.sort();
    Some(out)
}

fn in_data_segment(bin: &Binary, a: Addr) -> bool {
    // PF_W: package variables live in .data/.bss/.noptrdata/.noptrbss.
    bin.segments()
        .iter()
        .any(|s| s.flags & 2 != 0 && a >= s.vaddr && a.get() < s.vaddr.get() + s.memsz)
}

fn check_dwarf(label: &str, ver: &str, bin: &Binary, d: &Dwarf) {
    let producer = d.producer().unwrap_or_default();
    // "Go cmd/compile go1.22.10; regabi" names go1.22, not go1.2 or go1.221.
    let names_version = producer
        .match_indices(ver)
        .any(|(i, _)| !producer[i + ver.len()..].starts_with(|c: char| c.is_ascii_digit()));
    assert!(
        names_version,
        "{label}: producer {producer:?} does not name {ver}"
    );

    let g = d
        .struct_layout("runtime.g")
        .unwrap_or_else(|| panic!("{label}: runtime.g"));
    assert!(g.size > 200, "{label}: runtime.g size {}", g.size);
    for f in [
        "goid",
        "atomicstatus",
        "sched",
        "stack",
        "waitreason",
        "m",
        "gopc",
        "startpc",
    ] {
        assert!(g.field(f).is_some(), "{label}: runtime.g has no {f}");
    }
    let sched = g.field("sched").map(|f| f.type_name.as_str());
    assert_eq!(sched, Some("runtime.gobuf"), "{label}");
    assert_eq!(
        g.field("stack").map(|f| f.offset),
        Some(0),
        "{label}: stack first"
    );
    assert_eq!(
        g.field("goid").and_then(|f| f.size),
        Some(8),
        "{label}: goid size"
    );
    assert_eq!(
        g.field("m").map(|f| f.type_name.as_str()),
        Some("*runtime.m"),
        "{label}"
    );

    // Dotted paths agree with the nested layouts.
    let gobuf = d
        .struct_layout("runtime.gobuf")
        .unwrap_or_else(|| panic!("{label}: gobuf"));
    let sched_off = g.field("sched").map(|f| f.offset).unwrap_or_default();
    for f in ["sp", "pc", "bp"] {
        let inner = gobuf
            .field(f)
            .unwrap_or_else(|| panic!("{label}: gobuf.{f}"))
            .offset;
        assert_eq!(
            d.field_offset("runtime.g", &format!("sched.{f}")),
            Some(sched_off + inner),
            "{label}: sched.{f}"
        );
    }
    assert_eq!(d.field_offset("runtime.g", "stack.lo"), Some(0), "{label}");
    assert_eq!(d.field_offset("runtime.g", "stack.hi"), Some(8), "{label}");
    // atomicstatus is uint32 before 1.20 and atomic.Uint32 after: same answer for both
    // spellings, and the field is 4 bytes either way.
    let status = d.field_offset("runtime.g", "atomicstatus");
    assert!(status.is_some(), "{label}: atomicstatus");
    assert_eq!(
        d.field_offset("runtime.g", "atomicstatus.value"),
        status,
        "{label}"
    );
    assert_eq!(
        g.field("atomicstatus").and_then(|f| f.size),
        Some(4),
        "{label}"
    );
    assert_eq!(d.field_offset("runtime.g", "nosuchfield"), None, "{label}");
    assert_eq!(d.type_size("runtime.g"), Some(g.size), "{label}");

    for s in [
        "runtime.m",
        "runtime.p",
        "runtime._panic",
        "runtime.sudog",
        "runtime.hchan",
    ] {
        assert!(d.struct_layout(s).is_some(), "{label}: {s}");
    }
    // sync.Mutex wraps internal/sync.Mutex from 1.24 on; `state` is found either way.
    assert!(
        d.field_offset("sync.Mutex", "state").is_some(),
        "{label}: sync.Mutex.state"
    );

    for v in ["runtime.allgs", "runtime.allglen", "runtime.buildVersion"] {
        let (a, _) = d.global(v).unwrap_or_else(|| panic!("{label}: global {v}"));
        assert!(in_data_segment(bin, a), "{label}: {v} at {a} outside data");
    }
    let (_, ty) = d
        .global("runtime.allgs")
        .unwrap_or_else(|| panic!("{label}: allgs"));
    assert_eq!(ty.as_deref(), Some("[]*runtime.g"), "{label}");
    assert!(d.global("runtime.noSuchVariable").is_none());

    let re = regex::Regex::new(r"^runtime\.(gobuf|hchan)$").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        d.types_matching(&re),
        ["runtime.gobuf", "runtime.hchan"],
        "{label}"
    );
    let re = regex::Regex::new(r"^(main\.main|runtime\.gopark)$").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        d.functions_matching(&re),
        ["main.main", "runtime.gopark"],
        "{label}"
    );
    assert!(
        d.index_problems().is_empty(),
        "{label}: {:?}",
        d.index_problems()
    );
}

/// Eight bytes of stack: the return address a call pushed.
struct OneWord(u64, u64);
impl Memory for OneWord {
    fn read(&self, addr: Addr, buf: &mut [u8]) -> Result<(), MemError> {
        let off = addr.get().wrapping_sub(self.0) as usize;
        let bytes = self.1.to_le_bytes();
        match bytes.get(off..off + buf.len()) {
            Some(b) if off < 8 => {
                buf.copy_from_slice(b);
                Ok(())
            }
            _ => Err(MemError::Unmapped(addr)),
        }
    }
}

fn check_cfi(label: &str, bin: &Binary) {
    // Go's linker writes .debug_frame: at a function's entry the CFA is rsp+8 and the
    // return address is at rsp.
    let cfi = Cfi::load(bin);
    let main = bin
        .symbol("main.main")
        .unwrap_or_else(|| panic!("{label}: main.main"));
    assert!(
        cfi.has_fde(main.addr.get()),
        "{label}: no FDE for main.main"
    );
    let sp = 0x00c0_0001_0000;
    let ret = 0x4011_2233;
    let regs = RegSet::from_pc_sp_bp(main.addr.get(), sp, Some(0x1234));
    let caller = cfi
        .unwind_step(main.addr.get(), &regs, &OneWord(sp, ret))
        .unwrap_or_else(|| panic!("{label}: step at main.main"));
    assert_eq!(caller.pc(), Some(ret), "{label}");
    assert_eq!(caller.sp(), Some(sp + 8), "{label}");
    assert_eq!(
        caller.get(reg::RBP),
        Some(0x1234),
        "{label}: rbp untouched at entry"
    );
}

#[test]
fn go_fixtures_dwarf_and_cfi() {
    let Some(list) = fixtures() else {
        eprintln!("no cores/fixtures directory: nothing to check");
        return;
    };
    let mut checked = 0;
    for (label, ver, mode, path) in &list {
        let bin =
            std::sync::Arc::new(Binary::open(path).unwrap_or_else(|e| panic!("{label}: {e}")));
        let t = std::time::Instant::now();
        let dwarf = Dwarf::load(&bin).unwrap_or_else(|e| panic!("{label}: {e}"));
        if mode == "stripped" {
            assert!(dwarf.is_none(), "{label}: stripped binary has DWARF?");
            checked += 1;
            continue;
        }
        let d = dwarf.unwrap_or_else(|| panic!("{label}: no DWARF"));
        check_dwarf(label, ver, &bin, &d);
        eprintln!("{label}: DWARF checks in {:?}", t.elapsed());
        check_cfi(label, &bin);
        checked += 1;
    }
    assert!(
        checked > 0,
        "cores/fixtures exists but holds no go1.NN-MODE/scenarios.zst"
    );
}
