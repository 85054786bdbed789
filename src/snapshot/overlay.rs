//! The core with the binary's file-backed bytes filling what the core left out.
//! OWNER: ELF-layer engineer.
//!
//! Kernel cores omit file-backed text and read-only data (the default
//! coredump_filter dumps anonymous and dirty private pages, plus the first page of an
//! ELF mapping), so reading code or pclntab-referenced rodata needs the binary: bytes
//! the core did not dump come from the binary's PT_LOAD segments at `addr - bias`.

use super::elfcore::{CoreChunk, ElfCore};
use super::notes::le_u32;
use super::{MappedFile, MemError, Memory, ProcessInfo, SignalInfo, Snapshot, Thread};
use crate::addr::Addr;
use crate::symbols::Binary;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

const AT_PHDR: u64 = 3;
const AT_ENTRY: u64 = 9;
const PAGE: u64 = 4096;
const PF_W: u32 = 2;

/// A core plus its binary: the memory a debugger should see.
pub struct CoreWithBinary {
    core: ElfCore,
    binary: Arc<Binary>,
    bias: u64,
}

impl std::fmt::Debug for CoreWithBinary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreWithBinary")
            .field("core", &self.core)
            .field("binary", &self.binary.path)
            .field("bias", &format_args!("{:#x}", self.bias))
            .finish()
    }
}

impl CoreWithBinary {
    /// Combine a core and its binary, with the load bias computed from the core.
    pub fn new(core: ElfCore, binary: Arc<Binary>) -> CoreWithBinary {
        let bias = compute_bias(&core, &binary);
        CoreWithBinary { core, binary, bias }
    }

    pub fn with_bias(core: ElfCore, binary: Arc<Binary>, bias: u64) -> CoreWithBinary {
        CoreWithBinary { core, binary, bias }
    }

    pub fn core(&self) -> &ElfCore {
        &self.core
    }

    /// Release the core mapping's resident pages (see [`ElfCore::drop_resident`]).
    pub fn drop_resident(&self) {
        self.core.drop_resident();
    }

    pub fn binary(&self) -> &Arc<Binary> {
        &self.binary
    }

    /// Load bias: run-time address minus link-time address (0 unless PIE).
    pub fn bias(&self) -> u64 {
        self.bias
    }

    /// Is this binary the one that produced this core? See [`check_match`].
    pub fn check_match(&self) -> Result<(), String> {
        check_match(&self.core, &self.binary, self.bias)
    }

    /// The core's warnings plus non-fatal binary/core differences.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = self.core.warnings().to_vec();
        w.extend(match_warnings(&self.core, &self.binary, self.bias));
        w
    }

    /// The binary's file-backed bytes at run-time address `addr`, if any.
    fn binary_bytes(&self, addr: u64) -> Option<&[u8]> {
        self.binary.vaddr_bytes(Addr(addr.wrapping_sub(self.bias)))
    }

    /// Whether the core segment at `addr` is writable (its file bytes may be stale).
    /// Whether the binary's own segment at run-time address `addr` is writable.
    fn binary_writable(&self, addr: u64) -> bool {
        let a = addr.wrapping_sub(self.bias);
        self.binary
            .segments()
            .iter()
            .any(|s| a >= s.vaddr.0 && a - s.vaddr.0 < s.memsz && s.flags & PF_W != 0)
    }

    fn writable(&self, addr: u64) -> bool {
        let segs = self.core.segments();
        let i = segs.partition_point(|s| s.vaddr <= addr);
        i.checked_sub(1)
            .and_then(|j| segs.get(j))
            .is_some_and(|s| s.flags & PF_W != 0)
    }
}

