//! The event loop: waiting for tracee stops, classifying them, all-stop, resuming.
//!
//! Rules (why they are what they are):
//! - SIGURG (goroutine preemption) and SIGPROF (the profiler) are passed straight back
//!   to the thread: a Go program gets them hundreds of times a second.
//! - Our interrupt signal (SIGSTOP, tracked by `InterruptState`) is never delivered.
//!   Other SIGSTOPs are reported but never re-injected either: delivering one would
//!   group-stop the whole program under us.
//! - While stopping every thread for one event, a thread that had hit a breakpoint has
//!   its PC put back on the 0xCC without being stepped over, so it hits it again after
//!   the resume (Delve's approach): the hit is never lost and never reported twice.
//!   A thread that got a signal meanwhile has it queued in `deferred` and reported by
//!   the next `wait` before anything runs.
//! - Stray PTRACE_EVENT_STOPs (an interrupt that arrived after the thread had already
//!   stopped for another reason) are resumed silently.

use super::debugregs;
use super::displaced::Refused;
use super::pads::InPad;
use super::procfs;
use super::sys::{self, Status};
use super::{breakpoints, State, Task, Tracee};
use crate::addr::Addr;
use crate::backend::{BackendError, StopEvent};
use crate::snapshot::SignalInfo;
use std::sync::atomic::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Every thread runs: handled stops are resumed.
    Running,
    /// Only this thread runs (a single step).
    Stepping(i32),
    /// Stopping everything: threads stay stopped whatever they report.
    Collecting,
}

pub(super) enum Outcome {
    Handled,
    Report(StopEvent),
    Exit(StopEvent),
}

/// si_code of a SIGTRAP from a hardware breakpoint (watchpoint).
const TRAP_HWBKPT: i32 = 4;
/// si_code of a SIGTRAP raised by an int3 instruction.
const SI_KERNEL: i32 = 0x80;

pub(super) fn is_passed_through(sig: i32) -> bool {
    sig == libc::SIGURG || sig == libc::SIGPROF
}

/// Signals raised by the instruction itself.
fn is_fault(sig: i32) -> bool {
    matches!(
        sig,
        libc::SIGSEGV | libc::SIGBUS | libc::SIGFPE | libc::SIGILL
    )
}

fn signal_info(tid: i32, signo: i32) -> SignalInfo {
    let mut info = SignalInfo {
        signo,
        tid: Some(tid as u32),
        ..SignalInfo::default()
    };
    if let Ok(si) = sys::siginfo(tid) {
        info.code = si.si_code;
        info.errno = si.si_errno;
        if matches!(
            signo,
            libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE
        ) {
            // SAFETY: si_addr is valid for these signals.
            info.fault_addr = Some(Addr(unsafe { si.si_addr() } as u64));
        } else if si.si_code <= 0 {
            // SI_USER / SI_TKILL (<= 0): sent by kill/tgkill, so si_pid is valid.
            // SAFETY: si_pid is valid for user-sent signals.
            info.sender_pid = Some(unsafe { si.si_pid() });
        }
    }
    info
}

impl Tracee {
    /// Let a handled thread go on according to the mode.
    fn restart(&mut self, tid: i32, mode: Mode) -> Result<(), BackendError> {
        let r = match mode {
            Mode::Running => sys::cont(tid, 0),
            Mode::Stepping(s) if s == tid => sys::singlestep(tid, 0),
            _ => return Ok(()),
        };
        let t = self.threads.entry(tid).or_default();
        match r {
            Ok(()) => {
                t.running = true;
                t.regs = None;
                Ok(())
            }
            // Killed meanwhile (SIGKILL, exit_group): its exit will be reaped.
            Err(e) if e.0 == libc::ESRCH => {
                t.exiting = true;
                t.running = true;
                Ok(())
            }
            Err(e) => Err(e.os("resume thread")),
        }
    }

