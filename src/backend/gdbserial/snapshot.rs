//! The process at one stop, read through the stub on demand.
//!
//! A remote round trip costs far more than the bytes it carries (the engine may walk
//! ten thousand goroutine stacks), so memory is fetched in whole pages, runs of missing
//! pages are coalesced into one `m`/`x` request as large as the stub's packet size
//! allows, and every page is cached for the rest of the stop. Reads may come from many
//! rayon threads at once: the cache and the connection are each behind a mutex.

use super::conn::{Conn, ConnError};
use super::packet::{hex_decode, hex_encode, is_error};
use crate::addr::Addr;
use crate::snapshot::{MappedFile, MemError, Memory, ProcessInfo, SignalInfo, Snapshot, Thread};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

pub const PAGE: u64 = 4096;

/// How memory is read from this stub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// `m addr,len` → hex.
    Hex,
    /// `x addr,len` → raw binary (lldb-server, rr: `x0,0` answers `OK`).
    Binary,
    /// `x addr,len` → `b` + binary (GDB 16 and later stubs).
    BinaryPrefixed,
}

/// What the process object and every snapshot share.
pub struct Shared {
    pub conn: Mutex<Conn>,
    /// Bumped on every resume; a snapshot of another generation answers `Stale`.
    pub generation: AtomicU64,
    pub packets: Arc<AtomicU64>,
    /// Largest memory read per request, in bytes.
    pub max_read: usize,
    pub read_mode: ReadMode,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, Conn> {
        // A panic on another thread while it held the lock leaves the connection in a
        // consistent state between packets (each request completes or fails whole).
        match self.conn.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

/// Read up to `len` bytes at `addr`: fewer when the stub stops at an unreadable byte,
/// `Ok(empty)` when even the first byte cannot be read.
pub fn read_remote(
    conn: &mut Conn,
    mode: ReadMode,
    addr: u64,
    len: usize,
) -> Result<Vec<u8>, ConnError> {
    let cmd = match mode {
        ReadMode::Hex => format!("m{addr:x},{len:x}"),
        _ => format!("x{addr:x},{len:x}"),
    };
    let reply = conn.request(cmd.as_bytes())?;
    if is_error(&reply) {
        return Ok(Vec::new());
    }
    let data = match mode {
        ReadMode::Hex => hex_decode(&reply).ok_or_else(|| {
            ConnError::Protocol(format!(
                "non-hex memory reply to {}",
                super::conn::describe(cmd.as_bytes())
            ))
        })?,
        ReadMode::Binary => reply,
        ReadMode::BinaryPrefixed => match reply.strip_prefix(b"b") {
            Some(d) => d.to_vec(),
            None => {
                return Err(ConnError::Protocol(
                    "binary memory reply without its 'b' prefix".into(),
                ))
            }
        },
    };
    if data.len() > len {
        return Err(ConnError::Protocol(format!(
            "asked for {len} bytes at {addr:#x}, got {}",
            data.len()
        )));
    }
    Ok(data)
}

/// `len` bytes at `addr` in requests of at most `chunk` bytes, stopping at the first
/// short or refused one (what was read up to there is returned).
fn read_chunked(
    conn: &mut Conn,
    mode: ReadMode,
    addr: u64,
    len: usize,
    chunk: usize,
) -> Result<Vec<u8>, ConnError> {
    let chunk = chunk.max(1);
    if len <= chunk {
        return read_remote(conn, mode, addr, len);
    }
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let n = chunk.min(len - out.len());
        let part = read_remote(conn, mode, addr.wrapping_add(out.len() as u64), n)?;
        let short = part.len() < n;
        out.extend_from_slice(&part);
        if short {
            break;
        }
    }
    Ok(out)
}

pub fn write_remote(
    conn: &mut Conn,
    binary: bool,
    addr: u64,
    bytes: &[u8],
) -> Result<bool, ConnError> {
    let mut cmd = if binary {
        format!("X{addr:x},{:x}:", bytes.len()).into_bytes()
    } else {
        format!("M{addr:x},{:x}:", bytes.len()).into_bytes()
    };
    if binary {
        cmd.extend_from_slice(&super::packet::escape_binary(bytes));
    } else {
        cmd.extend_from_slice(hex_encode(bytes).as_bytes());
    }
    let reply = conn.request(&cmd)?;
    Ok(reply == b"OK")
}

type Page = Option<Arc<Vec<u8>>>;

pub struct RemoteSnapshot {
    pub(super) shared: Arc<Shared>,
    pub(super) generation: u64,
    pub(super) pid: u32,
    pub(super) threads: Vec<Thread>,
    pub(super) maps: Vec<MappedFile>,
    pub(super) regions: Vec<(Addr, Addr)>,
    pub(super) auxv: Vec<(u64, u64)>,
    pub(super) signal: Option<SignalInfo>,
    pub(super) process: Option<ProcessInfo>,
    /// Page address → bytes, or `None` for a page the stub could not read.
    pages: Mutex<HashMap<u64, Page>>,
}

impl RemoteSnapshot {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        shared: Arc<Shared>,
        generation: u64,
        pid: u32,
        threads: Vec<Thread>,
        maps: Vec<MappedFile>,
        regions: Vec<(Addr, Addr)>,
        auxv: Vec<(u64, u64)>,
        signal: Option<SignalInfo>,
        process: Option<ProcessInfo>,
    ) -> RemoteSnapshot {
        RemoteSnapshot {
            shared,
            generation,
            pid,
            threads,
            maps,
            regions,
            auxv,
            signal,
            process,
            pages: Mutex::new(HashMap::new()),
        }
    }

