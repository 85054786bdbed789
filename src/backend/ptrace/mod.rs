//! Linux amd64 ptrace backend.
//!
//! One [`PtraceProcess`] per traced process. The kernel accepts ptrace requests only
//! from the *tracer thread*, so each `PtraceProcess` owns one: a thread that holds the
//! state (a `Tracee`) and runs every request in turn (see `proxy.rs`). The handle can
//! then be used, and dropped, on any thread, and an emergency cleanup reaches the
//! tracer even while the front end is blocked reading its terminal.
//!
//! Threads are seized (`PTRACE_SEIZE`), so stopping one (`PTRACE_INTERRUPT`) injects no
//! signal. The model is all-stop: when one thread reports an event every other thread
//! is interrupted and collected before [`Process::wait`] returns. See `threads.rs` for
//! the event loop and the rules for signals and breakpoints hit meanwhile.
//!
//! Contract details the layers above rely on:
//! - One `Tracee` per tracer thread: `wait` reaps any tracee or child of the
//!   calling thread (`__WNOTHREAD` keeps other threads' children out).
//! - `set_registers` bumps the stop generation: snapshots taken before it answer
//!   `Stale` (their registers are wrong); `write_memory` and breakpoint changes do not
//!   (the current snapshot's page cache and breakpoint shadow are updated in place).
//! - The interrupt is a SIGSTOP sent to the process: if it arrives while the process
//!   is already stopping for another event it is absorbed; sent while stopped, it
//!   takes effect at the next resume (`wait` then reports `Interrupted`).
//! - Dropping it kills a launched process and detaches from an attached one, on the
//!   tracer thread.

mod attach;
mod breakpoints;
mod cleanup;
mod condpad;
mod debugregs;
mod displaced;
mod inject;
mod launch;
mod pads;
mod pending;
mod procfs;
mod proxy;
mod snapshot;
mod sys;
mod threads;

pub use cleanup::{emergency_cleanup, registered_pids};
pub use launch::{LaunchOptions, Redirect};
pub use proxy::PtraceProcess;
pub use snapshot::LiveSnapshot;

use crate::addr::Addr;
use crate::backend::{
    Armed, BackendError, Capabilities, Direction, FastCond, Interrupter, Process, Resume,
    StopEvent, WatchKind,
};
use crate::snapshot::{ProcessInfo, Registers, SignalInfo, Snapshot, Thread};
use cleanup::{Entry, InterruptState};
use debugregs::Watch;
use snapshot::Live;
use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use sys::Errno;

/// What the backend knows about one thread of the tracee.
#[derive(Debug, Clone, Default)]
struct Task {
    /// Not in a ptrace-stop (or, for a new thread, its first stop is still to come).
    running: bool,
    /// PTRACE_INTERRUPT was sent and its PTRACE_EVENT_STOP has not been seen yet.
    interrupt_pending: bool,
    /// A new thread whose first (auto-attach) stop has not been seen yet.
    initial_pending: bool,
    /// Reported PTRACE_EVENT_EXIT and was let go: it only has to be reaped.
    exiting: bool,
    /// Signal to deliver when the thread is next resumed (0: none).
    pending_sig: i32,
    /// Step over a breakpoint at the PC on resume. Set when the thread's stop *was
    /// reported* at that PC (breakpoint, step, register write); clear when the thread
    /// was merely stopped there, so it executes the 0xCC and the hit is not lost.
    step_over: bool,
    /// A `Resume::Step` is in progress on this thread, from this PC.
    stepping: Option<u64>,
    /// Registers read at this stop (GETREGS is done once per thread per stop).
    regs: Option<Registers>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Stopped,
    Running,
    Stepping(i32),
    /// A breakpoint hit reported with only this thread stopped; the others run on
    /// (see `Process::wait_lazy`).
    Partial(i32),
    /// Exited, killed or detached: nothing more can be done.
    Gone,
}

