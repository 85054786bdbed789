//! ELF core backend. OWNER: ELF-layer engineer.
//!
//! The core is memory-mapped (or decompressed once into a mapped temp file) and never
//! copied: PT_LOAD segments index into the mapping. Headers and notes are parsed by
//! hand with bounds-checked readers so that a truncated or corrupt core gives an error
//! or a warning, never a panic.

use super::compressed::{open_file, FileBytes, FileError};
use super::notes::{c_str, le_i32, le_u16, le_u32, le_u64, parse_notes, prstatus_regs};
use super::small_reads::{SmallReads, SMALL_READ};
use super::{MappedFile, MemError, Memory, ProcessInfo, SignalInfo, Snapshot, Thread};
use crate::addr::Addr;
use crate::arch::Arch;
use memmap2::{Advice, Mmap, UncheckedAdvice};
use std::io::Read;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{0} is not an ELF file (expected a core dump)")]
    NotElf(String),
    #[error("{0} is an executable, not a core; usage: coroner core BIN CORE")]
    NotCore(String),
    #[error("{path} is an ELF file of type {etype}, not a core")]
    OtherType { path: String, etype: u16 },
    #[error("{path} is a core for {arch}; coroner reads amd64 (x86-64) and arm64 cores only")]
    WrongArch { path: String, arch: String },
    #[error("{path} is truncated: {msg}")]
    Truncated { path: String, msg: String },
    #[error("{path}: malformed core: {msg}")]
    Malformed { path: String, msg: String },
}

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const ET_CORE: u16 = 4;
/// e_phnum value meaning "the real count is in section header 0's sh_info".
const PN_XNUM: u16 = 0xffff;

const NT_PRSTATUS: u32 = 1;
const NT_PRPSINFO: u32 = 3;
const NT_AUXV: u32 = 6;
const NT_SIGINFO: u32 = 0x5349_4749;
const NT_FILE: u32 = 0x4649_4c45;
/// arm64 TLS register (tpidr_el0), owner "LINUX", after each thread's NT_PRSTATUS.
const NT_ARM_TLS: u32 = 0x401;

/// Offsets in `struct elf_prstatus` (0x150 bytes on x86-64, 0x188 on arm64: the same
/// header, then the architecture's register set).
const PRSTATUS_CURSIG: usize = 12;
const PRSTATUS_PID: usize = 32;

/// One PT_LOAD segment of the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreSegment {
    pub vaddr: u64,
    pub memsz: u64,
    /// Offset of the segment's bytes in the core file.
    pub offset: u64,
    /// Bytes the kernel wrote; past this the segment was not dumped.
    pub filesz: u64,
    /// PF_X=1, PF_W=2, PF_R=4
    pub flags: u32,
}

impl CoreSegment {
    fn end(&self) -> u64 {
        self.vaddr.saturating_add(self.memsz)
    }
}

/// What the core holds at one address, up to the next change of kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreChunk<'a> {
    /// Bytes saved in the core, starting at the address.
    Saved(&'a [u8]),
    /// Mapped, but past the segment's file size: the kernel did not dump these bytes
    /// (file-backed text, PROT_NONE reservations); they read as zeros unless another
    /// source (the binary) has them.
    NotDumped(u64),
    /// Dumped, but the core file ends before them (truncated core).
    Missing(u64),
    /// No segment covers the address; the value is the distance to the next segment
    /// (0 when there is none).
    Unmapped(u64),
}

/// The core's bytes: our own mapping of a plain core file (so its residency can be
/// controlled, see [`ElfCore::drop_resident`]), or whatever [`open_file`] produced
/// (a decompressed copy, or bytes in memory).
enum CoreBytes {
    Mapped(Arc<Mmap>),
    File(FileBytes),
}

impl Deref for CoreBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            CoreBytes::Mapped(m) => m,
            CoreBytes::File(f) => f,
        }
    }
}

/// Mappings of the cores currently open, for [`release_resident_pages`].
static LIVE_MAPPINGS: Mutex<Vec<Weak<Mmap>>> = Mutex::new(Vec::new());

/// Drop the resident pages of every open core mapping (see [`ElfCore::drop_resident`]).
///
/// This exists because layers above the snapshot see memory only as `&dyn Memory`,
/// which has no residency hook yet; bulk passes (a 100,000-goroutine listing) call it
/// between batches. Harmless for other open cores: their pages refault unchanged.
pub fn release_resident_pages() {
    let mut live = LIVE_MAPPINGS.lock().unwrap_or_else(|e| e.into_inner());
    live.retain(|w| match w.upgrade() {
        Some(m) => {
            drop_pages(&m);
            true
        }
        None => false,
    });
}

