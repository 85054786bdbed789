//! The debugger logic written once above every execution backend: the breakpoint table
//! with conditions, hit counts and tracepoints, Delve's implicit panic and fatal-throw
//! breakpoints, and Go-aware `next`/`step`/`stepout` that stay on one goroutine.
//!
//! A [`Debugger`] owns a [`Process`] and publishes one immutable [`Target`] per stop,
//! built over the backend's snapshot and sharing the binary's [`Image`] and the Go
//! runtime's static facts with the previous stop. Everything that reads a core reads a
//! stop unchanged.

pub mod breakpoints;
mod call;
mod call_abi;
pub mod dump;
mod fastcond;
pub mod locate;
pub mod returns;
pub mod reverse;
mod set;
mod step;
mod trace;

use crate::addr::Addr;
use crate::backend::{BackendError, Direction, Process, Resume, StopEvent};
use crate::target::{Image, OpenError, Target};
use breakpoints::{Breakpoint, Breakpoints, HitCondition, FATAL_THROW, FATAL_THROW_ID};
use breakpoints::{UNRECOVERED_PANIC, UNRECOVERED_PANIC_ID};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("{0}")]
    Open(#[from] OpenError),
    #[error("{0}")]
    Location(String),
    #[error("Process {pid} has exited with status {status}")]
    Exited { pid: u32, status: i32 },
    #[error("{0}")]
    Invalid(String),
}

/// Why the debugger stopped, as the front ends report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// Stopped at the program's first instruction (`exec`) or where it was (`attach`).
    Entry,
    /// A user or implicit breakpoint (its id).
    Breakpoint(i64),
    /// A `next`, `step`, `stepout` or `step-instruction` completed.
    Step,
    /// The program received a signal (SIGSEGV, ...), to be delivered when it resumes.
    Signal(i32),
    /// Ctrl-C, `halt`.
    Halted,
    Exited(i32),
    Killed(i32),
    /// A hardware watchpoint (its breakpoint id) fired.
    Watchpoint(i64),
    /// The frame of a stack variable being watched returned: the watchpoint (named)
    /// was cleared.
    WatchOutOfScope(String),
}

/// One stop: why, on which thread and goroutine, where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    pub reason: StopReason,
    pub tid: Option<u32>,
    pub goid: Option<u64>,
    pub pc: Option<Addr>,
    /// Tracepoint lines printed while running to this stop.
    pub trace: Vec<String>,
    /// A `next`/`step`/`stepout` was cut short by a breakpoint hit on another goroutine.
    pub interrupted_step: bool,
    /// Delve's "Values returned:" block: a function returned to this stop (`stepout`,
    /// `next`/`step` out of a function, `call`). Empty when it returns nothing.
    pub returned: Option<Vec<returns::Returned>>,
}

impl Stop {
    fn new(reason: StopReason) -> Stop {
        Stop {
            reason,
            tid: None,
            goid: None,
            pc: None,
            trace: Vec::new(),
            interrupted_step: false,
            returned: None,
        }
    }
    pub fn exited(&self) -> bool {
        matches!(self.reason, StopReason::Exited(_) | StopReason::Killed(_))
    }
}

/// What to do with the process when the debugger is done with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Started by us (`exec`, `debug`): killed on exit unless detached.
    Launched,
    /// Attached to (`attach`): detached on exit, left running.
    Attached,
}

pub struct Debugger {
    proc: Box<dyn Process>,
    image: Arc<Image>,
    target: Arc<Target>,
    pub breakpoints: Breakpoints,
    origin: Origin,
    pid: u32,
    exit: Option<i32>,
    /// Addresses patched for a step in progress (not user breakpoints).
    temp: BTreeSet<Addr>,
    /// Addresses the backend has patched, to sync with the table.
    inserted: BTreeSet<Addr>,
    /// Conditions offered to the backend to test in the tracee (`fastcond.rs`), by
    /// address, whether or not it took them: asked again only when they change.
    fast: BTreeMap<Addr, String>,
    last: Stop,
    /// Starts the program again, for `restart` (launched processes only).
    relaunch: Option<Relauncher>,
    /// Handed out by `interrupter()`: it follows `restart` to the new process, so a
    /// front end that took it once (a SIGINT thread) never signals a dead one.
    interrupt: Arc<CurrentInterrupter>,
    /// Where tracepoint lines go as they happen (`coroner trace`); without it they are
    /// collected into the next stop.
    trace_sink: Option<TraceSink>,
}

