//! A binary's symbol table: whatever `.symtab` and `.strtab` hold, and wherever their
//! section headers say they are, reading the symbols, looking names and addresses up
//! and locating a pclntab must not panic, and every symbol listed must be found again
//! by its name.
//!   cargo +nightly fuzz run elf_symbols -- -max_total_time=180 -max_len=8192
//!
//! The input: 2 bytes pick how the section headers lie (offsets and sizes shifted or
//! pointing past the file), then the symbol table's bytes and the string table's,
//! split at a point the third byte picks.
#![no_main]

use coroner::addr::Addr;
use coroner::snapshot::FileBytes;
use coroner::symbols::{Binary, Pclntab};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fn put16(v: &mut [u8], at: usize, x: u16) {
    v[at..at + 2].copy_from_slice(&x.to_le_bytes());
}
fn put32(v: &mut [u8], at: usize, x: u32) {
    v[at..at + 4].copy_from_slice(&x.to_le_bytes());
}
fn put64(v: &mut [u8], at: usize, x: u64) {
    v[at..at + 8].copy_from_slice(&x.to_le_bytes());
}

/// An ELF64 executable: header, symtab, strtab, shstrtab, then four section headers.
fn elf(mode: [u8; 2], symtab: &[u8], strtab: &[u8]) -> Vec<u8> {
    let shstr = b"\0.symtab\0.strtab\0.shstrtab\0";
    let sym_off = 64usize;
    let str_off = sym_off + symtab.len();
    let shs_off = str_off + strtab.len();
    let sh_off = (shs_off + shstr.len() + 7) & !7;
    let mut v = vec![0u8; sh_off + 4 * 64];
    v[..4].copy_from_slice(b"\x7fELF");
    v[4] = 2; // 64-bit
    v[5] = 1; // little-endian
    v[6] = 1;
    put16(&mut v, 16, 2); // ET_EXEC
    put16(&mut v, 18, 62); // x86-64
    put32(&mut v, 20, 1);
    put64(&mut v, 24, 0x40_1000);
    put64(&mut v, 40, sh_off as u64);
    put16(&mut v, 52, 64);
    put16(&mut v, 58, 64);
    put16(&mut v, 60, 4);
    put16(&mut v, 62, 3);
    v[sym_off..str_off].copy_from_slice(symtab);
    v[str_off..shs_off].copy_from_slice(strtab);
    v[shs_off..shs_off + shstr.len()].copy_from_slice(shstr);
    // How the headers lie: a shifted offset, a size past the end, a bad link.
    let skew = |m: u8, off: usize, len: usize| -> (u64, u64) {
        match m & 3 {
            0 => (off as u64, len as u64),
            1 => (off as u64 + u64::from(m >> 2), len as u64),
            2 => (off as u64, len as u64 + u64::from(m) * 1000),
            _ => (u64::MAX - u64::from(m), len as u64),
        }
    };
    let (so, ss) = skew(mode[0], sym_off, symtab.len());
    let (to, ts) = skew(mode[1], str_off, strtab.len());
    let link = if mode[0] & 0x80 != 0 { 7 } else { 2 };
    let heads = [
        (1u32, 2u32, so, ss, link),                           // .symtab
        (9, 3, to, ts, 0),                                    // .strtab
        (17, 3, shs_off as u64, shstr.len() as u64, 0),       // .shstrtab
    ];
    for (i, (name, ty, off, size, link)) in heads.into_iter().enumerate() {
        let h = sh_off + 64 * (i + 1);
        put32(&mut v, h, name);
        put32(&mut v, h + 4, ty);
        put64(&mut v, h + 24, off);
        put64(&mut v, h + 32, size);
        put32(&mut v, h + 40, link);
        put64(&mut v, h + 56, 24);
    }
    v
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let mode = [data[0], data[1]];
    let rest = &data[3..];
    let cut = (usize::from(data[2]) * rest.len() / 255).min(rest.len());
    let (symtab, strtab) = rest.split_at(cut);
    let bytes = elf(mode, symtab, strtab);
    let Ok(bin) = Binary::from_bytes(Path::new("fuzz"), FileBytes::from_vec("fuzz", bytes)) else {
        return;
    };
    let syms = bin.symbols();
    let mut n = 0;
    for s in syms.iter() {
        assert!(!s.name.is_empty() && !s.name.contains('\0'));
        // Found by name (the lowest-addressed of that name) and by address.
        let by_name = bin.symbol(s.name).expect("a listed name is found");
        assert_eq!(by_name.name, s.name);
        assert!(by_name.addr <= s.addr);
        let _ = bin.symbol_at(s.addr);
        let _ = bin.symbol_at(Addr(s.addr.get().wrapping_add(s.size)));
        n += 1;
        if n > 200 {
            break;
        }
    }
    let _ = bin.symbol("runtime.text");
    let _ = Pclntab::load(&bin);
});