fn drop_pages(m: &Mmap) {
    // SAFETY: MADV_DONTNEED on a read-only private file mapping only discards page
    // table entries: we never write to it (no private COW copies exist), so the next
    // access refaults the identical bytes from the page cache or the file. Slices
    // borrowed from the mapping stay valid (the mapping itself is not unmapped).
    // Failure just leaves the pages resident.
    let _ = unsafe { m.unchecked_advise(UncheckedAdvice::DontNeed) };
}

/// Map a plain (uncompressed, non-empty) core file ourselves; `None` to let
/// [`open_file`] handle it (compressed, empty, or unreadable head).
fn map_plain(path: &Path) -> Option<(Arc<Mmap>, std::fs::File)> {
    let mut f = std::fs::File::open(path).ok()?;
    if f.metadata().ok()?.len() < 8 {
        return None;
    }
    let mut head = [0u8; 8];
    f.read_exact(&mut head).ok()?;
    if super::compressed::Compression::detect(&head).is_some() {
        return None;
    }
    // SAFETY: read-only private mapping, as in `compressed::map_file`: another process
    // truncating the file while it is mapped can raise SIGBUS, the trade-off every
    // mmap-based debugger makes for cores of hundreds of MB.
    let map = unsafe { Mmap::map(&f) }.ok()?;
    // Reads are scattered (a g here, a stack page there): no readahead. A hint only.
    let _ = map.advise(Advice::Random);
    Some((Arc::new(map), f))
}

pub struct ElfCore {
    path: PathBuf,
    data: CoreBytes,
    /// Sorted by vaddr, no empty segments.
    segments: Vec<CoreSegment>,
    threads: Vec<Thread>,
    files: Vec<MappedFile>,
    auxv: Vec<(u64, u64)>,
    signal: Option<SignalInfo>,
    process: Option<ProcessInfo>,
    warnings: Vec<String>,
    arch: Arch,
    /// Pages of the mapping made resident (an upper bound) since they were last dropped.
    touched: std::sync::atomic::AtomicU64,
    /// Fault-around windows read lately (a direct-mapped set of window numbers + 1): a
    /// read inside one of them adds no resident page, so it is not counted again.
    recent: Box<[std::sync::atomic::AtomicU64]>,
    /// The mapped file again, for small reads (see `small_reads`).
    small: Option<SmallReads>,
}

/// Resident pages of a core mapping after which they are dropped: bounds what a bulk
/// pass over 100,000 goroutines keeps resident (~32 MB; small reads bypass the mapping)
/// without every pass releasing by hand.
const RESIDENT_BUDGET_PAGES: u64 = 8 * 1024;
/// A page fault on a file mapping maps the cached pages of its whole aligned 64 KB
/// window (the kernel's fault-around), so a read makes up to 16 pages resident: the
/// budget counts windows, once each. (Counting each read as one page, as before, let
/// a pass that reads little but widely keep hundreds of MB resident.)
const WINDOW_SHIFT: u32 = 16;
const WINDOW_PAGES: u64 = 16;
/// Slots of `ElfCore::recent`.
const RECENT_WINDOWS: usize = 1024;

impl std::fmt::Debug for ElfCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElfCore")
            .field("path", &self.path)
            .field("segments", &self.segments.len())
            .field("threads", &self.threads.len())
            .finish()
    }
}

fn mib(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
}

fn arch_name(machine: u16) -> String {
    match machine {
        3 => "i386".into(),
        40 => "arm".into(),
        183 => "arm64".into(),
        243 => "riscv64".into(),
        8 => "mips".into(),
        21 => "ppc64".into(),
        22 => "s390x".into(),
        258 => "loong64".into(),
        m => format!("machine type {m}"),
    }
}