    fn pages(&self) -> MutexGuard<'_, HashMap<u64, Page>> {
        match self.pages.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Keep cached pages in step with a write made at this stop.
    pub(super) fn patch(&self, addr: u64, bytes: &[u8]) {
        let mut pages = self.pages();
        for (i, &b) in bytes.iter().enumerate() {
            let a = addr.wrapping_add(i as u64);
            if let Some(Some(p)) = pages.get_mut(&(a & !(PAGE - 1))) {
                Arc::make_mut(p)[(a & (PAGE - 1)) as usize] = b;
            }
        }
    }

    /// Pages cached so far (tests and the benchmark print it).
    pub fn cached_pages(&self) -> usize {
        self.pages().len()
    }

    /// Fetch the missing pages in `want` (sorted), coalescing runs.
    fn fetch(&self, want: &[u64], at: Addr) -> Result<(), MemError> {
        let mut conn = self.shared.lock();
        // Re-check under the connection lock: a resume takes the same lock before it
        // bumps the generation, so no read can slip in after the process ran.
        if self.shared.generation.load(Ordering::SeqCst) != self.generation {
            return Err(MemError::Stale(at));
        }
        // Another reader may have fetched some of them while we waited for the lock.
        let missing: Vec<u64> = {
            let pages = self.pages();
            want.iter()
                .copied()
                .filter(|p| !pages.contains_key(p))
                .collect()
        };
        let per_req = (self.shared.max_read as u64 / PAGE).max(1);
        let mut i = 0;
        while i < missing.len() {
            let start = missing[i];
            let mut n = 1;
            while i + (n as usize) < missing.len()
                && n < per_req
                && missing[i + n as usize] == start.wrapping_add(n * PAGE)
            {
                n += 1;
            }
            let len = (n * PAGE) as usize;
            let data = read_chunked(
                &mut conn,
                self.shared.read_mode,
                start,
                len,
                self.shared.max_read,
            )
            .map_err(|e| MemError::Io(Addr(start.max(at.0)), format!("remote stub: {e}")))?;
            let mut pages = self.pages();
            let whole = data.len() / PAGE as usize;
            for k in 0..whole {
                let off = k * PAGE as usize;
                pages.insert(
                    start + off as u64,
                    Some(Arc::new(data[off..off + PAGE as usize].to_vec())),
                );
            }
            if (whole as u64) < n {
                // The stub stopped inside this page: it is unreadable (mappings are
                // page-granular). Pages after it are left to whoever asks for them.
                pages.insert(start + whole as u64 * PAGE, None);
            }
            i += n as usize;
        }
        Ok(())
    }
}