impl Memory for CoreWithBinary {
    fn read(&self, addr: Addr, buf: &mut [u8]) -> Result<(), MemError> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr
                .0
                .checked_add(done as u64)
                .ok_or(MemError::Unmapped(addr))?;
            let rest = buf.get_mut(done..).unwrap_or(&mut []);
            let (src, zeros): (Option<&[u8]>, usize) = match self.core.chunk(a) {
                CoreChunk::Saved(b) => (Some(b), 0),
                CoreChunk::NotDumped(len) => {
                    let len = usize::try_from(len).unwrap_or(usize::MAX);
                    match self.binary_bytes(a) {
                        Some(b) => (Some(b.get(..len.min(b.len())).unwrap_or(b)), 0),
                        // Not dumped and not in the file: anonymous memory the kernel
                        // skipped (PROT_NONE reservations) reads as zeros.
                        None => (None, len),
                    }
                }
                // A truncated core: the binary has the right bytes only for segments
                // the process could not have modified.
                CoreChunk::Missing(len) => match self.binary_bytes(a) {
                    Some(b) if !self.writable(a) => {
                        let len = usize::try_from(len).unwrap_or(usize::MAX);
                        (Some(b.get(..len.min(b.len())).unwrap_or(b)), 0)
                    }
                    _ => return Err(MemError::NotSaved(Addr(a))),
                },
                // No segment at all: gdb's gcore leaves out read-only file mappings
                // (rodata) entirely. The binary's read-only bytes cannot have changed.
                CoreChunk::Unmapped(len) => match self.binary_bytes(a) {
                    Some(b) if !self.binary_writable(a) => {
                        // 0: past the last segment, no bound from the core.
                        let len = if len == 0 {
                            usize::MAX
                        } else {
                            usize::try_from(len).unwrap_or(usize::MAX)
                        };
                        (Some(b.get(..len.min(b.len())).unwrap_or(b)), 0)
                    }
                    _ => return Err(MemError::Unmapped(Addr(a))),
                },
            };
            let n = match src {
                Some(b) => {
                    let n = b.len().min(rest.len());
                    if let (Some(dst), Some(src)) = (rest.get_mut(..n), b.get(..n)) {
                        self.core.copy_out(src, dst);
                    }
                    n
                }
                None => {
                    let n = zeros.min(rest.len());
                    if let Some(dst) = rest.get_mut(..n) {
                        dst.fill(0);
                    }
                    n
                }
            };
            if n == 0 {
                return Err(MemError::Unmapped(Addr(a)));
            }
            done += n;
        }
        Ok(())
    }

    fn slice(&self, addr: Addr, len: usize) -> Option<&[u8]> {
        match self.core.chunk(addr.0) {
            CoreChunk::Saved(b) => {
                let s = b.get(..len)?;
                self.core.note_slice(s);
                Some(s)
            }
            CoreChunk::NotDumped(n) if len as u64 <= n => self.binary_bytes(addr.0)?.get(..len),
            CoreChunk::Unmapped(n)
                if (n == 0 || len as u64 <= n) && !self.binary_writable(addr.0) =>
            {
                self.binary_bytes(addr.0)?.get(..len)
            }
            _ => None,
        }
    }
}

impl Snapshot for CoreWithBinary {
    fn threads(&self) -> &[Thread] {
        self.core.threads()
    }
    fn mapped_files(&self) -> &[MappedFile] {
        self.core.mapped_files()
    }
    fn auxv(&self) -> &[(u64, u64)] {
        self.core.auxv()
    }
    fn signal(&self) -> Option<&SignalInfo> {
        self.core.signal()
    }
    fn process(&self) -> Option<&ProcessInfo> {
        self.core.process()
    }
    fn regions(&self) -> Vec<(Addr, Addr)> {
        self.core.regions()
    }
    fn arch(&self) -> crate::arch::Arch {
        self.core.arch()
    }
    fn describe(&self) -> String {
        format!(
            "core file {} with binary {}",
            self.core.path().display(),
            self.binary.path.display()
        )
    }
}

/// Load bias of the binary in the core's process: run-time minus link-time address.
/// 0 for non-PIE binaries; for PIE, from AT_ENTRY (then AT_PHDR, then NT_FILE).
pub fn compute_bias(core: &ElfCore, bin: &Binary) -> u64 {
    if !bin.is_pie() {
        return 0;
    }
    if let Some(entry) = core.auxv_value(AT_ENTRY) {
        let b = entry.wrapping_sub(bin.entry().0);
        if b % PAGE == 0 {
            return b;
        }
    }
    if let (Some(phdr), Some(link)) = (core.auxv_value(AT_PHDR), bin.phdr_vaddr()) {
        let b = phdr.wrapping_sub(link.0);
        if b % PAGE == 0 {
            return b;
        }
    }
    // Last resort: the lowest mapping of a file with the binary's name at offset 0.
    let name = exe_basename(&bin.path);
    let first = bin.segments().iter().map(|s| s.vaddr.0).min().unwrap_or(0);
    core.mapped_files()
        .iter()
        .filter(|m| {
            m.file_offset == 0 && m.path.file_name().and_then(|s| s.to_str()) == Some(&name)
        })
        .map(|m| m.start.0)
        .min()
        .map(|start| start.wrapping_sub(first & !(PAGE - 1)))
        .unwrap_or(0)
}