impl ElfCore {
    /// Open a core file (plain or zstd/xz/lz4-compressed).
    pub fn open(path: &Path) -> Result<ElfCore, CoreError> {
        if let Some((map, file)) = map_plain(path) {
            let mut core = Self::parse(path, CoreBytes::Mapped(map.clone()))?;
            core.small = Some(SmallReads::new(file));
            LIVE_MAPPINGS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Arc::downgrade(&map));
            return Ok(core);
        }
        let data = open_file(path)?;
        Self::from_bytes(path, data)
    }

    /// Parse a core from bytes already opened (e.g. [`FileBytes::from_vec`]).
    pub fn from_bytes(path: &Path, data: FileBytes) -> Result<ElfCore, CoreError> {
        Self::parse(path, CoreBytes::File(data))
    }

    /// Release the pages of the core mapping that reading has made resident.
    ///
    /// Reading the stacks of 100,000 goroutines touches hundreds of MB of the mapping,
    /// and touched file pages count in the process's RSS until unmapped. Bulk passes
    /// call this between batches to keep the peak small; the data stays zero-copy and
    /// later reads refault from the page cache. No effect on cores held in memory or
    /// decompressed copies.
    pub fn drop_resident(&self) {
        if let CoreBytes::Mapped(m) = &self.data {
            drop_pages(m);
        }
    }

    fn parse(path: &Path, data: CoreBytes) -> Result<ElfCore, CoreError> {
        let p = path.display().to_string();
        let d: &[u8] = &data;
        if !d.starts_with(b"\x7fELF") {
            return Err(CoreError::NotElf(p));
        }
        let truncated = |msg: &str| CoreError::Truncated {
            path: p.clone(),
            msg: msg.to_string(),
        };
        if d.len() < 64 {
            return Err(truncated("the ELF header is incomplete"));
        }
        let class = d.get(4).copied().unwrap_or(0);
        let endian = d.get(5).copied().unwrap_or(0);
        let etype = le_u16(d, 16).unwrap_or(0);
        let machine = le_u16(d, 18).unwrap_or(0);
        if etype == ET_EXEC || etype == ET_DYN {
            return Err(CoreError::NotCore(p));
        }
        if etype != ET_CORE {
            return Err(CoreError::OtherType { path: p, etype });
        }
        let arch = Arch::from_e_machine(machine).filter(|_| class == 2 && endian == 1);
        let Some(arch) = arch else {
            let arch = if class != 2 {
                format!("a 32-bit {}", arch_name(machine))
            } else if endian != 1 {
                format!("big-endian {}", arch_name(machine))
            } else {
                arch_name(machine)
            };
            return Err(CoreError::WrongArch { path: p, arch });
        };
        let phoff = le_u64(d, 32).unwrap_or(0);
        let shoff = le_u64(d, 40).unwrap_or(0);
        let phentsize = le_u16(d, 54).unwrap_or(0);
        let mut phnum = u32::from(le_u16(d, 56).unwrap_or(0));
        if phnum == u32::from(PN_XNUM) {
            // More than 65534 segments: the count lives in section header 0's sh_info.
            phnum = usize::try_from(shoff)
                .ok()
                .and_then(|o| le_u32(d, o.checked_add(44)?))
                .ok_or_else(|| truncated("the extended program header count is missing"))?;
        }
        if phentsize != 56 {
            return Err(CoreError::Malformed {
                path: p,
                msg: format!("program header size is {phentsize}, expected 56"),
            });
        }
        let ph_end = u64::from(phnum)
            .checked_mul(56)
            .and_then(|n| n.checked_add(phoff))
            .ok_or_else(|| CoreError::Malformed {
                path: p.clone(),
                msg: "program header table offset overflows".into(),
            })?;
        if ph_end > d.len() as u64 {
            return Err(truncated("the program headers are cut off"));
        }

        let mut segments = Vec::new();
        let mut note_ranges = Vec::new();
        let mut expected_len = ph_end;
        for i in 0..u64::from(phnum) {
            // In range: checked against the file length above.
            let Some(o) = i
                .checked_mul(56)
                .and_then(|x| x.checked_add(phoff))
                .and_then(|x| usize::try_from(x).ok())
            else {
                break;
            };
            let (Some(ptype), Some(flags), Some(offset), Some(vaddr), Some(filesz), Some(memsz)) = (
                le_u32(d, o),
                le_u32(d, o + 4),
                le_u64(d, o + 8),
                le_u64(d, o + 16),
                le_u64(d, o + 32),
                le_u64(d, o + 40),
            ) else {
                break;
            };
            let align = le_u64(d, o + 48).unwrap_or(4);
            if let Some(end) = offset.checked_add(filesz) {
                expected_len = expected_len.max(end);
            }
            match ptype {
                PT_LOAD if memsz > 0 => {
                    if offset.checked_add(filesz).is_none() || vaddr.checked_add(memsz).is_none() {
                        continue;
                    }
                    segments.push(CoreSegment {
                        vaddr,
                        memsz,
                        offset,
                        // A file size beyond the memory size means nothing more.
                        filesz: filesz.min(memsz),
                        flags,
                    });
                }
                PT_NOTE => note_ranges.push((offset, filesz, align)),
                _ => {}
            }
        }
        segments.sort_by_key(|s| s.vaddr);

        let mut warnings = Vec::new();
        let mut notes = NoteFacts {
            arch,
            ..NoteFacts::default()
        };
        let len = d.len() as u64;
        if len < expected_len {
            warnings.push(format!(
                "core is truncated: {} of {} present; some memory is missing",
                mib(len),
                mib(expected_len)
            ));
        }
        for (offset, filesz, align) in note_ranges {
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            let end = usize::try_from(offset.saturating_add(filesz)).unwrap_or(usize::MAX);
            let Some(bytes) = d.get(start..end.min(d.len())) else {
                continue;
            };
            notes.parse(bytes, align);
        }
        notes.finish();
        if notes.threads.is_empty() {
            warnings
                .push("the core has no thread (NT_PRSTATUS) notes: no registers are known".into());
        }
        Ok(ElfCore {
            path: path.to_path_buf(),
            data,
            segments,
            threads: notes.threads,
            files: notes.files,
            auxv: notes.auxv,
            signal: notes.signal,
            process: notes.process,
            warnings,
            arch,
            touched: std::sync::atomic::AtomicU64::new(0),
            recent: (0..RECENT_WINDOWS)
                .map(|_| std::sync::atomic::AtomicU64::new(0))
                .collect(),
            small: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The core's bytes (decompressed if the file was compressed).
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// PT_LOAD segments sorted by address.
    pub fn segments(&self) -> &[CoreSegment] {
        &self.segments
    }

    /// Non-fatal problems found while opening (truncation, missing notes).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The architecture named by the core's ELF header.
    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// Index of the segment containing `addr`, by binary search.
    fn find(&self, addr: u64) -> Result<usize, usize> {
        let i = self.segments.partition_point(|s| s.vaddr <= addr);
        match i.checked_sub(1) {
            Some(j) if self.segments.get(j).is_some_and(|s| addr < s.end()) => Ok(j),
            _ => Err(i),
        }
    }

    /// What the core holds at `addr`, up to where that changes (at most `max` bytes for
    /// the lengths of the non-saved kinds; `Saved` may be longer).
    pub fn chunk(&self, addr: u64) -> CoreChunk<'_> {
        let seg = match self.find(addr) {
            Ok(i) => match self.segments.get(i) {
                Some(s) => *s,
                None => return CoreChunk::Unmapped(0),
            },
            Err(next) => {
                let dist = self
                    .segments
                    .get(next)
                    .map(|s| s.vaddr.saturating_sub(addr))
                    .unwrap_or(0);
                return CoreChunk::Unmapped(dist);
            }
        };
        let off = addr - seg.vaddr; // addr >= vaddr: find() guarantees it.
        if off >= seg.filesz {
            return CoreChunk::NotDumped(seg.end() - addr);
        }
        let file_len = self.data.len() as u64;
        let want_end = seg.offset.saturating_add(seg.filesz);
        let start = seg.offset.saturating_add(off);
        if start >= file_len {
            return CoreChunk::Missing(want_end.saturating_sub(start));
        }
        let end = want_end.min(file_len);
        match (usize::try_from(start), usize::try_from(end)) {
            (Ok(s), Ok(e)) => match self.data.get(s..e) {
                Some(b) => CoreChunk::Saved(b),
                None => CoreChunk::Missing(want_end.saturating_sub(start)),
            },
            _ => CoreChunk::Missing(want_end.saturating_sub(start)),
        }
    }
}

/// Facts gathered from the core's notes.
#[derive(Default)]
struct NoteFacts {
    threads: Vec<Thread>,
    files: Vec<MappedFile>,
    auxv: Vec<(u64, u64)>,
    signal: Option<SignalInfo>,
    process: Option<ProcessInfo>,
    arch: Arch,
}

impl NoteFacts {
    fn parse(&mut self, notes: &[u8], align: u64) {
        for n in parse_notes(notes, align) {
            // Core notes are owned by "CORE" (and "LINUX" for extended register sets).
            if n.name == b"LINUX" && n.ntype == NT_ARM_TLS && self.arch == Arch::Arm64 {
                // Belongs to the thread whose NT_PRSTATUS came just before.
                let tls = le_u64(n.desc, 0);
                if let (Some(t), Some(v)) = (self.threads.last_mut(), tls) {
                    if let Some(r) = t.arm64.as_mut() {
                        r.tpidr = v;
                    }
                }
                continue;
            }
            if n.name != b"CORE" {
                continue;
            }
            let desc = n.desc;
            match n.ntype {
                NT_PRSTATUS => {
                    let Some(tid) = le_u32(desc, PRSTATUS_PID) else {
                        continue;
                    };
                    let signal = le_u16(desc, PRSTATUS_CURSIG).map(|s| s as i16).unwrap_or(0);
                    let (regs, arm64) = prstatus_regs(self.arch, desc);
                    self.threads.push(Thread {
                        tid,
                        regs,
                        signal: i32::from(signal),
                        arm64,
                        g_slots: Vec::new(),
                    });
                }
                NT_PRPSINFO => {
                    self.process = Some(ProcessInfo {
                        pid: le_i32(desc, 24).unwrap_or(0),
                        name: c_str(desc.get(40..56).unwrap_or(&[])),
                        args: c_str(desc.get(56..136).unwrap_or(&[]))
                            .trim_end()
                            .to_string(),
                    });
                }
                NT_SIGINFO => {
                    let (Some(signo), Some(errno), Some(code)) =
                        (le_i32(desc, 0), le_i32(desc, 4), le_i32(desc, 8))
                    else {
                        continue;
                    };
                    // SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV carry the faulting address
                    // when the kernel raised them (si_code > 0).
                    let fault = matches!(signo, 4 | 5 | 7 | 8 | 11) && code > 0;
                    let union = le_u64(desc, 16);
                    self.signal = Some(SignalInfo {
                        signo,
                        code,
                        errno,
                        fault_addr: if fault { union.map(Addr) } else { None },
                        // si_code <= 0: sent by a process (kill, tgkill, sigqueue).
                        sender_pid: if code <= 0 { le_i32(desc, 16) } else { None },
                        // The kernel writes the dumping (signalled) thread's notes first.
                        tid: self.threads.first().map(|t| t.tid),
                    });
                }
                NT_AUXV => {
                    let mut off = 0usize;
                    while let (Some(k), Some(v)) = (le_u64(desc, off), le_u64(desc, off + 8)) {
                        if k == 0 {
                            break;
                        }
                        self.auxv.push((k, v));
                        off += 16;
                    }
                }
                NT_FILE => self.files = parse_nt_file(desc),
                _ => {}
            }
        }
    }

    fn finish(&mut self) {
        if self.signal.is_none() {
            // No NT_SIGINFO (old kernels, some dumpers): the first thread's pending
            // signal is the best we have.
            if let Some(t) = self.threads.iter().find(|t| t.signal != 0) {
                self.signal = Some(SignalInfo {
                    signo: t.signal,
                    tid: Some(t.tid),
                    ..SignalInfo::default()
                });
            }
        }
    }
}

/// NT_FILE: count, page size, count × (start, end, page offset), then the paths.
fn parse_nt_file(desc: &[u8]) -> Vec<MappedFile> {
    let (Some(count), Some(page)) = (le_u64(desc, 0), le_u64(desc, 8)) else {
        return Vec::new();
    };
    // Each entry needs 24 bytes: bounds the count before allocating.
    let count = usize::try_from(count)
        .unwrap_or(usize::MAX)
        .min(desc.len() / 24);
    let names_at = 16 + count * 24;
    let mut names = desc.get(names_at..).unwrap_or(&[]).split(|&b| b == 0);
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let o = 16 + i * 24;
        let (Some(start), Some(end), Some(pgoff)) =
            (le_u64(desc, o), le_u64(desc, o + 8), le_u64(desc, o + 16))
        else {
            break;
        };
        let name = names.next().unwrap_or(&[]);
        out.push(MappedFile {
            start: Addr(start),
            end: Addr(end),
            file_offset: pgoff.saturating_mul(page),
            path: PathBuf::from(String::from_utf8_lossy(name).into_owned()),
        });
    }
    out
}