/// Receives tracepoint lines the moment they are produced.
pub type TraceSink = Box<dyn FnMut(&str) + Send>;

/// The interrupter of whichever process the debugger drives now.
struct CurrentInterrupter(std::sync::Mutex<Arc<dyn crate::backend::Interrupter>>);

impl crate::backend::Interrupter for CurrentInterrupter {
    fn interrupt(&self) {
        let i = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        i.interrupt();
    }
}

/// Starts a fresh copy of the program stopped at its first instruction.
/// Starts the program again; `Some(args)` replaces its arguments for this and every
/// later restart (Delve's `restart newargv...`), None keeps them.
pub type Relauncher =
    Box<dyn FnMut(Option<&[String]>) -> Result<Box<dyn Process>, BackendError> + Send>;

impl Debugger {
    /// Take over a stopped process: read its first stop and set Delve's implicit
    /// breakpoints.
    pub fn new(
        mut proc: Box<dyn Process>,
        image: Arc<Image>,
        origin: Origin,
    ) -> Result<Debugger, ExecError> {
        let snap = proc.snapshot()?;
        let target = Arc::new(Target::new(snap, image.clone(), None, Vec::new())?);
        let pid = proc.pid();
        let interrupt = Arc::new(CurrentInterrupter(std::sync::Mutex::new(
            proc.interrupter(),
        )));
        let mut d = Debugger {
            interrupt,
            trace_sink: None,
            proc,
            image,
            target,
            breakpoints: Breakpoints::new(),
            origin,
            pid,
            exit: None,
            temp: BTreeSet::new(),
            inserted: BTreeSet::new(),
            fast: BTreeMap::new(),
            last: Stop::new(StopReason::Entry),
            relaunch: None,
        };
        d.implicit_breakpoints();
        d.sync_breakpoints()?;
        Ok(d)
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }
    pub fn origin(&self) -> Origin {
        self.origin
    }
    /// The current stop.
    pub fn target(&self) -> &Arc<Target> {
        &self.target
    }
    pub fn last_stop(&self) -> &Stop {
        &self.last
    }
    pub fn exited(&self) -> Option<i32> {
        self.exit
    }
    pub fn process(&mut self) -> &mut dyn Process {
        self.proc.as_mut()
    }
    pub fn interrupter(&self) -> Arc<dyn crate::backend::Interrupter> {
        self.interrupt.clone()
    }

    fn alive(&self) -> Result<(), ExecError> {
        match self.exit {
            Some(status) => Err(ExecError::Exited {
                pid: self.pid,
                status,
            }),
            None => Ok(()),
        }
    }

    /// Delve's `unrecovered-panic` (runtime.startpanic, else runtime.fatalpanic) and
    /// `runtime-fatal-throw` (runtime.throw, runtime.fatal, runtime.fatalsignal).
    fn implicit_breakpoints(&mut self) {
        let t = self.target.clone();
        let find = |names: &[&str]| -> Vec<locate::Resolved> {
            names
                .iter()
                .filter_map(|n| t.pclntab().func_by_name(n))
                .map(|f| locate::function_entry(&t, &f))
                .collect()
        };
        let mut panic = find(&["runtime.startpanic"]);
        if panic.is_empty() {
            panic = find(&["runtime.fatalpanic"]);
        }
        if let Some(r) = panic.into_iter().next() {
            self.breakpoints.list.push(Breakpoint {
                id: UNRECOVERED_PANIC_ID,
                name: UNRECOVERED_PANIC.into(),
                addrs: r.addrs,
                function: r.function,
                file: r.file,
                line: r.line,
                variables: vec!["runtime.curg._panic.arg".into()],
                enabled: true,
                ..Default::default()
            });
        }
        let throws = find(&["runtime.throw", "runtime.fatal", "runtime.fatalsignal"]);
        if let Some(first) = throws.first().cloned() {
            let multiple = throws.len() > 1;
            self.breakpoints.list.push(Breakpoint {
                id: FATAL_THROW_ID,
                name: FATAL_THROW.into(),
                addrs: throws.iter().flat_map(|r| r.addrs.clone()).collect(),
                function: if multiple {
                    "(multiple functions)".into()
                } else {
                    first.function
                },
                file: if multiple {
                    "<multiple locations>".into()
                } else {
                    first.file
                },
                line: if multiple { 0 } else { first.line },
                enabled: true,
                ..Default::default()
            });
        }
    }

