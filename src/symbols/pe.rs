//! PE (Windows) executables, read into the same [`Binary`] summary as ELF files, so
//! that pclntab, DWARF, build info and the snapshot overlays work on them unchanged.
//!
//! Parsed by hand from the COFF and PE32+ headers (a few fixed-layout tables; every
//! read is bounds-checked, so a truncated or corrupt file gives an error, never a
//! panic). What the rest of coroner sees:
//! - sections: the section table, long names (`/N`, Go's `.debug_*`) resolved through
//!   the COFF string table; addresses are run-time addresses at the preferred image
//!   base (ImageBase + VirtualAddress), as Go's symbols and pclntab record them.
//! - segments: one per loaded section (not the discardable ones) plus the headers,
//!   with R/W/X from the section characteristics: the pclntab locator scans them and
//!   the minidump overlay serves read-only ones for memory a dump left out.
//! - symbols: the COFF symbol table Go writes (none in `-s -w` builds: the pclntab is
//!   then found by the moduledata or magic scan over the segments); sizes are the
//!   distance to the next symbol of the same section.
//! - the Go build ID: the `\xff Go build ID: "..."` string at the start of `.text`.

use super::{Binary, Section, SectionInfo, Segment};
use crate::addr::Addr;
use crate::snapshot::compressed::FileBytes;
use crate::snapshot::notes::{le_u32, le_u64};
use crate::symbols::symtab::{NewSymbol, SymbolTable};
use crate::symbols::SymError;
use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

const PE_MAGIC: &[u8; 4] = b"PE\0\0";
const OPT_PE32PLUS: u16 = 0x20b;
const OPT_PE32: u16 = 0x10b;
const MACHINE_AMD64: u16 = 0x8664;
const MACHINE_ARM64: u16 = 0xaa64;
const MACHINE_I386: u16 = 0x14c;
const SCN_UNINITIALIZED: u32 = 0x80;
const SCN_DISCARDABLE: u32 = 0x0200_0000;
const SCN_EXECUTE: u32 = 0x2000_0000;
const SCN_READ: u32 = 0x4000_0000;
const SCN_WRITE: u32 = 0x8000_0000;
const DLL_DYNAMIC_BASE: u16 = 0x40;
const SYMBOL_SIZE: usize = 18;
/// ELF section type for "no bytes in the file", so `section_data` treats `.bss` alike.
const SHT_NOBITS: u32 = 8;
/// Cap on counts taken from the headers: a corrupt header must not allocate much.
const MAX_SYMBOLS: usize = 4 << 20;

/// What the PE headers say that ELF files have no field for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeInfo {
    /// The preferred load address (Go: 0x400000, or 0x140000000 for PIE builds).
    pub image_base: u64,
    pub size_of_image: u32,
    /// COFF TimeDateStamp (Go writes 0): the module list of a dump records it too.
    pub timestamp: u32,
}

/// Whether `head` starts a PE file ("MZ", the DOS header).
pub fn is_pe(head: &[u8]) -> bool {
    head.starts_with(b"MZ")
}