impl ElfCore {
    /// Counts a zero-copy view handed out (`slice`) of bytes of this core.
    pub(crate) fn note_slice(&self, s: &[u8]) {
        if let CoreBytes::Mapped(m) = &self.data {
            let base = m.as_ptr() as usize;
            let at = s.as_ptr() as usize;
            if at >= base && at + s.len() <= base + m.len() {
                self.note_mapped((at - base) as u64, s.len());
            }
        }
    }

    /// Copy `src` (bytes of this core, as `chunk` gave them, or any other slice) into
    /// `dst` (as long): small reads of the mapping by `pread`, the rest from the mapping.
    pub(crate) fn copy_out(&self, src: &[u8], dst: &mut [u8]) {
        if let (CoreBytes::Mapped(m), Some(small)) = (&self.data, &self.small) {
            let base = m.as_ptr() as usize;
            let at = src.as_ptr() as usize;
            if at >= base && at + src.len() <= base + m.len() {
                let off = (at - base) as u64;
                if src.len() <= SMALL_READ && small.read(off, dst) {
                    return;
                }
                self.note_mapped(off, src.len());
            }
        }
        dst.copy_from_slice(src);
    }

    /// Counts `len` bytes read at mapping offset `addr`; past the budget, drops the
    /// resident pages (safe under borrowed slices: see [`drop_pages`]).
    fn note_mapped(&self, addr: u64, len: usize) {
        use std::sync::atomic::Ordering;
        let CoreBytes::Mapped(m) = &self.data else {
            return;
        };
        let first = addr >> WINDOW_SHIFT;
        let last = addr.saturating_add(len.max(1) as u64 - 1) >> WINDOW_SHIFT;
        let windows = if last - first >= 8 {
            // A bulk read: all of it counts.
            last - first + 1
        } else {
            (first..=last)
                .filter(|&w| {
                    let slot = &self.recent[(w as usize) % RECENT_WINDOWS];
                    slot.swap(w + 1, Ordering::Relaxed) != w + 1
                })
                .count() as u64
        };
        if windows == 0 {
            return;
        }
        let pages = windows * WINDOW_PAGES;
        if self.touched.fetch_add(pages, Ordering::Relaxed) + pages > RESIDENT_BUDGET_PAGES {
            self.touched.store(0, Ordering::Relaxed);
            for slot in self.recent.iter() {
                slot.store(0, Ordering::Relaxed);
            }
            drop_pages(m);
        }
    }
}