    /// Make the backend's patched addresses equal the table's wanted ones plus a step's
    /// temporary ones.
    fn sync_breakpoints(&mut self) -> Result<(), ExecError> {
        let mut want: BTreeSet<Addr> = self.breakpoints.wanted_addrs().into_iter().collect();
        want.extend(self.temp.iter().copied());
        want.extend(
            self.breakpoints
                .list
                .iter()
                .filter_map(|b| b.watch.as_ref().and_then(|w| w.scope).map(|s| s.0)),
        );
        let stale: Vec<Addr> = self.inserted.difference(&want).copied().collect();
        let new: Vec<Addr> = want.difference(&self.inserted).copied().collect();
        if !stale.is_empty() || !new.is_empty() {
            let done = self.proc.update_breakpoints(&stale, &new);
            for a in &new {
                // A fresh int3: whatever was armed there before is gone.
                self.fast.remove(a);
            }
            if let Err(e) = done {
                // Whatever the backend managed before the failure: ask it.
                self.inserted = self.proc.breakpoints().into_iter().collect();
                return Err(e.into());
            }
            for a in &stale {
                self.inserted.remove(a);
            }
            self.inserted.extend(new);
        }
        self.sync_fast_conditions()
    }

    /// Offer the backend the conditions it could test in the tracee: at addresses where
    /// one enabled, stopping breakpoint with a condition is the only reason to stop
    /// (a `next`'s temporary breakpoint or a watchpoint's frame end there must trap).
    fn sync_fast_conditions(&mut self) -> Result<(), ExecError> {
        let mut want: BTreeMap<Addr, String> = BTreeMap::new();
        // A read watchpoint would fire on the pad's own read of the variable (and again
        // at every retry): no compiled tests while one is set.
        let reads = self.breakpoints.list.iter().any(|b| {
            b.watch
                .as_ref()
                .is_some_and(|w| w.kind != crate::backend::WatchKind::Write)
        });
        let candidates = if reads {
            &BTreeSet::new()
        } else {
            &self.inserted
        };
        for &a in candidates {
            if self.temp.contains(&a) || self.scope_watch_at(a).is_some() {
                continue;
            }
            let ids = self.breakpoints.at(a);
            let [id] = ids.as_slice() else { continue };
            let Some(b) = self.breakpoints.get(*id) else {
                continue;
            };
            if b.tracepoint || b.watch.is_some() || !b.addrs.contains(&a) {
                continue;
            }
            if let Some(c) = &b.cond {
                want.insert(a, c.clone());
            }
        }
        let gone: Vec<Addr> = self
            .fast
            .iter()
            .filter(|(a, c)| want.get(a) != Some(c))
            .map(|(&a, _)| a)
            .collect();
        for a in gone {
            if self.inserted.contains(&a) {
                self.proc.set_fast_condition(a, None)?;
            }
            self.fast.remove(&a);
        }
        for (a, c) in want {
            if self.fast.contains_key(&a) {
                continue;
            }
            let armed = match fastcond::compile(&self.target, a, &c) {
                Some(fc) => self.proc.set_fast_condition(a, Some(fc))?,
                None => crate::backend::Armed::No,
            };
            if armed != crate::backend::Armed::Later {
                self.fast.insert(a, c);
            }
        }
        Ok(())
    }

    /// A new view after the process stopped.
    fn refresh(&mut self) -> Result<(), ExecError> {
        let snap = self.proc.snapshot()?;
        let prev = self.target.runtime();
        let t = Target::new(snap, self.image.clone(), Some(prev), Vec::new())?;
        self.target = Arc::new(t);
        Ok(())
    }

    // ----- breakpoints -----

