//! Loading the runtime model of one snapshot: which Go, which layouts, where the
//! goroutines are, and reading them.

use super::layout::{LayoutSource, Layouts};
use super::locate;
use super::{labels, Goroutine, Sched, G_RUNNING, G_SYSCALL};
use crate::addr::Addr;
use crate::snapshot::{Memory, Thread};
use crate::symbols::dwarf::Dwarf;
use crate::symbols::{Binary, Pclntab};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot tell which Go release built this binary (no build info, no runtime.buildVersion, no DWARF producer)")]
    NoVersion,
    #[error("Go {0} is not supported: coroner reads Go 1.19 and later")]
    TooOld(String),
    #[error("cannot find the runtime's goroutine list (runtime.allgs): {0}")]
    NoAllgs(String),
    #[error("no layout for runtime.g: {0}")]
    NoLayout(String),
}

/// runtime.g structs read per parallel batch (see [`GoRuntime::goroutines`]).
const G_READ_BATCH: usize = 8192;
/// A Go release, as `go1.MINOR.PATCH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// As the binary states it, e.g. "go1.22.10" or "devel go1.27-abc".
    pub raw: String,
}

impl GoVersion {
    pub fn parse(s: &str) -> Option<GoVersion> {
        let t = s.trim();
        let start = t.find("go1.")?;
        let rest = &t[start + 2..];
        let mut nums = [0u32; 3];
        let mut idx = 0;
        let mut cur = String::new();
        for ch in rest.chars() {
            if ch.is_ascii_digit() {
                cur.push(ch);
            } else if ch == '.' && idx < 2 {
                nums[idx] = cur.parse().ok()?;
                idx += 1;
                cur.clear();
            } else {
                break;
            }
        }
        if !cur.is_empty() {
            nums[idx] = cur.parse().ok()?;
        } else if idx == 0 {
            return None;
        }
        Some(GoVersion {
            major: nums[0],
            minor: nums[1],
            patch: nums[2],
            raw: t.to_string(),
        })
    }

    pub fn at_least(&self, minor: u32) -> bool {
        self.major > 1 || (self.major == 1 && self.minor >= minor)
    }
}

/// What the runtime says about one OS thread.
#[derive(Debug, Clone, Default)]
pub struct ThreadContext {
    pub tid: u32,
    /// The g in the thread's TLS slot (g0, gsignal or a user g).
    pub tls_g: Addr,
    /// The M running on this thread.
    pub m: Addr,
    /// m.curg: the user goroutine this M runs, null if none.
    pub curg: Addr,
    /// m.g0 and m.gsignal.
    pub g0: Addr,
    pub gsignal: Addr,
    /// m.vdsoSP/vdsoPC: set while the M is inside a vDSO call.
    pub vdso_sp: Addr,
    pub vdso_pc: Addr,
}

pub struct GoRuntime {
    pub version: GoVersion,
    pub layouts: Layouts,
    pub layout_source: LayoutSource,
    /// Start of allgs' backing array and its length.
    pub allgs: Addr,
    pub allglen: u64,
    /// Where allgs' slice header lives, once known for sure.
    pub allgs_header: Option<Addr>,
    /// runtime.waitReasonStrings, as found in the snapshot.
    pub wait_reasons: Vec<String>,
    pub firstmoduledata: Option<Addr>,
    /// Address of the `runtime.allm` variable (head of the M list), when the binary
    /// names it: finds a thread's M when its TLS cannot be read (no fs_base).
    pub allm: Option<Addr>,
    /// Load bias: runtime address minus link-time address (non-zero for PIE).
    pub bias: u64,
    pub warnings: Vec<String>,
}

/// Everything the runtime model is read from.
pub struct Inputs<'a> {
    pub mem: &'a dyn Memory,
    pub bin: &'a Binary,
    pub pcln: &'a Pclntab,
    pub dwarf: Option<&'a Dwarf>,
    pub threads: &'a [Thread],
    pub bias: u64,
    /// Go version from .go.buildinfo, when the binary has it.
    pub buildinfo_version: Option<String>,
}