/// The binary's base name, without a compression suffix (`prog.zst` ran as `prog`).
fn exe_basename(p: &Path) -> String {
    let name = p
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    for ext in [".zst", ".xz", ".lz4", ".gz"] {
        if let Some(s) = name.strip_suffix(ext) {
            return s.to_string();
        }
    }
    name
}

/// Bytes the core itself saved at `addr` (no binary fallback, no zero fill).
fn core_saved(core: &ElfCore, addr: u64, len: usize) -> Option<&[u8]> {
    match core.chunk(addr) {
        CoreChunk::Saved(b) => b.get(..len),
        _ => None,
    }
}

/// What the core holds where the binary keeps its Go build ID note.
enum CoreGoId {
    Found(String),
    /// The core did not save those bytes: nothing to compare.
    NotSaved,
    /// The core has no memory there at all.
    Unmapped,
    /// The core saved other bytes there: no Go note.
    Other,
}

/// Read the Go build ID note from the core, its descriptor expected at `desc_va`.
fn core_go_build_id(core: &ElfCore, desc_va: u64) -> CoreGoId {
    // namesz, descsz, type, "Go\0\0", then the descriptor.
    let Some(hdr_va) = desc_va.checked_sub(16) else {
        return CoreGoId::Unmapped;
    };
    let hdr = match core.chunk(hdr_va) {
        CoreChunk::Saved(b) => match b.get(..16) {
            Some(h) => h,
            None => return CoreGoId::NotSaved,
        },
        CoreChunk::Unmapped(_) => return CoreGoId::Unmapped,
        _ => return CoreGoId::NotSaved,
    };
    let descsz = le_u32(hdr, 4).unwrap_or(0) as usize;
    // cmd/link writes namesz 4 ("Go\0\0"); 3 is the other valid spelling.
    let looks_go = matches!(le_u32(hdr, 0), Some(3 | 4))
        && le_u32(hdr, 8) == Some(4)
        && hdr.get(12..15) == Some(b"Go\0".as_slice())
        && descsz <= 4096;
    if !looks_go {
        return CoreGoId::Other;
    }
    match core_saved(core, desc_va, descsz) {
        Some(d) => CoreGoId::Found(String::from_utf8_lossy(d).into_owned()),
        None => CoreGoId::NotSaved,
    }
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// Decide whether `bin` is the executable that produced `core` (loaded at `bias`), by
/// comparing what the core saved of the executable's first page (ELF header, program
/// headers, build ID notes) with the binary's bytes. `Err` says exactly what differs.
/// When the core saved nothing to compare, the answer is `Ok` (see [`match_warnings`]).
pub fn check_match(core: &ElfCore, bin: &Binary, bias: u64) -> Result<(), String> {
    let name = bin.path.display();
    if core.arch() != bin.arch() {
        return Err(format!(
            "the core is of an {} process but {name} is an {} binary: give the binary that crashed",
            core.arch(),
            bin.arch()
        ));
    }
    if let (Some(id), Some(va)) = (bin.go_build_id(), bin.go_build_id_vaddr()) {
        let at = va.0.wrapping_add(bias);
        match core_go_build_id(core, at) {
            CoreGoId::Found(core_id) if core_id != id => {
                return Err(format!(
                    "the core's Go build ID is {core_id:?}, the binary's ({name}) is {id:?}"
                ))
            }
            CoreGoId::Found(_) | CoreGoId::NotSaved => {}
            CoreGoId::Unmapped => {
                return Err(format!(
                    "{name} keeps its Go build ID at {at:#x}, but the core has no memory \
                     there: the core comes from another executable{}",
                    if bin.is_pie() { "" } else { " (or a PIE)" }
                ))
            }
            CoreGoId::Other => {
                return Err(format!(
                    "the core has no Go build ID at {at:#x} where {name} keeps its own \
                     ({id:?}): the core comes from another executable"
                ))
            }
        }
    }
    if let (Some(id), Some(va)) = (bin.build_id(), bin.build_id_vaddr()) {
        let at = va.0.wrapping_add(bias);
        if let Some(core_id) = core_saved(core, at, id.len()) {
            if core_id != id {
                return Err(format!(
                    "the core's GNU build ID is {}, the binary's ({name}) is {}",
                    hex(core_id),
                    hex(id)
                ));
            }
        }
    }
    // The executable's first page: ELF header and program headers.
    let Some(first) = bin
        .segments()
        .iter()
        .filter(|s| s.offset == 0 && s.filesz > 0)
        .min_by_key(|s| s.vaddr)
    else {
        return Ok(());
    };
    let at = first.vaddr.0.wrapping_add(bias);
    let len = first.filesz.min(PAGE) as usize;
    match core.chunk(at) {
        CoreChunk::Unmapped(_) => {
            return Err(format!(
                "{name} loads at {at:#x}, but the core has no memory there: \
                 the core comes from another executable"
            ))
        }
        CoreChunk::Saved(b) => {
            let n = b.len().min(len);
            let mut want = vec![0u8; n];
            if bin.read_vaddr(first.vaddr, &mut want) {
                let differs = identity_ranges(bin, n)
                    .into_iter()
                    .flat_map(|(lo, hi)| lo..hi)
                    .find(|&i| b.get(i) != want.get(i));
                if let Some(i) = differs {
                    return Err(format!(
                        "the core's copy of the executable's first page differs from {name} \
                         at {:#x} (file offset {i:#x}): the core comes from another build",
                        at.wrapping_add(i as u64)
                    ));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The byte ranges of the executable's first `len` bytes that identify the build: the
/// ELF header without its section-header fields, the program headers without
/// `p_filesz`, and the contents of allocated sections. `strip` and
/// `objcopy --strip-debug` rewrite the rest (they move or drop the section header
/// table, which Go's linker puts in the first page, and may trim a segment's trailing
/// file bytes), so a stripped twin and its unstripped original compare equal in both
/// directions while a different build differs in its build IDs or loaded contents.
fn identity_ranges(bin: &Binary, len: usize) -> Vec<(usize, usize)> {
    let data = bin.bytes();
    let u16_at = |o: usize| data.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u64_at = |o: usize| {
        data.get(o..o + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_le_bytes)
    };
    // e_ident .. e_phoff, then e_flags .. e_phnum; not e_shoff (0x28), e_shentsize,
    // e_shnum, e_shstrndx (0x3a..0x40).
    let mut out = vec![(0, 0x28), (0x30, 0x3a)];
    if let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    {
        let (phoff, ent) = (
            usize::try_from(phoff).unwrap_or(usize::MAX),
            usize::from(phentsize),
        );
        for i in 0..usize::from(phnum) {
            let Some(e) = phoff.checked_add(i * ent) else {
                break;
            };
            // p_type, p_flags, p_vaddr, p_memsz: what is loaded where. p_offset only
            // for PT_LOAD: strip moves the file offset of segments without file bytes
            // (PT_TLS of a .tbss) and may trim p_filesz.
            if ent < 48 {
                continue;
            }
            let is_load = data.get(e..e + 4) == Some(&1u32.to_le_bytes()[..]);
            out.push((e, e + if is_load { 16 } else { 8 }));
            out.push((e + 16, e + 24));
            out.push((e + 40, e + 48));
        }
    }
    const SHF_ALLOC: u64 = 2;
    for s in bin.sections().iter().filter(|s| s.flags & SHF_ALLOC != 0) {
        // SHT_NOBITS sections (.bss) have no file bytes; their offsets may alias others.
        if s.name == ".bss" || s.name == ".noptrbss" || s.name == ".tbss" {
            continue;
        }
        let lo = usize::try_from(s.offset).unwrap_or(usize::MAX);
        let hi = lo.saturating_add(usize::try_from(s.size).unwrap_or(usize::MAX));
        out.push((lo, hi));
    }
    out.into_iter()
        .map(|(lo, hi)| (lo.min(len), hi.min(len)))
        .filter(|(lo, hi)| lo < hi)
        .collect()
}

/// Non-fatal differences between the core and the binary: a different executable name
/// in the core's file mappings, or nothing saved to verify the match with.
pub fn match_warnings(core: &ElfCore, bin: &Binary, bias: u64) -> Vec<String> {
    let mut out = Vec::new();
    let entry = bin.entry().0.wrapping_add(bias);
    let exe: Option<&MappedFile> = core
        .mapped_files()
        .iter()
        .find(|m| m.start.0 <= entry && entry < m.end.0);
    let mine = exe_basename(&bin.path);
    if let Some(m) = exe {
        let theirs = m
            .path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !theirs.is_empty() && theirs != mine {
            out.push(format!(
                "the core was produced by {} but the binary is named {mine}",
                m.path.display()
            ));
        }
    }
    let first = bin
        .segments()
        .iter()
        .filter(|s| s.offset == 0 && s.filesz > 0)
        .map(|s| s.vaddr.0)
        .min();
    let saved =
        first.is_some_and(|v| matches!(core.chunk(v.wrapping_add(bias)), CoreChunk::Saved(_)));
    if !saved {
        out.push(format!(
            "cannot verify that {} matches the core: the core did not save the executable's headers",
            bin.path.display()
        ));
    }
    out
}