    /// `break [NAME] LOC [if COND]`: one logical breakpoint over every address of the
    /// location (a regex gives one per function). Returns the ids created.
    pub fn set_breakpoint(
        &mut self,
        name: Option<&str>,
        spec: &str,
        cond: Option<&str>,
        tracepoint: bool,
        here: Option<&locate::Here>,
    ) -> Result<Vec<i64>, ExecError> {
        // A recording at its end can still take breakpoints, to run back to them.
        self.alive_or_recorded()?;
        if let Some(n) = name {
            if self.breakpoints.find(n).is_some() || n.parse::<i64>().is_ok() {
                return Err(ExecError::Invalid(format!(
                    "breakpoint name \"{n}\" is already in use or is a number"
                )));
            }
        }
        let locs = locate::resolve(&self.target, spec, here)?;
        let mut ids = Vec::new();
        for r in locs {
            if let Some(b) = self
                .breakpoints
                .list
                .iter()
                .find(|b| b.id > 0 && b.addrs == r.addrs)
            {
                return Err(ExecError::Invalid(format!(
                    "Breakpoint exists at {} for {}() {}:{}",
                    b.addrs.first().copied().unwrap_or_default(),
                    b.function,
                    b.file,
                    b.line
                )));
            }
            let id = self.breakpoints.alloc_id();
            let ret_addrs = if tracepoint {
                let mut v: Vec<Addr> = r
                    .addrs
                    .iter()
                    .flat_map(|&a| trace::ret_addrs(&self.target, a))
                    .collect();
                v.sort();
                v.dedup();
                v
            } else {
                Vec::new()
            };
            self.breakpoints.list.push(Breakpoint {
                id,
                name: name.unwrap_or_default().to_string(),
                addrs: r.addrs,
                ret_addrs,
                function: r.function,
                file: r.file,
                line: r.line,
                spec: spec.to_string(),
                cond: cond.map(str::to_string),
                tracepoint,
                enabled: true,
                ..Default::default()
            });
            ids.push(id);
        }
        self.sync_breakpoints()?;
        Ok(ids)
    }

    /// `watch [-r|-w|-rw] EXPR`: a hardware watchpoint on `len` bytes at `addr`, named
    /// by the expression.
    pub fn set_watchpoint(
        &mut self,
        expr: &str,
        addr: Addr,
        len: u64,
        kind: crate::backend::WatchKind,
    ) -> Result<i64, ExecError> {
        self.alive()?;
        let len = match len {
            1 | 2 | 4 | 8 => len as u8,
            // Larger values: watch their first word, as Delve does for strings/slices.
            n if n > 8 => 8,
            n => {
                return Err(ExecError::Invalid(format!(
                    "cannot watch {n} bytes: a watchpoint covers 1, 2, 4 or 8 bytes"
                )))
            }
        };
        let slots = self.proc.capabilities().hw_watchpoints;
        let used: Vec<u8> = self
            .breakpoints
            .list
            .iter()
            .filter_map(|b| b.watch.as_ref().map(|w| w.slot))
            .collect();
        let slot = (0..slots)
            .find(|s| !used.contains(s))
            .ok_or(BackendError::NoWatchSlot(slots))?;
        // A variable on the current goroutine's stack lives until its frame returns.
        let tid = self
            .last
            .tid
            .or_else(|| self.target.threads().first().map(|t| t.tid));
        let scope = tid.and_then(|tid| {
            let (_, g) = self.target.thread_quick(tid)?;
            let g = g?;
            if addr < g.stack_lo || addr >= g.stack_hi {
                return None;
            }
            let st = self.target.thread_frames_quick(tid, 2);
            let caller = st.frames.get(1)?;
            Some((
                caller.pc,
                g.goid,
                g.stack_hi.get().wrapping_sub(caller.cfa.get()),
            ))
        });
        self.proc.set_watchpoint(slot, addr, len, kind)?;
        let id = self.breakpoints.alloc_id();
        self.breakpoints.list.push(Breakpoint {
            id,
            name: expr.to_string(),
            enabled: true,
            watch: Some(breakpoints::Watch {
                addr,
                len,
                kind,
                slot,
                scope,
            }),
            ..Default::default()
        });
        Ok(id)
    }

