//! CFI unwinding and compressed DWARF on the C fixture (`cores/c`): a static
//! `-O2 -fomit-frame-pointer -g -gz=zlib` binary that dies of SIGSEGV in f3, called
//! from f2 <- f1 <- main. Without frame pointers only `.eh_frame` can unwind it.

use coroner::addr::Addr;
use coroner::snapshot::elfcore::ElfCore;
use coroner::snapshot::{Memory, Snapshot};
use coroner::symbols::cfi::{reg, Cfi, CfiSections, RegSet};
use coroner::symbols::dwarf::Dwarf;
use coroner::symbols::Binary;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("cores/c")
        .join(name)
}

fn open() -> (Binary, ElfCore) {
    let bin = Binary::open(&fixture("crash.zst")).expect("open crash binary");
    let core = ElfCore::open(&fixture("crash.core.zst")).expect("open crash core");
    (bin, core)
}

fn func_name(bin: &Binary, pc: u64) -> String {
    bin.symbol_at(Addr(pc))
        .map(|s| s.name.to_string())
        .unwrap_or_else(|| format!("?{pc:#x}"))
}

/// Walk the crashing thread with CFI only; returns the function names, innermost first.
fn unwind_names(bin: &Binary, core: &ElfCore, cfi: &Cfi) -> Vec<String> {
    let thread = core
        .threads()
        .iter()
        .find(|t| t.signal == 11)
        .or_else(|| core.threads().first())
        .expect("a thread");
    let mut regs = RegSet::from_registers(&thread.regs);
    let mut names = Vec::new();
    let mut innermost = true;
    while let Some(pc) = regs.pc() {
        let name = func_name(bin, pc);
        let done = name == "main";
        names.push(name);
        if done || names.len() > 16 {
            break;
        }
        // Return addresses are looked up at pc-1: the call may be a function's last
        // instruction.
        let lookup = if innermost { pc } else { pc - 1 };
        innermost = false;
        let Some(next) = cfi.unwind_step(lookup, &regs, core) else {
            break;
        };
        assert!(
            next.sp() > regs.sp(),
            "stack must grow towards higher addresses while unwinding"
        );
        regs = next;
    }
    names
}

#[test]
fn cfi_unwinds_crash_through_f3_f2_f1_main() {
    let (bin, core) = open();
    let cfi = Cfi::load(&bin);
    assert!(!cfi.is_empty());
    let names = unwind_names(&bin, &core, &cfi);
    assert_eq!(names, ["f3", "f2", "f1", "main"]);
}

#[test]
fn cfi_without_eh_frame_hdr_uses_full_table() {
    // Same walk through the sorted FDE table instead of the binary search header.
    let (bin, core) = open();
    let sec = |n: &str| Some((bin.section(n)?.addr.get(), bin.section_data(n)?));
    let cfi = Cfi::from_sections(
        CfiSections {
            eh_frame: sec(".eh_frame"),
            eh_frame_hdr: None,
            debug_frame: None,
            text_addr: bin.section(".text").map(|s| s.addr.get()),
            got_addr: bin.section(".got").map(|s| s.addr.get()),
        },
        0,
    );
    assert_eq!(unwind_names(&bin, &core, &cfi), ["f3", "f2", "f1", "main"]);
}

#[test]
fn cfi_applies_load_bias() {
    // As if the binary were loaded 0x10000 higher: code addresses move, the stack is
    // the same, and return addresses read from it are link-time ones; the step must
    // find f2's FDE at the biased PC.
    let (bin, core) = open();
    let bias = 0x10000;
    let cfi = Cfi::load_with_bias(&bin, bias);
    let f3 = bin.symbol("f3").expect("f3").addr.get();
    let t = core
        .threads()
        .iter()
        .find(|t| t.signal == 11)
        .expect("crashing thread");
    let mut regs = RegSet::from_registers(&t.regs);
    regs.set(reg::RIP, Some(t.regs.rip + bias));
    assert!(cfi.has_fde(f3 + bias));
    assert!(!Cfi::load(&bin).has_fde(0x10));
    let caller = cfi
        .unwind_step(t.regs.rip + bias, &regs, &core)
        .expect("step");
    assert_eq!(func_name(&bin, caller.pc().expect("pc")), "f2");
    let (start, end) = cfi.fde_range(f3 + bias).expect("range");
    assert_eq!(start.get(), f3 + bias);
    assert!(end.get() > start.get());
}