    pub(super) fn handle(
        &mut self,
        tid: i32,
        st: Status,
        mode: Mode,
    ) -> Result<Outcome, BackendError> {
        let (sig, event) = match st {
            Status::Exited(code) => {
                return Ok(self.thread_gone(tid, StopEvent::Exited { status: code }))
            }
            Status::Killed(signo) => return Ok(self.thread_gone(tid, StopEvent::Killed { signo })),
            Status::Stopped { sig, event } => (sig, event),
        };
        let Some(t) = self.threads.get_mut(&tid) else {
            // A new thread whose first stop came before its parent's clone event.
            self.threads.insert(tid, Task::default());
            self.new_thread_stopped(tid, mode)?;
            return Ok(Outcome::Handled);
        };
        t.running = false;
        match event {
            libc::PTRACE_EVENT_CLONE => {
                let new = sys::event_msg(tid).map_err(|e| e.os("read clone event"))? as i32;
                // wait(-1) may report the child's whole life (first stop, exit, reap)
                // before its parent's clone event. A reaped thread is gone from /proc
                // (only we reap our tracees), and must not come back as one whose
                // first stop is still to come: stop_all would wait for it forever.
                if !self.threads.contains_key(&new) && procfs::task_exists(self.pid, new) {
                    self.threads.insert(
                        new,
                        Task {
                            running: true,
                            initial_pending: true,
                            ..Task::default()
                        },
                    );
                }
                self.restart(tid, mode)?;
            }
            libc::PTRACE_EVENT_EXIT => {
                // Let it die; it is reaped later. It no longer counts as a thread.
                t.exiting = true;
                let _ = sys::cont(tid, 0);
                t.running = true;
            }
            libc::PTRACE_EVENT_EXEC => {
                // Only the exec'ing thread survives, under the leader's tid.
                self.threads.retain(|&k, _| k == self.pid);
                self.threads.insert(self.pid, Task::default());
                self.on_exec()?;
                self.restart(self.pid, mode)?;
            }
            libc::PTRACE_EVENT_STOP => {
                if t.initial_pending {
                    t.initial_pending = false;
                    self.new_thread_stopped(tid, mode)?;
                } else {
                    // Our interrupt, a late interrupt, or a group-stop: never an event.
                    t.interrupt_pending = false;
                    self.restart(tid, mode)?;
                }
            }
            0 => return self.signal_stop(tid, sig, mode),
            _ => self.restart(tid, mode)?,
        }
        Ok(Outcome::Handled)
    }

    fn new_thread_stopped(&mut self, tid: i32, mode: Mode) -> Result<(), BackendError> {
        // Debug registers are not inherited across clone: arm the watchpoints here.
        match self.apply_watches(tid) {
            Ok(()) => {}
            Err(e) if e.0 == libc::ESRCH => {}
            Err(e) => return Err(e.os("set debug registers")),
        }
        if let Some(t) = self.threads.get_mut(&tid) {
            t.running = false;
            t.initial_pending = false;
        }
        self.restart(tid, mode)
    }

    fn thread_gone(&mut self, tid: i32, ev: StopEvent) -> Outcome {
        self.threads.remove(&tid);
        if tid == self.pid {
            // The leader is reported last, once every other thread is gone.
            self.mark_gone();
            return Outcome::Exit(ev);
        }
        Outcome::Handled
    }