impl Memory for ElfCore {
    fn read(&self, addr: Addr, buf: &mut [u8]) -> Result<(), MemError> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr
                .0
                .checked_add(done as u64)
                .ok_or(MemError::Unmapped(addr))?;
            let rest = buf.get_mut(done..).unwrap_or(&mut []);
            let n = match self.chunk(a) {
                CoreChunk::Saved(b) => {
                    let n = b.len().min(rest.len());
                    if let (Some(dst), Some(src)) = (rest.get_mut(..n), b.get(..n)) {
                        self.copy_out(src, dst);
                    }
                    n
                }
                CoreChunk::NotDumped(len) => {
                    let n = usize::try_from(len).unwrap_or(usize::MAX).min(rest.len());
                    if let Some(dst) = rest.get_mut(..n) {
                        dst.fill(0);
                    }
                    n
                }
                CoreChunk::Missing(_) => return Err(MemError::NotSaved(Addr(a))),
                CoreChunk::Unmapped(_) => return Err(MemError::Unmapped(Addr(a))),
            };
            if n == 0 {
                return Err(MemError::Unmapped(Addr(a)));
            }
            done += n;
        }
        Ok(())
    }

    fn slice(&self, addr: Addr, len: usize) -> Option<&[u8]> {
        match self.chunk(addr.0) {
            CoreChunk::Saved(b) => {
                let s = b.get(..len)?;
                self.note_slice(s);
                Some(s)
            }
            _ => None,
        }
    }
}

