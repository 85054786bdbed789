//! `LiveSnapshot`: one stop of a traced process as a [`Snapshot`].
//!
//! Registers are read by the tracer thread when the snapshot is made; memory is read on
//! demand through `process_vm_readv` (which works from any thread, so rayon workers can
//! walk stacks in parallel), falling back to `pread` of `/proc/PID/mem`. Pages are
//! cached in sharded maps so concurrent readers rarely contend. Every read checks the
//! process-wide generation, which `resume` bumps, before and after touching memory: a
//! snapshot of an earlier stop answers [`MemError::Stale`], never bytes of another instant.

use super::procfs;
use super::sys;
use crate::addr::Addr;
use crate::snapshot::{MappedFile, MemError, Memory, ProcessInfo, SignalInfo, Snapshot, Thread};
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

const PAGE: u64 = 4096;
const SHARDS: usize = 16;
/// Pages kept per shard (16 shards x 2048 x 4 KiB = 128 MiB at most); a full shard is
/// simply cleared, which is cheap and good enough for a per-stop cache.
const SHARD_CAP: usize = 2048;
/// Reads larger than this bypass the page cache (one syscall for the whole range).
const DIRECT_READ: usize = 64 * 1024;

type Page = Arc<[u8]>;
/// Mapped files and readable regions, from one read of /proc/PID/maps.
type Maps = (Vec<MappedFile>, Vec<(Addr, Addr)>);

/// What every snapshot of one process shares with its tracer: the stop generation
/// (bumped on every resume) and the inserted breakpoints' original bytes, published by
/// the tracer before it writes a 0xCC and withdrawn after it restores the byte, so
/// readers always see original code even while breakpoints change during a stop.
#[derive(Default)]
pub struct Live {
    pub generation: AtomicU64,
    pub shadow: RwLock<Vec<(u64, u8)>>,
}

pub struct LiveSnapshot {
    pub(super) pid: i32,
    pub(super) generation: u64,
    pub(super) live: Arc<Live>,
    pub(super) threads: Vec<Thread>,
    pub(super) signal: Option<SignalInfo>,
    pub(super) auxv: Arc<Vec<(u64, u64)>>,
    pub(super) process: Arc<ProcessInfo>,
    pub(super) mem: Option<Arc<File>>,
    maps: OnceLock<Maps>,
    cache: Vec<Mutex<HashMap<u64, Page>>>,
    /// process_vm_readv can be refused (e.g. by seccomp) where /proc/PID/mem works.
    vm_ok: AtomicBool,
    /// Each thread's XMM0..15 low halves (from PTRACE_GETFPREGS), by tid.
    xmm: Vec<(u32, [u64; 16])>,
}

#[allow(clippy::too_many_arguments)]
impl LiveSnapshot {
    pub(super) fn new(
        pid: i32,
        generation: u64,
        live: Arc<Live>,
        threads: Vec<Thread>,
        signal: Option<SignalInfo>,
        auxv: Arc<Vec<(u64, u64)>>,
        process: Arc<ProcessInfo>,
        mem: Option<Arc<File>>,
    ) -> LiveSnapshot {
        LiveSnapshot {
            pid,
            generation,
            live,
            threads,
            signal,
            auxv,
            process,
            mem,
            maps: OnceLock::new(),
            cache: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            vm_ok: AtomicBool::new(true),
            xmm: Vec::new(),
        }
    }

    /// The threads' XMM registers, read while the process was stopped.
    pub(super) fn with_xmm(mut self, xmm: Vec<(u32, [u64; 16])>) -> LiveSnapshot {
        self.xmm = xmm;
        self
    }

    /// Still of the process's current stop (nothing resumed or rewrote registers).
    pub(super) fn is_current(&self) -> bool {
        self.live.generation.load(Ordering::Acquire) == self.generation
    }

    fn fresh(&self, addr: Addr) -> Result<(), MemError> {
        if self.live.generation.load(Ordering::Acquire) == self.generation {
            Ok(())
        } else {
            Err(MemError::Stale(addr))
        }
    }

    fn maps(&self) -> &Maps {
        // Read once per stop, lazily: a breakpoint-condition loop never needs the maps.
        self.maps.get_or_init(|| match procfs::maps(self.pid) {
            Ok(lines) => (procfs::mapped_files(&lines), procfs::regions(&lines)),
            Err(_) => (Vec::new(), Vec::new()),
        })
    }

