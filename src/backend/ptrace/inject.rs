//! The tracer's side of jump pads (`pads.rs`): making the pad area with an injected
//! system call, sending a thread through a pad, and moving threads found inside a pad
//! back into the program's code.

use super::breakpoints;
use super::condpad;
use super::displaced::put_scratch;
use super::pads::{self, InPad};
use super::sys::{self, Status};
use super::{State, Tracee};
use crate::backend::{Armed, BackendError, FastCond};
use crate::snapshot::Registers;

/// The `syscall` instruction.
const SYSCALL: [u8; 2] = [0x0f, 0x05];

impl Tracee {
    /// The ELF entry point: code the program runs once at start, used to hold the
    /// injected `syscall` (as gdb uses it for displaced steps).
    pub(super) fn scratch_address(&self) -> Option<u64> {
        self.auxv
            .iter()
            .find(|&&(k, _)| k == libc::AT_ENTRY)
            .map(|&(_, v)| v)
            .filter(|&v| v != 0)
    }

    /// Run one system call on the stopped thread `tid` and put its registers back.
    /// Returns the call's result (a negative errno on failure), or None when it could
    /// not be run (the thread vanished, or a signal other than the runtime's own got
    /// in the way; such a signal is kept for delivery at the next resume).
    pub(super) fn inject_syscall(&mut self, tid: i32, nr: u64, args: [u64; 6]) -> Option<u64> {
        let scratch = self.scratch_address()?;
        let saved = self.regs_of(tid).ok()?;
        {
            let mut t = breakpoints::lock(&self.bps);
            let fresh = t.scratch.is_none();
            put_scratch(&mut t, &self.mem, scratch, &SYSCALL).ok()?;
            if fresh {
                self.publish_shadow(&t);
            }
        }
        let mut r = saved.clone();
        r.rip = scratch;
        r.rax = nr;
        r.orig_rax = u64::MAX;
        r.rdi = args[0];
        r.rsi = args[1];
        r.rdx = args[2];
        r.r10 = args[3];
        r.r8 = args[4];
        r.r9 = args[5];
        sys::set_regs(tid, &r).ok()?;
        let mut result = None;
        for _ in 0..16 {
            if sys::singlestep(tid, 0).is_err() {
                return None;
            }
            let Ok((_, st)) = sys::wait(tid) else {
                return None;
            };
            match st {
                Status::Stopped {
                    sig: libc::SIGTRAP,
                    event: 0,
                } => {
                    let after = sys::get_regs(tid).ok()?;
                    if after.rip == scratch + SYSCALL.len() as u64 {
                        result = Some(after.rax);
                    }
                    break;
                }
                // The runtime's signals wait for the next resume, as during a step.
                Status::Stopped { sig, event: 0 }
                    if sig == libc::SIGURG || sig == libc::SIGPROF =>
                {
                    if let Some(t) = self.threads.get_mut(&tid) {
                        t.pending_sig = sig;
                    }
                }
                Status::Stopped { sig, event: 0 } => {
                    if let Some(t) = self.threads.get_mut(&tid) {
                        t.pending_sig = sig;
                    }
                    break;
                }
                Status::Stopped { .. } => {}
                Status::Exited(_) | Status::Killed(_) => return None,
            }
        }
        sys::set_regs(tid, &saved).ok()?;
        if let Some(t) = self.threads.get_mut(&tid) {
            t.regs = Some(saved);
        }
        result
    }

    /// The pad a thread on the breakpoint `pc` can run through, made (and the area
    /// mapped) on first use. None: use the single-step instead.
    pub(super) fn pad_for(&mut self, tid: i32, pc: u64, bytes: &[u8]) -> Option<u64> {
        if let Some(at) = self.pads.for_pc(pc) {
            return Some(at);
        }
        if !self.pad_area(tid) {
            return None;
        }
        let new = self.pads.prepare(bytes, pc)?;
        // /proc/PID/mem writes through the mapping's missing write permission.
        breakpoints::write_at(&self.mem, new.at, &new.code).ok()?;
        let at = new.at;
        self.pads.commit(new);
        Some(at)
    }