impl Memory for RemoteSnapshot {
    fn read(&self, addr: Addr, buf: &mut [u8]) -> Result<(), MemError> {
        if buf.is_empty() {
            return Ok(());
        }
        if self.shared.generation.load(Ordering::SeqCst) != self.generation {
            return Err(MemError::Stale(addr));
        }
        let Some(last) = addr.0.checked_add(buf.len() as u64 - 1) else {
            return Err(MemError::Unmapped(addr));
        };
        let first_page = addr.0 & !(PAGE - 1);
        let last_page = last & !(PAGE - 1);
        for attempt in 0..2 {
            let mut missing = Vec::new();
            {
                let pages = self.pages();
                let mut p = first_page;
                loop {
                    match pages.get(&p) {
                        Some(None) => return Err(MemError::Unmapped(Addr(p.max(addr.0)))),
                        Some(Some(_)) => {}
                        None => missing.push(p),
                    }
                    if p == last_page {
                        break;
                    }
                    p += PAGE;
                }
                if missing.is_empty() {
                    let mut p = first_page;
                    let mut done = 0usize;
                    loop {
                        let Some(Some(data)) = pages.get(&p) else {
                            return Err(MemError::Unmapped(Addr(p)));
                        };
                        let from = if p == first_page {
                            (addr.0 - p) as usize
                        } else {
                            0
                        };
                        let take = (PAGE as usize - from).min(buf.len() - done);
                        buf[done..done + take].copy_from_slice(&data[from..from + take]);
                        done += take;
                        if p == last_page {
                            break;
                        }
                        p += PAGE;
                    }
                    return Ok(());
                }
            }
            if attempt == 1 {
                break;
            }
            self.fetch(&missing, addr)?;
        }
        Err(MemError::Io(
            addr,
            "the stub returned no bytes for a readable page".into(),
        ))
    }
}

impl Snapshot for RemoteSnapshot {
    fn threads(&self) -> &[Thread] {
        &self.threads
    }
    fn mapped_files(&self) -> &[MappedFile] {
        &self.maps
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
        self.regions.clone()
    }
    fn describe(&self) -> String {
        format!("process {} (remote stub)", self.pid)
    }
}

/// Parse `/proc/PID/maps`: file-backed mappings, and every readable region.
pub fn parse_maps(text: &str) -> (Vec<MappedFile>, Vec<(Addr, Addr)>) {
    let mut files = Vec::new();
    let mut regions = Vec::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms), Some(off)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let (_dev, _inode) = (f.next(), f.next());
        let path: Vec<&str> = f.collect();
        let Some((s, e)) = range.split_once('-') else {
            continue;
        };
        let (Ok(s), Ok(e), Ok(off)) = (
            u64::from_str_radix(s, 16),
            u64::from_str_radix(e, 16),
            u64::from_str_radix(off, 16),
        ) else {
            continue;
        };
        if perms.starts_with('r') {
            regions.push((Addr(s), Addr(e)));
        }
        let path = path.join(" ");
        if path.starts_with('/') {
            files.push(MappedFile {
                start: Addr(s),
                end: Addr(e),
                file_offset: off,
                path: path.into(),
            });
        }
    }
    regions.sort();
    (files, regions)
}

/// Parse a Linux amd64 `siginfo_t` as `qXfer:siginfo:read` returns it.
pub fn parse_siginfo(b: &[u8], tid: u32) -> Option<SignalInfo> {
    let i32_at =
        |o: usize| -> Option<i32> { Some(i32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?)) };
    let signo = i32_at(0)?;
    let errno = i32_at(4)?;
    let code = i32_at(8)?;
    let mut info = SignalInfo {
        signo,
        code,
        errno,
        fault_addr: None,
        sender_pid: None,
        tid: Some(tid),
    };
    // SIGILL, SIGFPE, SIGSEGV, SIGBUS carry si_addr; a kill/tgkill (SI_USER,
    // SI_TKILL) or sigqueue carries si_pid. Both sit at offset 16 on amd64.
    if matches!(signo, 4 | 7 | 8 | 11) && code > 0 {
        let a = u64::from_le_bytes(b.get(16..24)?.try_into().ok()?);
        info.fault_addr = Some(Addr(a));
    } else if code <= 0 {
        info.sender_pid = i32_at(16);
    }
    Some(info)
}