impl Snapshot for ElfCore {
    fn threads(&self) -> &[Thread] {
        &self.threads
    }
    fn mapped_files(&self) -> &[MappedFile] {
        &self.files
    }
    fn auxv(&self) -> &[(u64, u64)] {
        &self.auxv
    }
    fn signal(&self) -> Option<&SignalInfo> {
        self.signal.as_ref()
    }
    fn process(&self) -> Option<&ProcessInfo> {
        self.process.as_ref()
    }
    fn regions(&self) -> Vec<(Addr, Addr)> {
        // PF_R: PROT_NONE reservations (Go's arena hints, guard pages) are not memory
        // anyone can read.
        self.segments
            .iter()
            .filter(|s| s.flags & 4 != 0)
            .map(|s| (Addr(s.vaddr), Addr(s.end())))
            .collect()
    }
    fn describe(&self) -> String {
        format!("core file {}", self.path.display())
    }
    fn arch(&self) -> Arch {
        self.arch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::EM_X86_64;
    use crate::snapshot::notes::PRSTATUS_REGS;

    fn note(v: &mut Vec<u8>, name: &[u8], ntype: u32, desc: &[u8]) {
        v.extend_from_slice(&(name.len() as u32 + 1).to_le_bytes());
        v.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        v.extend_from_slice(&ntype.to_le_bytes());
        v.extend_from_slice(name);
        v.push(0);
        while v.len() & 3 != 0 {
            v.push(0);
        }
        v.extend_from_slice(desc);
        while v.len() & 3 != 0 {
            v.push(0);
        }
    }

    fn phdr(v: &mut Vec<u8>, ptype: u32, flags: u32, off: u64, va: u64, filesz: u64, memsz: u64) {
        v.extend_from_slice(&ptype.to_le_bytes());
        v.extend_from_slice(&flags.to_le_bytes());
        for x in [off, va, 0, filesz, memsz, 4] {
            v.extend_from_slice(&x.to_le_bytes());
        }
    }

    /// A hand-built core: two adjacent saved segments, one partly dumped segment, a
    /// thread, a SIGSEGV siginfo, auxv and one mapped file.
    fn synthetic() -> Vec<u8> {
        let mut notes = Vec::new();
        let mut prs = vec![0u8; 0x150];
        prs[PRSTATUS_CURSIG..PRSTATUS_CURSIG + 2].copy_from_slice(&11u16.to_le_bytes());
        prs[PRSTATUS_PID..PRSTATUS_PID + 4].copy_from_slice(&4242u32.to_le_bytes());
        let rip = PRSTATUS_REGS + 16 * 8;
        prs[rip..rip + 8].copy_from_slice(&0x1000u64.to_le_bytes());
        let fsb = PRSTATUS_REGS + 21 * 8;
        prs[fsb..fsb + 8].copy_from_slice(&0x7777u64.to_le_bytes());
        note(&mut notes, b"CORE", NT_PRSTATUS, &prs);
        let mut si = vec![0u8; 128];
        si[0..4].copy_from_slice(&11i32.to_le_bytes());
        si[8..12].copy_from_slice(&1i32.to_le_bytes()); // SEGV_MAPERR
        si[16..24].copy_from_slice(&0xdeadu64.to_le_bytes());
        note(&mut notes, b"CORE", NT_SIGINFO, &si);
        let mut auxv = Vec::new();
        for x in [9u64, 0x1000, 0, 0] {
            auxv.extend_from_slice(&x.to_le_bytes());
        }
        note(&mut notes, b"CORE", NT_AUXV, &auxv);
        let mut nf = Vec::new();
        for x in [1u64, 4096, 0x1000, 0x2000, 2] {
            nf.extend_from_slice(&x.to_le_bytes());
        }
        nf.extend_from_slice(b"/bin/prog\0");
        note(&mut notes, b"CORE", NT_FILE, &nf);

        let phnum = 4u16;
        let notes_off = 64 + 56 * u64::from(phnum);
        let data_off = (notes_off + notes.len() as u64 + 15) & !15;
        let mut v = vec![0u8; 64];
        v[..4].copy_from_slice(b"\x7fELF");
        v[4] = 2;
        v[5] = 1;
        v[6] = 1;
        v[16..18].copy_from_slice(&ET_CORE.to_le_bytes());
        v[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
        v[32..40].copy_from_slice(&64u64.to_le_bytes());
        v[52..54].copy_from_slice(&64u16.to_le_bytes());
        v[54..56].copy_from_slice(&56u16.to_le_bytes());
        v[56..58].copy_from_slice(&phnum.to_le_bytes());
        phdr(&mut v, PT_NOTE, 0, notes_off, 0, notes.len() as u64, 0);
        // Listed out of order on purpose: the core sorts segments.
        phdr(&mut v, PT_LOAD, 6, data_off + 0x20, 0x2010, 0x10, 0x10);
        phdr(&mut v, PT_LOAD, 6, data_off, 0x2000, 0x10, 0x10);
        phdr(&mut v, PT_LOAD, 5, data_off + 0x30, 0x1000, 0x8, 0x100);
        v.extend_from_slice(&notes);
        v.resize(data_off as usize, 0);
        v.extend((0u8..0x10).map(|i| 0xa0 + i));
        v.extend_from_slice(&[0xee; 0x10]); // a gap in the file, never mapped
        v.extend((0u8..0x10).map(|i| 0xb0 + i));
        v.extend_from_slice(&[0x11; 8]);
        v
    }

    fn open(v: Vec<u8>) -> Result<ElfCore, CoreError> {
        ElfCore::from_bytes(Path::new("synthetic"), FileBytes::from_vec("synthetic", v))
    }

    #[test]
    fn synthetic_core_notes_and_memory() {
        let core = open(synthetic()).unwrap();
        assert!(core.warnings().is_empty(), "{:?}", core.warnings());
        let t = core.threads();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].tid, 4242);
        assert_eq!(t[0].signal, 11);
        assert_eq!(t[0].regs.rip, 0x1000);
        assert_eq!(t[0].regs.fs_base, 0x7777);
        let s = core.signal().unwrap();
        assert_eq!((s.signo, s.code), (11, 1));
        assert_eq!(s.fault_addr, Some(Addr(0xdead)));
        assert_eq!(s.sender_pid, None);
        assert_eq!(s.tid, Some(4242));
        assert_eq!(core.auxv_value(9), Some(0x1000));
        let f = &core.mapped_files()[0];
        assert_eq!(
            (f.start, f.end, f.file_offset),
            (Addr(0x1000), Addr(0x2000), 8192)
        );
        assert_eq!(f.path, Path::new("/bin/prog"));

        // Spanning the two adjacent segments, which are not adjacent in the file.
        let mut b = [0u8; 8];
        core.read(Addr(0x200c), &mut b).unwrap();
        assert_eq!(b, [0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1, 0xb2, 0xb3]);
        assert!(core.slice(Addr(0x200c), 8).is_none());
        assert_eq!(
            core.slice(Addr(0x2010), 4),
            Some(&[0xb0, 0xb1, 0xb2, 0xb3][..])
        );
        // Past filesz: zeros, and the chunk says the kernel did not dump it.
        let mut b = [0xffu8; 16];
        core.read(Addr(0x1004), &mut b).unwrap();
        assert_eq!(b[..4], [0x11; 4]);
        assert_eq!(b[4..], [0; 12]);
        assert_eq!(core.chunk(0x1010), CoreChunk::NotDumped(0xf0));
        // Holes and the end.
        assert!(matches!(
            core.read_u8(Addr(0x1100)),
            Err(MemError::Unmapped(_))
        ));
        assert_eq!(core.chunk(0x1100), CoreChunk::Unmapped(0xf00));
        assert!(matches!(
            core.read_u8(Addr(0x2020)),
            Err(MemError::Unmapped(_))
        ));
        assert_eq!(
            core.regions(),
            vec![
                (Addr(0x1000), Addr(0x1100)),
                (Addr(0x2000), Addr(0x2010)),
                (Addr(0x2010), Addr(0x2020))
            ]
        );
    }