#[test]
fn cfi_step_rules_are_exact() {
    // f2 does `sub $0x38,%rsp; ...; call f3`: inside f2 after the call the CFA is
    // rsp+0x40 and the return address sits at CFA-8.
    let (bin, core) = open();
    let cfi = Cfi::load(&bin);
    let t = core
        .threads()
        .iter()
        .find(|t| t.signal == 11)
        .expect("crashing thread");
    let regs = RegSet::from_registers(&t.regs);
    let in_f2 = cfi.unwind_step(t.regs.rip, &regs, &core).expect("f3 -> f2");
    // f3 is a leaf using the red zone: CFA = rsp + 8.
    assert_eq!(in_f2.sp(), Some(t.regs.rsp + 8));
    let ra = core.read_u64(Addr(t.regs.rsp)).expect("ra");
    assert_eq!(in_f2.pc(), Some(ra));
    // Callee-saved registers the CFI does not mention carry over; scratch ones do not.
    assert_eq!(in_f2.get(reg::RBX), Some(t.regs.rbx));
    assert_eq!(in_f2.get(reg::RAX), None);
    let pc2 = in_f2.pc().expect("pc");
    let in_f1 = cfi.unwind_step(pc2 - 1, &in_f2, &core).expect("f2 -> f1");
    let sp2 = in_f2.sp().expect("sp");
    assert_eq!(in_f1.sp(), Some(sp2 + 0x40));
    assert_eq!(
        in_f1.pc(),
        Some(core.read_u64(Addr(sp2 + 0x38)).expect("ra"))
    );
}

#[test]
fn cfi_missing_register_or_memory_gives_none() {
    let (bin, core) = open();
    let cfi = Cfi::load(&bin);
    let f2 = bin.symbol("f2").expect("f2").addr.get();
    // No rsp: the CFA cannot be computed.
    let regs = RegSet::from_pc_sp_bp(f2 + 8, 0, None);
    let mut no_sp = regs;
    no_sp.set(reg::RSP, None);
    assert!(cfi.unwind_step(f2 + 8, &no_sp, &core).is_none());
    // An rsp outside the core: the return address cannot be read.
    assert!(cfi.unwind_step(f2 + 8, &regs, &core).is_none());
}

#[test]
fn compressed_c_dwarf_loads() {
    // The binary's .debug_* sections are SHF_COMPRESSED (zlib, -gz=zlib).
    let (bin, _) = open();
    let bin = std::sync::Arc::new(bin);
    let info = bin.section(".debug_info").expect(".debug_info");
    assert_ne!(info.flags & 0x800, 0, "fixture must use SHF_COMPRESSED");
    let dwarf = Dwarf::load(&bin).expect("dwarf").expect("has dwarf");
    let producer = dwarf.producer().expect("producer");
    assert!(producer.starts_with("GNU C"), "{producer}");
    let re = regex::Regex::new("^f[123]$").expect("regex");
    assert_eq!(dwarf.functions_matching(&re), ["f1", "f2", "f3"]);
    let (addr, ty) = dwarf.global("crash_ptr").expect("crash_ptr");
    assert_eq!(Some(addr), bin.symbol("crash_ptr").map(|s| s.addr));
    assert_eq!(ty.as_deref(), Some("int *volatile"));
    assert_eq!(dwarf.type_size("int"), Some(4));
}

/// A fake ucontext_t at `base`: 256 bytes, each 8-byte slot holding `0x1000 + index`.
struct Ucontext {
    base: u64,
}

