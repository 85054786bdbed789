//! The tracer's side of jump pads (`pads.rs`): making the pad area with an injected
//! system call, sending a thread through a pad, and moving threads found inside a pad
//! back into the program's code.

use super::breakpoints;
use super::displaced::put_scratch;
use super::pads::{self, InPad};
use super::sys::{self, Status};
use super::Tracee;
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
        if self.pads.failed {
            return None;
        }
        if self.pads.area().is_none() {
            let hint = pads::hint(self.scratch_address()?);
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
                    return None;
                }
                // Not run this time (a signal got in the way): try at a later hit.
                None => return None,
            }
        }
        let new = self.pads.prepare(bytes, pc)?;
        // /proc/PID/mem writes through the mapping's missing write permission.
        breakpoints::write_at(&self.mem, new.at, &new.code).ok()?;
        let at = new.at;
        self.pads.commit(new);
        Some(at)
    }

    /// If `regs` (just read from `tid`) put the thread inside a pad, move it to where it
    /// is in the program, in the thread too. A thread moved back onto its breakpoint
    /// has already reported that hit: it steps over it on resume.
    pub(super) fn leave_pad(&mut self, tid: i32, regs: &mut Registers) {
        let Some(at) = self.pads.locate(regs.rip) else {
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
        };
        if sys::set_regs(tid, regs).is_ok() {
            if let Some(t) = self.threads.get_mut(&tid) {
                if before {
                    t.step_over = true;
                }
            }
        }
    }

    /// Detaching: move every stopped thread out of the pads, then unmap them (through
    /// one stopped thread). Best effort: a pad left mapped is harmless.
    pub(super) fn drop_pads(&mut self) {
        let Some(area) = self.pads.area() else {
            return;
        };
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
        let all_out = tids.iter().all(|&tid| {
            self.threads
                .get(&tid)
                .and_then(|t| t.regs.as_ref())
                .is_some_and(|r| self.pads.locate(r.rip).is_none())
        });
        let running = self.threads.values().any(|t| t.running && !t.exiting);
        if all_out && !running {
            if let Some(&tid) = tids.first() {
                let _ = self.inject_syscall(
                    tid,
                    libc::SYS_munmap as u64,
                    [area, pads::AREA_LEN, 0, 0, 0, 0],
                );
            }
        }
        self.pads.reset();
    }
}
