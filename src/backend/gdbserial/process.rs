//! [`GdbRemote`]: the [`Process`] trait over a GDB remote stub (GNU gdbserver,
//! lldb-server, rr, QEMU).

use super::conn::{Conn, ConnError, Timeouts, Writer};
use super::handshake::{list_threads, vfile_read, xfer_read, Features};
use super::launch::GdbServerChild;
use super::packet::{hex_decode_regs, hex_encode, is_error};
use super::regs::{RegMap, GPR_NAMES};
use super::snapshot::{parse_maps, parse_siginfo, write_remote, RemoteSnapshot, Shared};
use super::stop;
use crate::addr::Addr;
use crate::backend::{
    BackendError, Capabilities, Direction, Interrupter, Process, Resume, StopEvent, WatchKind,
};
use crate::snapshot::{ProcessInfo, Registers, Snapshot, Thread};
use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    Stopped,
    Running {
        how: Resume,
        dir: Direction,
    },
    Exited,
    Detached,
    /// The stub hung up or garbled the stream: nothing more can be done.
    Dead,
}

pub(super) struct RemoteInterrupter {
    pub(super) writer: Writer,
    pub(super) running: Arc<AtomicBool>,
    pub(super) requested: Arc<AtomicBool>,
    pub(super) packets: Arc<AtomicU64>,
}

impl Interrupter for RemoteInterrupter {
    fn interrupt(&self) {
        // Only while running: a stray `\x03` to a stopped stub would be harmless, but
        // a stale request flag would turn the next genuine SIGINT into "interrupted".
        if !self.running.load(Ordering::SeqCst) {
            return;
        }
        self.requested.store(true, Ordering::SeqCst);
        self.packets.fetch_add(1, Ordering::Relaxed);
        let mut w = match self.writer.lock() {
            Ok(w) => w,
            Err(p) => p.into_inner(),
        };
        // If the stub is gone the tracer thread's wait reports it.
        let _ = w.write_all(&[0x03]);
    }
}

/// A process behind a GDB remote stub.
pub struct GdbRemote {
    pub(super) shared: Arc<Shared>,
    pub(super) features: Features,
    pub(super) regmap: RegMap,
    pub(super) pid: u32,
    pub(super) state: State,
    pub(super) breakpoints: BTreeSet<u64>,
    pub(super) hw_breakpoints: BTreeSet<u64>,
    pub(super) watch: [Option<(u64, u8, WatchKind)>; 4],
    /// The signal the last `Signal` event reported: (tid, GDB signal number).
    pub(super) pending_signal: Option<(u32, u8)>,
    /// Go runtime signals that arrived during a single step: delivered on the next
    /// continue, so that a step does not land in the runtime's signal handler.
    pub(super) deferred_signals: Vec<(u32, u8)>,
    pub(super) current: Option<Arc<RemoteSnapshot>>,
    /// Every snapshot handed out at this stop (a register write starts a new one but
    /// the old ones stay valid): memory writes must patch all their page caches.
    pub(super) at_this_stop: Vec<Weak<RemoteSnapshot>>,
    /// An event the resume itself produced (stepping off a breakpoint completed the
    /// requested step, or hit something): `wait` returns it at once.
    pub(super) queued: Option<StopEvent>,
    pub(super) raw_g: HashMap<u32, Vec<u8>>,
    /// Thread selected with `Hg`, to skip re-selecting it.
    pub(super) hg: Option<u32>,
    /// `p` works (None: not tried yet).
    pub(super) p_ok: Option<bool>,
    /// `X` works (None: not tried yet).
    pub(super) x_write: Option<bool>,
    pub(super) last_tid: u32,
    pub(super) running: Arc<AtomicBool>,
    pub(super) interrupt_requested: Arc<AtomicBool>,
    pub(super) interrupter: Arc<RemoteInterrupter>,
    pub(super) exe: Option<String>,
    pub(super) auxv: Vec<(u64, u64)>,
    pub(super) vfile: Option<bool>,
    pub(super) notes: Vec<String>,
    /// The gdbserver we started, killed and reaped on drop.
    pub(super) child: Option<GdbServerChild>,
    /// We started the program (kill it on drop) rather than attached (detach).
    pub(super) launched: bool,
    /// The stub is rr (answers `qRRCmd`); None: not asked yet.
    pub(super) rr: Option<bool>,
}