impl<'a> Inputs<'a> {
    /// A package variable's runtime address: ELF symbol first (cheap), then DWARF.
    pub fn global(&self, name: &str) -> Option<Addr> {
        if let Some(s) = self.bin.symbol(name) {
            return Some(s.addr.add(self.bias));
        }
        self.dwarf
            .and_then(|d| d.global(name))
            .map(|(a, _)| a.add(self.bias))
    }
}

/// Whether this stop's address space holds the binary's code. A process (live or
/// dumped) always does; a system emulator's gdbstub (QEMU) stopped before the program
/// started, or while another process or the kernel owns the CPU, shows other bytes.
/// Only a readable entry point that mostly differs from the file says "not mapped":
/// unreadable code (a core without text) or a breakpoint byte over it does not.
fn program_mapped(inp: &Inputs<'_>) -> bool {
    let entry = inp.bin.entry();
    let mut want = [0u8; 16];
    if entry.is_null() || !inp.bin.read_vaddr(entry, &mut want) {
        return true;
    }
    let mut got = [0u8; 16];
    if inp.mem.read(entry.add(inp.bias), &mut got).is_err() {
        return true;
    }
    want.iter().zip(&got).filter(|(a, b)| a != b).count() < 8
}

impl GoRuntime {
    pub fn load(inp: &Inputs<'_>) -> Result<GoRuntime, RuntimeError> {
        Self::load_with(inp, false)
    }

    /// Like [`GoRuntime::load`]; with `partial_memory` (a snapshot that saved only part
    /// of the memory, such as a stacks-only minidump) an unreadable goroutine list is
    /// a warning and the model has no goroutines, instead of an error.
    pub fn load_with(inp: &Inputs<'_>, partial_memory: bool) -> Result<GoRuntime, RuntimeError> {
        let mut warnings = Vec::new();
        let version = find_version(inp).ok_or(RuntimeError::NoVersion)?;
        if !version.at_least(19) {
            return Err(RuntimeError::TooOld(version.raw.clone()));
        }
        // A release whose layouts coroner knows (checked against every fixture's DWARF
        // by tests/layouts_vs_dwarf.rs) needs no DWARF to list goroutines: finding
        // runtime.g by name would build the index of the whole DWARF before the first
        // prompt (0.3 s on a 40 MB binary). DWARF decides for other releases, devel
        // builds and builds with GOEXPERIMENTs (" X:..." in the version), whose
        // structures may differ, and for Go 1.20, whose row is derived from its
        // neighbours, not checked against a build of it.
        let known = Layouts::builtin(version.major, version.minor).filter(|(_, src)| {
            matches!(src, LayoutSource::BuiltIn { minor, .. } if *minor == version.minor)
                && version.minor != 20
                && !version.raw.contains(" X:")
                && !version.raw.starts_with("devel")
        });
        let (layouts, layout_source) = match known {
            Some(k) => k,
            None => match inp.dwarf.and_then(Layouts::from_dwarf) {
                Some(l) => (l, LayoutSource::Dwarf),
                None => {
                    let (l, src) = Layouts::builtin(version.major, version.minor)
                        .ok_or_else(|| RuntimeError::NoLayout(version.raw.clone()))?;
                    if inp.dwarf.is_some() {
                        warnings.push(
                            "DWARF lacks some runtime.g fields; using built-in layouts".to_string(),
                        );
                    }
                    (l, src)
                }
            },
        };
        let found = if program_mapped(inp) {
            locate::find_allgs(inp, &layouts)
        } else {
            warnings.push(
                "the target's memory does not hold the binary's code at this stop (a \
                 system emulator's stub before the program runs?): no goroutines until \
                 it does; continue to a breakpoint in the program"
                    .to_string(),
            );
            Ok((Addr::NULL, 0, None))
        };
        let (allgs, allglen, allgs_header) = match found {
            Ok(x) => x,
            Err(why) if partial_memory => {
                warnings.push(format!(
                    "no goroutine can be listed: the goroutine list is not in the snapshot \
                     ({why}); the threads' stacks can still be read (threads, thread N, bt)"
                ));
                (Addr::NULL, 0, None)
            }
            Err(why) => return Err(RuntimeError::NoAllgs(why)),
        };
        let wait_reasons = match locate::find_wait_reasons(inp) {
            Some(w) => w,
            None => {
                warnings.push(
                    "runtime.waitReasonStrings not found: wait reasons show as numbers".to_string(),
                );
                Vec::new()
            }
        };
        let firstmoduledata = inp.global("runtime.firstmoduledata");
        let allm = inp.global("runtime.allm");
        Ok(GoRuntime {
            version,
            layouts,
            layout_source,
            allgs,
            allglen,
            allgs_header,
            wait_reasons,
            firstmoduledata,
            allm,
            bias: inp.bias,
            warnings,
        })
    }

