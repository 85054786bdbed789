//! Go-aware `next`, `step` and `stepout`, as Delve does them: temporary breakpoints on
//! the function's other statements and on the return address, honoured only when the
//! goroutine that started the step hits them in the same frame (other goroutines run
//! the same code; the goroutine may move to another thread; its stack may be copied
//! when it grows, so a frame is named by its distance from the stack's top).

use super::{locate, Debugger, ExecError, Stop, StopReason};
use crate::addr::Addr;
use crate::backend::{Direction, Resume, StopEvent};
use crate::symbols::pclntab::FuncKind;

/// Where a step started: the goroutine and its frame 0.
struct StepOrigin {
    goid: u64,
    tid: u32,
    pc: Addr,
    /// `stack_hi - cfa` of frame 0: survives stack copying.
    frame_off: u64,
    /// Return address and the caller frame's `stack_hi - cfa`.
    ret: Option<(Addr, u64)>,
    file: String,
    line: u32,
    /// Frame 0 is an inlined call: its return has no frame to read values from.
    inlined: bool,
}

/// Single steps of one `step` before it gives up (a line that loops forever).
const MAX_STEPS: usize = 200_000;

impl Debugger {
    fn step_origin(&self, tid: u32) -> Result<StepOrigin, ExecError> {
        let t = &self.target;
        let (_, g) = t
            .thread_quick(tid)
            .ok_or_else(|| ExecError::Invalid(format!("no thread {tid}")))?;
        let g = g.ok_or_else(|| {
            ExecError::Invalid("the current thread runs no goroutine: use step-instruction".into())
        })?;
        let st = t.thread_frames_quick(tid, 2);
        let f0 = st
            .frames
            .first()
            .ok_or_else(|| ExecError::Invalid("no current frame".into()))?;
        let hi = g.stack_hi.get();
        let ret = st
            .frames
            .get(1)
            .map(|f1| (f1.pc, hi.wrapping_sub(f1.cfa.get())));
        Ok(StepOrigin {
            goid: g.goid,
            tid,
            pc: f0.pc,
            frame_off: hi.wrapping_sub(f0.cfa.get()),
            ret,
            file: f0.file.clone(),
            line: f0.line,
            inlined: f0.inlined,
        })
    }

    /// The goroutine on `tid` and its frame 0's `(pc, stack_hi - cfa)`.
    pub(super) fn where_is(&self, tid: u32) -> Option<(u64, Addr, u64)> {
        let (_, g) = self.target.thread_quick(tid)?;
        let g = g?;
        let st = self.target.thread_frames_quick(tid, 1);
        let f0 = st.frames.first()?;
        Some((g.goid, f0.pc, g.stack_hi.get().wrapping_sub(f0.cfa.get())))
    }

    /// Run with the temporary breakpoints in `self.temp` until `done` accepts a hit of
    /// the stepping goroutine, or a user breakpoint, signal or exit intervenes.
    fn run_until(
        &mut self,
        o: &StepOrigin,
        done: &dyn Fn(Addr, u64) -> bool,
    ) -> Result<Stop, ExecError> {
        let mut trace = Vec::new();
        loop {
            self.sync_breakpoints()?;
            self.proc.resume(Resume::Continue, Direction::Forward)?;
            let ev = self.proc.wait()?;
            if let StopEvent::Breakpoint { tid, pc } = ev {
                if self.temp.contains(&pc) {
                    self.refresh()?;
                    if let Some((goid, fpc, off)) = self.where_is(tid) {
                        if goid == o.goid && done(fpc, off) {
                            return Ok(Stop {
                                tid: Some(tid),
                                goid: Some(goid),
                                pc: Some(pc),
                                trace,
                                ..Stop::new(StopReason::Step)
                            });
                        }
                    }
                    if self.breakpoints.at(pc).is_empty() {
                        continue;
                    }
                }
            }
            if let Some(mut s) = self.user_stop(ev, &mut trace)? {
                s.interrupted_step =
                    matches!(s.reason, StopReason::Breakpoint(_)) && s.goid != Some(o.goid);
                s.trace = trace;
                return Ok(s);
            }
        }
    }