pub(super) fn remote(e: ConnError) -> BackendError {
    BackendError::Remote(e.to_string())
}

impl GdbRemote {
    /// Connect to a stub already listening at `addr` (`host:port`).
    pub fn connect(addr: &str) -> Result<GdbRemote, BackendError> {
        GdbRemote::connect_with(addr, Timeouts::default(), None)
    }

    /// Connect with explicit timeouts; `pid` when the caller knows it (launchers do).
    pub fn connect_with(
        addr: &str,
        timeouts: Timeouts,
        pid: Option<u32>,
    ) -> Result<GdbRemote, BackendError> {
        let conn = Conn::connect(addr, timeouts).map_err(remote)?;
        let mut r = GdbRemote::handshake(conn, pid)?;
        if r.features.reverse_continue || r.features.reverse_step {
            // A stub that runs backwards may be rr: ask it (sets `rr`). An error here
            // only means it is not.
            let _ = r.rr_command("when", &[]);
        }
        Ok(r)
    }

    pub(super) fn set_child(&mut self, child: GdbServerChild, launched: bool) {
        self.child = Some(child);
        self.launched = launched;
    }

    pub fn features(&self) -> &Features {
        &self.features
    }
    pub fn register_map(&self) -> &RegMap {
        &self.regmap
    }
    /// Things the backend had to work around (no fs_base, no vFile, ...), one line each.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
    /// Packets sent so far (every request, resume and interrupt counts one).
    pub fn packets_sent(&self) -> u64 {
        self.shared.packets.load(Ordering::Relaxed)
    }
    /// The executable the stub runs, when it said (`qXfer:exec-file:read`).
    pub fn exe_path(&self) -> Option<&str> {
        self.exe.as_deref()
    }
    /// Recent stderr lines of the gdbserver we launched (and of its inferior).
    pub fn stub_log(&self) -> Vec<String> {
        self.child.as_ref().map(|c| c.log()).unwrap_or_default()
    }
    /// The launched gdbserver's pid.
    pub fn stub_pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.pid())
    }

    pub(super) fn check_stopped(&self) -> Result<(), BackendError> {
        match self.state {
            State::Stopped => Ok(()),
            State::Running { .. } => Err(BackendError::Running),
            State::Exited | State::Detached => Err(BackendError::Exited),
            State::Dead => Err(BackendError::Remote(self.dead_reason())),
        }
    }

    fn dead_reason(&self) -> String {
        self.shared
            .lock()
            .is_dead()
            .map(|e| e.to_string())
            .unwrap_or_else(|| "the connection to the stub is gone".into())
    }

    /// Run `f` on the connection; a hang-up or garbled stream marks the process dead.
    pub(super) fn with_conn<T>(
        &mut self,
        f: impl FnOnce(&mut Conn, &mut ConnCtx) -> Result<T, ConnError>,
    ) -> Result<T, BackendError> {
        let shared = self.shared.clone();
        let mut conn = shared.lock();
        let mut ctx = ConnCtx {
            hg: &mut self.hg,
            suffix: self.features.thread_suffix,
        };
        let r = f(&mut conn, &mut ctx);
        // A hang-up, garbage or an unanswered request ends the session; a wait slice
        // that merely timed out does not.
        if r.is_err() && conn.is_dead().is_some() {
            self.state = State::Dead;
            self.running.store(false, Ordering::SeqCst);
        }
        r.map_err(remote)
    }

    pub(super) fn read_thread_regs(
        &mut self,
        tid: u32,
    ) -> Result<(Registers, Vec<u8>), BackendError> {
        let regmap = self.regmap.clone();
        let mut p_ok = self.p_ok;
        let r = self.with_conn(|conn, ctx| {
            let reply = ctx.thread_request(conn, tid, "g")?;
            let g = if is_error(&reply) || reply.is_empty() {
                Vec::new()
            } else {
                hex_decode_regs(&reply)
                    .ok_or_else(|| ConnError::Protocol("non-hex 'g' reply".into()))?
            };
            let mut extra = Vec::new();
            if p_ok != Some(false) {
                for r in regmap.missing_from_g(g.len()) {
                    let reply = ctx.thread_request(conn, tid, &format!("p{:x}", r.regnum))?;
                    match hex_decode_regs(&reply) {
                        Some(v) if !v.is_empty() => {
                            p_ok = Some(true);
                            extra.push((r.regnum, v));
                        }
                        _ if reply.is_empty() => {
                            p_ok = Some(false);
                            break;
                        }
                        _ => {}
                    }
                }
            }
            Ok((regmap.decode(&g, &extra), g))
        })?;
        if self.p_ok.is_none() && p_ok == Some(false) {
            self.notes.push(
                "the stub's 'g' reply lacks some registers and it does not answer 'p': \
                 they read as 0"
                    .into(),
            );
        }
        self.p_ok = p_ok;
        Ok(r)
    }

    pub(super) fn read_pc(
        &mut self,
        tid: u32,
        expedited: &[(u32, Vec<u8>)],
    ) -> Result<u64, BackendError> {
        if let Some(rip) = self.regmap.by_name("rip") {
            if let Some((_, v)) = expedited.iter().find(|(n, _)| *n == rip.regnum) {
                if v.len() >= 8 {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(&v[..8]);
                    return Ok(u64::from_le_bytes(w));
                }
            }
        }
        Ok(self.read_thread_regs(tid)?.0.rip)
    }

    pub(super) fn write_reg(
        &mut self,
        tid: u32,
        name: &str,
        value: u64,
    ) -> Result<(), BackendError> {
        let Some(info) = self.regmap.by_name(name).cloned() else {
            return Err(BackendError::Unsupported("write this register"));
        };
        let n = (info.bits as usize).div_ceil(8);
        let mut bytes = value.to_le_bytes().to_vec();
        bytes.resize(n, 0);
        let cmd = format!("P{:x}={}", info.regnum, hex_encode(&bytes));
        let reply = self.with_conn(|conn, ctx| ctx.thread_request(conn, tid, &cmd))?;
        if reply == b"OK" {
            return Ok(());
        }
        // No `P`: rewrite the whole `g` block with the register patched in.
        let (_, mut g) = self.read_thread_regs(tid)?;
        if info.offset + n > g.len() {
            return Err(BackendError::Remote(format!(
                "cannot write {name}: the stub refused 'P' ({}) and 'g' does not hold it",
                String::from_utf8_lossy(&reply)
            )));
        }
        g[info.offset..info.offset + n].copy_from_slice(&bytes);
        let cmd = format!("G{}", hex_encode(&g));
        let reply = self.with_conn(|conn, ctx| ctx.thread_request(conn, tid, &cmd))?;
        if reply != b"OK" {
            return Err(BackendError::Remote(format!(
                "cannot write {name}: {}",
                String::from_utf8_lossy(&reply)
            )));
        }
        Ok(())
    }

    fn read_maps(&mut self) -> Result<Option<String>, BackendError> {
        if self.vfile == Some(false) {
            return Ok(None);
        }
        let path = format!("/proc/{}/maps", self.pid);
        let r = self.with_conn(|conn, _| vfile_read(conn, &path))?;
        if r.is_none() && self.vfile.is_none() {
            self.notes.push(
                "the stub does not serve vFile: mapped files and memory regions are empty".into(),
            );
        }
        self.vfile = Some(r.is_some());
        Ok(r.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    pub(super) fn insert_z(
        &mut self,
        kind: u8,
        addr: u64,
        len: u8,
        what: &'static str,
    ) -> Result<(), BackendError> {
        self.check_stopped()?;
        let cmd = format!("Z{kind},{addr:x},{len:x}");
        let reply = self.with_conn(|conn, _| conn.request(cmd.as_bytes()))?;
        match reply.as_slice() {
            b"OK" => Ok(()),
            b"" => Err(BackendError::Unsupported(what)),
            r => Err(BackendError::Remote(format!(
                "cannot {what} at {addr:#x}: {}",
                String::from_utf8_lossy(r)
            ))),
        }
    }

    pub(super) fn remove_z(&mut self, kind: u8, addr: u64, len: u8) -> Result<(), BackendError> {
        self.check_stopped()?;
        let cmd = format!("z{kind},{addr:x},{len:x}");
        let reply = self.with_conn(|conn, _| conn.request(cmd.as_bytes()))?;
        if reply == b"OK" || reply.is_empty() {
            Ok(())
        } else {
            Err(BackendError::Remote(format!(
                "cannot remove {} at {addr:#x}: {}",
                if kind <= 1 {
                    "breakpoint"
                } else {
                    "watchpoint"
                },
                String::from_utf8_lossy(&reply)
            )))
        }
    }

    /// Insert a hardware breakpoint (`Z1`): for code that cannot be patched (ROM,
    /// another process's shared text).
    pub fn insert_hw_breakpoint(&mut self, addr: Addr) -> Result<(), BackendError> {
        if self.hw_breakpoints.contains(&addr.0) {
            return Ok(());
        }
        self.insert_z(1, addr.0, 1, "insert hardware breakpoints (Z1)")?;
        self.hw_breakpoints.insert(addr.0);
        Ok(())
    }

    pub fn remove_hw_breakpoint(&mut self, addr: Addr) -> Result<(), BackendError> {
        if self.hw_breakpoints.remove(&addr.0) {
            self.remove_z(1, addr.0, 1)?;
        }
        Ok(())
    }

    pub(super) fn finish(&mut self, state: State) {
        self.state = state;
        self.running.store(false, Ordering::SeqCst);
        self.current = None;
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
    }

    pub(super) fn siginfo(
        &mut self,
        tid: u32,
    ) -> Result<Option<crate::snapshot::SignalInfo>, BackendError> {
        if !self.features.xfer_siginfo {
            return Ok(None);
        }
        let chunk = 0x400;
        let raw = self.with_conn(|conn, ctx| {
            // siginfo is the general thread's: select it first.
            ctx.select(conn, tid)?;
            xfer_read(conn, "siginfo", "", chunk)
        })?;
        Ok(raw.and_then(|b| parse_siginfo(&b, tid)))
    }
}

/// Connection-level helpers that need the `Hg` cache.
pub(super) struct ConnCtx<'a> {
    hg: &'a mut Option<u32>,
    suffix: bool,
}