/// A process traced with ptrace: the state its tracer thread owns.
struct Tracee {
    pid: i32,
    launched: bool,
    state: State,
    threads: BTreeMap<i32, Task>,
    bps: breakpoints::Shared,
    mem: Arc<File>,
    watches: [Option<Watch>; debugregs::SLOTS as usize],
    live: Arc<Live>,
    interrupt: Arc<InterruptState>,
    /// How many interrupt signals have been seen (see `InterruptState::consume`).
    interrupts_consumed: u64,
    /// Events of other threads collected while stopping everything for one event.
    deferred: VecDeque<(StopEvent, Option<SignalInfo>)>,
    /// An event to return from the next `wait` without running anything.
    ready: Option<StopEvent>,
    /// Details of the signal the current stop reports, if it reports one.
    last_signal: Option<SignalInfo>,
    /// A breakpoint lifted for a `Resume::Step`, to put back when the step ends.
    reinsert: Option<u64>,
    snap: Option<Arc<LiveSnapshot>>,
    /// How each breakpoint's instruction is displaced (None: it cannot be). Forgotten
    /// whenever code or breakpoints change.
    /// The instruction bytes (breakpoints hidden) it was planned from.
    plans: std::collections::HashMap<u64, (Option<displaced::Plan>, [u8; 16])>,
    /// Jump pads that threads run through instead of single-stepping (`pads.rs`).
    pads: pads::Pads,
    auxv: Arc<Vec<(u64, u64)>>,
    info: Arc<ProcessInfo>,
    entry: Arc<Entry>,
}

#[derive(Clone)]
struct PtraceInterrupter(Arc<InterruptState>);

impl Interrupter for PtraceInterrupter {
    fn interrupt(&self) {
        self.0.send();
    }
}

fn open_mem(pid: i32) -> Result<File, BackendError> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(format!("/proc/{pid}/mem"))
        .map_err(|e| BackendError::Os {
            op: "open /proc/PID/mem",
            why: e.to_string(),
        })
}

impl Tracee {
    /// Start `opts.program` under ptrace, stopped at its first instruction.
    pub fn launch(opts: &LaunchOptions) -> Result<Tracee, BackendError> {
        let pid = launch::spawn(opts)?;
        let p = Tracee::new(pid, true, [(pid, Task::default())].into_iter().collect());
        match p {
            Ok(p) => Ok(p),
            Err(e) => {
                let _ = sys::kill(pid, libc::SIGKILL);
                let _ = sys::wait(pid);
                Err(e)
            }
        }
    }

    /// Attach to a running process and stop every thread.
    pub fn attach(pid: u32) -> Result<Tracee, BackendError> {
        let pid = i32::try_from(pid)
            .map_err(|_| BackendError::Attach(format!("no such process {pid}")))?;
        let threads = attach::seize_all(pid)?;
        let mut p = Tracee::new(pid, false, threads)?;
        // Collect every thread's interrupt (or first) stop; Drop detaches on failure.
        if let Some(ev) = p.stop_all()? {
            p.state = State::Gone;
            return Err(BackendError::Attach(format!(
                "process {pid} ended while attaching ({ev:?})"
            )));
        }
        for t in p.threads.values_mut() {
            t.step_over = false;
        }
        Ok(p)
    }

    fn new(pid: i32, launched: bool, threads: BTreeMap<i32, Task>) -> Result<Tracee, BackendError> {
        let mem = Arc::new(open_mem(pid)?);
        let bps: breakpoints::Shared = Arc::default();
        let interrupt = Arc::new(InterruptState::new(pid));
        let entry = Arc::new(Entry {
            pid,
            launched,
            bps: bps.clone(),
            mem: Mutex::new(Some(mem.clone())),
            interrupt: interrupt.clone(),
            requested: AtomicBool::new(false),
            done: AtomicBool::new(false),
            wake: Mutex::new(None),
        });
        cleanup::register(entry.clone());
        Ok(Tracee {
            pid,
            launched,
            state: State::Stopped,
            threads,
            bps,
            mem,
            watches: [None; debugregs::SLOTS as usize],
            live: Arc::default(),
            interrupt,
            interrupts_consumed: 0,
            deferred: VecDeque::new(),
            ready: None,
            last_signal: None,
            reinsert: None,
            snap: None,
            plans: std::collections::HashMap::new(),
            pads: pads::Pads::default(),
            auxv: Arc::new(procfs::auxv(pid).unwrap_or_default()),
            info: Arc::new(procfs::process_info(pid)),
            entry,
        })
    }

