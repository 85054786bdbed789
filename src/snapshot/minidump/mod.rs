//! Minidump backend: Breakpad/Crashpad/minidump-writer dumps of Linux amd64 and arm64
//! processes and Windows `MiniDumpWriteDump` dumps of amd64 processes (with a PE
//! binary: the g of each thread through its TEB, see windows.rs), parsed with the
//! `minidump` crate.
//!
//! The file is read once: the crate parses the stream directory and every stream, and
//! everything coroner needs is copied out into owned facts (threads with registers,
//! memory regions as offsets into the file's bytes, mapped files, auxv, the exception).
//! Memory reads then index the file's bytes directly, as the ELF core does.
//!
//! A minidump usually holds only part of the memory (thread stacks, a few regions;
//! sometimes everything). What it left out is unreadable ([`MemError::NotInDump`]);
//! [`MinidumpWithBinary`] fills read-only data and code from the binary, as the ELF
//! core overlay does.

mod context;
mod linux;
mod memory;
pub mod windows;

pub use memory::{MinidumpWithBinary, Piece};

use super::compressed::{open_file, FileBytes, FileError};
use super::{Arch, MappedFile, MemError, Memory, ProcessInfo, SignalInfo, Snapshot, Thread};
use crate::addr::Addr;
use minidump::format::MINIDUMP_STREAM_TYPE as St;
use minidump::system_info::{Cpu, Os};
use minidump::{
    CodeView, Minidump as Md, MinidumpException, MinidumpMemory64List, MinidumpMemoryInfoList,
    MinidumpMemoryList, MinidumpMiscInfo, MinidumpModuleList, MinidumpSystemInfo,
    MinidumpThreadList, RawMiscInfo,
};
use std::path::{Path, PathBuf};

/// The magic at offset 0 of every minidump.
pub const MAGIC: &[u8; 4] = b"MDMP";

/// Breakpad's exception code for a dump written on request (no crash).
const DUMP_REQUESTED: u32 = 0xffff_ffff;

#[derive(Debug, thiserror::Error)]
pub enum MinidumpError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{0} is not a minidump (no MDMP header)")]
    NotMinidump(String),
    #[error("{path} is not a readable minidump: {msg}")]
    Malformed { path: String, msg: String },
    #[error(
        "{path} is a minidump of a process on {arch}; coroner reads amd64 (x86-64) minidumps, and arm64 ones of Linux processes, only"
    )]
    WrongArch { path: String, arch: String },
    #[error(
        "{path} is a minidump from {os}; coroner reads minidumps of Linux and Windows processes only"
    )]
    WrongOs { path: String, os: String },
}

/// One module (executable or shared library) of the module list.
#[derive(Debug, Clone)]
pub struct Module {
    pub base: Addr,
    pub size: u64,
    /// Path as the dumper recorded it.
    pub name: String,
    /// ELF build ID (CodeView "BpEL" record): the GNU build-id note, or when there is
    /// none, Breakpad's XOR of the first page of `.text`.
    pub build_id: Option<Vec<u8>>,
    /// The PE header's TimeDateStamp as the dumper read it (Windows; 0 elsewhere).
    pub timestamp: u32,
}

/// Which operating system wrote the dump: decides the thread context's meaning and
/// where the g pointer lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpOs {
    Linux,
    /// `MiniDumpWriteDump`: PE modules, TEBs, Windows exception codes.
    Windows,
}

/// A protection-annotated mapping (from /proc/PID/maps or MemoryInfoListStream).
#[derive(Debug, Clone, Copy)]
pub struct MapRange {
    pub start: u64,
    pub end: u64,
    pub readable: bool,
    pub writable: bool,
}

/// A parsed minidump: owned facts plus the file's bytes.
pub struct Minidump {
    path: PathBuf,
    data: FileBytes,
    os: DumpOs,
    arch: Arch,
    /// Saved memory, sorted by address, not overlapping.
    pieces: Vec<Piece>,
    threads: Vec<Thread>,
    files: Vec<MappedFile>,
    maps: Vec<MapRange>,
    auxv: Vec<(u64, u64)>,
    signal: Option<SignalInfo>,
    process: Option<ProcessInfo>,
    environ: Vec<String>,
    modules: Vec<Module>,
    /// The exception stream says the dump was requested, not caused by a crash.
    requested: bool,
    warnings: Vec<String>,
}