    fn signal_stop(&mut self, tid: i32, sig: i32, mode: Mode) -> Result<Outcome, BackendError> {
        if sig == libc::SIGTRAP {
            if let Some(o) = self.trap(tid, mode)? {
                return Ok(o);
            }
        }
        if sig == libc::SIGSTOP && self.interrupt.consume() {
            self.interrupts_consumed += 1;
            return Ok(match mode {
                // The process is being stopped anyway: the interrupt is satisfied.
                Mode::Collecting => Outcome::Handled,
                _ => Outcome::Report(StopEvent::Interrupted),
            });
        }
        let t = self.threads.entry(tid).or_default();
        if is_passed_through(sig) {
            match mode {
                Mode::Running => {
                    return match sys::cont(tid, sig) {
                        Ok(()) => {
                            t.running = true;
                            t.regs = None;
                            Ok(Outcome::Handled)
                        }
                        Err(e) if e.0 == libc::ESRCH => Ok(Outcome::Handled),
                        Err(e) => Err(e.os("resume thread")),
                    };
                }
                // Deliver it at the next resume; a step must not run the handler.
                _ => {
                    t.pending_sig = sig;
                    self.restart(tid, mode)?;
                    return Ok(Outcome::Handled);
                }
            }
        }
        t.pending_sig = if sig == libc::SIGSTOP { 0 } else { sig };
        if self.pads.area().is_some() {
            // A fault in a jump pad must reach the program's handler (and the user) at
            // the program's own PC: Go's sigpanic unwinds from it. regs_of moves it.
            if let Some(t) = self.threads.get_mut(&tid) {
                t.regs = None;
            }
            let _ = self.regs_of(tid);
        }
        let info = signal_info(tid, sig);
        let ev = StopEvent::Signal {
            tid: tid as u32,
            signo: sig,
        };
        if mode == Mode::Collecting {
            self.deferred.push_back((ev, Some(info)));
            return Ok(Outcome::Handled);
        }
        self.last_signal = Some(info);
        Ok(Outcome::Report(ev))
    }

    /// A SIGTRAP: breakpoint, finished step, or watchpoint. None: a genuine SIGTRAP.
    fn trap(&mut self, tid: i32, mode: Mode) -> Result<Option<Outcome>, BackendError> {
        let mut regs = match sys::get_regs(tid) {
            Ok(r) => r,
            Err(e) if e.0 == libc::ESRCH => return Ok(Some(Outcome::Handled)),
            Err(e) => return Err(e.os("read registers")),
        };
        // A condition pad's test was true: report it as the int3 at its breakpoint
        // (the thread is as it was there but for RIP).
        if let Some(InPad::Hit(pc)) = self.pads.locate(regs.rip) {
            regs.rip = pc + 1;
        }
        // A watchpoint that fired inside a jump pad: report it from the program's code.
        self.leave_pad(tid, &mut regs);
        let stepping = self.threads.get(&tid).and_then(|t| t.stepping);
        let bp = regs.rip.wrapping_sub(1);
        let (on_bp, was_bp) = {
            let t = breakpoints::lock(&self.bps);
            (t.inserted.contains_key(&bp), t.removed.contains(&bp))
        };
        if was_bp && !on_bp && stepping.is_none() && self.reinsert != Some(bp) {
            // The 0xCC was executed before its removal and the trap reported only now
            // (see `Table::removed`): an int3's trap has si_code SI_KERNEL. Rewind so the
            // original instruction runs, and go on as if nothing happened.
            if sys::siginfo(tid).is_ok_and(|si| si.si_code == SI_KERNEL) {
                regs.rip = bp;
                sys::set_regs(tid, &regs).map_err(|e| e.os("rewind breakpoint"))?;
                let t = self.threads.entry(tid).or_default();
                t.regs = Some(regs);
                self.restart(tid, mode)?;
                return Ok(Some(Outcome::Handled));
            }
        }
        // A step that executed an inserted 0xCC is a hit, not a step.
        // (Not when we lifted that very breakpoint for the step: a 1-byte instruction
        // there, e.g. `push rbp`, also ends one byte past it.)
        let lifted = self.reinsert == Some(bp);
        if on_bp && !lifted && stepping.is_none_or(|from| from == bp) {
            regs.rip = bp;
            sys::set_regs(tid, &regs).map_err(|e| e.os("rewind breakpoint"))?;
            let t = self.threads.entry(tid).or_default();
            t.regs = Some(regs);
            t.stepping = None;
            if mode == Mode::Collecting {
                t.step_over = false;
                return Ok(Some(Outcome::Handled));
            }
            t.step_over = true;
            return Ok(Some(Outcome::Report(StopEvent::Breakpoint {
                tid: tid as u32,
                pc: Addr(bp),
            })));
        }
        // DR6 is read even with no watchpoint armed: a hit of a slot cleared since (its
        // SIGTRAP was still queued when the thread stopped) must be swallowed, not
        // reported as a SIGTRAP. This path is never taken by breakpoint hits.
        let fired = debugregs::fired(tid).map_err(|e| e.os("read debug status"))?;
        let stale_hit = match fired {
            Some(slot) => self.watches[slot as usize].is_none(),
            None => sys::siginfo(tid).is_ok_and(|si| si.si_code == TRAP_HWBKPT),
        };
        let t = self.threads.entry(tid).or_default();
        t.regs = Some(regs);
        if stale_hit && stepping.is_none() {
            self.restart(tid, mode)?;
            return Ok(Some(Outcome::Handled));
        }
        if let Some(slot) = fired.filter(|_| !stale_hit) {
            t.stepping = None;
            t.step_over = true;
            let addr = self.watches[slot as usize].map_or(0, |w| w.addr);
            let ev = StopEvent::Watchpoint {
                tid: tid as u32,
                slot,
                addr: Addr(addr),
            };
            if mode == Mode::Collecting {
                self.deferred.push_back((ev, None));
                return Ok(Some(Outcome::Handled));
            }
            return Ok(Some(Outcome::Report(ev)));
        }
        if stepping.is_some() {
            t.stepping = None;
            t.step_over = true;
            return Ok(Some(Outcome::Report(StopEvent::Stepped {
                tid: tid as u32,
            })));
        }
        Ok(None)
    }

