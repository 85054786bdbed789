//! [`GdbRemote`]: the [`Process`] trait over a GDB remote stub (GNU gdbserver,
//! lldb-server, rr, QEMU).

use super::conn::{Conn, ConnError, Timeouts, Writer};
use super::launch::GdbServerChild;
use super::packet::{hex_decode_regs, hex_encode, is_error, parse_hex_u64};
use super::regs::{RegMap, GPR_NAMES};
use super::snapshot::{parse_maps, parse_siginfo, write_remote, ReadMode, RemoteSnapshot, Shared};
use super::stop::{self, Reason, StopReply, ThreadId, WatchHit};
use crate::addr::Addr;
use crate::backend::{
    BackendError, Capabilities, Direction, Interrupter, Process, Resume, StopEvent, WatchKind,
};
use crate::snapshot::{ProcessInfo, Registers, Snapshot, Thread};
use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the stub said it supports (`qSupported`, plus probes).
#[derive(Debug, Clone, Default)]
pub struct Features {
    pub packet_size: usize,
    pub xfer_features: bool,
    pub xfer_auxv: bool,
    pub xfer_exec_file: bool,
    pub xfer_siginfo: bool,
    pub reverse_step: bool,
    pub reverse_continue: bool,
    pub swbreak: bool,
    pub hwbreak: bool,
    pub no_ack: bool,
    pub pass_signals: bool,
    /// `QThreadSuffixSupported`: `;thread:TID;` on `g`/`p`/`P` instead of `Hg`.
    pub thread_suffix: bool,
    /// Actions `vCont?` lists (`c`, `C`, `s`, `S`, `t`, `r`).
    pub vcont: Vec<String>,
    /// The raw `qSupported` reply, for diagnostics.
    pub raw: String,
}