    #[test]
    fn synthetic_core_truncated_at_every_length() {
        let full = synthetic();
        for cut in 0..full.len() {
            let r = open(full[..cut].to_vec());
            if cut < 64 + 4 * 56 {
                assert!(r.is_err(), "cut {cut}");
                continue;
            }
            let core = r.unwrap();
            assert!(
                core.warnings()[0].starts_with("core is truncated: "),
                "{:?}",
                core.warnings()
            );
            let mut b = [0u8; 4];
            match core.read(Addr(0x2010), &mut b) {
                Ok(()) => assert_eq!(b, [0xb0, 0xb1, 0xb2, 0xb3]),
                Err(e) => assert!(matches!(e, MemError::NotSaved(_)), "{e}"),
            }
        }
    }

    #[test]
    fn wrong_kinds_of_elf_are_refused() {
        let mut v = synthetic();
        v[16] = 2;
        let e = open(v).unwrap_err().to_string();
        assert_eq!(
            e,
            "synthetic is an executable, not a core; usage: coroner core BIN CORE"
        );
        let mut v = synthetic();
        v[18] = 243;
        let e = open(v).unwrap_err().to_string();
        assert_eq!(
            e,
            "synthetic is a core for riscv64; coroner reads amd64 (x86-64) and arm64 cores only"
        );
        let mut v = synthetic();
        v[4] = 1;
        assert!(open(v).unwrap_err().to_string().contains("32-bit"));
        let e = open(b"MZ\x90\0".to_vec()).unwrap_err().to_string();
        assert_eq!(e, "synthetic is not an ELF file (expected a core dump)");
    }
}