    /// Let the tracee test `cond` at the inserted breakpoint `pc` itself: a condition
    /// pad (`condpad.rs`) and a `jmp` to it over the instruction. Every thread must be
    /// stopped. None disarms (back to the `int3`).
    pub(super) fn arm_condition(
        &mut self,
        pc: u64,
        cond: Option<FastCond>,
    ) -> Result<Armed, BackendError> {
        // In a partial stop the other threads run: the jump is written so that none
        // can see it torn (`Table::arm_jump`), and the pads are new memory.
        match self.state {
            State::Stopped | State::Partial(_) => {}
            State::Gone => return Err(BackendError::Exited),
            _ => return Ok(Armed::Later),
        }
        let Some(cond) = cond else {
            let mut t = breakpoints::lock(&self.bps);
            let r = t.disarm_jump(&self.mem, pc);
            self.publish_shadow(&t);
            return r
                .map(|()| Armed::No)
                .map_err(|e| e.os("remove a condition jump"));
        };
        {
            let t = breakpoints::lock(&self.bps);
            if t.jumps.contains_key(&pc) {
                // Re-armed with another condition: the old pad stays (a thread may
                // be in it); the jump moves to a new one.
                drop(t);
                self.arm_condition(pc, None)?;
            }
        }
        let mut bytes = [0u8; 16];
        {
            let t = breakpoints::lock(&self.bps);
            if !t.inserted.contains_key(&pc)
                || breakpoints::read_at(&self.mem, pc, &mut bytes).is_err()
            {
                return Ok(Armed::No);
            }
            t.hide(pc, &mut bytes);
        }
        let len = iced_x86::Decoder::with_ip(64, &bytes, pc, iced_x86::DecoderOptions::NONE)
            .decode()
            .len();
        // A short instruction jumps to a hole first: the first one free.
        let hole = if len >= condpad::JMP_LEN {
            None
        } else if len >= condpad::SHORT_JMP_LEN {
            let free = cond
                .holes
                .iter()
                .flatten()
                .copied()
                .find(|&h| condpad::short_jmp(pc, h).is_some() && self.hole_is_free(h));
            match free {
                Some(h) => Some(h),
                None => return Ok(Armed::No),
            }
        } else {
            return Ok(Armed::No);
        };
        let covered = if hole.is_some() {
            condpad::SHORT_JMP_LEN
        } else {
            condpad::JMP_LEN
        };
        {
            // Another breakpoint or jump under the bytes the patch changes, or the
            // scratch area there.
            let t = breakpoints::lock(&self.bps);
            let under = pc + 1..pc + covered as u64;
            if t.inserted.range(under.clone()).next().is_some()
                || !t.jumps_over(under.start, under.end).is_empty()
                || t.scratch
                    .as_ref()
                    .is_some_and(|(a, b)| *a < under.end && pc < *a + b.len() as u64)
            {
                return Ok(Armed::No);
            }
        }
        let Some(tid) = self
            .threads
            .iter()
            .find(|(_, t)| !t.exiting && !t.running)
            .map(|(&k, _)| k)
        else {
            return Ok(Armed::No);
        };
        if self.pads.area().is_none() {
            // The area is made by a system call injected at the entry point: not while
            // a thread is about to run the entry point's own code (the stop after exec).
            let scratch = self.scratch_address().unwrap_or(0);
            let at_entry = self
                .regs_of(tid)
                .is_ok_and(|r| r.rip.abs_diff(scratch) < 16);
            if at_entry {
                return Ok(Armed::Later);
            }
        }
        if !self.pad_area(tid) {
            return Ok(Armed::No);
        }
        let Some(new) = self.pads.prepare_cond(&bytes, pc, &cond) else {
            return Ok(Armed::No);
        };
        let (patch, in_hole) = match hole {
            None => match condpad::jmp(pc, new.at) {
                Some(j) => (j.to_vec(), None),
                None => return Ok(Armed::No),
            },
            Some(h) => match (condpad::short_jmp(pc, h), condpad::jmp(h, new.at)) {
                (Some(s), Some(j)) => (s.to_vec(), Some((h, j))),
                _ => return Ok(Armed::No),
            },
        };
        if breakpoints::write_at(&self.mem, new.at, &new.code).is_err() {
            return Ok(Armed::No);
        }
        let int3 = new.int3();
        self.pads.commit(new);
        self.plans.remove(&pc);
        let mut t = breakpoints::lock(&self.bps);
        t.pad_traps.extend(int3);
        let r = t.arm_jump(
            &self.mem,
            pc,
            &patch,
            in_hole.as_ref().map(|(h, j)| (*h, &j[..])),
        );
        self.publish_shadow(&t);
        r.map(|()| Armed::Yes)
            .map_err(|e| e.os("write a condition jump"))
    }

    /// Restore the holes of removed jumps (`Table::stale_holes`) once every thread is
    /// stopped: a thread sitting on one is moved back to its breakpoint first (by
    /// `regs_of`), where the original instruction now is.
    pub(super) fn settle_holes(&mut self) {
        if breakpoints::lock(&self.bps).stale_holes.is_empty()
            || self.threads.values().any(|t| t.running && !t.exiting)
        {
            return;
        }
        let tids: Vec<i32> = self
            .threads
            .iter()
            .filter(|(_, t)| !t.exiting)
            .map(|(&k, _)| k)
            .collect();
        for tid in tids {
            let _ = self.regs_of(tid);
        }
        let mut t = breakpoints::lock(&self.bps);
        if t.restore_holes(&self.mem).is_ok() {
            self.publish_shadow(&t);
        }
    }