impl Features {
    fn parse(reply: &str) -> Features {
        let mut f = Features {
            raw: reply.to_string(),
            // The protocol's default when the stub does not say (GDB uses 400).
            packet_size: 400,
            ..Features::default()
        };
        for item in reply.split(';') {
            if let Some(v) = item.strip_prefix("PacketSize=") {
                if let Ok(n) = usize::from_str_radix(v, 16) {
                    f.packet_size = n.clamp(64, 1 << 20);
                }
                continue;
            }
            let (name, on) = match item.strip_suffix('+') {
                Some(n) => (n, true),
                None => (item, false),
            };
            if !on {
                continue;
            }
            match name {
                "qXfer:features:read" => f.xfer_features = true,
                "qXfer:auxv:read" => f.xfer_auxv = true,
                "qXfer:exec-file:read" => f.xfer_exec_file = true,
                "qXfer:siginfo:read" => f.xfer_siginfo = true,
                "ReverseStep" => f.reverse_step = true,
                "ReverseContinue" => f.reverse_continue = true,
                "swbreak" => f.swbreak = true,
                "hwbreak" => f.hwbreak = true,
                "QStartNoAckMode" => f.no_ack = true,
                "QPassSignals" => f.pass_signals = true,
                _ => {}
            }
        }
        f
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
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

struct RemoteInterrupter {
    writer: Writer,
    running: Arc<AtomicBool>,
    requested: Arc<AtomicBool>,
    packets: Arc<AtomicU64>,
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
    shared: Arc<Shared>,
    features: Features,
    regmap: RegMap,
    pid: u32,
    state: State,
    breakpoints: BTreeSet<u64>,
    hw_breakpoints: BTreeSet<u64>,
    watch: [Option<(u64, u8, WatchKind)>; 4],
    /// The signal the last `Signal` event reported: (tid, GDB signal number).
    pending_signal: Option<(u32, u8)>,
    /// Go runtime signals that arrived during a single step: delivered on the next
    /// continue, so that a step does not land in the runtime's signal handler.
    deferred_signals: Vec<(u32, u8)>,
    current: Option<Arc<RemoteSnapshot>>,
    /// An event the resume itself produced (stepping off a breakpoint completed the
    /// requested step, or hit something): `wait` returns it at once.
    queued: Option<StopEvent>,
    raw_g: HashMap<u32, Vec<u8>>,
    /// Thread selected with `Hg`, to skip re-selecting it.
    hg: Option<u32>,
    /// `p` works (None: not tried yet).
    p_ok: Option<bool>,
    /// `X` works (None: not tried yet).
    x_write: Option<bool>,
    last_tid: u32,
    running: Arc<AtomicBool>,
    interrupt_requested: Arc<AtomicBool>,
    interrupter: Arc<RemoteInterrupter>,
    exe: Option<String>,
    auxv: Vec<(u64, u64)>,
    vfile: Option<bool>,
    notes: Vec<String>,
    /// The gdbserver we started, killed and reaped on drop.
    child: Option<GdbServerChild>,
    /// We started the program (kill it on drop) rather than attached (detach).
    launched: bool,
}

fn remote(e: ConnError) -> BackendError {
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
        GdbRemote::handshake(conn, pid)
    }

    pub(super) fn set_child(&mut self, child: GdbServerChild, launched: bool) {
        self.child = Some(child);
        self.launched = launched;
    }

    fn handshake(mut conn: Conn, pid: Option<u32>) -> Result<GdbRemote, BackendError> {
        let mut notes = Vec::new();
        conn.write_raw(b"+").map_err(remote)?;
        let sup = conn
            .request(b"qSupported:multiprocess-;swbreak+;hwbreak+;xmlRegisters=i386;qRelocInsn+")
            .map_err(remote)?;
        let mut features = Features::parse(&String::from_utf8_lossy(&sup));
        if features.no_ack && conn.request(b"QStartNoAckMode").map_err(remote)? == b"OK" {
            conn.set_no_ack();
        }
        features.thread_suffix = conn.request(b"QThreadSuffixSupported").map_err(remote)? == b"OK";
        // `?` first: it also selects a thread, and gdbserver 13 asserts (and hangs
        // up) on a target.xml request before any thread is selected.
        let first_stop = conn.request(b"?").map_err(remote)?;
        let mut last_tid = 0;
        match stop::parse(&first_stop) {
            Ok(StopReply::Stopped { thread, .. }) => {
                if let Some(t) = thread {
                    last_tid = t.tid.max(0) as u32;
                }
            }
            Ok(StopReply::Exited { .. } | StopReply::Terminated { .. }) => {
                return Err(BackendError::Exited)
            }
            _ => {}
        }
        // gdbserver hangs up on qXfer lengths near its PacketSize; 0xfff is what GDB
        // and Delve ask for.
        let chunk = 0xfff;

        let regmap = load_regmap(&mut conn, &features, chunk, &mut notes)?;
        for need in ["rip", "rsp", "rbp"] {
            if regmap.by_name(need).is_none() {
                return Err(BackendError::Remote(format!(
                    "the stub's register list ({}) has no {need}: not an amd64 target?",
                    regmap.source
                )));
            }
        }
        if regmap.by_name("fs_base").is_none() {
            notes.push(
                "the stub does not expose fs_base: thread-local storage (Go's g) cannot be \
                 located from registers; fs_base reads as 0"
                    .into(),
            );
        }

        let read_mode = match conn.request(b"x0,0").map_err(remote)?.as_slice() {
            b"OK" => ReadMode::Binary,
            [b'b', ..] => ReadMode::BinaryPrefixed,
            _ => ReadMode::Hex,
        };
        let vcont = conn.request(b"vCont?").map_err(remote)?;
        if let Some(rest) = vcont.strip_prefix(b"vCont") {
            features.vcont = String::from_utf8_lossy(rest)
                .split(';')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
        }
        if features.pass_signals {
            // Let the stub hand Go's SIGURG/SIGPROF straight back without even
            // stopping (GDB numbers, hex): most of them never cost a round trip.
            let cmd = format!(
                "QPassSignals:{}",
                stop::GO_RUNTIME_SIGNALS
                    .iter()
                    .map(|s| format!("{s:x}"))
                    .collect::<Vec<_>>()
                    .join(";")
            );
            let _ = conn.request(cmd.as_bytes()).map_err(remote)?;
        }
        let threads = list_threads(&mut conn).map_err(remote)?;
        if last_tid == 0 {
            last_tid = threads.first().copied().unwrap_or(0);
        }
        // Without multiprocess extensions the stub never names the process; for a
        // program it started or attached to, the first thread is the thread-group
        // leader, whose tid is the pid.
        let pid = pid.or_else(|| threads.first().copied()).unwrap_or(0);

        let exe = if features.xfer_exec_file {
            xfer_read(&mut conn, "exec-file", &format!("{pid:x}"), chunk)
                .map_err(remote)?
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        } else {
            None
        };
        let auxv = if features.xfer_auxv {
            let raw = xfer_read(&mut conn, "auxv", "", chunk).map_err(remote)?;
            raw.map(|b| {
                b.chunks_exact(16)
                    .map(|c| {
                        let k = u64::from_le_bytes(c[..8].try_into().unwrap_or_default());
                        let v = u64::from_le_bytes(c[8..].try_into().unwrap_or_default());
                        (k, v)
                    })
                    .take_while(|&(k, _)| k != 0)
                    .collect()
            })
            .unwrap_or_default()
        } else {
            notes.push("the stub does not offer qXfer:auxv:read: auxv is empty".into());
            Vec::new()
        };

        let packets = conn.packet_counter();
        let writer = conn.writer();
        let max_read = {
            // Hex doubles every byte; keep whole pages and leave room for framing.
            let by_packet = features.packet_size.saturating_sub(16)
                / if read_mode == ReadMode::Hex { 2 } else { 1 };
            let pages = (by_packet / 4096).max(1);
            (pages * 4096).min(64 * 1024)
        };
        let shared = Arc::new(Shared {
            conn: std::sync::Mutex::new(conn),
            generation: AtomicU64::new(1),
            packets: packets.clone(),
            max_read,
            read_mode,
        });
        let running = Arc::new(AtomicBool::new(false));
        let requested = Arc::new(AtomicBool::new(false));
        Ok(GdbRemote {
            interrupter: Arc::new(RemoteInterrupter {
                writer,
                running: running.clone(),
                requested: requested.clone(),
                packets,
            }),
            shared,
            features,
            regmap,
            pid,
            state: State::Stopped,
            breakpoints: BTreeSet::new(),
            hw_breakpoints: BTreeSet::new(),
            watch: [None; 4],
            pending_signal: None,
            deferred_signals: Vec::new(),
            current: None,
            queued: None,
            raw_g: HashMap::new(),
            hg: None,
            p_ok: None,
            x_write: None,
            last_tid,
            running,
            interrupt_requested: requested,
            exe,
            auxv,
            vfile: None,
            notes,
            child: None,
            launched: false,
        })
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

    fn check_stopped(&self) -> Result<(), BackendError> {
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
    fn with_conn<T>(
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
        if let Err(e) = &r {
            if !matches!(e, ConnError::Timeout { .. }) {
                self.state = State::Dead;
                self.running.store(false, Ordering::SeqCst);
            }
        }
        r.map_err(remote)
    }

    fn read_thread_regs(&mut self, tid: u32) -> Result<(Registers, Vec<u8>), BackendError> {
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

    fn read_pc(&mut self, tid: u32, expedited: &[(u32, Vec<u8>)]) -> Result<u64, BackendError> {
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

    fn write_reg(&mut self, tid: u32, name: &str, value: u64) -> Result<(), BackendError> {
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

    fn insert_z(
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

    fn remove_z(&mut self, kind: u8, addr: u64, len: u8) -> Result<(), BackendError> {
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

    /// Build and send the resume packet.
    fn send_resume(
        &mut self,
        how: Resume,
        dir: Direction,
        sig: Option<(u32, u8)>,
    ) -> Result<(), BackendError> {
        let vcont = |a: &str| self.features.vcont.iter().any(|x| x == a);
        let use_vcont = vcont("c") && vcont("s") && (sig.is_none() || (vcont("C") && vcont("S")));
        let deferred = std::mem::take(&mut self.deferred_signals);
        let mut pre: Vec<String> = Vec::new();
        let cmd = match (dir, how) {
            (Direction::Reverse, Resume::Continue) => {
                pre.push("Hc-1".into());
                "bc".to_string()
            }
            (Direction::Reverse, Resume::Step(tid)) => {
                pre.push(format!("Hc{tid:x}"));
                "bs".to_string()
            }
            (Direction::Forward, Resume::Continue) if use_vcont => {
                let mut s = String::from("vCont");
                let mut sigs: Vec<(u32, u8)> = sig.into_iter().collect();
                for d in deferred {
                    if !sigs.iter().any(|(t, _)| *t == d.0) {
                        sigs.push(d);
                    }
                }
                for (t, g) in sigs {
                    s.push_str(&format!(";C{g:02x}:{t:x}"));
                }
                s.push_str(";c");
                s
            }
            (Direction::Forward, Resume::Step(tid)) if use_vcont => {
                self.deferred_signals = deferred;
                match sig {
                    Some((t, g)) if t == tid => format!("vCont;S{g:02x}:{tid:x}"),
                    _ => format!("vCont;s:{tid:x}"),
                }
            }
            (Direction::Forward, Resume::Continue) => match sig {
                Some((t, g)) => {
                    pre.push(format!("Hc{t:x}"));
                    format!("C{g:02x}")
                }
                None => {
                    pre.push("Hc-1".into());
                    "c".into()
                }
            },
            (Direction::Forward, Resume::Step(tid)) => {
                self.deferred_signals = deferred;
                pre.push(format!("Hc{tid:x}"));
                match sig {
                    Some((t, g)) if t == tid => format!("S{g:02x}"),
                    _ => "s".into(),
                }
            }
        };
        let shared = self.shared.clone();
        let running = self.running.clone();
        let requested = self.interrupt_requested.clone();
        self.with_conn(|conn, _| {
            for p in &pre {
                let r = conn.request(p.as_bytes())?;
                if r != b"OK" && !r.is_empty() {
                    return Err(ConnError::Protocol(format!(
                        "'{p}' refused: {}",
                        String::from_utf8_lossy(&r)
                    )));
                }
            }
            // Bump the generation under the connection lock, before the process
            // moves: snapshot readers check it under the same lock.
            shared.generation.fetch_add(1, Ordering::SeqCst);
            requested.store(false, Ordering::SeqCst);
            running.store(true, Ordering::SeqCst);
            conn.send(cmd.as_bytes())
        })?;
        self.current = None;
        self.raw_g.clear();
        self.state = State::Running { how, dir };
        Ok(())
    }

    /// Turn a stop reply into an event; `None` when the process was resumed again
    /// (a Go runtime signal, an event we did not ask for).
    fn classify(
        &mut self,
        reply: StopReply,
        how: Resume,
        dir: Direction,
    ) -> Result<Option<StopEvent>, BackendError> {
        match reply {
            StopReply::Exited { status, .. } => {
                self.finish(State::Exited);
                Ok(Some(StopEvent::Exited {
                    status: status as i32,
                }))
            }
            StopReply::Terminated { gdb_signal, .. } => {
                self.finish(State::Exited);
                Ok(Some(StopEvent::Killed {
                    signo: stop::gdb_to_host(gdb_signal),
                }))
            }
            StopReply::NoResumed => {
                self.running.store(false, Ordering::SeqCst);
                self.state = State::Stopped;
                Err(BackendError::Remote(
                    "the stub has no thread left to resume".into(),
                ))
            }
            StopReply::Stopped {
                gdb_signal,
                thread,
                reason,
                expedited,
                ..
            } => {
                let tid = match thread {
                    Some(ThreadId { tid, .. }) if tid > 0 => tid as u32,
                    _ => self.last_tid,
                };
                self.last_tid = tid;
                self.running.store(false, Ordering::SeqCst);
                self.state = State::Stopped;
                let interrupted = self.interrupt_requested.swap(false, Ordering::SeqCst);

                if let Some(Reason::ReplayLog { begin }) = reason {
                    return Ok(Some(StopEvent::RecordingBoundary {
                        tid,
                        at_start: begin,
                    }));
                }
                if stop::GO_RUNTIME_SIGNALS.contains(&gdb_signal) {
                    if interrupted {
                        // Our \x03 may be consumed by this stop: do not resume past it.
                        self.deferred_signals.push((tid, gdb_signal));
                        return Ok(Some(StopEvent::Interrupted));
                    }
                    match (dir, how) {
                        (Direction::Forward, Resume::Continue) => {
                            self.send_resume(how, dir, Some((tid, gdb_signal)))?
                        }
                        _ => {
                            self.deferred_signals.push((tid, gdb_signal));
                            self.send_resume(how, dir, None)?
                        }
                    }
                    return Ok(None);
                }
                if let Some(Reason::Event(_)) = reason {
                    self.send_resume(how, dir, None)?;
                    return Ok(None);
                }
                if gdb_signal == 0 && dir == Direction::Reverse {
                    // rr's way of saying the replay reached the start (as Delve reads it).
                    return Ok(Some(StopEvent::RecordingBoundary {
                        tid,
                        at_start: true,
                    }));
                }
                if gdb_signal == stop::GDB_SIGINT && interrupted {
                    return Ok(Some(StopEvent::Interrupted));
                }
                if gdb_signal == stop::GDB_SIGTRAP || gdb_signal == 0 {
                    if let Some(Reason::Watch(kind, addr)) = reason {
                        return Ok(Some(self.watch_event(tid, kind, addr)));
                    }
                    if let Resume::Step(st) = how {
                        if st == tid && reason != Some(Reason::SwBreak) {
                            return Ok(Some(StopEvent::Stepped { tid }));
                        }
                    }
                    let pc = self.read_pc(tid, &expedited)?;
                    if self.breakpoints.contains(&pc) || self.hw_breakpoints.contains(&pc) {
                        return Ok(Some(StopEvent::Breakpoint { tid, pc: Addr(pc) }));
                    }
                    let back = pc.wrapping_sub(1);
                    if reason != Some(Reason::HwBreak) && self.breakpoints.contains(&back) {
                        // The stub left the PC past the int3 (GNU gdbserver does not:
                        // it reports the breakpoint address; others may).
                        self.write_reg(tid, "rip", back)?;
                        return Ok(Some(StopEvent::Breakpoint {
                            tid,
                            pc: Addr(back),
                        }));
                    }
                    if let Resume::Step(_) = how {
                        return Ok(Some(StopEvent::Stepped { tid }));
                    }
                    if interrupted {
                        return Ok(Some(StopEvent::Interrupted));
                    }
                }
                if interrupted && gdb_signal == 0 {
                    return Ok(Some(StopEvent::Interrupted));
                }
                self.pending_signal = Some((tid, gdb_signal));
                Ok(Some(StopEvent::Signal {
                    tid,
                    signo: stop::gdb_to_host(gdb_signal),
                }))
            }
        }
    }

    fn watch_event(&self, tid: u32, _kind: WatchHit, addr: u64) -> StopEvent {
        let hit = self
            .watch
            .iter()
            .enumerate()
            .filter_map(|(i, w)| w.map(|w| (i, w)))
            .min_by_key(|(_, (a, len, _))| {
                if addr >= *a && addr < a + *len as u64 {
                    0
                } else {
                    addr.abs_diff(*a).saturating_add(1)
                }
            });
        match hit {
            Some((slot, (a, _, _))) => StopEvent::Watchpoint {
                tid,
                slot: slot as u8,
                addr: Addr(a),
            },
            None => StopEvent::Watchpoint {
                tid,
                slot: 0,
                addr: Addr(addr),
            },
        }
    }

    fn finish(&mut self, state: State) {
        self.state = state;
        self.running.store(false, Ordering::SeqCst);
        self.current = None;
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn siginfo(&mut self, tid: u32) -> Result<Option<crate::snapshot::SignalInfo>, BackendError> {
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

    /// GNU gdbserver does not step over the breakpoints we insert: a thread resumed
    /// on one would trap on it again at once. So, as GDB does: remove it, step that
    /// thread alone (the others stay stopped and cannot run past the address), put it
    /// back. Returns the event when the step-over is itself the answer (the requested
    /// step of that thread, an exit, a signal).
    fn step_over_breakpoint(&mut self, how: Resume) -> Result<Option<StopEvent>, BackendError> {
        let tid = self.last_tid;
        if tid == 0 || self.breakpoints.is_empty() {
            return Ok(None);
        }
        let known = self
            .current
            .as_ref()
            .and_then(|s| s.threads.iter().find(|t| t.tid == tid).map(|t| t.regs.rip));
        let pc = match known {
            Some(pc) => pc,
            None => self.read_pc(tid, &[])?,
        };
        if !self.breakpoints.contains(&pc) {
            return Ok(None);
        }
        self.remove_z(0, pc, 1)?;
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        self.current = None;
        let vcont = self.features.vcont.iter().any(|a| a == "s");
        let mut event = None;
        for _ in 0..16 {
            let reply = self.with_conn(|conn, _| {
                if vcont {
                    conn.send(format!("vCont;s:{tid:x}").as_bytes())?;
                } else {
                    let r = conn.request(format!("Hc{tid:x}").as_bytes())?;
                    if r != b"OK" {
                        return Err(ConnError::Protocol(format!(
                            "cannot select thread {tid} to step"
                        )));
                    }
                    conn.send(b"s")?;
                }
                let t = conn.timeouts.request;
                conn.recv(t, b"step")
            })?;
            match stop::parse(&reply).map_err(|e| BackendError::Remote(e.to_string()))? {
                StopReply::Stopped { gdb_signal, .. }
                    if stop::GO_RUNTIME_SIGNALS.contains(&gdb_signal) =>
                {
                    // Arrived before the step: keep it for the next continue, retry.
                    self.deferred_signals.push((tid, gdb_signal));
                    continue;
                }
                StopReply::Stopped {
                    gdb_signal,
                    thread,
                    reason,
                    ..
                } => {
                    let other = thread.is_some_and(|t| t.tid > 0 && t.tid as u32 != tid);
                    if other || (gdb_signal != stop::GDB_SIGTRAP && reason.is_none()) {
                        // Something else happened first (another thread's pending
                        // stop, a signal): report it as if from a continue.
                        self.insert_z(0, pc, 1, "insert software breakpoints (Z0)")?;
                        let r = self.classify(
                            reply_again(&reply)?,
                            Resume::Continue,
                            Direction::Forward,
                        )?;
                        return Ok(r);
                    }
                    break;
                }
                exit => {
                    event = self.classify(exit, how, Direction::Forward)?;
                    self.breakpoints.remove(&pc);
                    return Ok(event);
                }
            }
        }
        self.insert_z(0, pc, 1, "insert software breakpoints (Z0)")?;
        if how == Resume::Step(tid) {
            event = Some(StopEvent::Stepped { tid });
        }
        Ok(event)
    }

    /// Wait for a stop, at most `timeout`; a timeout leaves the process running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<StopEvent, BackendError> {
        if let Some(ev) = self.queued.take() {
            self.running.store(false, Ordering::SeqCst);
            if !ev.is_exit() {
                self.state = State::Stopped;
            }
            return Ok(ev);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let State::Running { how, dir } = self.state else {
                self.check_stopped()?;
                return Err(BackendError::Unsupported("wait without a resume"));
            };
            let slice = deadline
                .saturating_duration_since(Instant::now())
                .min(Duration::from_secs(1));
            let what: &[u8] = if matches!(how, Resume::Step(_)) {
                b"step"
            } else {
                b"continue"
            };
            let r = self.with_conn(|conn, _| conn.recv(slice, what));
            let reply = match r {
                Ok(p) => p,
                Err(BackendError::Remote(m)) if self.state != State::Dead => {
                    if Instant::now() >= deadline {
                        return Err(BackendError::Remote(format!(
                            "{m}; the program is still running (interrupt it)"
                        )));
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            let parsed = match stop::parse(&reply) {
                Ok(p) => p,
                Err(e) => {
                    // Something we cannot read while running: wait on, the next
                    // packet may be the stop.
                    self.notes.push(format!("ignored while running: {e}"));
                    continue;
                }
            };
            if let Some(ev) = self.classify(parsed, how, dir)? {
                return Ok(ev);
            }
        }
    }
}

fn reply_again(reply: &[u8]) -> Result<StopReply, BackendError> {
    stop::parse(reply).map_err(|e| BackendError::Remote(e.to_string()))
}

/// Connection-level helpers that need the `Hg` cache.
struct ConnCtx<'a> {
    hg: &'a mut Option<u32>,
    suffix: bool,
}

impl ConnCtx<'_> {
    fn select(&mut self, conn: &mut Conn, tid: u32) -> Result<(), ConnError> {
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
    fn thread_request(
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

fn load_regmap(
    conn: &mut Conn,
    f: &Features,
    chunk: usize,
    notes: &mut Vec<String>,
) -> Result<RegMap, BackendError> {
    if f.xfer_features {
        if let Some(xml) = xfer_read(conn, "features", "target.xml", chunk).map_err(remote)? {
            let xml = String::from_utf8_lossy(&xml).into_owned();
            let mut err = None;
            let mut fetch = |name: &str| -> Option<String> {
                match xfer_read(conn, "features", name, chunk) {
                    Ok(b) => b.map(|b| String::from_utf8_lossy(&b).into_owned()),
                    Err(e) => {
                        err = Some(e);
                        None
                    }
                }
            };
            let map = RegMap::from_target_xml(&xml, &mut fetch);
            if let Some(e) = err {
                return Err(remote(e));
            }
            if let Some(m) = map {
                return Ok(m);
            }
        }
    }
    let mut infos = Vec::new();
    for i in 0..512u32 {
        let r = conn
            .request(format!("qRegisterInfo{i:x}").as_bytes())
            .map_err(remote)?;
        if r.is_empty() || is_error(&r) {
            break;
        }
        infos.push(String::from_utf8_lossy(&r).into_owned());
    }
    if let Some(m) = RegMap::from_register_info(&infos) {
        return Ok(m);
    }
    notes.push("the stub describes no registers: assuming GNU gdbserver's amd64 layout".into());
    Ok(RegMap::builtin_amd64())
}

/// Read a whole `qXfer` object; `None` if the stub refuses it.
fn xfer_read(
    conn: &mut Conn,
    object: &str,
    annex: &str,
    chunk: usize,
) -> Result<Option<Vec<u8>>, ConnError> {
    let mut out = Vec::new();
    loop {
        let cmd = format!("qXfer:{object}:read:{annex}:{:x},{chunk:x}", out.len());
        let r = conn.request(cmd.as_bytes())?;
        match r.split_first() {
            Some((b'm', d)) if !d.is_empty() => out.extend_from_slice(d),
            Some((b'm', _)) => return Ok(Some(out)),
            Some((b'l', d)) => {
                out.extend_from_slice(d);
                return Ok(Some(out));
            }
            _ => return Ok(None),
        }
        if out.len() > 64 << 20 {
            return Err(ConnError::Protocol(format!("qXfer:{object} never ends")));
        }
    }
}

fn list_threads(conn: &mut Conn) -> Result<Vec<u32>, ConnError> {
    let mut tids = Vec::new();
    let mut r = conn.request(b"qfThreadInfo")?;
    for _ in 0..100_000 {
        match r.split_first() {
            Some((b'm', list)) => {
                for t in list.split(|&b| b == b',') {
                    if let Some(id) = ThreadId::parse(t) {
                        if id.tid > 0 {
                            tids.push(id.tid as u32);
                        }
                    }
                }
            }
            _ => break,
        }
        r = conn.request(b"qsThreadInfo")?;
    }
    Ok(tids)
}

/// Read a file through the stub's `vFile` (the stub's view of the filesystem);
/// `None` when the stub has no vFile or cannot open it.
fn vfile_read(conn: &mut Conn, path: &str) -> Result<Option<Vec<u8>>, ConnError> {
    let open = format!("vFile:open:{},0,0", hex_encode(path.as_bytes()));
    let r = conn.request(open.as_bytes())?;
    let Some(fd) = r
        .strip_prefix(b"F")
        .filter(|v| !v.starts_with(b"-"))
        .and_then(|v| parse_hex_u64(v.split(|&b| b == b';').next().unwrap_or_default()))
    else {
        return Ok(None);
    };
    let mut out = Vec::new();
    loop {
        let r =
            conn.request(format!("vFile:pread:{fd:x},{:x},{:x}", 0x3000, out.len()).as_bytes())?;
        let Some(rest) = r.strip_prefix(b"F") else {
            break;
        };
        let (count, data) = match rest.iter().position(|&b| b == b';') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &b""[..]),
        };
        if count.starts_with(b"-") {
            break;
        }
        let n = parse_hex_u64(count).unwrap_or(0) as usize;
        if n == 0 || data.is_empty() {
            break;
        }
        out.extend_from_slice(&data[..n.min(data.len())]);
        if out.len() > 16 << 20 {
            break;
        }
    }
    let _ = conn.request(format!("vFile:close:{fd:x}").as_bytes())?;
    Ok(Some(out))
}

impl Process for GdbRemote {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            reverse: self.features.reverse_continue || self.features.reverse_step,
            checkpoints: false,
            restart: false,
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
            threads.push(Thread { tid, regs, signal });
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
        if let Some(s) = &self.current {
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
        if !matches!(len, 1 | 2 | 4 | 8) || addr.0 % len as u64 != 0 {
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