impl ConnCtx<'_> {
    pub(super) fn select(&mut self, conn: &mut Conn, tid: u32) -> Result<(), ConnError> {
        if *self.hg == Some(tid) {
            return Ok(());
        }
        let r = conn.request(format!("Hg{tid:x}").as_bytes())?;
        if r != b"OK" {
            return Err(ConnError::Protocol(format!(
                "cannot select thread {tid}: {}",
                String::from_utf8_lossy(&r)
            )));
        }
        *self.hg = Some(tid);
        Ok(())
    }

    /// A per-thread request (`g`, `p`, `P`, `G`): thread suffix or `Hg` first.
    pub(super) fn thread_request(
        &mut self,
        conn: &mut Conn,
        tid: u32,
        cmd: &str,
    ) -> Result<Vec<u8>, ConnError> {
        if self.suffix {
            return conn.request(format!("{cmd};thread:{tid:x};").as_bytes());
        }
        self.select(conn, tid)?;
        conn.request(cmd.as_bytes())
    }
}

impl Process for GdbRemote {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            reverse: self.features.reverse_continue || self.features.reverse_step,
            checkpoints: self.rr == Some(true),
            restart: self.rr == Some(true),
            hw_watchpoints: 4,
            write: true,
        }
    }

    fn snapshot(&mut self) -> Result<Arc<dyn Snapshot>, BackendError> {
        self.check_stopped()?;
        if let Some(s) = &self.current {
            return Ok(s.clone());
        }
        let tids = self.with_conn(|conn, _| list_threads(conn))?;
        let mut threads = Vec::with_capacity(tids.len());
        for tid in tids {
            let (regs, g) = self.read_thread_regs(tid)?;
            self.raw_g.insert(tid, g);
            let signal = match self.pending_signal {
                Some((t, s)) if t == tid => stop::gdb_to_host(s),
                _ => 0,
            };
            threads.push(Thread {
                tid,
                regs,
                signal,
                arm64: None,
                g_slots: Vec::new(),
            });
        }
        let (maps, regions) = match self.read_maps()? {
            Some(text) => parse_maps(&text),
            None => (Vec::new(), Vec::new()),
        };
        let signal = match self.pending_signal {
            Some((tid, _)) => self.siginfo(tid)?,
            None => None,
        };
        let name = self
            .exe
            .as_deref()
            .and_then(|p| p.rsplit('/').next())
            .unwrap_or_default()
            .to_string();
        let snap = Arc::new(RemoteSnapshot::new(
            self.shared.clone(),
            self.shared.generation.load(Ordering::SeqCst),
            self.pid,
            threads,
            maps,
            regions,
            self.auxv.clone(),
            signal,
            Some(ProcessInfo {
                pid: self.pid as i32,
                name,
                args: self.exe.clone().unwrap_or_default(),
            }),
        ));
        self.current = Some(snap.clone());
        self.at_this_stop.retain(|w| w.strong_count() > 0);
        self.at_this_stop.push(Arc::downgrade(&snap));
        Ok(snap)
    }

    fn set_registers(&mut self, tid: u32, regs: &Registers) -> Result<(), BackendError> {
        self.check_stopped()?;
        let (now, _) = self.read_thread_regs(tid)?;
        let map = self.regmap.clone();
        for name in GPR_NAMES {
            let Some(info) = map.by_name(name) else {
                continue;
            };
            let (Some(a), Some(b)) = (map.encode(info, &now), map.encode(info, regs)) else {
                continue;
            };
            if a != b {
                let mut w = [0u8; 8];
                let n = b.len().min(8);
                w[..n].copy_from_slice(&b[..n]);
                self.write_reg(tid, name, u64::from_le_bytes(w))?;
            }
        }
        // Registers changed at this stop; memory did not, so older readers stay valid
        // but the next snapshot re-reads the threads.
        self.current = None;
        Ok(())
    }

    fn write_memory(&mut self, addr: Addr, bytes: &[u8]) -> Result<(), BackendError> {
        self.check_stopped()?;
        let chunk = (self.shared.max_read / 2).max(64);
        let mut x_write = self.x_write;
        for (i, part) in bytes.chunks(chunk).enumerate() {
            let a = addr.0.wrapping_add((i * chunk) as u64);
            let ok = self.with_conn(|conn, _| {
                if x_write != Some(false) {
                    if write_remote(conn, true, a, part)? {
                        x_write = Some(true);
                        return Ok(true);
                    }
                    x_write = Some(false);
                }
                write_remote(conn, false, a, part)
            })?;
            if !ok {
                self.x_write = x_write;
                return Err(BackendError::Remote(format!(
                    "cannot write memory at {a:#x}"
                )));
            }
        }
        self.x_write = x_write;
        for s in self.at_this_stop.iter().filter_map(Weak::upgrade) {
            s.patch(addr.0, bytes);
        }
        Ok(())
    }

    fn insert_breakpoint(&mut self, addr: Addr) -> Result<(), BackendError> {
        if self.breakpoints.contains(&addr.0) {
            return Ok(());
        }
        self.insert_z(0, addr.0, 1, "insert software breakpoints (Z0)")?;
        self.breakpoints.insert(addr.0);
        Ok(())
    }

    fn remove_breakpoint(&mut self, addr: Addr) -> Result<(), BackendError> {
        if self.breakpoints.remove(&addr.0) {
            self.remove_z(0, addr.0, 1)?;
        }
        Ok(())
    }

    fn breakpoints(&self) -> Vec<Addr> {
        self.breakpoints.iter().map(|&a| Addr(a)).collect()
    }

    fn set_watchpoint(
        &mut self,
        slot: u8,
        addr: Addr,
        len: u8,
        kind: WatchKind,
    ) -> Result<(), BackendError> {
        let i = slot as usize;
        if i >= self.watch.len() {
            return Err(BackendError::NoWatchSlot(self.watch.len() as u8));
        }
        if !matches!(len, 1 | 2 | 4 | 8) || !addr.0.is_multiple_of(len as u64) {
            return Err(BackendError::Remote(format!(
                "a watchpoint must be 1, 2, 4 or 8 bytes at an address aligned to its size \
                 (got {len} at {addr})"
            )));
        }
        self.clear_watchpoint(slot)?;
        // Reads alone cannot be watched on amd64: `Read` is armed as access (Z4) and
        // the caller filters, as the trait says.
        let z = match kind {
            WatchKind::Write => 2,
            WatchKind::Read | WatchKind::ReadWrite => 4,
        };
        self.insert_z(z, addr.0, len, "set hardware watchpoints")?;
        self.watch[i] = Some((addr.0, len, kind));
        Ok(())
    }

    fn clear_watchpoint(&mut self, slot: u8) -> Result<(), BackendError> {
        let Some(w) = self.watch.get_mut(slot as usize) else {
            return Ok(());
        };
        if let Some((addr, len, kind)) = w.take() {
            let z = if kind == WatchKind::Write { 2 } else { 4 };
            self.remove_z(z, addr, len)?;
        }
        Ok(())
    }

    fn resume(&mut self, how: Resume, dir: Direction) -> Result<(), BackendError> {
        self.check_stopped()?;
        if dir == Direction::Reverse {
            let ok = match how {
                Resume::Continue => self.features.reverse_continue,
                Resume::Step(_) => self.features.reverse_step,
            };
            if !ok {
                return Err(BackendError::Unsupported("run backwards"));
            }
        }
        if dir == Direction::Forward {
            if let Some(ev) = self.step_over_breakpoint(how)? {
                self.current = None;
                self.queued = Some(ev);
                if self.state == State::Stopped {
                    self.state = State::Running { how, dir };
                }
                return Ok(());
            }
        }
        let sig = if dir == Direction::Forward {
            self.pending_signal.take()
        } else {
            None
        };
        let r = self.send_resume(how, dir, sig);
        if r.is_err() && self.state == State::Stopped {
            self.pending_signal = sig;
        }
        r
    }

    fn wait(&mut self) -> Result<StopEvent, BackendError> {
        let t = self.shared.lock().timeouts.resume;
        self.wait_timeout(t)
    }

    fn discard_signal(&mut self, tid: u32) {
        if matches!(self.pending_signal, Some((t, _)) if t == tid) {
            self.pending_signal = None;
        }
    }

    fn interrupter(&self) -> Arc<dyn Interrupter> {
        self.interrupter.clone()
    }

    fn detach(&mut self) -> Result<(), BackendError> {
        self.check_stopped()?;
        for a in std::mem::take(&mut self.breakpoints) {
            self.remove_z(0, a, 1)?;
        }
        for a in std::mem::take(&mut self.hw_breakpoints) {
            self.remove_z(1, a, 1)?;
        }
        for slot in 0..self.watch.len() as u8 {
            self.clear_watchpoint(slot)?;
        }
        // gdbserver delivers a signal still pending on a thread as it lets go.
        self.pending_signal = None;
        let r = self.with_conn(|conn, _| conn.request(b"D"))?;
        if r != b"OK" {
            return Err(BackendError::Remote(format!(
                "detach refused: {}",
                String::from_utf8_lossy(&r)
            )));
        }
        self.finish(State::Detached);
        if let Some(c) = &mut self.child {
            c.wait_exit(Duration::from_secs(2));
        }
        Ok(())
    }

    fn kill(&mut self) -> Result<(), BackendError> {
        match self.state {
            State::Exited | State::Detached => return Ok(()),
            State::Running { .. } => {
                self.interrupter.interrupt();
                let _ = self.wait_timeout(Duration::from_secs(5));
            }
            _ => {}
        }
        if self.state != State::Dead {
            // gdbserver answers `k` with `X09` or just closes: both mean done.
            let _ = self.with_conn(|conn, _| {
                conn.send(b"k")?;
                conn.recv(Duration::from_secs(2), b"k")
            });
        }
        self.finish(State::Exited);
        if let Some(c) = &mut self.child {
            c.wait_exit(Duration::from_secs(2));
        }
        Ok(())
    }

    fn recording_command(
        &mut self,
        cmd: &str,
        args: &[&str],
    ) -> Option<Result<String, BackendError>> {
        self.recording_command_impl(cmd, args)
    }

    fn restart_recording(&mut self, at: Option<&str>) -> Result<(), BackendError> {
        self.rr_restart(at)
    }
}

impl GdbRemote {
    /// `Process::recording_command`, outside the trait impl (kept in rr.rs).
    fn recording_command_impl(
        &mut self,
        cmd: &str,
        args: &[&str],
    ) -> Option<Result<String, BackendError>> {
        self.rr_command(cmd, args)
    }
}

impl Drop for GdbRemote {
    fn drop(&mut self) {
        // Leave nothing traced: a launched program dies with us, an attached one is
        // let go (Delve does the same on disconnect).
        match self.state {
            State::Stopped | State::Running { .. } => {
                if self.launched {
                    let _ = self.kill();
                } else {
                    if let State::Running { .. } = self.state {
                        self.interrupter.interrupt();
                        let _ = self.wait_timeout(Duration::from_secs(5));
                    }
                    if self.detach().is_err() {
                        let _ = self.kill();
                    }
                }
            }
            _ => {}
        }
        // GdbServerChild's drop kills and reaps the stub if it is still there.
    }
}