fn le_u16(d: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        d.get(off..off.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn machine_name(m: u16) -> String {
    match m {
        MACHINE_I386 => "i386".into(),
        0x1c0 | 0x1c4 => "arm".into(),
        m => format!("machine type {m:#x}"),
    }
}

/// A NUL-terminated name from the COFF string table at `off`.
fn strtab_name(strtab: &[u8], off: usize) -> Option<String> {
    let s = strtab.get(off..)?;
    let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
    Some(String::from_utf8_lossy(s.get(..end)?).into_owned())
}

/// An 8-byte name field (section or short symbol name): NUL-padded.
fn short_name(b: &[u8]) -> String {
    let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
    String::from_utf8_lossy(b.get(..end).unwrap_or(b)).into_owned()
}

/// Parse a PE executable into a [`Binary`].
pub fn parse(path: &Path, data: FileBytes) -> Result<Binary, SymError> {
    let p = path.display().to_string();
    let bad = |msg: &str| SymError::BadPe {
        path: p.clone(),
        msg: msg.to_string(),
    };
    let d: &[u8] = &data;
    let pe_off = le_u32(d, 0x3c).ok_or_else(|| bad("the DOS header is cut off"))? as usize;
    if d.get(pe_off..pe_off.saturating_add(4)) != Some(PE_MAGIC.as_slice()) {
        return Err(SymError::Unsupported(format!(
            "{p} is an MS-DOS or 16-bit executable (no PE header); coroner reads Windows PE32+ and ELF binaries"
        )));
    }
    let coff = pe_off + 4;
    let field = |off: usize| le_u16(d, coff + off).ok_or_else(|| bad("the COFF header is cut off"));
    let machine = field(0)?;
    let nsections = usize::from(field(2)?);
    let timestamp = le_u32(d, coff + 4).ok_or_else(|| bad("the COFF header is cut off"))?;
    let symtab_off = le_u32(d, coff + 8).unwrap_or(0) as usize;
    let nsyms = (le_u32(d, coff + 12).unwrap_or(0) as usize).min(MAX_SYMBOLS);
    let opt_size = usize::from(field(16)?);
    let opt = coff + 20;
    let magic = le_u16(d, opt).ok_or_else(|| bad("the optional header is cut off"))?;
    let arch = match machine {
        MACHINE_AMD64 => crate::arch::Arch::Amd64,
        MACHINE_ARM64 => crate::arch::Arch::Arm64,
        m => {
            return Err(SymError::Unsupported(format!(
                "{p} is a Windows {} binary; coroner reads amd64 (x86-64) and arm64 binaries only",
                machine_name(m)
            )))
        }
    };
    if magic == OPT_PE32 {
        return Err(SymError::Unsupported(format!(
            "{p} is a 32-bit Windows binary (PE32); coroner reads 64-bit (PE32+) binaries only"
        )));
    }
    if magic != OPT_PE32PLUS || opt_size < 112 {
        return Err(bad("the optional header is not a PE32+ header"));
    }
    let opt_err = || bad("the optional header is cut off");
    let entry_rva = le_u32(d, opt + 16).ok_or_else(opt_err)?;
    let image_base = le_u64(d, opt + 24).ok_or_else(opt_err)?;
    let size_of_image = le_u32(d, opt + 56).ok_or_else(opt_err)?;
    let size_of_headers = le_u32(d, opt + 60).ok_or_else(opt_err)?;
    let dll_chars = le_u16(d, opt + 70).ok_or_else(opt_err)?;

    // The COFF string table follows the symbol table: long section names live there.
    let strtab: &[u8] = symtab_off
        .checked_add(nsyms.saturating_mul(SYMBOL_SIZE))
        .filter(|_| symtab_off != 0)
        .and_then(|s| {
            let len = le_u32(d, s)? as usize;
            d.get(s..s.checked_add(len)?)
        })
        .unwrap_or(&[]);

    let shdr0 = opt + opt_size;
    let mut sections = Vec::with_capacity(nsections.min(256));
    let mut section_info = Vec::with_capacity(nsections.min(256));
    let mut section_by_name = HashMap::new();
    let mut segments = vec![Segment {
        vaddr: Addr(image_base),
        memsz: u64::from(size_of_headers),
        offset: 0,
        filesz: u64::from(size_of_headers).min(d.len() as u64),
        flags: 4,
    }];
    // (vaddr, characteristics) of each section, by 1-based section number.
    let mut by_number: Vec<(u64, u64)> = Vec::new();
    for i in 0..nsections {
        let s = shdr0 + i * 40;
        let h = d
            .get(s..s + 40)
            .ok_or_else(|| bad("the section table is cut off"))?;
        let raw_name = h.get(..8).unwrap_or(&[]);
        let mut name = short_name(raw_name);
        if let Some(off) = name.strip_prefix('/').and_then(|n| n.parse::<usize>().ok()) {
            if let Some(long) = strtab_name(strtab, off) {
                name = long;
            }
        }
        let vsize = le_u32(h, 8).unwrap_or(0);
        let va = le_u32(h, 12).unwrap_or(0);
        let raw_size = le_u32(h, 16).unwrap_or(0);
        let raw_off = le_u32(h, 20).unwrap_or(0);
        let chars = le_u32(h, 36).unwrap_or(0);
        let addr = image_base.wrapping_add(u64::from(va));
        // VirtualSize is the section's real length; the raw size is padded to the
        // file alignment (or shorter, when the tail is zero-filled bss).
        let mem = if vsize != 0 { vsize } else { raw_size };
        let in_file = if raw_off == 0 { 0 } else { raw_size.min(mem) };
        by_number.push((addr, u64::from(mem)));
        if !name.is_empty() {
            section_by_name
                .entry(name.clone())
                .or_insert(sections.len());
        }
        let nobits = in_file == 0 && chars & SCN_UNINITIALIZED != 0;
        sections.push(Section {
            name,
            addr: Addr(addr),
            offset: u64::from(raw_off),
            size: u64::from(if nobits { mem } else { in_file }),
            flags: 0,
        });
        section_info.push(SectionInfo {
            sh_type: if nobits { SHT_NOBITS } else { 1 },
            inflated: OnceLock::new(),
        });
        if chars & SCN_DISCARDABLE == 0 && mem != 0 {
            let mut flags = 0;
            if chars & SCN_EXECUTE != 0 {
                flags |= 1;
            }
            if chars & SCN_WRITE != 0 {
                flags |= 2;
            }
            if chars & SCN_READ != 0 {
                flags |= 4;
            }
            segments.push(Segment {
                vaddr: Addr(addr),
                memsz: u64::from(mem),
                offset: u64::from(raw_off),
                filesz: u64::from(in_file),
                flags,
            });
        }
    }

    let symbols = SymbolTable::from_owned(read_symbols(d, symtab_off, nsyms, strtab, &by_number));

    let (go_build_id, go_build_id_vaddr) = section_by_name
        .get(".text")
        .and_then(|&i| sections.get(i))
        .and_then(|t| go_build_id(d, t))
        .map_or((None, None), |(id, va)| (Some(id), Some(va)));

    Ok(Binary {
        path: path.to_path_buf(),
        data: std::sync::Arc::new(data),
        sections,
        section_info,
        section_by_name,
        segments,
        symtab_src: None,
        symbols: symbols.into(),
        build_id: None,
        go_build_id,
        go_build_id_vaddr,
        build_id_vaddr: None,
        pie: dll_chars & DLL_DYNAMIC_BASE != 0,
        entry: Addr(image_base.wrapping_add(u64::from(entry_rva))),
        phoff: 0,
        arch,
        pe: Some(PeInfo {
            image_base,
            size_of_image,
            timestamp,
        }),
    })
}

/// COFF symbols with a section (Go: every text and data symbol), at run-time
/// addresses, sorted; each sized up to the next one of its section.
fn read_symbols(
    d: &[u8],
    off: usize,
    count: usize,
    strtab: &[u8],
    sections: &[(u64, u64)],
) -> Vec<NewSymbol> {
    let mut out: Vec<(i16, NewSymbol)> = Vec::new();
    if off == 0 {
        return Vec::new();
    }
    let mut i = 0usize;
    while i < count {
        let Some(e) = off
            .checked_add(i * SYMBOL_SIZE)
            .and_then(|s| d.get(s..s.checked_add(SYMBOL_SIZE)?))
        else {
            break;
        };
        let aux = usize::from(e.get(17).copied().unwrap_or(0));
        i += 1 + aux;
        let value = le_u32(e, 8).unwrap_or(0);
        let secnum = le_u16(e, 12).unwrap_or(0) as i16;
        let class = e.get(16).copied().unwrap_or(0);
        // 2 = external, 3 = static; file (103) and section (3 with aux) entries skipped.
        if secnum <= 0 || !(class == 2 || class == 3) || aux != 0 {
            continue;
        }
        let name = if le_u32(e, 0) == Some(0) {
            le_u32(e, 4).and_then(|o| strtab_name(strtab, o as usize))
        } else {
            Some(short_name(e.get(..8).unwrap_or(&[])))
        };
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            continue;
        };
        let Some(&(base, _)) = sections.get(secnum as usize - 1) else {
            continue;
        };
        out.push((
            secnum,
            NewSymbol {
                name,
                addr: Addr(base.wrapping_add(u64::from(value))),
                size: 0,
            },
        ));
    }
    out.sort_by_key(|a| a.1.addr);
    // Sizes: up to the next symbol of the same section, or the section's end.
    let n = out.len();
    for j in 0..n {
        let (sec, addr) = (out[j].0, out[j].1.addr.0);
        let end = out
            .get(j + 1..)
            .unwrap_or(&[])
            .iter()
            .find(|(s, x)| *s == sec && x.addr.0 > addr)
            .map(|(_, x)| x.addr.0)
            .or_else(|| {
                let &(b, len) = sections.get(sec as usize - 1)?;
                Some(b.wrapping_add(len))
            })
            .unwrap_or(addr);
        out[j].1.size = end.saturating_sub(addr);
    }
    out.into_iter().map(|(_, s)| s).collect()
}

/// Go's linker starts `.text` with `\xff Go build ID: "ID"\n \xff`.
fn go_build_id(d: &[u8], text: &Section) -> Option<(String, Addr)> {
    const PREFIX: &[u8] = b"\xff Go build ID: \"";
    let start = usize::try_from(text.offset).ok()?;
    let head = d.get(start..start.checked_add(4096.min(text.size as usize))?)?;
    let at = head.windows(PREFIX.len()).position(|w| w == PREFIX)?;
    let rest = head.get(at + PREFIX.len()..)?;
    let end = rest.iter().position(|&b| b == b'"')?;
    let id = String::from_utf8_lossy(rest.get(..end)?).into_owned();
    Some((id, text.addr.add((at + PREFIX.len()) as u64)))
}

impl Binary {
    /// The PE headers' facts, for a Windows binary; `None` for ELF.
    pub fn pe(&self) -> Option<&PeInfo> {
        self.pe.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal PE32+ image: one text section, one long-named debug section, two
    /// symbols; then every truncation of it must fail cleanly.
    fn image() -> Vec<u8> {
        let mut d = vec![0u8; 0x400];
        d[0] = b'M';
        d[1] = b'Z';
        d[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        d[0x80..0x84].copy_from_slice(PE_MAGIC);
        let coff = 0x84;
        d[coff..coff + 2].copy_from_slice(&MACHINE_AMD64.to_le_bytes());
        d[coff + 2..coff + 4].copy_from_slice(&2u16.to_le_bytes());
        d[coff + 8..coff + 12].copy_from_slice(&0x300u32.to_le_bytes());
        d[coff + 12..coff + 16].copy_from_slice(&2u32.to_le_bytes());
        d[coff + 16..coff + 18].copy_from_slice(&240u16.to_le_bytes());
        let opt = coff + 20;
        d[opt..opt + 2].copy_from_slice(&OPT_PE32PLUS.to_le_bytes());
        d[opt + 16..opt + 20].copy_from_slice(&0x1010u32.to_le_bytes());
        d[opt + 24..opt + 32].copy_from_slice(&0x40_0000u64.to_le_bytes());
        d[opt + 56..opt + 60].copy_from_slice(&0x3000u32.to_le_bytes());
        d[opt + 60..opt + 64].copy_from_slice(&0x200u32.to_le_bytes());
        d[opt + 70..opt + 72].copy_from_slice(&DLL_DYNAMIC_BASE.to_le_bytes());
        let sh = opt + 240;
        let mut sect = |i: usize, name: &[u8], va: u32, off: u32, size: u32, chars: u32| {
            let s = sh + i * 40;
            d[s..s + name.len()].copy_from_slice(name);
            d[s + 8..s + 12].copy_from_slice(&size.to_le_bytes());
            d[s + 12..s + 16].copy_from_slice(&va.to_le_bytes());
            d[s + 16..s + 20].copy_from_slice(&size.to_le_bytes());
            d[s + 20..s + 24].copy_from_slice(&off.to_le_bytes());
            d[s + 36..s + 40].copy_from_slice(&chars.to_le_bytes());
        };
        sect(0, b".text", 0x1000, 0x200, 0x40, SCN_EXECUTE | SCN_READ);
        sect(1, b"/4", 0x2000, 0x240, 0x10, SCN_DISCARDABLE | SCN_READ);
        d[0x200..0x210].copy_from_slice(b"\xff Go build ID: \"");
        d[0x210..0x213].copy_from_slice(b"ab\"");
        // Symbols: main.main (short name) in .text at +0x10, runtime.text (long).
        let s0 = 0x300;
        d[s0..s0 + 9].copy_from_slice(b"main.mai\0");
        d[s0 + 8..s0 + 12].copy_from_slice(&0x10u32.to_le_bytes());
        d[s0 + 12..s0 + 14].copy_from_slice(&1u16.to_le_bytes());
        d[s0 + 16] = 2;
        let s1 = s0 + 18;
        d[s1 + 4..s1 + 8].copy_from_slice(&16u32.to_le_bytes());
        d[s1 + 12..s1 + 14].copy_from_slice(&1u16.to_le_bytes());
        d[s1 + 16] = 2;
        let st = s0 + 36;
        let strings = b"\0\0\0\0.debug_info\0runtime.text\0";
        d[st..st + strings.len()].copy_from_slice(strings);
        let len = strings.len() as u32;
        d[st..st + 4].copy_from_slice(&len.to_le_bytes());
        d.truncate(st + strings.len());
        d
    }

    #[test]
    fn sections_symbols_and_build_id() {
        let d = image();
        let b = parse(Path::new("t.exe"), FileBytes::from_vec("t.exe", d.clone())).expect("parse");
        assert_eq!(b.pe().map(|p| p.image_base), Some(0x40_0000));
        assert_eq!(b.entry(), Addr(0x40_1010));
        assert!(b.is_pie());
        assert_eq!(b.section(".text").map(|s| s.addr), Some(Addr(0x40_1000)));
        assert_eq!(
            b.section_data(".debug_info").map(|x| x.len()),
            Some(0x10),
            "long section name through the string table"
        );
        // The debug section is discardable: not a segment.
        assert_eq!(b.segments().len(), 2);
        assert_eq!(
            b.symbol("runtime.text").map(|s| s.addr),
            Some(Addr(0x40_1000))
        );
        let m = b.symbol("main.mai").expect("short name");
        assert_eq!((m.addr, m.size), (Addr(0x40_1010), 0x30));
        assert_eq!(b.go_build_id(), Some("ab"));
        assert_eq!(b.vaddr_bytes(Addr(0x40_1000)).map(|x| x[0]), Some(0xff));
        for n in 0..d.len() {
            // Any prefix parses or fails with an error, never panics.
            let _ = parse(
                Path::new("t.exe"),
                FileBytes::from_vec("t.exe", d[..n].to_vec()),
            );
        }
    }
}
