//! Finding the pclntab and the runtime's moduledata in a binary's loaded bytes.
//!
//! Works on plain slices (file-backed bytes of each PT_LOAD segment at its link-time
//! address) so it is testable without the ELF layer. Order of preference:
//! `.gopclntab` section, then the moduledata (a data word pointing at a valid
//! pcHeader whose next fields point at its sub-tables), then a scan of read-only
//! segments for the magic with full validation.

use super::{parse_header, rd_u64, Header, Pclntab, PclntabVersion};
use crate::snapshot::compressed::FileBytes;
use crate::symbols::{SharedBytes, SymError};
use std::sync::Arc;

/// File-backed bytes of one loadable segment at its link-time address.
#[derive(Debug, Clone, Copy)]
pub struct Region<'a> {
    pub vaddr: u64,
    pub data: &'a [u8],
    pub writable: bool,
    pub executable: bool,
}

/// Everything the locator may use; all optional facts may be `None`.
#[derive(Debug, Clone, Copy)]
pub struct SearchInput<'a> {
    pub regions: &'a [Region<'a>],
    /// The `.gopclntab` section (address, bytes), when the binary has one.
    pub section: Option<(u64, &'a [u8])>,
    /// Address of the `.text` section (last-resort text start).
    pub text_section: Option<u64>,
    /// Address of the `runtime.text` symbol.
    pub runtime_text: Option<u64>,
    /// Address of `go:func.*` / `go.func.*`.
    pub gofunc_symbol: Option<u64>,
    /// Go version from the build info, for the moduledata layout.
    pub go_version: Option<(u32, u32, u32)>,
    /// The file the regions' bytes are in: the tables found are shared from it
    /// instead of copied (None: copied).
    pub backing: Option<&'a Arc<FileBytes>>,
}

/// The moduledata fields this module needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleData {
    /// Address of the moduledata itself.
    pub addr: u64,
    pub text: u64,
    pub gofunc: Option<u64>,
}

fn region_for<'a>(regions: &[Region<'a>], addr: u64) -> Option<(Region<'a>, usize)> {
    regions.iter().find_map(|r| {
        let off = addr.checked_sub(r.vaddr)?;
        let off = usize::try_from(off).ok()?;
        (off < r.data.len()).then_some((*r, off))
    })
}

/// Offsets in moduledata (amd64) of the fields that matter here.
const MD_FUNCNAMETAB: usize = 8;
const MD_CUTAB: usize = 32;
const MD_TEXT: usize = 176;

/// Is the moduledata at `md` (bytes from its start) one for the pcHeader at `pc_addr`?
fn moduledata_matches(md: &[u8], pc_addr: u64, hdr: &Header) -> bool {
    let want_names = pc_addr.checked_add(hdr.funcname.0 as u64);
    let want_cu = pc_addr.checked_add(hdr.cutab.0 as u64);
    rd_u64(md, 0) == Some(pc_addr)
        && want_names.is_some()
        && rd_u64(md, MD_FUNCNAMETAB) == want_names
        && rd_u64(md, MD_CUTAB) == want_cu
}