    /// Interrupt every running thread and collect its stop. Returns the exit event if
    /// the process ended meanwhile.
    pub(super) fn stop_all(&mut self) -> Result<Option<StopEvent>, BackendError> {
        let to_interrupt: Vec<i32> = self
            .threads
            .iter()
            // Interrupt even threads with an interrupt outstanding from an earlier stop:
            // the kernel may have folded it into the other stop they reported then.
            // A second PTRACE_INTERRUPT costs nothing: at most one trap results.
            .filter(|(_, t)| t.running && !t.exiting && !t.initial_pending)
            .map(|(&k, _)| k)
            .collect();
        for tid in to_interrupt {
            match sys::interrupt(tid) {
                Ok(()) => {
                    if let Some(t) = self.threads.get_mut(&tid) {
                        t.interrupt_pending = true;
                    }
                }
                Err(e) if e.0 == libc::ESRCH => {
                    if let Some(t) = self.threads.get_mut(&tid) {
                        t.exiting = true;
                    }
                }
                Err(e) => return Err(e.os("interrupt thread")),
            }
        }
        while self.threads.values().any(|t| t.running && !t.exiting) {
            let (tid, st) = match sys::wait(-1) {
                Ok(x) => x,
                Err(e) if e.0 == libc::ECHILD => {
                    self.mark_gone();
                    return Ok(Some(StopEvent::Killed {
                        signo: libc::SIGKILL,
                    }));
                }
                Err(e) => return Err(e.os("wait")),
            };
            match self.handle(tid, st, Mode::Collecting)? {
                Outcome::Handled => {}
                Outcome::Report(ev) => self.deferred.push_back((ev, None)),
                Outcome::Exit(ev) => return Ok(Some(ev)),
            }
        }
        Ok(None)
    }