    pub fn clear_breakpoint(&mut self, spec: &str) -> Result<Breakpoint, ExecError> {
        let id = self
            .breakpoints
            .find_id(spec)
            .ok_or_else(|| ExecError::Invalid(format!("Breakpoint {spec} does not exist")))?;
        let b = self
            .breakpoints
            .remove(id)
            .ok_or_else(|| ExecError::Invalid(format!("Breakpoint {spec} does not exist")))?;
        if self.exit.is_none() {
            if let Some(w) = &b.watch {
                self.proc.clear_watchpoint(w.slot)?;
            }
            self.sync_breakpoints()?;
        }
        Ok(b)
    }

    /// `toggle BP`: returns whether it is now enabled.
    pub fn toggle_breakpoint(&mut self, spec: &str) -> Result<&Breakpoint, ExecError> {
        let id = self
            .breakpoints
            .find_id(spec)
            .ok_or_else(|| ExecError::Invalid(format!("Breakpoint {spec} does not exist")))?;
        if let Some(b) = self.breakpoints.get_mut(id) {
            b.enabled = !b.enabled;
        }
        if self.exit.is_none() {
            self.sync_breakpoints()?;
        }
        self.breakpoints
            .get(id)
            .ok_or_else(|| ExecError::Invalid(format!("Breakpoint {spec} does not exist")))
    }

    pub fn set_condition(
        &mut self,
        spec: &str,
        cond: Option<String>,
        hitcond: Option<HitCondition>,
        clear: bool,
    ) -> Result<(), ExecError> {
        let b = self
            .breakpoints
            .find_id(spec)
            .and_then(|id| self.breakpoints.get_mut(id))
            .ok_or_else(|| ExecError::Invalid(format!("Breakpoint {spec} does not exist")))?;
        if clear {
            b.cond = None;
            b.hitcond = None;
        }
        if cond.is_some() {
            b.cond = cond;
        }
        if hitcond.is_some() {
            b.hitcond = hitcond;
        }
        Ok(())
    }

    // ----- running -----

    /// `continue`: run until a breakpoint whose condition holds, a signal, a halt or
    /// the end. Tracepoints and false conditions resume silently.
    pub fn cont(&mut self) -> Result<Stop, ExecError> {
        self.alive()?;
        let mut trace = Vec::new();
        loop {
            self.sync_breakpoints()?;
            let (ev, partial) = self.proc.resume_wait_lazy(Resume::Continue)?;
            let stop = match ev {
                StopEvent::Breakpoint { tid, pc } if partial => {
                    match self.partial_hit(tid, pc, &mut trace) {
                        Ok(s) => s,
                        Err(e) => {
                            // Never leave the other threads running behind an error.
                            let _ = self.proc.stop_others();
                            return Err(e);
                        }
                    }
                }
                ev => self.user_stop(ev, &mut trace)?,
            };
            if let Some(mut stop) = stop {
                stop.trace = std::mem::take(&mut trace);
                self.last = stop.clone();
                return Ok(stop);
            }
        }
    }

    /// A breakpoint hit reported with only its thread stopped: conditions, hit counts
    /// and tracepoints are checked on that thread alone (a view of one thread, no
    /// goroutine list), and only a stop the user sees stops the other threads.
    fn partial_hit(
        &mut self,
        tid: u32,
        pc: Addr,
        trace: &mut Vec<String>,
    ) -> Result<Option<Stop>, ExecError> {
        let ev = StopEvent::Breakpoint { tid, pc };
        if self.scope_watch_at(pc).is_some() || self.breakpoints.at(pc).is_empty() {
            // Not a plain breakpoint (a stack watchpoint's frame end, a stale address):
            // take the full stop and decide there.
            if let Some(exit) = self.proc.stop_others()? {
                return self.user_stop(exit, trace);
            }
            return self.user_stop(ev, trace);
        }
        self.refresh()?;
        let (goid, hit) = self.check_breakpoints(tid, pc, trace);
        let Some(id) = hit else {
            return Ok(None);
        };
        if let Some(exit) = self.proc.stop_others()? {
            return self.user_stop(exit, trace);
        }
        self.refresh()?;
        Ok(Some(Stop {
            tid: Some(tid),
            goid,
            pc: Some(pc),
            ..Stop::new(StopReason::Breakpoint(id))
        }))
    }