    /// The model at a later stop of the same process: version, layouts and wait reasons
    /// do not change while it runs, but `append` moves and grows allgs.
    pub fn at_new_stop(&self, inp: &Inputs<'_>) -> Result<GoRuntime, RuntimeError> {
        // Another address space on the stub's CPU (the kernel, another process): the
        // header's address holds something else, and there is nothing to list.
        let (allgs, allglen, allgs_header) = if !program_mapped(inp) {
            (Addr::NULL, 0, self.allgs_header)
        } else {
            let known = self
                .allgs_header
                .and_then(|h| locate::reread_allgs(inp.mem, h).map(|(a, n)| (a, n, Some(h))));
            match known {
                Some(x) => x,
                None => locate::find_allgs(inp, &self.layouts).map_err(RuntimeError::NoAllgs)?,
            }
        };
        Ok(GoRuntime {
            version: self.version.clone(),
            layouts: self.layouts.clone(),
            layout_source: self.layout_source,
            allgs,
            allglen,
            allgs_header,
            wait_reasons: self.wait_reasons.clone(),
            firstmoduledata: self.firstmoduledata,
            allm: self.allm,
            bias: self.bias,
            warnings: Vec::new(),
        })
    }

    /// Addresses of every g in allgs.
    pub fn g_addrs(&self, mem: &dyn Memory) -> Vec<Addr> {
        let n = self.allglen as usize;
        let mut out = Vec::with_capacity(n.min(1 << 24));
        if let Some(bytes) = mem.slice(self.allgs, n * 8) {
            for c in bytes.chunks_exact(8) {
                let mut w = [0u8; 8];
                w.copy_from_slice(c);
                out.push(Addr(u64::from_le_bytes(w)));
            }
            return out;
        }
        for i in 0..n as u64 {
            match mem.read_ptr(self.allgs.add(i * 8)) {
                Ok(p) => out.push(p),
                Err(_) => break,
            }
        }
        out
    }

    /// Read every goroutine that is not dead, in allgs order, in parallel.
    pub fn goroutines(
        &self,
        mem: &dyn Memory,
        pcln: &Pclntab,
        threads: &[ThreadContext],
    ) -> Vec<Goroutine> {
        let addrs = self.g_addrs(mem);
        let mut gs: Vec<Goroutine> = Vec::new();
        // In batches, releasing the core pages each batch touched: 100,000 runtime.g
        // structs span ~40 MB of the core, which would otherwise stay resident.
        for batch in addrs.chunks(G_READ_BATCH) {
            let part: Vec<Goroutine> = batch
                .par_iter()
                .filter(|a| !a.is_null())
                .map(|&a| {
                    let mut g = self.read_g(mem, a);
                    g.system = self.is_system_goroutine(g.start_pc, Some(pcln));
                    g
                })
                .filter(|g| g.error.is_some() || !g.is_dead())
                .collect();
            gs.extend(part);
            crate::snapshot::elfcore::release_resident_pages();
        }
        gs.shrink_to_fit();
        self.decode_labels(mem, pcln, &mut gs);
        // Map each running goroutine to its thread through m.procid, and check the
        // thread contexts (TLS) agree.
        let by_m: HashMap<Addr, u32> = threads
            .iter()
            .filter(|t| !t.m.is_null())
            .map(|t| (t.m, t.tid))
            .collect();
        let by_curg: HashMap<Addr, u32> = threads
            .iter()
            .filter(|t| !t.curg.is_null())
            .map(|t| (t.curg, t.tid))
            .collect();
        for g in gs.iter_mut() {
            let st = g.state();
            if st != G_RUNNING && st != G_SYSCALL {
                continue;
            }
            if let Some(&tid) = by_curg.get(&g.addr) {
                g.thread = Some(tid);
            } else if let Some(&tid) = by_m.get(&g.m) {
                g.thread = Some(tid);
            } else if !g.m.is_null() {
                if let Ok(procid) = mem.read_u64(g.m.add(self.layouts.m.procid)) {
                    if procid != 0 {
                        g.thread = Some(procid as u32);
                    }
                }
            }
        }
        gs
    }