    /// Wait for the next event. With `lazy`, a breakpoint hit while every thread ran
    /// is returned without stopping the others (the flag says so; see `State::Partial`).
    pub(super) fn wait_impl(&mut self, lazy: bool) -> Result<(StopEvent, bool), BackendError> {
        if let Some(ev) = self.ready.take() {
            if ev.is_exit() {
                self.mark_gone();
            } else if self.state != State::Gone {
                self.state = State::Stopped;
            }
            return Ok((ev, false));
        }
        let mode = match self.state {
            State::Gone => return Err(BackendError::Exited),
            State::Stopped | State::Partial(_) => {
                return Err(BackendError::Os {
                    op: "wait",
                    why: "the process is stopped: resume it first".into(),
                })
            }
            State::Running => Mode::Running,
            State::Stepping(tid) => Mode::Stepping(tid),
        };
        loop {
            let (tid, st) = match sys::wait(-1) {
                Ok(x) => x,
                Err(e) if e.0 == libc::ECHILD => {
                    self.mark_gone();
                    return Err(BackendError::Exited);
                }
                Err(e) => return Err(e.os("wait")),
            };
            let out = self.handle(tid, st, mode)?;
            if self.entry.requested.load(Ordering::Acquire) {
                if let Outcome::Exit(ev) = out {
                    return Ok((ev, false));
                }
                self.state = State::Stopped;
                let _ = self.stop_all();
                return self
                    .honour_cleanup()
                    .map(|_| (StopEvent::Interrupted, false));
            }
            match out {
                Outcome::Handled => continue,
                Outcome::Exit(ev) => return Ok((ev, false)),
                Outcome::Report(ev) => {
                    if let Some(pc) = self.reinsert.take() {
                        let _ = breakpoints::lock(&self.bps).relower(&self.mem, pc);
                    }
                    if lazy && mode == Mode::Running {
                        if let StopEvent::Breakpoint { tid, .. } = ev {
                            self.state = State::Partial(tid as i32);
                            return Ok((ev, true));
                        }
                    }
                    if let Some(exit) = self.stop_all()? {
                        return Ok((exit, false));
                    }
                    self.state = State::Stopped;
                    return Ok((ev, false));
                }
            }
        }
    }

    /// Make a partial stop a full one. Returns the exit event if the process ended.
    pub(super) fn complete_stop(&mut self) -> Result<Option<StopEvent>, BackendError> {
        if !matches!(self.state, State::Partial(_)) {
            return Ok(None);
        }
        let seen = self.interrupts_consumed;
        if let Some(exit) = self.stop_all()? {
            return Ok(Some(exit));
        }
        self.state = State::Stopped;
        // The partial snapshot lacks the other threads.
        self.bump();
        if self.interrupts_consumed != seen {
            // A Ctrl-C that arrived meanwhile: report it after this stop.
            self.deferred.push_back((StopEvent::Interrupted, None));
        }
        Ok(None)
    }

    /// Resume from a partial stop: only `tid` is stopped, on a breakpoint. It steps over
    /// it out of line and runs on; when that cannot be done, everything is stopped and
    /// resumed the all-stop way.
    pub(super) fn resume_partial(&mut self, tid: i32) -> Result<(), BackendError> {
        self.live.generation.fetch_add(1, Ordering::AcqRel);
        self.snap = None;
        self.last_signal = None;
        let seen = self.interrupts_consumed;
        let fallback = match self.displaced_step(tid) {
            Ok(()) => {
                let Some(t) = self.threads.get_mut(&tid) else {
                    self.state = State::Running;
                    return Ok(());
                };
                let sig = std::mem::take(&mut t.pending_sig);
                t.step_over = false;
                t.regs = None;
                t.running = true;
                match sys::cont(tid, sig) {
                    Ok(()) => {}
                    Err(e) if e.0 == libc::ESRCH => t.exiting = true,
                    Err(e) => return Err(e.os("resume")),
                }
                self.state = State::Running;
                return Ok(());
            }
            Err(Refused::Unsuitable) => None,
            Err(Refused::Gone) => {
                self.state = State::Running;
                return Ok(());
            }
            Err(Refused::Interrupted(st)) => Some(st),
        };
        if let Some(st) = fallback {
            // The thread stopped for something else: collect it as stop_all would.
            if let Outcome::Exit(ev) = self.handle(tid, st, Mode::Collecting)? {
                self.ready = Some(ev);
                return Ok(());
            }
        }
        if let Some(exit) = self.stop_all()? {
            self.ready = Some(exit);
            return Ok(());
        }
        self.state = State::Stopped;
        if self.interrupts_consumed != seen {
            self.ready = Some(StopEvent::Interrupted);
            return Ok(());
        }
        self.resume_all()
    }