    /// Thread ids currently traced (exiting threads excluded).
    pub fn thread_ids(&self) -> Vec<u32> {
        self.threads
            .iter()
            .filter(|(_, t)| !t.exiting)
            .map(|(&t, _)| t as u32)
            .collect()
    }

    fn require_stopped(&self) -> Result<(), BackendError> {
        match self.state {
            State::Stopped => Ok(()),
            State::Gone => Err(BackendError::Exited),
            _ => Err(BackendError::Running),
        }
    }

    fn regs_of(&mut self, tid: i32) -> Result<Registers, Errno> {
        let t = self.threads.get_mut(&tid).ok_or(Errno(libc::ESRCH))?;
        if let Some(r) = &t.regs {
            return Ok(r.clone());
        }
        let mut r = sys::get_regs(tid)?;
        // No one may see a PC inside a jump pad: move the thread back into the code.
        self.leave_pad(tid, &mut r);
        if let Some(t) = self.threads.get_mut(&tid) {
            t.regs = Some(r.clone());
        }
        Ok(r)
    }

    /// The process state changed while stopped (registers written): old snapshots are
    /// of another instant.
    fn bump(&mut self) {
        self.live.generation.fetch_add(1, Ordering::AcqRel);
        self.snap = None;
    }

    fn publish_shadow(&self, table: &breakpoints::Table) {
        *self.live.shadow.write().unwrap_or_else(|p| p.into_inner()) = table.shadow();
    }

    /// After an exec the address space is new: reopen its memory, forget breakpoints.
    fn on_exec(&mut self) -> Result<(), BackendError> {
        self.mem = Arc::new(open_mem(self.pid)?);
        *self.entry.mem.lock().unwrap_or_else(|p| p.into_inner()) = Some(self.mem.clone());
        {
            let mut t = breakpoints::lock(&self.bps);
            t.inserted.clear();
            t.jumps.clear();
            t.pad_traps.clear();
            t.stale_holes.clear();
            t.scratch = None;
            t.scratch_holds = None;
        }
        self.plans.clear();
        self.pads.reset();
        self.live
            .shadow
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.auxv = Arc::new(procfs::auxv(self.pid).unwrap_or_default());
        self.info = Arc::new(procfs::process_info(self.pid));
        Ok(())
    }

    fn mark_gone(&mut self) {
        self.state = State::Gone;
        let _ = self.interrupt.retire();
        self.entry.done.store(true, Ordering::Release);
        self.live.generation.fetch_add(1, Ordering::AcqRel);
        self.snap = None;
        self.threads.clear();
    }