    /// Turn a backend event into a user-visible stop, or None to keep running (a
    /// false condition, a tracepoint, a temporary breakpoint of no concern).
    fn user_stop(
        &mut self,
        ev: StopEvent,
        trace: &mut Vec<String>,
    ) -> Result<Option<Stop>, ExecError> {
        match ev {
            StopEvent::Exited { status } => {
                self.exit = Some(status);
                self.inserted.clear();
                Ok(Some(Stop::new(StopReason::Exited(status))))
            }
            StopEvent::Killed { signo } => {
                self.exit = Some(128 + signo);
                self.inserted.clear();
                Ok(Some(Stop::new(StopReason::Killed(signo))))
            }
            StopEvent::Breakpoint { tid, pc } => {
                self.refresh()?;
                if let Some(s) = self.watch_out_of_scope(tid, pc)? {
                    return Ok(Some(s));
                }
                let (goid, hit) = self.check_breakpoints(tid, pc, trace);
                match hit {
                    Some(id) => Ok(Some(Stop {
                        tid: Some(tid),
                        goid,
                        pc: Some(pc),
                        ..Stop::new(StopReason::Breakpoint(id))
                    })),
                    None => Ok(None),
                }
            }
            StopEvent::Watchpoint { tid, slot, .. } => {
                self.refresh()?;
                let goid = self.goid_on(tid);
                let id = self
                    .breakpoints
                    .list
                    .iter_mut()
                    .find(|b| b.watch.as_ref().is_some_and(|w| w.slot == slot));
                let id = match id {
                    Some(b) => {
                        b.total_hits += 1;
                        *b.hits.entry(goid.unwrap_or(0)).or_insert(0) += 1;
                        b.id
                    }
                    None => 0,
                };
                Ok(Some(Stop {
                    tid: Some(tid),
                    goid,
                    pc: self.pc_of(tid),
                    ..Stop::new(StopReason::Watchpoint(id))
                }))
            }
            StopEvent::Stepped { tid } => {
                self.refresh()?;
                Ok(Some(self.stop_on(StopReason::Step, tid)))
            }
            StopEvent::Signal { tid, signo } => {
                self.refresh()?;
                Ok(Some(self.stop_on(StopReason::Signal(signo), tid)))
            }
            StopEvent::Interrupted => {
                self.refresh()?;
                let tid = self.target.threads().first().map(|t| t.tid);
                let mut s = Stop::new(StopReason::Halted);
                if let Some(tid) = tid {
                    s = self.stop_on(StopReason::Halted, tid);
                }
                Ok(Some(s))
            }
            StopEvent::RecordingBoundary { tid, .. } => {
                self.refresh()?;
                Ok(Some(self.stop_on(StopReason::Step, tid)))
            }
        }
    }

    /// A stack watchpoint whose frame just returned on its goroutine: clear it and stop.
    fn watch_out_of_scope(&mut self, tid: u32, pc: Addr) -> Result<Option<Stop>, ExecError> {
        let Some(id) = self.scope_watch_at(pc) else {
            return Ok(None);
        };
        let Some((goid, _, off)) = self.where_is(tid) else {
            return Ok(None);
        };
        let matches = self
            .breakpoints
            .get(id)
            .and_then(|b| b.watch.as_ref())
            .and_then(|w| w.scope)
            .is_some_and(|(_, g, o)| g == goid && o == off);
        if !matches {
            return Ok(None);
        }
        let b = self.clear_breakpoint(&id.to_string())?;
        Ok(Some(self.stop_on(StopReason::WatchOutOfScope(b.name), tid)))
    }

    /// The stack watchpoint whose frame-end breakpoint is at `pc`, if any.
    fn scope_watch_at(&self, pc: Addr) -> Option<i64> {
        self.breakpoints
            .list
            .iter()
            .find(|b| {
                b.watch
                    .as_ref()
                    .and_then(|w| w.scope)
                    .is_some_and(|s| s.0 == pc)
            })
            .map(|b| b.id)
    }

    fn stop_on(&self, reason: StopReason, tid: u32) -> Stop {
        Stop {
            tid: Some(tid),
            goid: self.goid_on(tid),
            pc: self.pc_of(tid),
            ..Stop::new(reason)
        }
    }

