//! The minidump's saved memory as sorted, non-overlapping pieces, and the minidump
//! together with its binary: code and read-only data the dump did not save come from
//! the binary (they cannot have changed); everything else it left out is unreadable.

use super::{windows, DumpOs, Minidump};
use crate::addr::Addr;
use crate::snapshot::{MappedFile, MemError, Memory, ProcessInfo, SignalInfo, Snapshot, Thread};
use crate::symbols::Binary;
use std::path::Path;
use std::sync::Arc;

const AT_ENTRY: u64 = 9;
const PAGE: u64 = 4096;
const PF_W: u32 = 2;

/// `len` saved bytes of the process at `start`, at `offset` in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub start: u64,
    pub len: u64,
    pub offset: usize,
}

impl Piece {
    fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }
}

/// Sort (address, length, file offset) regions and cut overlaps away: the lists of a
/// dump can overlap (a thread's stack is also part of a full dump's region; the
/// bytes are of the same instant), the first region at an address keeps it.
pub fn flatten(mut raw: Vec<(u64, u64, usize)>) -> Vec<Piece> {
    raw.retain(|&(start, len, _)| len > 0 && start.checked_add(len).is_some());
    // By start, the longest first at equal starts.
    raw.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut out: Vec<Piece> = Vec::with_capacity(raw.len());
    let mut covered = 0u64;
    for (start, len, offset) in raw {
        let end = start + len;
        if !out.is_empty() && end <= covered {
            continue;
        }
        let from = if out.is_empty() {
            start
        } else {
            start.max(covered)
        };
        let skip = from - start;
        let Some(offset) = usize::try_from(skip)
            .ok()
            .and_then(|s| offset.checked_add(s))
        else {
            continue;
        };
        out.push(Piece {
            start: from,
            len: end - from,
            offset,
        });
        covered = end;
    }
    out
}

/// The piece holding `addr`, by binary search.
pub fn find(pieces: &[Piece], addr: u64) -> Option<&Piece> {
    let i = pieces.partition_point(|p| p.start <= addr);
    let p = pieces.get(i.checked_sub(1)?)?;
    (addr < p.end()).then_some(p)
}

/// The pieces as address ranges, adjacent ones merged.
pub fn coalesce(pieces: &[Piece]) -> Vec<(Addr, Addr)> {
    let mut out: Vec<(Addr, Addr)> = Vec::new();
    for p in pieces {
        match out.last_mut() {
            Some(last) if last.1 .0 == p.start => last.1 = Addr(p.end()),
            _ => out.push((Addr(p.start), Addr(p.end()))),
        }
    }
    out
}

/// A minidump plus its binary: the memory a debugger should see.
pub struct MinidumpWithBinary {
    dump: Minidump,
    binary: Arc<Binary>,
    bias: u64,
}

impl std::fmt::Debug for MinidumpWithBinary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MinidumpWithBinary")
            .field("dump", &self.dump)
            .field("binary", &self.binary.path)
            .field("bias", &format_args!("{:#x}", self.bias))
            .finish()
    }
}

fn mib(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
}

impl MinidumpWithBinary {
    pub fn new(dump: Minidump, binary: Arc<Binary>) -> MinidumpWithBinary {
        let bias = compute_bias(&dump, &binary);
        MinidumpWithBinary { dump, binary, bias }
    }

    pub fn dump(&self) -> &Minidump {
        &self.dump
    }
    pub fn binary(&self) -> &Arc<Binary> {
        &self.binary
    }
    pub fn bias(&self) -> u64 {
        self.bias
    }

    /// The module of the dump that is this binary: the one holding AT_ENTRY, else the
    /// one with the binary's file name.
    fn main_module(&self) -> Option<&super::Module> {
        let mods = self.dump.modules();
        if self.dump.os() == DumpOs::Windows {
            return windows_exe_module(&self.dump, &self.binary);
        }
        let entry = self.dump.auxv_value(AT_ENTRY);
        if let Some(e) = entry {
            if let Some(m) = mods.iter().find(|m| e >= m.base.0 && e - m.base.0 < m.size) {
                return Some(m);
            }
        }
        let name = exe_basename(&self.binary.path);
        mods.iter()
            .find(|m| Path::new(&m.name).file_name().and_then(|n| n.to_str()) == Some(&name))
    }