    fn build_snapshot(&mut self) -> Result<Arc<LiveSnapshot>, BackendError> {
        let tids: Vec<i32> = self
            .threads
            .iter()
            .filter(|(_, t)| !t.exiting && !t.running)
            .map(|(&t, _)| t)
            .collect();
        let mut threads = Vec::with_capacity(tids.len());
        let mut xmm = Vec::with_capacity(tids.len());
        for tid in tids {
            // Float arguments and results live in XMM registers (register ABI). A
            // thread whose FP state cannot be read only loses those values.
            if let Ok(fx) = sys::get_fpregs(tid) {
                xmm.push((tid as u32, xmm_low_halves(&fx)));
            }
            match self.regs_of(tid) {
                Ok(regs) => threads.push(Thread {
                    tid: tid as u32,
                    regs,
                    signal: self.threads.get(&tid).map_or(0, |t| t.pending_sig),
                    arm64: None,
                    g_slots: Vec::new(),
                }),
                // The thread is dying: it has no registers to show.
                Err(e) if e.0 == libc::ESRCH => {}
                Err(e) => return Err(e.os("read registers")),
            }
        }
        // The thread that stopped the process first, as cores put the crashing thread.
        if let Some(tid) = self.last_signal.as_ref().and_then(|s| s.tid) {
            if let Some(i) = threads.iter().position(|t| t.tid == tid) {
                threads.swap(0, i);
            }
        }
        Ok(Arc::new(
            LiveSnapshot::new(
                self.pid,
                self.live.generation.load(Ordering::Acquire),
                self.live.clone(),
                threads,
                self.last_signal.clone(),
                self.auxv.clone(),
                self.info.clone(),
                Some(self.mem.clone()),
            )
            .with_xmm(xmm),
        ))
    }

    fn live_snapshot(&mut self) -> Result<Arc<LiveSnapshot>, BackendError> {
        // In a partial stop the snapshot holds the one stopped thread.
        if !matches!(self.state, State::Partial(_)) {
            self.require_stopped()?;
        }
        if let Some(s) = &self.snap {
            return Ok(s.clone());
        }
        let s = self.build_snapshot()?;
        self.snap = Some(s.clone());
        Ok(s)
    }

    fn apply_watches(&self, tid: i32) -> Result<(), Errno> {
        if self.watches.iter().all(Option::is_none) {
            return Ok(());
        }
        debugregs::apply(tid, &self.watches)
    }

    fn set_watches_everywhere(&mut self) -> Result<(), BackendError> {
        let tids: Vec<i32> = self
            .threads
            .iter()
            .filter(|(_, t)| !t.exiting && !t.running)
            .map(|(&t, _)| t)
            .collect();
        for tid in tids {
            match debugregs::apply(tid, &self.watches) {
                Ok(()) => {}
                Err(e) if e.0 == libc::ESRCH => {}
                Err(e) => return Err(e.os("set debug registers")),
            }
        }
        Ok(())
    }

    fn detach_impl(&mut self) -> Result<(), BackendError> {
        if self.state == State::Gone {
            return Err(BackendError::Exited);
        }
        if self.state != State::Stopped {
            if let Some(_exit) = self.stop_all()? {
                self.mark_gone();
                return Ok(());
            }
        }
        // A breakpoint's SIGTRAP still queued would kill the program once untraced.
        self.flush_pending_traps();
        // Threads inside a pad go back into the code, and the pads go away, while the
        // scratch area (which the unmapping uses) is still ours.
        self.drop_pads();
        let mut first_err = None;
        if let Err(e) = breakpoints::lock(&self.bps).remove_all(&self.mem) {
            first_err = Some(e);
        }
        // Every thread is stopped and out of the holes (drop_pads read them all).
        if let Err(e) = breakpoints::lock(&self.bps).restore_holes(&self.mem) {
            first_err.get_or_insert(e.os("restore padding under a condition jump"));
        }
        self.live
            .shadow
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        let had_watches = self.watches.iter().any(Option::is_some);
        self.watches = [None; debugregs::SLOTS as usize];
        let tids: Vec<(i32, Task)> = self.threads.iter().map(|(&t, v)| (t, v.clone())).collect();
        // An interrupt signal sent but never seen would stop the untraced program.
        // Once no more can be sent, and while every thread is stopped (none can take
        // one), the kernel's pending sets say exactly whether one is still queued.
        let unseen = self.interrupt.retire() || procfs::stop_pending(self.pid);
        for (tid, t) in &tids {
            if t.exiting {
                continue;
            }
            if had_watches {
                let _ = debugregs::apply(*tid, &self.watches);
            }
            // Signals the program was owed (SIGURG collected while stopping) go with it.
            match sys::detach(*tid, t.pending_sig) {
                Ok(()) => {}
                Err(e) if e.0 == libc::ESRCH => {}
                Err(e) => {
                    first_err.get_or_insert(e.os("detach"));
                }
            }
        }
        // Threads that were exiting cannot be detached (they are not stopped) and, once
        // dead, stay zombies until their tracer reaps them, which would keep the whole
        // process from being reaped. And a thread the kernel attached to us that we had
        // not met yet (or whose stop we had not collected) is still traced. Sweep
        // /proc until no thread of the process names us as its tracer.
        self.release_leftovers(std::time::Duration::from_secs(2));
        // SIGCONT discards a pending SIGSTOP (and ends a group-stop, if any).
        if unseen || matches!(procfs::state(self.pid), Some('T') | Some('t')) {
            let _ = sys::kill(self.pid, libc::SIGCONT);
        }
        self.mark_gone();
        first_err.map_or(Ok(()), Err)
    }