#[cfg(test)]
mod residency_tests {
    use super::*;
    use std::io::Write;

    /// Dropping resident pages must not change what reads return.
    #[test]
    fn drop_resident_keeps_contents() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("cores/fixtures/go1.27-opt/deadlock.core.zst");
        let Ok(packed) = std::fs::read(&src) else {
            eprintln!("skipping: {} not present", src.display());
            return;
        };
        let Ok(plain) = zstd::decode_all(packed.as_slice()) else {
            panic!("cannot decompress {}", src.display());
        };
        let mut tmp = tempfile::NamedTempFile::new().expect("temp file");
        tmp.write_all(&plain).expect("write temp core");
        tmp.flush().expect("flush temp core");
        let core = ElfCore::open(tmp.path()).expect("open plain core");
        assert!(
            matches!(core.data, CoreBytes::Mapped(_)),
            "a plain core is mapped by us"
        );
        let segs: Vec<CoreSegment> = core
            .segments()
            .iter()
            .copied()
            .filter(|s| s.filesz > 0)
            .collect();
        assert!(!segs.is_empty());
        let before: Vec<Vec<u8>> = segs
            .iter()
            .map(|s| {
                core.read_bytes(Addr(s.vaddr), s.filesz.min(1 << 16) as usize)
                    .unwrap_or_default()
            })
            .collect();
        core.drop_resident();
        release_resident_pages();
        for (s, b) in segs.iter().zip(&before) {
            let again = core.read_bytes(Addr(s.vaddr), b.len()).unwrap_or_default();
            assert_eq!(&again, b, "segment at {:#x}", s.vaddr);
        }
        // Bytes in memory are never advised away.
        let mem = ElfCore::from_bytes(tmp.path(), FileBytes::from_vec(tmp.path(), plain))
            .expect("from bytes");
        mem.drop_resident();
        assert_eq!(
            mem.read_bytes(Addr(segs[0].vaddr), before[0].len())
                .ok()
                .as_ref(),
            before.first()
        );
    }
}