    /// Is this binary the one whose process was dumped? The module's build ID (the
    /// GNU build-id, or Breakpad's hash of the first page of `.text` when there is
    /// none, which Go's internal linker does not write) against the binary's; then,
    /// when the dump saved the binary's code, the bytes themselves.
    pub fn check_match(&self) -> Result<(), String> {
        let name = self.binary.path.display();
        if self.dump.arch() != self.binary.arch() {
            return Err(format!(
                "the minidump is of an {} process but {name} is an {} binary: give the binary that was dumped",
                self.dump.arch(),
                self.binary.arch()
            ));
        }
        if let (Some(pe), Some(m)) = (self.binary.pe(), self.main_module()) {
            // What the loader mapped: the image's size and link time stamp.
            if m.size != u64::from(pe.size_of_image) {
                return Err(format!(
                    "the minidump's module {} is {:#x} bytes, the binary ({name}) maps {:#x}",
                    m.name, m.size, pe.size_of_image
                ));
            }
            if m.timestamp != pe.timestamp {
                return Err(format!(
                    "the minidump's module {} has time stamp {:#x}, the binary ({name}) {:#x}",
                    m.name, m.timestamp, pe.timestamp
                ));
            }
        }
        if let Some(m) = self
            .main_module()
            .filter(|_| self.dump.os() == DumpOs::Linux)
        {
            let ids = binary_code_ids(&self.binary);
            if let (Some(dump_id), Some(ours)) = (&m.build_id, ids.first()) {
                // Either id names the binary: writers that cannot read the note from
                // the process's memory fall back to the .text hash.
                if !dump_id.is_empty() && !ids.iter().any(|i| i == dump_id) {
                    return Err(format!(
                        "the minidump's module {} has build ID {}, the binary ({name}) has {}",
                        m.name,
                        hex(dump_id),
                        hex(ours)
                    ));
                }
            }
        }
        // Code the dump saved (full dumps) must be the binary's.
        for s in self.binary.segments() {
            if s.flags & PF_W != 0 || s.filesz == 0 {
                continue;
            }
            let at = s.vaddr.0.wrapping_add(self.bias);
            let n = s.filesz.min(PAGE) as usize;
            if let (Some(saved), Some(file)) = (
                self.dump.saved(at).and_then(|b| b.get(..n)),
                self.binary.vaddr_bytes(s.vaddr).and_then(|b| b.get(..n)),
            ) {
                if saved != file {
                    return Err(format!(
                        "the minidump's bytes at {at:#x} differ from the binary's ({name}): another build?"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Non-fatal problems: the dump's own, and how much of the memory it holds.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = self.dump.warnings().to_vec();
        if let Some(m) = self.main_module() {
            let ours = exe_basename(&self.binary.path);
            let theirs = module_basename(self.dump.os(), &m.name);
            if !theirs.is_empty() && !theirs.eq_ignore_ascii_case(&ours) {
                w.push(format!(
                    "the minidump's executable is {}, the binary is {}",
                    m.name,
                    self.binary.path.display()
                ));
            }
        }
        if let Some(why) = self.partial() {
            w.push(why);
        }
        w
    }

    /// Why the dump is partial, if it is: it left out writable memory of the process
    /// (the heap, the binary's data): goroutines and variables there are unreadable.
    pub fn partial(&self) -> Option<String> {
        let (mut total, mut saved) = (0u64, 0u64);
        let mut count = |start: u64, end: u64| {
            total += end - start;
            saved += covered(self.dump.pieces(), start, end);
        };
        let maps = self.dump.maps();
        if maps.is_empty() {
            // No map of the process: judge by the binary's own writable segments.
            for s in self
                .binary
                .segments()
                .iter()
                .filter(|s| s.flags & PF_W != 0)
            {
                let start = s.vaddr.0.wrapping_add(self.bias);
                count(start, start.saturating_add(s.memsz));
            }
        } else {
            for m in maps.iter().filter(|m| m.readable && m.writable) {
                count(m.start, m.end);
            }
        }
        if total == 0 || saved >= total {
            return None;
        }
        Some(format!(
            "the minidump saved {} of the process's {} of writable memory ({} in {} regions): \
             what it left out (heap, globals) reads as unreadable",
            mib(saved),
            mib(total),
            mib(self.dump.saved_bytes()),
            self.dump.pieces().len()
        ))
    }

    /// The binary's bytes at run-time `addr` when they are read-only (code, rodata,
    /// pclntab): the process could not have changed them.
    fn binary_ro(&self, addr: u64) -> Option<&[u8]> {
        let a = addr.wrapping_sub(self.bias);
        let seg = self
            .binary
            .segments()
            .iter()
            .find(|s| a >= s.vaddr.0 && a - s.vaddr.0 < s.memsz)?;
        if seg.flags & PF_W != 0 {
            return None;
        }
        self.binary.vaddr_bytes(Addr(a))
    }
}

/// How many bytes of [start, end) the pieces hold.
fn covered(pieces: &[Piece], start: u64, end: u64) -> u64 {
    let i = pieces.partition_point(|p| p.end() <= start);
    pieces
        .get(i..)
        .unwrap_or(&[])
        .iter()
        .take_while(|p| p.start < end)
        .map(|p| p.end().min(end).saturating_sub(p.start.max(start)))
        .sum()
}

/// What Breakpad may record as the module's id: the GNU build-id note (first), and the
/// XOR of the first page of `.text` folded into 16 bytes, which it uses when it finds
/// no note (Go's internal linker writes none before Go 1.25's default `-B gobuildid`).
pub fn binary_code_ids(bin: &Binary) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if let Some(id) = bin.build_id() {
        out.push(id.to_vec());
    }
    if let Some(page) = bin
        .section_data(".text")
        .and_then(|t| t.get(..t.len().min(PAGE as usize)).map(<[u8]>::to_vec))
    {
        let mut id = vec![0u8; 16];
        for chunk in page.chunks(16) {
            for (b, c) in id.iter_mut().zip(chunk) {
                *b ^= *c;
            }
        }
        out.push(id);
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
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

/// A module's file name: Windows paths split at backslashes too.
fn module_basename(os: DumpOs, name: &str) -> String {
    match os {
        DumpOs::Windows => windows::basename(name).to_string(),
        DumpOs::Linux => Path::new(name)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    }
}

/// The executable's module of a Windows dump: the one with the binary's file name
/// (case-insensitive, as Windows file names are), else the first (the writer lists
/// the executable first).
fn windows_exe_module<'a>(dump: &'a Minidump, bin: &Binary) -> Option<&'a super::Module> {
    let name = exe_basename(&bin.path);
    let mods = dump.modules();
    mods.iter()
        .find(|m| windows::basename(&m.name).eq_ignore_ascii_case(&name))
        .or(mods.first())
}

/// Run-time minus link-time address: 0 unless PIE; from AT_ENTRY, else the module
/// whose name is the binary's. A Windows image is relocated as a whole: its module's
/// base minus the PE ImageBase.
pub fn compute_bias(dump: &Minidump, bin: &Binary) -> u64 {
    if let Some(pe) = bin.pe() {
        return windows_exe_module(dump, bin)
            .map(|m| m.base.0.wrapping_sub(pe.image_base))
            .unwrap_or(0);
    }
    if !bin.is_pie() {
        return 0;
    }
    if let Some(entry) = dump.auxv_value(AT_ENTRY) {
        let b = entry.wrapping_sub(bin.entry().0);
        if b % PAGE == 0 {
            return b;
        }
    }
    let name = exe_basename(&bin.path);
    let first = bin.segments().iter().map(|s| s.vaddr.0).min().unwrap_or(0);
    dump.modules()
        .iter()
        .find(|m| Path::new(&m.name).file_name().and_then(|n| n.to_str()) == Some(&name))
        .map(|m| m.base.0.wrapping_sub(first & !(PAGE - 1)))
        .unwrap_or(0)
}

impl Memory for MinidumpWithBinary {
    fn read(&self, addr: Addr, buf: &mut [u8]) -> Result<(), MemError> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr
                .0
                .checked_add(done as u64)
                .ok_or(MemError::Unmapped(addr))?;
            let src = match self.dump.saved(a) {
                Some(b) => b,
                None => match self.binary_ro(a) {
                    // Up to the next saved piece: it may hold newer bytes (it cannot,
                    // for read-only memory, but the dump is the instant's truth).
                    Some(b) => match self.dump.next_piece_distance(a) {
                        0 => b,
                        d => b
                            .get(..usize::try_from(d).unwrap_or(usize::MAX).min(b.len()))
                            .unwrap_or(b),
                    },
                    None => return Err(self.dump.missing(a)),
                },
            };
            let rest = buf.get_mut(done..).unwrap_or(&mut []);
            let n = src.len().min(rest.len());
            if n == 0 {
                return Err(self.dump.missing(a));
            }
            if let (Some(d), Some(s)) = (rest.get_mut(..n), src.get(..n)) {
                d.copy_from_slice(s);
            }
            done += n;
        }
        Ok(())
    }

    fn slice(&self, addr: Addr, len: usize) -> Option<&[u8]> {
        match self.dump.saved(addr.0) {
            Some(b) => b.get(..len),
            None => {
                let d = self.dump.next_piece_distance(addr.0);
                if d != 0 && (len as u64) > d {
                    return None;
                }
                self.binary_ro(addr.0)?.get(..len)
            }
        }
    }
}

impl Snapshot for MinidumpWithBinary {
    fn threads(&self) -> &[Thread] {
        self.dump.threads()
    }
    fn mapped_files(&self) -> &[MappedFile] {
        self.dump.mapped_files()
    }
    fn auxv(&self) -> &[(u64, u64)] {
        self.dump.auxv()
    }
    fn signal(&self) -> Option<&SignalInfo> {
        self.dump.signal()
    }
    fn process(&self) -> Option<&ProcessInfo> {
        self.dump.process()
    }
    fn regions(&self) -> Vec<(Addr, Addr)> {
        self.dump.regions()
    }
    fn describe(&self) -> String {
        format!(
            "minidump {} with binary {}",
            self.dump.path().display(),
            self.binary.path.display()
        )
    }
    fn kind(&self) -> &'static str {
        match self.dump.os() {
            DumpOs::Linux | DumpOs::Windows => "minidump",
        }
    }
    fn partial_memory(&self) -> bool {
        self.partial().is_some()
    }
    fn arch(&self) -> crate::arch::Arch {
        self.dump.arch()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_regions_flatten() {
        // A stack inside a full region, a duplicate, a region straddling the end.
        let p = flatten(vec![
            (0x2000, 0x100, 1000),
            (0x1000, 0x2000, 0),
            (0x2800, 0x1000, 5000),
            (0x1000, 0x10, 9000),
            (0x9000, 0, 1),
            (u64::MAX - 1, 8, 1),
        ]);
        assert_eq!(
            p,
            vec![
                Piece {
                    start: 0x1000,
                    len: 0x2000,
                    offset: 0
                },
                Piece {
                    start: 0x3000,
                    len: 0x800,
                    offset: 5000 + 0x800
                },
            ]
        );
        assert_eq!(find(&p, 0x2fff).map(|x| x.start), Some(0x1000));
        assert_eq!(find(&p, 0x3000).map(|x| x.start), Some(0x3000));
        assert!(find(&p, 0x3800).is_none());
        assert!(find(&p, 0xfff).is_none());
        assert_eq!(coalesce(&p), vec![(Addr(0x1000), Addr(0x3800))]);
        assert_eq!(covered(&p, 0x800, 0x1800), 0x800);
        assert_eq!(covered(&p, 0x2f00, 0x4000), 0x900);
    }
}