    /// After detaching: reap, or detach, every thread still traced by this thread
    /// (zombies, threads that were exiting, stops we never collected), until none is
    /// left or `within` passes. A zombie leader is skipped: it is reported only once
    /// every other thread is gone, and the kernel releases it when our thread exits.
    fn release_leftovers(&mut self, within: std::time::Duration) {
        let me = sys::gettid();
        let deadline = std::time::Instant::now() + within;
        loop {
            let traced: Vec<i32> = procfs::tasks(self.pid)
                .unwrap_or_default()
                .into_iter()
                .filter(|&tid| procfs::tracer_pid(tid) == Some(me))
                .filter(|&tid| tid != self.pid || procfs::state(tid) != Some('Z'))
                .collect();
            if traced.is_empty() || std::time::Instant::now() >= deadline {
                return;
            }
            let mut progressed = false;
            for tid in traced {
                match sys::wait_nohang(tid) {
                    Ok(Some((_, sys::Status::Stopped { sig, event }))) => {
                        // A stop we never collected: let it go with its signal, if any
                        // (never our own SIGSTOP).
                        let deliver = if event == 0 && sig != libc::SIGSTOP && sig != libc::SIGTRAP
                        {
                            sig
                        } else {
                            0
                        };
                        let _ = sys::detach(tid, deliver);
                        progressed = true;
                    }
                    Ok(Some(_)) => progressed = true,
                    Ok(None) => {
                        // Stopped already (its stop reported before), or still running
                        // to its exit: try to detach; ESRCH means "not stopped yet".
                        if sys::detach(tid, 0).is_ok() {
                            progressed = true;
                        }
                    }
                    Err(_) => {}
                }
            }
            if !progressed {
                std::thread::sleep(std::time::Duration::from_micros(500));
            }
        }
    }