    /// Decode every goroutine's labels, once per distinct label set: goroutines started
    /// under `pprof.Do` share their creator's pointer. An unreadable or corrupt set
    /// is shown as none, as Delve does (a library storing its own data in g.labels
    /// must not break the listing).
    fn decode_labels(&self, mem: &dyn Memory, pcln: &Pclntab, gs: &mut [Goroutine]) {
        if !gs.iter().any(|g| !g.labels_ptr.is_null()) || !labels::labels_linked(pcln) {
            return;
        }
        let mut seen: HashMap<Addr, Option<Arc<labels::Labels>>> = HashMap::new();
        for g in gs.iter_mut().filter(|g| !g.labels_ptr.is_null()) {
            g.labels = seen
                .entry(g.labels_ptr)
                .or_insert_with(|| {
                    labels::read(mem, self.version.minor, g.labels_ptr)
                        .ok()
                        .filter(|l| !l.is_empty())
                        .map(Arc::new)
                })
                .clone();
        }
    }

    /// Read one runtime.g. Never fails: unreadable fields are reported in `error`.
    pub fn read_g(&self, mem: &dyn Memory, addr: Addr) -> Goroutine {
        let l = &self.layouts.g;
        let size = l.size as usize;
        let failed = |e: crate::snapshot::MemError| Goroutine {
            addr,
            error: Some(format!("cannot read runtime.g at {addr}: {e}")),
            ..Default::default()
        };
        // A copy, not a view of a core mapping: 100,000 g's scattered over the heap
        // would each fault in (and keep resident) a 64 KB window of it, where a small
        // read of a mapped core is one pread of a page (snapshot::small_reads).
        let mut small = [0u8; 1024];
        let owned;
        let buf: &[u8] = match small.get_mut(..size) {
            Some(b) => match mem.read(addr, b) {
                Ok(()) => b,
                Err(e) => return failed(e),
            },
            None => match mem.read_bytes(addr, size) {
                Ok(v) => {
                    owned = v;
                    &owned
                }
                Err(e) => return failed(e),
            },
        };
        let u64_at = |off: u64| -> u64 {
            let o = off as usize;
            buf.get(o..o + 8)
                .map(|b| {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(b);
                    u64::from_le_bytes(w)
                })
                .unwrap_or(0)
        };
        let u32_at = |off: u64| -> u32 {
            let o = off as usize;
            buf.get(o..o + 4)
                .map(|b| {
                    let mut w = [0u8; 4];
                    w.copy_from_slice(b);
                    u32::from_le_bytes(w)
                })
                .unwrap_or(0)
        };
        let code = buf.get(l.waitreason as usize).copied().unwrap_or(0);
        let start_pc = Addr(u64_at(l.startpc));
        Goroutine {
            addr,
            goid: u64_at(l.goid),
            status: u32_at(l.atomicstatus),
            wait_reason_code: code,
            wait_reason: self.wait_reason(code),
            wait_since: u64_at(l.waitsince) as i64,
            sched: Sched {
                sp: Addr(u64_at(l.sched_sp)),
                pc: Addr(u64_at(l.sched_pc)),
                bp: Addr(u64_at(l.sched_bp)),
                ctxt: Addr(u64_at(l.sched_ctxt)),
                lr: Addr(u64_at(l.sched_lr)),
            },
            syscall_sp: Addr(u64_at(l.syscallsp)),
            syscall_pc: Addr(u64_at(l.syscallpc)),
            stack_lo: Addr(u64_at(l.stack_lo)),
            stack_hi: Addr(u64_at(l.stack_hi)),
            gopc: Addr(u64_at(l.gopc)),
            start_pc,
            parent_goid: l.parent_goid.map(u64_at),
            m: Addr(u64_at(l.m)),
            thread: None,
            system: false,
            locked_to_thread: u64_at(l.lockedm) != 0,
            sig: u32_at(l.sig),
            sigcode0: u64_at(l.sigcode0),
            sigcode1: u64_at(l.sigcode1),
            sigpc: Addr(u64_at(l.sigpc)),
            panic: Addr(u64_at(l.panic)),
            labels_ptr: Addr(u64_at(l.labels)),
            labels: None,
            error: None,
        }
    }