    fn prepare_resume(&mut self) -> bool {
        self.live.generation.fetch_add(1, Ordering::AcqRel);
        self.snap = None;
        self.last_signal = None;
        if let Some((ev, info)) = self.deferred.pop_front() {
            // Report what another thread did during the last stop before running on.
            self.last_signal = info;
            self.ready = Some(ev);
            return false;
        }
        true
    }

    fn pc_on_breakpoint(&mut self, tid: i32) -> Result<Option<u64>, BackendError> {
        let pc = match self.regs_of(tid) {
            Ok(r) => r.rip,
            Err(e) if e.0 == libc::ESRCH => return Ok(None),
            Err(e) => return Err(e.os("read registers")),
        };
        Ok(breakpoints::lock(&self.bps)
            .inserted
            .contains_key(&pc)
            .then_some(pc))
    }

    pub(super) fn resume_all(&mut self) -> Result<(), BackendError> {
        if !self.prepare_resume() {
            return Ok(());
        }
        // A thread owed a fault (SIGSEGV at the breakpoint's instruction) gets it where
        // it is, before the instruction runs again: its handler decides what comes next
        // (Go's sigpanic, or a retry that hits the breakpoint again, as a new hit).
        for t in self.threads.values_mut() {
            if t.step_over && is_fault(t.pending_sig) {
                t.step_over = false;
            }
        }
        let over: Vec<i32> = self
            .threads
            .iter()
            .filter(|(_, t)| t.step_over && !t.exiting)
            .map(|(&k, _)| k)
            .collect();
        for tid in over {
            if let Some(pc) = self.pc_on_breakpoint(tid)? {
                if let Some(ev) = self.step_over(tid, pc)? {
                    self.ready = Some(ev);
                    return Ok(());
                }
            }
        }
        let tids: Vec<i32> = self
            .threads
            .iter()
            .filter(|(_, t)| !t.running && !t.exiting)
            .map(|(&k, _)| k)
            .collect();
        for tid in tids {
            let Some(t) = self.threads.get_mut(&tid) else {
                continue;
            };
            let sig = std::mem::take(&mut t.pending_sig);
            t.step_over = false;
            t.regs = None;
            t.running = true;
            match sys::cont(tid, sig) {
                Ok(()) => {}
                Err(e) if e.0 == libc::ESRCH => t.exiting = true,
                Err(e) => return Err(e.os("resume")),
            }
        }
        self.state = State::Running;
        Ok(())
    }

    /// Execute the instruction under a breakpoint on this thread alone, with the
    /// original byte back in place for that one instruction. Every other thread is
    /// stopped, so none can run past the missing 0xCC. Returns an event to report
    /// instead of resuming (a watchpoint fired by that instruction, a signal, exit).
    fn step_over(&mut self, tid: i32, pc: u64) -> Result<Option<StopEvent>, BackendError> {
        let lifted = breakpoints::lock(&self.bps)
            .lift(&self.mem, pc)
            .map_err(|e| e.os("lift breakpoint"))?;
        if !lifted {
            return Ok(None);
        }
        let result = self.step_over_inner(tid);
        if self.state != State::Gone {
            // Put the breakpoint back even if stepping failed: never leave a hole.
            breakpoints::lock(&self.bps)
                .relower(&self.mem, pc)
                .map_err(|e| e.os("reinsert breakpoint"))?;
        }
        if let Some(t) = self.threads.get_mut(&tid) {
            t.step_over = false;
            t.regs = None;
        }
        result
    }