    fn pc_of(&self, tid: u32) -> Option<Addr> {
        self.target
            .threads()
            .iter()
            .find(|t| t.tid == tid)
            .map(|t| Addr(t.regs.rip))
    }

    /// The user goroutine on thread `tid`, read for that thread alone.
    pub fn goid_on(&self, tid: u32) -> Option<u64> {
        self.target
            .thread_quick(tid)
            .and_then(|(_, g)| g)
            .map(|g| g.goid)
    }

    /// Which user breakpoint at `pc` stops thread `tid`: conditions are evaluated in
    /// the goroutine's frame 0, hit counts bumped, tracepoints recorded.
    fn check_breakpoints(
        &mut self,
        tid: u32,
        pc: Addr,
        trace: &mut Vec<String>,
    ) -> (Option<u64>, Option<i64>) {
        let ids = self.breakpoints.at(pc);
        if ids.is_empty() {
            return (None, None);
        }
        let goid = self.goid_on(tid);
        let mut stop = None;
        for id in ids {
            let Some(b) = self.breakpoints.get(id) else {
                continue;
            };
            if b.tracepoint && b.ret_addrs.contains(&pc) && !b.addrs.contains(&pc) {
                let func = locate::describe(&self.target, pc).function;
                let depth = b.stack;
                trace.push(self.trace_return_line(tid, goid.unwrap_or(0), pc, &func));
                if depth > 0 {
                    trace.push(self.trace_stack(tid, depth));
                }
                continue;
            }
            if let Some(c) = b.cond.clone() {
                match self.eval_bool(tid, &c) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    // Delve stops when a condition cannot be evaluated, and says why.
                    Err(e) => {
                        trace.push(format!("error evaluating expression: {e}"));
                    }
                }
            }
            let Some(b) = self.breakpoints.get_mut(id) else {
                continue;
            };
            b.total_hits += 1;
            let g = goid.unwrap_or(0);
            let per_g = {
                let h = b.hits.entry(g).or_insert(0);
                *h += 1;
                *h
            };
            if let Some(hc) = &b.hitcond {
                let n = if hc.per_goroutine {
                    per_g
                } else {
                    b.total_hits
                };
                if !hc.op.holds(n, hc.n) {
                    continue;
                }
            }
            if b.tracepoint {
                let func = locate::describe(&self.target, pc).function;
                let depth = b.stack;
                trace.push(self.trace_entry_line(tid, g, &func));
                if depth > 0 {
                    // Delve leaves an empty line between an entry and its stack.
                    trace.push(format!("\n{}", self.trace_stack(tid, depth)));
                }
                continue;
            }
            stop.get_or_insert(id);
        }
        if let Some(sink) = self.trace_sink.as_mut() {
            for l in trace.drain(..) {
                sink(&l);
            }
        }
        (goid, stop)
    }

    /// Send tracepoint lines to `sink` as they happen instead of with the next stop.
    pub fn set_trace_sink(&mut self, sink: TraceSink) {
        self.trace_sink = Some(sink);
    }

    /// Evaluate a Go expression in frame 0 of the goroutine on `tid`.
    pub fn eval(&self, tid: u32, expr: &str) -> Result<crate::vars::Var, String> {
        let t = &self.target;
        let st = t.thread_frames_quick(tid, 1);
        let f = st
            .frames
            .first()
            .ok_or_else(|| "no frame to evaluate the expression in".to_string())?;
        let dwarf = t
            .dwarf()
            .ok_or_else(|| "expressions need DWARF (the binary is stripped)".to_string())?;
        let mut overlay = crate::vars::location::Overlay::new(t.memory());
        let locals = crate::repl::frame_vars(t, f, 0, &mut overlay).map_err(|e| e.to_string())?;
        let loader = crate::vars::load::Loader::for_target(t, dwarf, &overlay);
        let scope = crate::vars::expr::Scope {
            loader: &loader,
            locals: &locals,
            package: crate::vars::expr::package_of(&f.function),
        };
        scope
            .eval(expr, &crate::vars::LoadConfig::SHORT)
            .map_err(|e| e.to_string())
    }

    /// Size in bytes of a value's type, from DWARF.
    pub fn size_of(&self, v: &crate::vars::Var) -> Option<u64> {
        let d = self.target.dwarf()?;
        d.size_of(v.type_id?)
    }

    /// Evaluate a Go boolean expression in frame 0 of the goroutine on `tid`.
    pub fn eval_bool(&self, tid: u32, expr: &str) -> Result<bool, String> {
        let v = self.eval(tid, expr)?;
        if v.kind != crate::vars::Kind::Bool {
            return Err(format!("condition expression not boolean ({})", v.ty));
        }
        Ok(v.value == "true")
    }

    /// `step-instruction` on thread `tid`.
    pub fn step_instruction(&mut self, tid: u32) -> Result<Stop, ExecError> {
        self.alive()?;
        self.sync_breakpoints()?;
        self.proc.resume(Resume::Step(tid), Direction::Forward)?;
        let ev = self.proc.wait()?;
        let mut trace = Vec::new();
        let stop = match ev {
            // A breakpoint at the next instruction is not a hit: we stepped onto it.
            StopEvent::Breakpoint { tid, .. } | StopEvent::Stepped { tid } => {
                self.refresh()?;
                self.stop_on(StopReason::Step, tid)
            }
            other => self
                .user_stop(other, &mut trace)?
                .unwrap_or_else(|| self.stop_on(StopReason::Step, tid)),
        };
        self.last = stop.clone();
        Ok(stop)
    }

    /// How `restart` starts the program again.
    pub fn set_relauncher(&mut self, r: Relauncher) {
        self.relaunch = Some(r);
    }

    /// Kill the program (if it still runs) and start it again, keeping every
    /// breakpoint (hit counts reset) at the same link-time locations, with new
    /// arguments when `args` is Some. Returns the new pid.
    pub fn restart(&mut self, args: Option<&[String]>) -> Result<u32, ExecError> {
        let Some(relaunch) = self.relaunch.as_mut() else {
            return Err(ExecError::Invalid(
                "cannot restart a process coroner did not start (attach): detach and start it again"
                    .into(),
            ));
        };
        let mut proc = relaunch(args)?;
        if self.exit.is_none() {
            // The old copy: nothing of it is needed any more.
            let _ = self.proc.kill();
        }
        let snap = proc.snapshot()?;
        let old_bias = self.image.bias();
        let bin = self.image.binary().clone();
        let new_bias = match snap.auxv_value(9) {
            Some(e) if bin.is_pie() => e.wrapping_sub(bin.entry().get()),
            _ => old_bias,
        };
        if new_bias != old_bias {
            self.image = Arc::new(Image::load(bin, new_bias)?);
            for b in &mut self.breakpoints.list {
                for a in &mut b.addrs {
                    *a = a.sub(old_bias).add(new_bias);
                }
            }
        }
        let prev = self.target.runtime();
        self.target = Arc::new(Target::new(
            snap,
            self.image.clone(),
            Some(prev),
            Vec::new(),
        )?);
        self.proc = proc;
        *self.interrupt.0.lock().unwrap_or_else(|p| p.into_inner()) = self.proc.interrupter();
        self.pid = self.proc.pid();
        self.exit = None;
        self.temp.clear();
        self.inserted.clear();
        for b in &mut self.breakpoints.list {
            b.total_hits = 0;
            b.hits.clear();
        }
        self.sync_breakpoints()?;
        self.last = Stop::new(StopReason::Entry);
        Ok(self.pid)
    }

    /// Stop the process where it is, leaving it attached and stopped (`halt` while it
    /// is not running is a no-op).
    pub fn detach(&mut self, kill: bool) -> Result<(), ExecError> {
        if self.exit.is_some() {
            return Ok(());
        }
        self.temp.clear();
        if kill {
            self.proc.kill()?;
            self.exit = Some(128 + 9);
        } else {
            self.proc.detach()?;
            self.exit = Some(0);
        }
        self.inserted.clear();
        Ok(())
    }

    /// Drop every temporary breakpoint of a step.
    fn end_step(&mut self) -> Result<(), ExecError> {
        self.temp.clear();
        if self.exit.is_none() {
            self.sync_breakpoints()?;
        }
        Ok(())
    }
}