    /// Five bytes of int3 padding at `h` that no breakpoint, jump or scratch use.
    fn hole_is_free(&self, h: u64) -> bool {
        let t = breakpoints::lock(&self.bps);
        let end = h + condpad::JMP_LEN as u64;
        if t.inserted.range(h..end).next().is_some()
            || !t.jumps_over(h, end).is_empty()
            || t.scratch
                .as_ref()
                .is_some_and(|(a, b)| *a < end && h < *a + b.len() as u64)
        {
            return false;
        }
        let mut b = [0u8; condpad::JMP_LEN];
        breakpoints::read_at(&self.mem, h, &mut b).is_ok() && b.iter().all(|&x| x == 0xcc)
    }

    /// Map the pad area if it is not yet (through the stopped thread `tid`). False when
    /// there is none and cannot be one.
    fn pad_area(&mut self, tid: i32) -> bool {
        if self.pads.area().is_some() {
            return true;
        }
        if self.pads.failed {
            return false;
        }
        let Some(hint) = self.scratch_address().map(pads::hint) else {
            return false;
        };
        let got = self.inject_syscall(
            tid,
            libc::SYS_mmap as u64,
            [
                hint,
                pads::AREA_LEN,
                (libc::PROT_READ | libc::PROT_EXEC) as u64,
                (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64,
                u64::MAX,
                0,
            ],
        );
        match got {
            // mmap returns an address or -errno (the top 4 KiB of the space).
            Some(at) if at < u64::MAX - 4095 && at != 0 => self.pads.set_area(at),
            // Refused (seccomp, limits): never ask again.
            Some(_) => {
                self.pads.failed = true;
                return false;
            }
            // Not run this time (a signal got in the way): try at a later hit.
            None => return false,
        }
        true
    }

    /// If `regs` (just read from `tid`) put the thread inside a pad, move it to where it
    /// is in the program, in the thread too. A thread moved back onto its breakpoint
    /// has already reported that hit: it steps over it on resume.
    pub(super) fn leave_pad(&mut self, tid: i32, regs: &mut Registers) {
        // On a hole's jmp (on its way from a short jmp to a condition pad): nothing has
        // run yet.
        let hole = breakpoints::lock(&self.bps).hole_owner(regs.rip);
        let found = hole.map(InPad::Hit).or_else(|| self.pads.locate(regs.rip));
        let Some(at) = found else {
            return;
        };
        let before = match at {
            InPad::Before(pc) => {
                regs.rip = pc;
                true
            }
            InPad::After(next) => {
                regs.rip = next;
                false
            }
            // In a condition pad's test, or at its trap with the hit not taken (only
            // `trap` takes it): the instruction has not run, so the thread goes back
            // to its breakpoint and takes the test again when it resumes.
            InPad::Retry(pc, rb) => {
                if rb.flags_on_stack {
                    let mut w = [0u8; 8];
                    if breakpoints::read_at(&self.mem, regs.rsp, &mut w).is_err() {
                        // Cannot undo the test: leave the thread where it is.
                        return;
                    }
                    regs.eflags = u64::from_le_bytes(w);
                }
                regs.rsp = regs.rsp.wrapping_add(rb.rsp_add);
                regs.rip = pc;
                false
            }
            InPad::Hit(pc) => {
                regs.rip = pc;
                false
            }
        };
        if sys::set_regs(tid, regs).is_ok() {
            if let Some(t) = self.threads.get_mut(&tid) {
                if before {
                    t.step_over = true;
                }
            }
        }
    }

    /// Detaching: move every stopped thread out of the pads. The area stays mapped.
    ///
    /// Why it is never unmapped: a thread can be *inside a signal handler* whose
    /// interrupted context is in a pad. The Go runtime's SIGURG preemption lands on
    /// threads running through pads all the time (the handler finds no Go function at
    /// the PC, so it does not preempt, and returns). Such a thread, stopped by us in the
    /// handler, is not in a pad, so moving threads out does not see it; after detach
    /// its `rt_sigreturn` resumes the pad. That explains the "straggler" seen running
    /// in an unmapped area after an emergency exit (SIGSEGV at a pad address, although
    /// every thread we held had been moved out). A mapped pad is correct on its own: the
    /// instruction, then the jump back (a condition pad's int3 is a nop by now); its
    /// cost is 64 KiB of the program's address space that nothing else uses.
    pub(super) fn drop_pads(&mut self) {
        if self.pads.area().is_none() {
            return;
        }
        let tids: Vec<i32> = self
            .threads
            .iter()
            .filter(|(_, t)| !t.exiting && !t.running)
            .map(|(&k, _)| k)
            .collect();
        for &tid in &tids {
            // regs_of moves the thread out of a pad.
            let _ = self.regs_of(tid);
        }
        self.pads.reset();
    }
}
