//! ELF note parsing and little-endian field readers shared by the core and binary
//! readers. OWNER: ELF-layer engineer.
//!
//! Every accessor is bounds-checked: notes come straight from files that may be
//! truncated or corrupt.

use super::{Arm64Registers, Registers};
use crate::arch::Arch;

/// One ELF note: owner name (without the NUL), type, descriptor bytes.
#[derive(Debug, Clone, Copy)]
pub struct Note<'a> {
    pub name: &'a [u8],
    pub ntype: u32,
    pub desc: &'a [u8],
    /// Offset of `desc` inside the buffer the notes were parsed from.
    pub desc_offset: usize,
}

/// Round up to a multiple of `align` (a power of two), `None` on overflow.
fn align_up(v: usize, align: usize) -> Option<usize> {
    let mask = align.checked_sub(1)?;
    v.checked_add(mask).map(|x| x & !mask)
}

/// Parse the notes in `data` (the bytes of a PT_NOTE segment or SHT_NOTE section).
/// `align` is the segment's alignment: 4 for core and most notes, 8 for some
/// GNU property notes. Stops quietly at the first malformed entry: everything before
/// it is still useful.
pub fn parse_notes(data: &[u8], align: u64) -> Vec<Note<'_>> {
    let align = if align == 8 { 8 } else { 4 };
    let mut out = Vec::new();
    let mut off = 0usize;
    while let (Some(namesz), Some(descsz), Some(ntype)) = (
        le_u32(data, off),
        le_u32(data, off.saturating_add(4)),
        le_u32(data, off.saturating_add(8)),
    ) {
        let Some(name_start) = off.checked_add(12) else {
            break;
        };
        let Some(name_end) = name_start.checked_add(namesz as usize) else {
            break;
        };
        let Some(name) = data.get(name_start..name_end) else {
            break;
        };
        let Some(desc_start) = align_up(name_end, align) else {
            break;
        };
        let Some(desc_end) = desc_start.checked_add(descsz as usize) else {
            break;
        };
        let Some(desc) = data.get(desc_start..desc_end) else {
            break;
        };
        // The name is NUL-terminated; namesz counts the NUL.
        let name = match name.iter().position(|&b| b == 0) {
            Some(p) => name.get(..p).unwrap_or(name),
            None => name,
        };
        out.push(Note {
            name,
            ntype,
            desc,
            desc_offset: desc_start,
        });
        let Some(next) = align_up(desc_end, align) else {
            break;
        };
        if next <= off {
            break;
        }
        off = next;
    }
    out
}

pub fn le_u16(d: &[u8], off: usize) -> Option<u16> {
    let b = d.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes(b.try_into().ok()?))
}

pub fn le_u32(d: &[u8], off: usize) -> Option<u32> {
    let b = d.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

pub fn le_i32(d: &[u8], off: usize) -> Option<i32> {
    le_u32(d, off).map(|v| v as i32)
}

pub fn le_u64(d: &[u8], off: usize) -> Option<u64> {
    let b = d.get(off..off.checked_add(8)?)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

/// A NUL-terminated string at the start of `d` (lossy UTF-8).
pub fn c_str(d: &[u8]) -> String {
    let end = d.iter().position(|&b| b == 0).unwrap_or(d.len());
    String::from_utf8_lossy(d.get(..end).unwrap_or(d)).into_owned()
}

/// Offset of the register set in `struct elf_prstatus` (the same on amd64 and arm64).
pub const PRSTATUS_REGS: usize = 112;

/// The register set of one NT_PRSTATUS: `user_regs_struct` on amd64, `user_pt_regs` on
/// arm64 (then the amd64 set is left zero). Words past a short note read as zero.
pub fn prstatus_regs(arch: Arch, desc: &[u8]) -> (Registers, Option<Arm64Registers>) {
    let word = |i: usize| le_u64(desc, PRSTATUS_REGS + 8 * i).unwrap_or(0);
    match arch {
        Arch::Amd64 => {
            let mut words = [0u64; 27];
            for (i, w) in words.iter_mut().enumerate() {
                *w = word(i);
            }
            (Registers::from_user_regs(&words), None)
        }
        Arch::Arm64 => {
            let mut words = [0u64; Arm64Registers::WORDS];
            for (i, w) in words.iter_mut().enumerate() {
                *w = word(i);
            }
            (
                Registers::default(),
                Some(Arm64Registers::from_user_regs(&words)),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(name: &[u8], ntype: u32, desc: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(name.len() as u32 + 1).to_le_bytes());
        v.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        v.extend_from_slice(&ntype.to_le_bytes());
        v.extend_from_slice(name);
        v.push(0);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v.extend_from_slice(desc);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn parses_notes_and_stops_at_garbage() {
        let mut buf = note(b"Go", 4, b"abc/def");
        buf.extend(note(b"GNU", 3, &[1, 2, 3, 4, 5]));
        let n = parse_notes(&buf, 4);
        assert_eq!(n.len(), 2);
        assert_eq!(n[0].name, b"Go");
        assert_eq!(n[0].ntype, 4);
        assert_eq!(n[0].desc, b"abc/def");
        assert_eq!(n[1].name, b"GNU");
        assert_eq!(n[1].desc, &[1, 2, 3, 4, 5]);
        // A descsz running off the end drops that note, keeps the earlier ones.
        let mut bad = buf.clone();
        bad.extend_from_slice(&[4, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 1, 0, 0, 0]);
        assert_eq!(parse_notes(&bad, 4).len(), 2);
        for cut in 0..buf.len() {
            let _ = parse_notes(&buf[..cut], 4);
        }
        assert_eq!(c_str(b"abc\0def"), "abc");
        assert_eq!(le_u64(&[1, 0, 0, 0, 0, 0, 0], 0), None);
    }
}