    /// The runtime's name for a wait reason code.
    pub fn wait_reason(&self, code: u8) -> Option<String> {
        if self.wait_reasons.is_empty() {
            return (code != 0).then(|| format!("wait reason {code}"));
        }
        Some(
            self.wait_reasons
                .get(code as usize)
                .cloned()
                .unwrap_or_else(|| "unknown wait reason".to_string()),
        )
    }

    /// runtime.isSystemGoroutine, by the start function's name.
    pub fn is_system_goroutine(&self, start_pc: Addr, pcln: Option<&Pclntab>) -> bool {
        let Some(p) = pcln else {
            return false;
        };
        let Some(f) = p.func_for_pc(start_pc.sub(self.bias)) else {
            return false;
        };
        is_system_start(p.name(&f))
    }

    /// What the runtime says about each thread: its M (through the TLS g slot at
    /// fs_base-8, checked against m.procid), curg, g0 and gsignal.
    pub fn thread_contexts(&self, mem: &dyn Memory, threads: &[Thread]) -> Vec<ThreadContext> {
        let ml = &self.layouts.m;
        let gl = &self.layouts.g;
        // Each thread's M from its TLS g; threads whose TLS is unknown (minidumps
        // carry no fs_base) by m.procid through runtime.allm, read once, only then.
        let mut by_procid: Option<HashMap<u64, Addr>> = None;
        threads
            .iter()
            .map(|t| {
                let mut c = ThreadContext {
                    tid: t.tid,
                    ..Default::default()
                };
                if t.regs.fs_base != 0 {
                    if let Ok(g) = mem.read_ptr(Addr(t.regs.fs_base).sub(8)) {
                        if !g.is_null() {
                            if let Ok(m) = mem.read_ptr(g.add(gl.m)) {
                                if !m.is_null()
                                    && mem.read_u64(m.add(ml.procid)).ok() == Some(t.tid as u64)
                                {
                                    c.tls_g = g;
                                    c.m = m;
                                }
                            }
                        }
                    }
                }
                // arm64: Go keeps g in x28 (g0, gsignal in a handler, or curg);
                // its M must be this thread's and own it.
                if let Some(r) = t.arm64.as_ref().filter(|_| c.m.is_null()) {
                    let g = Addr(r.x[28]);
                    if let Some(m) = (!g.is_null())
                        .then(|| mem.read_ptr(g.add(gl.m)).ok())
                        .flatten()
                        .filter(|m| !m.is_null())
                    {
                        let owned = [ml.g0, ml.curg, ml.gsignal]
                            .iter()
                            .any(|&off| mem.read_ptr(m.add(off)).ok() == Some(g));
                        if owned && mem.read_u64(m.add(ml.procid)).ok() == Some(t.tid.into()) {
                            c.tls_g = g;
                            c.m = m;
                        }
                    }
                }
                // Windows: where the TEB's TLS words point (m.tls, whose first word
                // is g, if that word is Go's slot), checked the same way.
                for slot in &t.g_slots {
                    if !c.m.is_null() {
                        break;
                    }
                    let Ok(g) = mem.read_ptr(*slot) else {
                        continue;
                    };
                    if g.is_null() {
                        continue;
                    }
                    let Ok(m) = mem.read_ptr(g.add(gl.m)) else {
                        continue;
                    };
                    // The g must be one of its M's (g0, curg, gsignal), and the M this
                    // thread's: Go 1.21+ sets m.procid to the thread id on Windows,
                    // older releases leave it 0.
                    let owned = [ml.g0, ml.curg, ml.gsignal]
                        .iter()
                        .any(|&off| mem.read_ptr(m.add(off)).ok() == Some(g));
                    let procid = mem.read_u64(m.add(ml.procid)).ok();
                    if !m.is_null() && owned && (procid == Some(0) || procid == Some(t.tid.into()))
                    {
                        c.tls_g = g;
                        c.m = m;
                    }
                }
                if c.m.is_null() && t.regs.fs_base == 0 {
                    let ms = by_procid.get_or_insert_with(|| self.ms_by_procid(mem));
                    if let Some(&m) = ms.get(&u64::from(t.tid)) {
                        c.m = m;
                        // The g the thread runs is curg, or g0 when it is in the
                        // scheduler: both are named below; the TLS slot is unknown.
                    }
                }
                if !c.m.is_null() {
                    c.curg = mem.read_ptr(c.m.add(ml.curg)).unwrap_or_default();
                    c.g0 = mem.read_ptr(c.m.add(ml.g0)).unwrap_or_default();
                    c.gsignal = mem.read_ptr(c.m.add(ml.gsignal)).unwrap_or_default();
                    c.vdso_sp = mem.read_ptr(c.m.add(ml.vdso_sp)).unwrap_or_default();
                    c.vdso_pc = mem.read_ptr(c.m.add(ml.vdso_pc)).unwrap_or_default();
                }
                c
            })
            .collect()
    }