    /// `next`: to the next statement of this function on this goroutine, or to the
    /// caller when it returns.
    pub fn next(&mut self, tid: u32) -> Result<Stop, ExecError> {
        self.alive()?;
        let o = self.step_origin(tid)?;
        let t = self.target.clone();
        let bias = t.bias();
        let f = t
            .pclntab()
            .func_for_pc(o.pc.sub(bias))
            .ok_or_else(|| ExecError::Invalid(format!("no function at {}", o.pc)))?;
        for r in locate::line_rows(&t, &f) {
            let a = Addr(r.addr).add(bias);
            if r.is_stmt && a != o.pc && !(r.line == o.line && r.file == o.file) {
                self.temp.insert(a);
            }
        }
        if let Some((ret, _)) = o.ret {
            self.temp.insert(ret);
        }
        let fo = o.frame_off;
        let ret = o.ret;
        let res = self.run_until(&o, &move |pc, off| {
            off == fo || ret.is_some_and(|(r, roff)| pc == r && off == roff)
        });
        self.end_step()?;
        let mut s = res?;
        if let (Some(tid), Some((r, roff))) = (s.tid, ret) {
            let back = self
                .where_is(tid)
                .is_some_and(|(_, pc, off)| pc == r && off == roff);
            if back && s.reason == StopReason::Step {
                s.returned = self.returned_from(&o, tid);
            }
        }
        self.last = s.clone();
        Ok(s)
    }

    /// `stepout`: to the return address of frame 0, on this goroutine.
    pub fn stepout(&mut self, tid: u32) -> Result<Stop, ExecError> {
        self.alive()?;
        let o = self.step_origin(tid)?;
        let (ret, roff) = o
            .ret
            .ok_or_else(|| ExecError::Invalid("could not find the caller's frame".into()))?;
        self.temp.insert(ret);
        let res = self.run_until(&o, &move |pc, off| pc == ret && off == roff);
        self.end_step()?;
        let mut s = res?;
        if let (StopReason::Step, Some(tid)) = (&s.reason, s.tid) {
            s.returned = self.returned_from(&o, tid);
        }
        self.last = s.clone();
        Ok(s)
    }