/// Pick moduledata.gofunc by layout: 1.18-1.19 (rodata@296, gofunc@304), 1.20-1.26
/// (covctrs added: @312/@320), 1.27+ (typedesclen, itaboffset, itabsize: @336/@344).
fn moduledata_gofunc(
    md: &[u8],
    version: PclntabVersion,
    go_version: Option<(u32, u32, u32)>,
    regions: &[Region<'_>],
) -> Option<u64> {
    let valid = |rodata_off: usize, gofunc_off: usize| -> Option<u64> {
        let rodata = rd_u64(md, rodata_off)?;
        let gofunc = rd_u64(md, gofunc_off)?;
        // Must be file-backed data (RELRO, i.e. writable, in PIE binaries).
        region_for(regions, gofunc)?;
        (rodata != 0 && rodata <= gofunc).then_some(gofunc)
    };
    match version {
        PclntabVersion::Go116 => None,
        PclntabVersion::Go118 => valid(296, 304),
        PclntabVersion::Go120 => {
            let new_layout = match go_version {
                Some((1, minor, _)) => minor >= 27,
                // Without a version: in the 1.20 layout the word after `types` is
                // `etypes` (an address >= types); in 1.27 it is `typedesclen`, a size.
                _ => rd_u64(md, 304)? < rd_u64(md, 296)?,
            };
            if new_layout {
                valid(336, 344).or_else(|| valid(312, 320))
            } else {
                valid(312, 320).or_else(|| valid(336, 344))
            }
        }
    }
}

/// Scan writable segments for the moduledata of the pcHeader at `pc_addr`.
pub fn find_moduledata(
    regions: &[Region<'_>],
    pc_addr: u64,
    hdr: &Header,
    go_version: Option<(u32, u32, u32)>,
) -> Option<ModuleData> {
    let needle = pc_addr.to_le_bytes();
    for r in regions.iter().filter(|r| r.writable) {
        // moduledata is pointer-aligned; align relative to the address, not the slice.
        let mis = (r.vaddr % 8) as usize;
        let mut off = (8 - mis) % 8;
        while let Some(w) = r.data.get(off..off + 8) {
            if w == needle {
                if let Some(md) = r.data.get(off..) {
                    if moduledata_matches(md, pc_addr, hdr) {
                        let text = rd_u64(md, MD_TEXT).unwrap_or(0);
                        return Some(ModuleData {
                            addr: r.vaddr.wrapping_add(off as u64),
                            text,
                            gofunc: moduledata_gofunc(md, hdr.version, go_version, regions),
                        });
                    }
                }
            }
            off += 8;
        }
    }
    None
}

/// Candidate pcHeader addresses referenced from writable data (moduledata.pcHeader).
fn pclntab_via_moduledata(regions: &[Region<'_>]) -> Option<(u64, Header)> {
    for r in regions.iter().filter(|r| r.writable) {
        let mis = (r.vaddr % 8) as usize;
        let mut off = (8 - mis) % 8;
        while let Some(w) = rd_u64(r.data, off) {
            // Cheap filter first: the word must point at a pclntab magic.
            if w & 7 == 0 {
                if let Some((tr, toff)) = region_for(regions, w) {
                    let magic = super::rd_u32(tr.data, toff);
                    if magic.and_then(PclntabVersion::from_magic).is_some() {
                        if let Some(hdr) = tr.data.get(toff..).and_then(parse_header) {
                            if r.data
                                .get(off..)
                                .is_some_and(|md| moduledata_matches(md, w, &hdr))
                            {
                                return Some((w, hdr));
                            }
                        }
                    }
                }
            }
            off += 8;
        }
    }
    None
}

/// Bytes from `addr` to the end of its segment's file data.
fn bytes_from<'a>(regions: &[Region<'a>], addr: u64) -> Option<&'a [u8]> {
    let (r, off) = region_for(regions, addr)?;
    r.data.get(off..)
}

fn build(
    input: &SearchInput<'_>,
    pc_addr: u64,
    data: &[u8],
    hdr: &Header,
) -> Result<Pclntab, SymError> {
    let share = |b: &[u8]| match input.backing {
        Some(f) => SharedBytes::within(f, b),
        None => SharedBytes::copy_of(b),
    };
    let md = find_moduledata(input.regions, pc_addr, hdr, input.go_version);
    let gofunc_addr = input.gofunc_symbol.or_else(|| md.and_then(|m| m.gofunc));
    let gofunc = gofunc_addr.and_then(|g| {
        let (r, off) = region_for(input.regions, g)?;
        // go:func.* precedes the pclntab in rodata: stop there to avoid a second copy.
        let end = match pc_addr.checked_sub(r.vaddr) {
            Some(p) if (p as usize) > off && (p as usize) <= r.data.len() => p as usize,
            _ => r.data.len(),
        };
        Some((g, share(r.data.get(off..end)?)))
    });
    let text = md
        .map(|m| m.text)
        .filter(|&t| t != 0)
        .or(Some(hdr.text_start).filter(|&t| t != 0))
        .or(input.runtime_text)
        .or(input.text_section);
    Pclntab::from_parts(share(data), pc_addr, text, gofunc)
}

/// Locate and decode the pclntab.
pub fn load(input: &SearchInput<'_>) -> Result<Pclntab, SymError> {
    if let Some((addr, data)) = input.section {
        let hdr = parse_header(data)
            .ok_or_else(|| SymError::BadPclntab(".gopclntab has no valid pcHeader".into()))?;
        return build(input, addr, data, &hdr);
    }
    if let Some((addr, hdr)) = pclntab_via_moduledata(input.regions) {
        if let Some(data) = bytes_from(input.regions, addr) {
            return build(input, addr, data, &hdr);
        }
    }
    // Last resort: the magic anywhere in non-executable data (RELRO included, for
    // PIE), fully validated by decoding.
    for r in input.regions.iter().filter(|r| !r.executable) {
        let mis = (r.vaddr % 8) as usize;
        let mut off = (8 - mis) % 8;
        while let Some(w) = r.data.get(off..off + 8) {
            let magic_ok = w
                .get(..4)
                .is_some_and(|m| matches!(m, [0xf0 | 0xf1 | 0xfa, 0xff, 0xff, 0xff]));
            if magic_ok && matches!(w.get(4..8), Some([0, 0, 1 | 2 | 4, 8])) {
                if let Some(hdr) = r.data.get(off..).and_then(parse_header) {
                    let addr = r.vaddr.wrapping_add(off as u64);
                    if let Some(data) = r.data.get(off..) {
                        if let Ok(t) = build(input, addr, data, &hdr) {
                            return Ok(t);
                        }
                    }
                }
            }
            off += 8;
        }
    }
    Err(SymError::NoPclntab)
}