    /// Every M on runtime.allm by its procid (thread id); empty without the symbol or
    /// when the list is not readable.
    fn ms_by_procid(&self, mem: &dyn Memory) -> HashMap<u64, Addr> {
        let ml = &self.layouts.m;
        let mut out = HashMap::new();
        let Some(head) = self.allm else {
            return out;
        };
        let mut m = mem.read_ptr(head).unwrap_or_default();
        // Bounded: a corrupt list must not loop forever.
        for _ in 0..100_000 {
            if m.is_null() {
                break;
            }
            let Ok(procid) = mem.read_u64(m.add(ml.procid)) else {
                break;
            };
            if out.insert(procid, m).is_some() {
                break;
            }
            m = mem.read_ptr(m.add(ml.alllink)).unwrap_or_default();
        }
        out
    }

    /// Fill thread contexts that TLS could not resolve from the goroutines' Ms
    /// (m.procid == tid).
    pub fn complete_thread_contexts(
        &self,
        mem: &dyn Memory,
        ctxs: &mut [ThreadContext],
        gs: &[Goroutine],
    ) {
        let ml = &self.layouts.m;
        let mut ms: Vec<Addr> = gs.iter().map(|g| g.m).filter(|m| !m.is_null()).collect();
        ms.sort();
        ms.dedup();
        for m in ms {
            let Ok(procid) = mem.read_u64(m.add(ml.procid)) else {
                continue;
            };
            for c in ctxs
                .iter_mut()
                .filter(|c| c.m.is_null() && c.tid as u64 == procid)
            {
                c.m = m;
                c.curg = mem.read_ptr(m.add(ml.curg)).unwrap_or_default();
                c.g0 = mem.read_ptr(m.add(ml.g0)).unwrap_or_default();
                c.gsignal = mem.read_ptr(m.add(ml.gsignal)).unwrap_or_default();
                c.vdso_sp = mem.read_ptr(m.add(ml.vdso_sp)).unwrap_or_default();
                c.vdso_pc = mem.read_ptr(m.add(ml.vdso_pc)).unwrap_or_default();
            }
        }
    }
}

/// The start functions the runtime does not count as system goroutines.
pub fn is_system_start(name: &str) -> bool {
    if matches!(
        name,
        "runtime.main" | "runtime.corostart" | "runtime.handleAsyncEvent"
    ) {
        return false;
    }
    name.starts_with("runtime.")
}

fn find_version(inp: &Inputs<'_>) -> Option<GoVersion> {
    if let Some(v) = inp.buildinfo_version.as_deref().and_then(GoVersion::parse) {
        return Some(v);
    }
    // runtime.buildVersion is a Go string in the data section.
    if let Some(a) = inp.global("runtime.buildVersion") {
        if let (Ok(p), Ok(n)) = (inp.mem.read_ptr(a), inp.mem.read_u64(a.add(8))) {
            if n > 0 && n < 128 {
                if let Ok(b) = inp.mem.read_bytes(p, n as usize) {
                    if let Some(v) = GoVersion::parse(&String::from_utf8_lossy(&b)) {
                        return Some(v);
                    }
                }
            }
        }
    }
    inp.dwarf
        .and_then(|d| d.producer())
        .and_then(|p| GoVersion::parse(&p))
}