    fn step_over_inner(&mut self, tid: i32) -> Result<Option<StopEvent>, BackendError> {
        loop {
            match sys::singlestep(tid, 0) {
                Ok(()) => {}
                Err(e) if e.0 == libc::ESRCH => return Ok(None),
                Err(e) => return Err(e.os("step over breakpoint")),
            }
            let st = match sys::wait(tid) {
                Ok((_, st)) => st,
                Err(e) if e.0 == libc::ECHILD => return Ok(None),
                Err(e) => return Err(e.os("wait")),
            };
            match st {
                Status::Stopped {
                    sig: libc::SIGTRAP,
                    event: 0,
                } => {
                    if self.watches.iter().any(Option::is_some) {
                        if let Some(slot) =
                            debugregs::fired(tid).map_err(|e| e.os("read debug status"))?
                        {
                            let addr = self.watches[slot as usize].map_or(0, |w| w.addr);
                            if let Some(t) = self.threads.get_mut(&tid) {
                                t.step_over = false;
                            }
                            return Ok(Some(StopEvent::Watchpoint {
                                tid: tid as u32,
                                slot,
                                addr: Addr(addr),
                            }));
                        }
                    }
                    return Ok(None);
                }
                Status::Stopped { event: 0, .. } => {
                    let seen = self.interrupts_consumed;
                    match self.handle(tid, st, Mode::Collecting)? {
                        Outcome::Report(ev) => return Ok(Some(ev)),
                        Outcome::Exit(ev) => return Ok(Some(ev)),
                        Outcome::Handled => {}
                    }
                    if self.interrupts_consumed != seen {
                        if let Some(t) = self.threads.get_mut(&tid) {
                            t.step_over = true;
                        }
                        return Ok(Some(StopEvent::Interrupted));
                    }
                    if let Some((ev, info)) = self.deferred.pop_back() {
                        // A signal the user should see arrived before the step: report it
                        // now; the thread is still on the breakpoint and steps over later.
                        self.last_signal = info;
                        if let Some(t) = self.threads.get_mut(&tid) {
                            t.step_over = true;
                        }
                        return Ok(Some(ev));
                    }
                }
                Status::Stopped {
                    event: libc::PTRACE_EVENT_EXIT,
                    ..
                } => {
                    self.handle(tid, st, Mode::Collecting)?;
                    return Ok(None);
                }
                Status::Stopped { .. } => {
                    if let Outcome::Exit(ev) = self.handle(tid, st, Mode::Collecting)? {
                        return Ok(Some(ev));
                    }
                }
                Status::Exited(_) | Status::Killed(_) => {
                    return match self.handle(tid, st, Mode::Collecting)? {
                        Outcome::Exit(ev) => Ok(Some(ev)),
                        _ => Ok(None),
                    };
                }
            }
        }
    }

    pub(super) fn step(&mut self, tid: i32) -> Result<(), BackendError> {
        let Some(t) = self.threads.get(&tid) else {
            return Err(BackendError::Os {
                op: "step",
                why: format!("no thread {tid}"),
            });
        };
        if t.exiting {
            return Err(BackendError::Os {
                op: "step",
                why: format!("thread {tid} is exiting"),
            });
        }
        let step_over = t.step_over;
        let pc = match self.regs_of(tid) {
            Ok(r) => r.rip,
            Err(e) => return Err(e.os("read registers")),
        };
        if !self.prepare_resume() {
            return Ok(());
        }
        // A condition jump is lifted even when no hit was reported here: stepping the
        // jmp would only land in its pad, which puts the thread back here.
        let jumped = breakpoints::lock(&self.bps).jumps.contains_key(&pc);
        if step_over || jumped {
            let lifted = breakpoints::lock(&self.bps)
                .lift(&self.mem, pc)
                .map_err(|e| e.os("lift breakpoint"))?;
            if lifted {
                self.reinsert = Some(pc);
            }
        }
        let Some(t) = self.threads.get_mut(&tid) else {
            return Ok(());
        };
        let sig = std::mem::take(&mut t.pending_sig);
        t.stepping = Some(pc);
        t.step_over = false;
        t.regs = None;
        t.running = true;
        if let Err(e) = sys::singlestep(tid, sig) {
            t.running = false;
            t.stepping = None;
            if let Some(pc) = self.reinsert.take() {
                let _ = breakpoints::lock(&self.bps).relower(&self.mem, pc);
            }
            return Err(e.os("step"));
        }
        self.state = State::Stepping(tid);
        Ok(())
    }
}