    fn kill_impl(&mut self) -> Result<(), BackendError> {
        if self.state == State::Gone {
            return Ok(());
        }
        let _ = self.interrupt.retire();
        sys::kill(self.pid, libc::SIGKILL).map_err(|e| e.os("kill"))?;
        // Reap every thread so no zombie (or stopped tracee) is left behind.
        loop {
            match sys::wait(-1) {
                Ok((tid, sys::Status::Exited(_) | sys::Status::Killed(_))) if tid == self.pid => {
                    break
                }
                // Killed threads still stop at PTRACE_EVENT_EXIT: let them finish dying.
                Ok((tid, sys::Status::Stopped { .. })) => {
                    let _ = sys::cont(tid, 0);
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        self.mark_gone();
        Ok(())
    }

    /// Emergency cleanup asked us to let go: detach (or kill) now.
    fn honour_cleanup(&mut self) -> Result<(), BackendError> {
        if !self.entry.requested.load(Ordering::Acquire) {
            return Ok(());
        }
        if self.launched {
            let _ = self.kill_impl();
        } else {
            let _ = self.detach_impl();
        }
        self.mark_gone();
        Err(BackendError::Os {
            op: "wait",
            why: "emergency cleanup released the process".into(),
        })
    }
}

impl Process for Tracee {
    fn pid(&self) -> u32 {
        self.pid as u32
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            reverse: false,
            checkpoints: false,
            restart: false,
            hw_watchpoints: debugregs::SLOTS,
            write: true,
        }
    }

    fn snapshot(&mut self) -> Result<Arc<dyn Snapshot>, BackendError> {
        Ok(self.live_snapshot()?)
    }

    fn set_registers(&mut self, tid: u32, regs: &Registers) -> Result<(), BackendError> {
        self.require_stopped()?;
        let tid = tid as i32;
        let t = self.threads.get_mut(&tid).ok_or(BackendError::Os {
            op: "set registers",
            why: format!("no thread {tid}"),
        })?;
        sys::set_regs(tid, regs).map_err(|e| e.os("set registers"))?;
        t.regs = Some(regs.clone());
        // Put there on purpose: resuming should execute the instruction, not trap.
        t.step_over = true;
        self.bump();
        Ok(())
    }

    fn fp_registers(&mut self, tid: u32) -> Result<Vec<u8>, BackendError> {
        self.require_stopped()?;
        sys::get_fpregs(tid as i32)
            .map(|b| b.to_vec())
            .map_err(|e| e.os("read floating-point registers"))
    }

    fn set_fp_registers(&mut self, tid: u32, fxsave: &[u8]) -> Result<(), BackendError> {
        self.require_stopped()?;
        let b: &[u8; 512] = fxsave.try_into().map_err(|_| BackendError::Os {
            op: "write floating-point registers",
            why: format!("{} bytes given, FXSAVE has 512", fxsave.len()),
        })?;
        sys::set_fpregs(tid as i32, b).map_err(|e| e.os("write floating-point registers"))
    }

    fn write_memory(&mut self, addr: Addr, bytes: &[u8]) -> Result<(), BackendError> {
        self.require_stopped()?;
        self.plans.clear();
        self.pads.forget_current();
        {
            let mut t = breakpoints::lock(&self.bps);
            t.write_memory(&self.mem, addr.0, bytes)
                .map_err(|e| e.os("write memory"))?;
            self.publish_shadow(&t);
        }
        if let Some(s) = &self.snap {
            s.forget(addr.0, bytes.len());
        }
        Ok(())
    }

    fn insert_breakpoint(&mut self, addr: Addr) -> Result<(), BackendError> {
        self.require_stopped()?;
        self.plans.clear();
        let mut t = breakpoints::lock(&self.bps);
        if t.inserted.contains_key(&addr.0) {
            return Ok(());
        }
        // Publish the original byte before the 0xCC lands (see `Live`).
        let mut orig = [0u8; 1];
        breakpoints::read_at(&self.mem, addr.0, &mut orig).map_err(|e| BackendError::Os {
            op: "insert breakpoint",
            why: format!("cannot read {}: {}", addr, e.describe()),
        })?;
        {
            let mut sh = self.live.shadow.write().unwrap_or_else(|p| p.into_inner());
            let i = sh.partition_point(|&(a, _)| a < addr.0);
            sh.insert(i, (addr.0, orig[0]));
        }
        let r = t.insert(&self.mem, addr.0);
        self.publish_shadow(&t);
        r
    }

    fn remove_breakpoint(&mut self, addr: Addr) -> Result<(), BackendError> {
        self.require_stopped()?;
        self.plans.clear();
        let mut t = breakpoints::lock(&self.bps);
        let r = t.remove(&self.mem, addr.0);
        self.publish_shadow(&t);
        r
    }

    fn set_fast_condition(
        &mut self,
        addr: Addr,
        cond: Option<FastCond>,
    ) -> Result<Armed, BackendError> {
        self.arm_condition(addr.0, cond)
    }

    fn breakpoints(&self) -> Vec<Addr> {
        breakpoints::lock(&self.bps)
            .inserted
            .keys()
            .map(|&a| Addr(a))
            .collect()
    }

    fn set_watchpoint(
        &mut self,
        slot: u8,
        addr: Addr,
        len: u8,
        kind: WatchKind,
    ) -> Result<(), BackendError> {
        self.require_stopped()?;
        if slot >= debugregs::SLOTS {
            return Err(BackendError::NoWatchSlot(debugregs::SLOTS));
        }
        debugregs::check(addr.0, len)?;
        let old = self.watches[slot as usize];
        self.watches[slot as usize] = Some(Watch {
            addr: addr.0,
            len,
            kind,
        });
        if let Err(e) = self.set_watches_everywhere() {
            self.watches[slot as usize] = old;
            let _ = self.set_watches_everywhere();
            return Err(e);
        }
        Ok(())
    }

    fn clear_watchpoint(&mut self, slot: u8) -> Result<(), BackendError> {
        self.require_stopped()?;
        if slot >= debugregs::SLOTS {
            return Ok(());
        }
        self.watches[slot as usize] = None;
        // Hits collected from other threads during the last stop no longer matter.
        self.deferred
            .retain(|(e, _)| !matches!(e, StopEvent::Watchpoint { slot: s, .. } if *s == slot));
        self.set_watches_everywhere()
    }

    fn resume(&mut self, how: Resume, dir: Direction) -> Result<(), BackendError> {
        if dir == Direction::Reverse {
            return Err(BackendError::Unsupported("run backwards"));
        }
        if let State::Partial(tid) = self.state {
            self.honour_cleanup()?;
            return match how {
                Resume::Continue => self.resume_partial(tid),
                Resume::Step(t) => match self.complete_stop()? {
                    Some(exit) => {
                        self.ready = Some(exit);
                        Ok(())
                    }
                    None => self.step(t as i32),
                },
            };
        }
        self.require_stopped()?;
        self.honour_cleanup()?;
        self.settle_holes();
        match how {
            Resume::Continue => self.resume_all(),
            Resume::Step(tid) => self.step(tid as i32),
        }
    }

    fn wait(&mut self) -> Result<StopEvent, BackendError> {
        self.wait_impl(false).map(|(ev, _)| ev)
    }

    fn wait_lazy(&mut self) -> Result<(StopEvent, bool), BackendError> {
        self.wait_impl(true)
    }

    fn stop_others(&mut self) -> Result<Option<StopEvent>, BackendError> {
        self.complete_stop()
    }

    fn discard_signal(&mut self, tid: u32) {
        if let Some(t) = self.threads.get_mut(&(tid as i32)) {
            t.pending_sig = 0;
        }
    }

    fn interrupter(&self) -> Arc<dyn Interrupter> {
        Arc::new(PtraceInterrupter(self.interrupt.clone()))
    }

    fn detach(&mut self) -> Result<(), BackendError> {
        self.detach_impl()
    }

    fn kill(&mut self) -> Result<(), BackendError> {
        self.kill_impl()
    }
}

impl Drop for Tracee {
    fn drop(&mut self) {
        if self.state != State::Gone {
            if self.launched {
                let _ = self.kill_impl();
            } else if self.detach_impl().is_err() {
                // Could not detach (e.g. dropped on another thread): the code bytes
                // must at least be restored so the program survives the kernel's
                // detach when the tracer thread exits.
                let _ = breakpoints::lock(&self.bps).remove_all(&self.mem);
            }
        }
        self.entry.done.store(true, Ordering::Release);
        cleanup::unregister(&self.entry);
    }
}

/// The low 64 bits of XMM0..15 in an FXSAVE area (user_fpregs_struct: xmm_space at
/// byte 160, 16 bytes per register).
fn xmm_low_halves(fx: &[u8; 512]) -> [u64; 16] {
    let mut out = [0u64; 16];
    for (i, v) in out.iter_mut().enumerate() {
        let at = 160 + 16 * i;
        if let Some(b) = fx.get(at..at + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(b);
            *v = u64::from_le_bytes(w);
        }
    }
    out
}