    /// Read straight from the process into `buf`; the whole range or an error.
    fn read_raw(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        if self.vm_ok.load(Ordering::Relaxed) {
            match sys::vm_read(self.pid, addr, buf) {
                Ok(n) if n == buf.len() => return Ok(()),
                Ok(_) => return Err(self.unreadable(addr, "short read")),
                Err(e) if e.0 == libc::EFAULT => return Err(self.unreadable(addr, "fault")),
                Err(e) if e.0 == libc::ESRCH => {
                    return Err(MemError::Io(Addr(addr), "the process has exited".into()))
                }
                // ENOSYS/EPERM: the syscall is refused here; /proc/PID/mem may work.
                Err(_) => self.vm_ok.store(false, Ordering::Relaxed),
            }
        }
        let Some(mem) = &self.mem else {
            return Err(MemError::Io(Addr(addr), "no memory access".into()));
        };
        match mem.read_at(buf, addr) {
            Ok(n) if n == buf.len() => Ok(()),
            Ok(_) => Err(self.unreadable(addr, "short read")),
            Err(e) => Err(self.unreadable(addr, &e.to_string())),
        }
    }

    fn unreadable(&self, addr: u64, why: &str) -> MemError {
        let mapped = self
            .maps()
            .1
            .iter()
            .any(|&(s, e)| s.0 <= addr && addr < e.0);
        if mapped {
            MemError::Io(Addr(addr), why.to_string())
        } else {
            MemError::Unmapped(Addr(addr))
        }
    }

    fn page(&self, page: u64) -> Result<Page, MemError> {
        let shard = &self.cache[(page / PAGE) as usize % SHARDS];
        if let Some(p) = shard.lock().ok().and_then(|m| m.get(&page).cloned()) {
            return Ok(p);
        }
        let mut buf = vec![0u8; PAGE as usize];
        self.read_raw(page, &mut buf)?;
        let p: Page = buf.into();
        if let Ok(mut m) = shard.lock() {
            if m.len() >= SHARD_CAP {
                m.clear();
            }
            m.insert(page, p.clone());
        }
        Ok(p)
    }

    /// Forget cached pages overlapping a range the tracer just wrote.
    pub(super) fn forget(&self, addr: u64, len: usize) {
        let first = addr & !(PAGE - 1);
        let last = addr.saturating_add(len as u64).saturating_sub(1) & !(PAGE - 1);
        let mut p = first;
        while p <= last {
            if let Ok(mut m) = self.cache[(p / PAGE) as usize % SHARDS].lock() {
                m.remove(&p);
            }
            p += PAGE;
        }
    }

    /// Put the original bytes back where breakpoints are inserted.
    fn hide_breakpoints(&self, addr: u64, buf: &mut [u8]) {
        let end = addr.saturating_add(buf.len() as u64);
        let shadow = self.live.shadow.read().unwrap_or_else(|p| p.into_inner());
        let from = shadow.partition_point(|&(a, _)| a < addr);
        for &(a, orig) in &shadow[from..] {
            if a >= end {
                break;
            }
            buf[(a - addr) as usize] = orig;
        }
    }
}

impl Memory for LiveSnapshot {
    fn read(&self, addr: Addr, buf: &mut [u8]) -> Result<(), MemError> {
        self.fresh(addr)?;
        if buf.is_empty() {
            return Ok(());
        }
        let start = addr.0;
        if start.checked_add(buf.len() as u64).is_none() {
            return Err(MemError::Unmapped(addr));
        }
        if buf.len() > DIRECT_READ {
            self.read_raw(start, buf)?;
        } else {
            let mut done = 0usize;
            while done < buf.len() {
                let a = start + done as u64;
                let page = a & !(PAGE - 1);
                let p = self.page(page)?;
                let off = (a - page) as usize;
                let n = (PAGE as usize - off).min(buf.len() - done);
                buf[done..done + n].copy_from_slice(&p[off..off + n]);
                done += n;
            }
        }
        // The process may have been resumed while we read: those bytes are of no stop.
        self.fresh(addr)?;
        self.hide_breakpoints(start, buf);
        Ok(())
    }
}

impl Snapshot for LiveSnapshot {
    fn threads(&self) -> &[Thread] {
        &self.threads
    }
    fn mapped_files(&self) -> &[MappedFile] {
        &self.maps().0
    }
    fn auxv(&self) -> &[(u64, u64)] {
        &self.auxv
    }
    fn signal(&self) -> Option<&SignalInfo> {
        self.signal.as_ref()
    }
    fn process(&self) -> Option<&ProcessInfo> {
        Some(&self.process)
    }
    fn regions(&self) -> Vec<(Addr, Addr)> {
        self.maps().1.clone()
    }
    fn describe(&self) -> String {
        format!("process {}", self.pid)
    }
    fn xmm(&self, tid: u32) -> Option<[u64; 16]> {
        self.xmm.iter().find(|(t, _)| *t == tid).map(|(_, x)| *x)
    }
}