    /// `step`: like `next`, but into a called Go function (through autogenerated
    /// wrappers and runtime helpers), by single-stepping the thread.
    pub fn step(&mut self, tid: u32) -> Result<Stop, ExecError> {
        self.alive()?;
        let o = self.step_origin(tid)?;
        let bias = self.target.bias();
        let mut trace = Vec::new();
        let mut cur_tid = o.tid;
        for _ in 0..MAX_STEPS {
            self.sync_breakpoints()?;
            self.proc
                .resume(Resume::Step(cur_tid), Direction::Forward)?;
            let ev = self.proc.wait()?;
            match ev {
                StopEvent::Stepped { tid } | StopEvent::Breakpoint { tid, .. }
                    if tid == cur_tid => {}
                other => {
                    if let Some(mut s) = self.user_stop(other, &mut trace)? {
                        s.trace = trace;
                        self.last = s.clone();
                        return Ok(s);
                    }
                    continue;
                }
            }
            self.refresh()?;
            let Some(pc) = self.pc_of(cur_tid) else {
                break;
            };
            let t = self.target.clone();
            let p = t.pclntab();
            let Some(f) = p.func_for_pc(pc.sub(bias)) else {
                continue;
            };
            let name = p.name(&f).to_string();
            let entered = pc == f.entry.add(bias);
            let private = crate::repl::is_private_runtime(&name);
            // Autogenerated wrappers (value-receiver methods called through a pointer or
            // an interface, method values, generic dictionaries) have no source.
            let wrapper = p.func_kind(&f) == FuncKind::Wrapper
                || name.ends_with("-fm")
                || p.file_line(&f, f.entry)
                    .is_some_and(|(file, _)| file == "<autogenerated>");
            if entered && (private || wrapper) {
                if wrapper && !private {
                    // Autogenerated wrappers call the real method: keep stepping.
                    continue;
                }
                // Runtime helpers (morestack, growslice, ...): run to their return.
                let ret = self.return_address_at_entry(cur_tid);
                if let Some(ret) = ret {
                    let goid = o.goid;
                    self.temp.insert(ret);
                    let r = self.run_until(
                        &StepOrigin {
                            goid,
                            tid: cur_tid,
                            pc,
                            frame_off: 0,
                            ret: None,
                            file: String::new(),
                            line: 0,
                            inlined: false,
                        },
                        &move |hit, _| hit == ret,
                    );
                    self.temp.clear();
                    let s = r?;
                    if s.reason != StopReason::Step {
                        self.end_step()?;
                        self.last = s.clone();
                        return Ok(s);
                    }
                    if let Some(t) = s.tid {
                        cur_tid = t;
                    }
                }
                continue;
            }
            if entered {
                // A Go function: stop after its prologue.
                let stop_at = locate::after_prologue(&t, &f).add(bias);
                if stop_at != pc {
                    self.temp.insert(stop_at);
                    let r = self.run_until(&o_for(o.goid, cur_tid), &move |hit, _| hit == stop_at);
                    self.end_step()?;
                    let s = r?;
                    self.last = s.clone();
                    return Ok(s);
                }
                return Ok(self.finish_step(cur_tid));
            }
            let Some((goid, fpc, off)) = self.where_is(cur_tid) else {
                continue;
            };
            if goid != o.goid {
                continue;
            }
            let same_frame = off == o.frame_off;
            let returned = o.ret.is_some_and(|(_, roff)| off == roff);
            if returned {
                let mut s = self.finish_step(cur_tid);
                s.returned = self.returned_from(&o, cur_tid);
                self.last = s.clone();
                return Ok(s);
            }
            if same_frame && fpc == pc {
                if let Some((file, line)) = p.file_line(&f, pc.sub(bias)) {
                    if (line != o.line || file != o.file) && self.is_statement(&f, pc) {
                        return Ok(self.finish_step(cur_tid));
                    }
                }
            }
        }
        let s = self.stop_on(StopReason::Step, cur_tid);
        self.last = s.clone();
        Ok(s)
    }

    /// What the function a step started in returned, now that `tid` is back in its
    /// caller.
    fn returned_from(&self, o: &StepOrigin, tid: u32) -> Option<Vec<super::returns::Returned>> {
        if o.inlined {
            return None;
        }
        let entry = self.entry_of(o.pc)?;
        self.returned_values(tid, entry, o.frame_off)
    }

    fn finish_step(&mut self, tid: u32) -> Stop {
        let s = self.stop_on(StopReason::Step, tid);
        self.last = s.clone();
        s
    }

    /// Whether `pc` starts a statement row of `f` (DWARF is_stmt, else a line change).
    fn is_statement(&self, f: &crate::symbols::Func, pc: Addr) -> bool {
        let link = pc.sub(self.target.bias()).get();
        locate::line_rows(&self.target, f)
            .iter()
            .any(|r| r.addr == link && r.is_stmt)
    }

    /// At a function's first instruction the return address is at the stack pointer.
    fn return_address_at_entry(&self, tid: u32) -> Option<Addr> {
        let t = self.target.threads().iter().find(|t| t.tid == tid)?;
        self.target.memory().read_ptr(Addr(t.regs.rsp)).ok()
    }
}

fn o_for(goid: u64, tid: u32) -> StepOrigin {
    StepOrigin {
        goid,
        tid,
        pc: Addr::NULL,
        frame_off: 0,
        ret: None,
        file: String::new(),
        line: 0,
        inlined: false,
    }
}