impl std::fmt::Debug for Minidump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minidump")
            .field("path", &self.path)
            .field("pieces", &self.pieces.len())
            .field("threads", &self.threads.len())
            .finish()
    }
}

/// Whether `head` (the first bytes of a file) starts a minidump.
pub fn is_minidump(head: &[u8]) -> bool {
    head.starts_with(MAGIC)
}

/// What the first bytes of a core file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    Minidump,
    /// Compressed: the kind is known only once decompressed.
    Compressed,
    /// Anything else (the ELF core reader says what is wrong with it).
    Other,
}

/// Look at the first bytes of the file at `path`. `Other` when it cannot be read:
/// the ELF core reader then says why.
pub fn head(path: &Path) -> Head {
    use std::io::Read;
    let Ok(f) = std::fs::File::open(path) else {
        return Head::Other;
    };
    let mut head = Vec::with_capacity(8);
    if f.take(8).read_to_end(&mut head).is_err() {
        return Head::Other;
    }
    if is_minidump(&head) {
        Head::Minidump
    } else if super::compressed::Compression::detect(&head).is_some() {
        Head::Compressed
    } else {
        Head::Other
    }
}

fn os_name(os: Os) -> String {
    match os {
        Os::MacOs => "macOS".into(),
        Os::Ios => "iOS".into(),
        Os::Android => "Android".into(),
        Os::Solaris => "Solaris".into(),
        other => format!("{other:?}"),
    }
}

impl Minidump {
    /// Open a minidump (plain or compressed).
    pub fn open(path: &Path) -> Result<Minidump, MinidumpError> {
        let data = open_file(path)?;
        Self::from_bytes(path, data)
    }