impl Memory for Ucontext {
    fn read(&self, addr: Addr, buf: &mut [u8]) -> Result<(), coroner::snapshot::MemError> {
        let mut image = Vec::with_capacity(256);
        for i in 0..32u64 {
            image.extend_from_slice(&(0x1000 + i).to_le_bytes());
        }
        let off = usize::try_from(addr.get().wrapping_sub(self.base)).unwrap_or(usize::MAX);
        let end = off.saturating_add(buf.len());
        let src = image
            .get(off..end)
            .ok_or(coroner::snapshot::MemError::Unmapped(addr))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

#[test]
fn cfi_signal_trampoline_expressions() {
    // glibc's __restore_rt has hand-written CFI ('S' augmentation): the CFA is
    // `*(rsp + offsetof(ucontext_t, uc_mcontext.gregs[REG_RSP]))` (DW_CFA_def_cfa_expression)
    // and every register is `DW_CFA_expression: rsp + offset of its greg`.
    let (bin, _) = open();
    let cfi = Cfi::load(&bin);
    let restore = bin.symbol("__restore_rt").expect("__restore_rt").addr.get();
    assert!(cfi.is_signal_frame(restore));
    let f3 = bin.symbol("f3").expect("f3").addr.get();
    assert!(!cfi.is_signal_frame(f3));

    let base = 0x7fff_0000_0000;
    let mem = Ucontext { base };
    let regs = RegSet::from_pc_sp_bp(restore, base, None);
    let out = cfi.unwind_step(restore, &regs, &mem).expect("step");
    // gregs start at offset 40 (uc_flags, uc_link, uc_stack): slot 5 + REG_*.
    let greg = |r: u64| 0x1000 + 5 + r;
    assert_eq!(out.sp(), Some(greg(15)), "REG_RSP");
    assert_eq!(out.pc(), Some(greg(16)), "REG_RIP");
    assert_eq!(out.get(reg::RBP), Some(greg(10)), "REG_RBP");
    assert_eq!(out.get(reg::RBX), Some(greg(11)), "REG_RBX");
    assert_eq!(out.get(reg::RAX), Some(greg(13)), "REG_RAX");
    assert_eq!(out.get(reg::R15), Some(greg(7)), "REG_R15");
}

#[test]
fn corrupt_sections_give_errors_not_panics() {
    // Truncated and bit-flipped DWARF/CFI: every query must return, never panic.
    let (bin, core) = open();
    let info = bin.section_data(".debug_info").expect("info").into_owned();
    let abbrev = bin
        .section_data(".debug_abbrev")
        .expect("abbrev")
        .into_owned();
    let eh = bin.section_data(".eh_frame").expect("eh").into_owned();
    let eh_addr = bin.section(".eh_frame").expect("eh").addr.get();
    let f2 = bin.symbol("f2").expect("f2").addr.get();
    let t = core.threads().first().expect("thread");
    let regs = RegSet::from_registers(&t.regs);
    let re = regex::Regex::new(".").expect("regex");
    let mut variants: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> = Vec::new();
    for cut in [1usize, 7, 11, 40, 100, 300] {
        let c = |v: &Vec<u8>| v.get(..cut.min(v.len())).unwrap_or_default().to_vec();
        variants.push((c(&info), c(&abbrev), c(&eh)));
    }
    for stride in [3usize, 17, 61] {
        let flip = |v: &Vec<u8>| {
            let mut v = v.clone();
            for b in v.iter_mut().step_by(stride) {
                *b ^= 0xa5;
            }
            v
        };
        variants.push((flip(&info), flip(&abbrev), flip(&eh)));
    }
    for (info, abbrev, eh) in variants {
        let get = |name: &str| match name {
            ".debug_info" => Some(std::borrow::Cow::Borrowed(&info[..])),
            ".debug_abbrev" => Some(std::borrow::Cow::Borrowed(&abbrev[..])),
            _ => None,
        };
        if let Ok(Some(d)) = Dwarf::from_sections(get) {
            let _ = d.producer();
            for n in d.types_matching(&re) {
                let _ = d.struct_layout(&n);
                let _ = d.type_size(&n);
                let _ = d.field_offset(&n, "a.b");
            }
            let _ = d.functions_matching(&re);
            let _ = d.global("crash_ptr");
            let _ = d.struct_layout("int");
            let _ = d.index_problems();
        }
        let cfi = Cfi::from_sections(
            CfiSections {
                eh_frame: Some((eh_addr, std::borrow::Cow::Borrowed(&eh[..]))),
                ..Default::default()
            },
            0,
        );
        let _ = cfi.has_fde(f2);
        let _ = cfi.unwind_step(t.regs.rip, &regs, &core);
        let _ = cfi.unwind_step(f2 + 8, &regs, &core);
    }
}