    /// Parse a minidump from bytes already opened (e.g. [`FileBytes::from_vec`]).
    pub fn from_bytes(path: &Path, data: FileBytes) -> Result<Minidump, MinidumpError> {
        let p = path.display().to_string();
        if !is_minidump(&data) {
            return Err(MinidumpError::NotMinidump(p));
        }
        let bad = |msg: String| MinidumpError::Malformed {
            path: p.clone(),
            msg,
        };
        let base = data.as_ptr() as usize;
        let len = data.len();
        let md = Md::read(&data[..]).map_err(|e| bad(crate_error(&e)))?;
        let sys: MinidumpSystemInfo = md.get_stream().map_err(|e| {
            bad(format!(
                "no system info stream ({}): cannot tell the CPU",
                crate_error(&e)
            ))
        })?;
        let os = match sys.os {
            Os::Linux => DumpOs::Linux,
            Os::Windows => DumpOs::Windows,
            other => {
                return Err(MinidumpError::WrongOs {
                    path: p,
                    os: os_name(other),
                })
            }
        };
        // arm64: Linux only (Windows' arm64 TEB and g are not modelled).
        let arch = match (sys.cpu, os) {
            (Cpu::X86_64, _) => Arch::Amd64,
            (Cpu::Arm64, DumpOs::Linux) => Arch::Arm64,
            (cpu, _) => {
                let os = if os == DumpOs::Windows {
                    "Windows "
                } else {
                    ""
                };
                return Err(MinidumpError::WrongArch {
                    path: p,
                    arch: format!("{os}{}", format!("{cpu:?}").to_lowercase()),
                });
            }
        };
        let arch_name = match arch {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        };
        let mut warnings = Vec::new();
        let misc: Option<MinidumpMiscInfo> = md.get_stream().ok();

        // Memory: both lists (Delve reads only Memory64List; Breakpad writes only
        // MemoryList; Windows full dumps write Memory64List with stacks in MemoryList).
        let mut raw: Vec<(u64, u64, usize)> = Vec::new();
        let offset_of = |bytes: &[u8]| -> Option<usize> {
            let off = (bytes.as_ptr() as usize).checked_sub(base)?;
            (off.checked_add(bytes.len())? <= len).then_some(off)
        };
        match md.get_stream::<MinidumpMemoryList>() {
            Ok(list) => {
                for m in list.iter() {
                    if let Some(off) = offset_of(m.bytes) {
                        raw.push((m.base_address, m.bytes.len() as u64, off));
                    }
                }
            }
            Err(minidump::Error::StreamNotFound) => {}
            Err(e) => warnings.push(format!(
                "the memory list stream is unreadable ({}): its memory is left out",
                crate_error(&e)
            )),
        }
        match md.get_stream::<MinidumpMemory64List>() {
            Ok(list) => {
                for m in list.iter() {
                    if let Some(off) = offset_of(m.bytes) {
                        raw.push((m.base_address, m.bytes.len() as u64, off));
                    }
                }
            }
            Err(minidump::Error::StreamNotFound) => {}
            Err(e) => warnings.push(format!(
                "the 64-bit memory list stream is unreadable ({}): its memory is left out",
                crate_error(&e)
            )),
        }
        let pieces = memory::flatten(raw);

        // Threads and their registers.
        let mut threads = Vec::new();
        match md.get_stream::<MinidumpThreadList>() {
            Ok(list) => {
                for t in &list.threads {
                    let (regs, arm64) = match t
                        .context(&sys, misc.as_ref())
                        .and_then(|c| context::registers(&c))
                    {
                        Some(context::Regs::Amd64(r)) if arch == Arch::Amd64 => (Some(r), None),
                        Some(context::Regs::Arm64(r)) if arch == Arch::Arm64 => {
                            (Some(Default::default()), Some(r))
                        }
                        _ => (None, None),
                    };
                    if regs.is_none() {
                        warnings.push(format!(
                            "thread {} has no {arch_name} register context in the minidump",
                            t.raw.thread_id
                        ));
                    }
                    // A thread without a context still has the architecture's
                    // register set (all zero).
                    let arm64 = arm64.or_else(|| (arch == Arch::Arm64).then(Default::default));
                    let mut regs = regs.unwrap_or_default();
                    let mut g_slots = Vec::new();
                    if os == DumpOs::Windows {
                        // GS base is the TEB on windows/amd64 (the context omits it).
                        regs.gs_base = t.raw.teb;
                        let read = |a: u64, n: usize| saved_in(&pieces, &data, a, n);
                        g_slots = windows::g_slot_candidates(t.raw.teb, read)
                            .into_iter()
                            .map(Addr)
                            .collect();
                    }
                    threads.push(Thread {
                        tid: t.raw.thread_id,
                        regs,
                        signal: 0,
                        arm64,
                        g_slots,
                    });
                }
            }
            Err(e) => warnings.push(format!(
                "the minidump has no readable thread list ({}): no registers are known",
                crate_error(&e)
            )),
        }

        // The exception: the crashing thread and signal (Linux) or exception code.
        let mut signal = None;
        let mut requested = false;
        if let Ok(ex) = md.get_stream::<MinidumpException>() {
            let rec = &ex.raw.exception_record;
            let tid = ex.thread_id;
            // The context at the exception, if the dumper saved one apart from the
            // thread's (a handler's own frames are then not on top of the stack).
            if let Some(regs) = ex
                .context(&sys, misc.as_ref())
                .and_then(|c| context::registers(&c))
            {
                if let Some(t) = threads.iter_mut().find(|t| t.tid == tid) {
                    match regs {
                        context::Regs::Amd64(r) if arch == Arch::Amd64 => t.regs = r,
                        context::Regs::Arm64(r) if arch == Arch::Arm64 => t.arm64 = Some(r),
                        _ => {}
                    }
                }
            }
            match os {
                DumpOs::Windows => {
                    let code = rec.exception_code;
                    let info = |i: usize| rec.exception_information.get(i).copied();
                    if let Some((signo, fault)) = windows::exception_signal(code) {
                        if let Some(t) = threads.iter_mut().find(|t| t.tid == tid) {
                            t.signal = signo;
                        }
                        signal = Some(SignalInfo {
                            signo,
                            code: 0,
                            errno: 0,
                            fault_addr: fault.then(|| info(1).map(Addr)).flatten(),
                            sender_pid: None,
                            tid: Some(tid),
                        });
                    }
                    warnings.push(format!(
                        "thread {tid} took exception {code:#010x}{} at {:#x}",
                        windows::exception_name(code)
                            .map(|n| format!(" ({n})"))
                            .unwrap_or_default(),
                        rec.exception_address
                    ));
                }
                DumpOs::Linux if rec.exception_code == DUMP_REQUESTED => requested = true,
                DumpOs::Linux => {
                    let signo = rec.exception_code as i32;
                    let code = rec.exception_flags as i32;
                    let fault = matches!(signo, 4 | 5 | 7 | 8 | 11) && code > 0;
                    if let Some(t) = threads.iter_mut().find(|t| t.tid == tid) {
                        t.signal = signo;
                    }
                    signal = Some(SignalInfo {
                        signo,
                        code,
                        errno: 0,
                        fault_addr: fault.then_some(Addr(rec.exception_address)),
                        sender_pid: None,
                        tid: Some(tid),
                    });
                }
            }
        } else {
            requested = true;
        }

        let modules = match md.get_stream::<MinidumpModuleList>() {
            Ok(list) => list
                .iter()
                .map(|m| Module {
                    base: Addr(m.raw.base_of_image),
                    size: u64::from(m.raw.size_of_image),
                    name: m.name.clone(),
                    build_id: match &m.codeview_info {
                        Some(CodeView::Elf(e)) => Some(e.build_id.clone()),
                        _ => None,
                    },
                    timestamp: m.raw.time_date_stamp,
                })
                .collect(),
            Err(_) => Vec::new(),
        };

        // Linux streams (Breakpad, Crashpad, minidump-writer): raw text and words.
        let raw_stream = |t: St| md.get_raw_stream(t as u32).ok();
        let auxv = raw_stream(St::LinuxAuxv)
            .map(linux::parse_auxv)
            .unwrap_or_default();
        let (mut files, mut maps) = raw_stream(St::LinuxMaps)
            .map(linux::parse_maps)
            .unwrap_or_default();
        if maps.is_empty() {
            if let Ok(info) = md.get_stream::<MinidumpMemoryInfoList>() {
                maps = info
                    .iter()
                    .filter_map(|i| {
                        let r = i.memory_range()?;
                        Some(MapRange {
                            start: r.start,
                            end: r.end,
                            readable: i.is_readable(),
                            writable: i.is_writable(),
                        })
                    })
                    .collect();
            }
        }
        if files.is_empty() {
            // No /proc maps (other writers): the module list names the mapped images.
            files = modules
                .iter()
                .map(|m| MappedFile {
                    start: m.base,
                    end: m.base.add(m.size),
                    file_offset: 0,
                    path: PathBuf::from(&m.name),
                })
                .collect();
        }
        maps.sort_by_key(|m| m.start);
        let status = raw_stream(St::LinuxProcStatus)
            .map(linux::parse_status)
            .unwrap_or_default();
        let cmdline = raw_stream(St::LinuxCmdLine)
            .map(linux::nul_separated)
            .unwrap_or_default();
        let environ = raw_stream(St::LinuxEnviron)
            .map(linux::nul_separated)
            .unwrap_or_default();
        let pid =
            misc.as_ref().and_then(misc_pid).or(status.pid).or_else(|| {
                (os == DumpOs::Linux).then(|| threads.first().map(|t| t.tid as i32))?
            });
        // Windows: the first module is the executable.
        let exe_name = (os == DumpOs::Windows)
            .then(|| {
                modules
                    .first()
                    .map(|m| windows::basename(&m.name).to_string())
            })
            .flatten();
        let process = pid.map(|pid| ProcessInfo {
            pid,
            name: status.name.clone().or(exe_name).unwrap_or_else(|| {
                cmdline
                    .first()
                    .and_then(|a| Path::new(a).file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            }),
            args: cmdline.join(" "),
        });
        if let Some(s) = signal.as_mut() {
            // A signal sent to itself (abort, the runtime's crash()) names no sender.
            if s.code <= 0 {
                s.sender_pid = None;
            }
        }
        if threads.is_empty() {
            warnings.push("the minidump lists no threads: no registers are known".into());
        }
        Ok(Minidump {
            path: path.to_path_buf(),
            data,
            os,
            arch,
            pieces,
            threads,
            files,
            maps,
            auxv,
            signal,
            process,
            environ,
            modules,
            requested,
            warnings,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn os(&self) -> DumpOs {
        self.os
    }
    /// The CPU of the dumped process (amd64, or arm64 on Linux).
    pub fn arch(&self) -> Arch {
        self.arch
    }
    /// Saved memory regions, sorted by address.
    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }
    pub fn modules(&self) -> &[Module] {
        &self.modules
    }
    /// Mappings with their protections, when the dump lists them.
    pub fn maps(&self) -> &[MapRange] {
        &self.maps
    }
    /// The process's environment (LinuxEnviron stream), `KEY=value` each.
    pub fn environ(&self) -> &[String] {
        &self.environ
    }
    /// True when the dump was written on request (no crash: DUMP_REQUESTED or no
    /// exception stream).
    pub fn requested(&self) -> bool {
        self.requested
    }
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
    /// Bytes saved in the dump.
    pub fn saved_bytes(&self) -> u64 {
        self.pieces.iter().map(|p| p.len).sum()
    }

    /// The saved bytes at `addr`, up to the end of its piece.
    pub fn saved(&self, addr: u64) -> Option<&[u8]> {
        let p = memory::find(&self.pieces, addr)?;
        let off = usize::try_from(addr - p.start).ok()?;
        let len = usize::try_from(p.len).ok()?;
        self.data
            .get(p.offset.checked_add(off)?..p.offset.checked_add(len)?)
    }

    /// Distance from `addr` to the next saved piece (0 when there is none after it).
    fn next_piece_distance(&self, addr: u64) -> u64 {
        let i = self.pieces.partition_point(|p| p.start <= addr);
        self.pieces
            .get(i)
            .map(|p| p.start.saturating_sub(addr))
            .unwrap_or(0)
    }

    /// Whether a listed mapping covers `addr` (the memory existed but was not saved).
    fn mapped(&self, addr: u64) -> bool {
        let i = self.maps.partition_point(|m| m.start <= addr);
        i.checked_sub(1)
            .and_then(|j| self.maps.get(j))
            .is_some_and(|m| addr < m.end)
    }

    fn missing(&self, addr: u64) -> MemError {
        if self.mapped(addr) || self.maps.is_empty() {
            MemError::NotInDump(Addr(addr))
        } else {
            MemError::Unmapped(Addr(addr))
        }
    }
}

/// `n` saved bytes at `addr` from the pieces of a dump being parsed.
fn saved_in(pieces: &[Piece], data: &[u8], addr: u64, n: usize) -> Option<Vec<u8>> {
    let p = memory::find(pieces, addr)?;
    let off = p
        .offset
        .checked_add(usize::try_from(addr - p.start).ok()?)?;
    if (addr - p.start).checked_add(n as u64)? > p.len {
        return None;
    }
    data.get(off..off.checked_add(n)?).map(<[u8]>::to_vec)
}

fn misc_pid(m: &MinidumpMiscInfo) -> Option<i32> {
    // MINIDUMP_MISC1_PROCESS_ID
    let (flags, pid) = match &m.raw {
        RawMiscInfo::MiscInfo(r) => (r.flags1, r.process_id),
        RawMiscInfo::MiscInfo2(r) => (r.flags1, r.process_id),
        RawMiscInfo::MiscInfo3(r) => (r.flags1, r.process_id),
        RawMiscInfo::MiscInfo4(r) => (r.flags1, r.process_id),
        RawMiscInfo::MiscInfo5(r) => (r.flags1, r.process_id),
    };
    (flags & 1 != 0).then_some(pid as i32)
}

/// The crate's errors, said so that a user knows what is wrong with the file.
fn crate_error(e: &minidump::Error) -> String {
    use minidump::Error as E;
    match e {
        E::MissingHeader => "the header is incomplete (empty or truncated file?)".into(),
        E::HeaderMismatch => "the header is not a minidump header".into(),
        E::VersionMismatch => "unknown minidump format version".into(),
        E::MissingDirectory => "the stream directory is missing (truncated file?)".into(),
        E::StreamSizeMismatch { expected, actual } => {
            format!("a stream has {actual} bytes where {expected} were expected (truncated?)")
        }
        E::StreamNotFound => "stream not found".into(),
        other => format!("{other} (truncated or corrupt?)"),
    }
}

impl Memory for Minidump {
    fn read(&self, addr: Addr, buf: &mut [u8]) -> Result<(), MemError> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr
                .0
                .checked_add(done as u64)
                .ok_or(MemError::Unmapped(addr))?;
            let Some(src) = self.saved(a) else {
                return Err(self.missing(a));
            };
            let rest = buf.get_mut(done..).unwrap_or(&mut []);
            let n = src.len().min(rest.len());
            if n == 0 {
                return Err(self.missing(a));
            }
            if let (Some(d), Some(s)) = (rest.get_mut(..n), src.get(..n)) {
                d.copy_from_slice(s);
            }
            done += n;
        }
        Ok(())
    }

    fn slice(&self, addr: Addr, len: usize) -> Option<&[u8]> {
        self.saved(addr.0)?.get(..len)
    }
}

impl Snapshot for Minidump {
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
        memory::coalesce(&self.pieces)
    }
    fn describe(&self) -> String {
        format!("minidump {}", self.path.display())
    }
    fn kind(&self) -> &'static str {
        "minidump"
    }
    fn arch(&self) -> Arch {
        self.arch
    }
}
