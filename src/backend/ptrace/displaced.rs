//! Displaced stepping: execute the instruction under a breakpoint somewhere else, so
//! the 0xCC never leaves the code while other threads run.
//!
//! Why: a conditional breakpoint whose condition is false must cost as little as
//! possible. The classic step-over (put the original byte back, single-step, re-insert)
//! is only safe when every other thread is stopped, and stopping and restarting every
//! thread of a Go program at each hit is most of a hit's cost. Here only the thread that
//! hit is stopped: its instruction is re-encoded at a scratch address (the ELF entry
//! point, which the program executes once at start and never again, as gdb does),
//! single-stepped there, and its registers fixed up as if it had run in place.
//!
//! Whatever cannot be displaced safely (system calls, interrupts, `rep` string
//! instructions, short-only branches, a scratch area with a breakpoint in it, an armed
//! watchpoint that the step could fire) says so, and the caller falls back to the
//! all-stop step-over.
//!
//! The scratch bytes are part of the breakpoint table (`Table::scratch`), so detach and
//! emergency cleanup restore them with the breakpoints, and snapshot reads hide them.

use super::breakpoints::{self, Table};
use super::sys::{self, Status};
use super::threads::is_passed_through;
use super::Tracee;
use iced_x86::{Decoder, DecoderOptions, Encoder, FlowControl, Instruction, Mnemonic};
use std::fs::File;

/// Bytes reserved at the scratch address: one x86 instruction is at most 15 bytes and
/// a short branch re-encoded as a near one grows by at most 4.
pub const SCRATCH_LEN: usize = 24;

/// How the instruction at one breakpoint address is executed out of line.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Length of the original instruction.
    pub len: u64,
    /// The instruction re-encoded to run at the scratch address.
    pub code: Vec<u8>,
    /// A call pushes its return address: it must be the original one.
    pub is_call: bool,
}

/// Why a displaced step could not be done (the caller steps over the classic way).
#[derive(Debug)]
pub enum Refused {
    /// The instruction or the situation does not allow it; nothing was changed.
    Unsuitable,
    /// The thread stopped for something else during the step: its PC is back on the
    /// breakpoint, and this status must be handled as any other.
    Interrupted(Status),
    /// The thread is gone.
    Gone,
}

/// Decode the instruction at `pc` (original bytes, breakpoints hidden) and re-encode it
/// for `scratch`. None when it must not be displaced.
pub fn plan(bytes: &[u8], pc: u64, scratch: u64) -> Option<Plan> {
    let mut dec = Decoder::with_ip(64, bytes, pc, DecoderOptions::NONE);
    let mut ins: Instruction = dec.decode();
    if ins.is_invalid() || ins.len() == 0 {
        return None;
    }
    let unsafe_mnemonic = matches!(
        ins.mnemonic(),
        Mnemonic::Syscall
            | Mnemonic::Sysenter
            | Mnemonic::Int
            | Mnemonic::Int1
            | Mnemonic::Int3
            | Mnemonic::Into
            | Mnemonic::Hlt
            | Mnemonic::Pushf
            | Mnemonic::Popf
            | Mnemonic::Cpuid
            | Mnemonic::Rdtsc
            | Mnemonic::Rdtscp
    );
    // A `rep` instruction traps after each iteration with its PC unchanged; a
    // pushf would push the trap flag the step sets.
    if unsafe_mnemonic || ins.has_rep_prefix() || ins.has_repne_prefix() {
        return None;
    }
    let is_call = match ins.flow_control() {
        FlowControl::Next
        | FlowControl::UnconditionalBranch
        | FlowControl::IndirectBranch
        | FlowControl::ConditionalBranch
        | FlowControl::Return => false,
        FlowControl::Call | FlowControl::IndirectCall => true,
        FlowControl::Interrupt | FlowControl::XbeginXabortXend | FlowControl::Exception => {
            return None
        }
    };
    // jrcxz/loop have no near form; other short branches would not reach from the
    // scratch address.
    if ins.is_jcx_short() || ins.is_loop() || ins.is_loopcc() {
        return None;
    }
    if ins.is_jcc_short_or_near() || ins.is_jmp_short_or_near() {
        ins.as_near_branch();
    }
    let len = ins.len() as u64;
    let mut enc = Encoder::new(64);
    let n = enc.encode(&ins, scratch).ok()?;
    let code = enc.take_buffer();
    if n == 0 || n > SCRATCH_LEN || code.len() != n {
        return None;
    }
    Some(Plan { len, code, is_call })
}

/// Put `plan` into the scratch area (remembering the bytes it covers, once).
pub fn install(
    table: &mut Table,
    mem: &File,
    scratch: u64,
    pc: u64,
    plan: &Plan,
) -> Result<(), sys::Errno> {
    if table.scratch_holds == Some(pc) {
        return Ok(());
    }
    put_scratch(table, mem, scratch, &plan.code)?;
    table.scratch_holds = Some(pc);
    Ok(())
}

/// Put `code` in the scratch area, remembering the program's bytes there once. The
/// area then holds no breakpoint's instruction until `install` says which.
pub fn put_scratch(t: &mut Table, mem: &File, at: u64, code: &[u8]) -> Result<(), sys::Errno> {
    if t.scratch.is_none() {
        let mut orig = vec![0u8; SCRATCH_LEN];
        breakpoints::read_at(mem, at, &mut orig)?;
        t.scratch = Some((at, orig));
    }
    breakpoints::write_at(mem, at, code)?;
    t.scratch_holds = None;
    Ok(())
}

/// The thread's registers after the displaced instruction ran at `scratch`: as if it
/// had run at `pc`. Returns the return-address fix for a call, if one is needed.
pub fn fix_up(
    regs: &mut crate::snapshot::Registers,
    pc: u64,
    scratch: u64,
    plan: &Plan,
    pushed: Option<u64>,
) -> Option<(u64, u64)> {
    let end = scratch + plan.code.len() as u64;
    if regs.rip == end {
        regs.rip = pc + plan.len;
    } else if regs.rip == scratch {
        regs.rip = pc;
    }
    // A taken branch, a call or a return left the PC at its (absolute) target.
    if plan.is_call && pushed == Some(end) {
        return Some((regs.rsp, pc + plan.len));
    }
    None
}

impl Tracee {
    /// Execute the instruction under the breakpoint `tid` is on at the scratch
    /// address (see `displaced.rs`), leaving its registers as if it had run in place.
    pub(super) fn displaced_step(&mut self, tid: i32) -> Result<(), Refused> {
        let step_over = self.threads.get(&tid).is_some_and(|t| t.step_over);
        if !step_over {
            return Ok(());
        }
        if self.watches.iter().any(Option::is_some) || !self.deferred.is_empty() {
            return Err(Refused::Unsuitable);
        }
        let Some(scratch) = self.scratch_address() else {
            return Err(Refused::Unsuitable);
        };
        let mut regs = match self.regs_of(tid) {
            Ok(r) => r,
            Err(e) if e.0 == libc::ESRCH => return Err(Refused::Gone),
            Err(_) => return Err(Refused::Unsuitable),
        };
        let pc = regs.rip;
        // An instruction (at most 15 bytes) starting this close before the scratch
        // area would overlap it.
        let area = scratch.saturating_sub(16)..scratch + SCRATCH_LEN as u64;
        {
            let t = breakpoints::lock(&self.bps);
            if !t.inserted.contains_key(&pc) {
                return Ok(());
            }
            if area.contains(&pc) || t.inserted.range(area.clone()).next().is_some() {
                return Err(Refused::Unsuitable);
            }
        }
        let (plan, bytes) = match self.plans.get(&pc) {
            Some(p) => p.clone(),
            None => {
                let mut bytes = [0u8; 16];
                let p = breakpoints::read_at(&self.mem, pc, &mut bytes)
                    .ok()
                    .and_then(|()| {
                        breakpoints::lock(&self.bps).hide(pc, &mut bytes);
                        plan(&bytes, pc, scratch)
                    });
                self.plans.insert(pc, (p.clone(), bytes));
                (p, bytes)
            }
        };
        let Some(plan) = plan else {
            return Err(Refused::Unsuitable);
        };
        // A signal owed to the thread must be delivered in the program's code, after
        // the instruction: only the single-step can do that.
        let owed = self.threads.get(&tid).is_some_and(|t| t.pending_sig != 0);
        if !owed && !plan.is_call {
            if let Some(at) = self.pad_for(tid, pc, &bytes) {
                regs.rip = at;
                if sys::set_regs(tid, &regs).is_err() {
                    return Err(Refused::Gone);
                }
                if let Some(t) = self.threads.get_mut(&tid) {
                    t.regs = None;
                    t.step_over = false;
                }
                return Ok(());
            }
        }
        {
            let mut t = breakpoints::lock(&self.bps);
            let fresh = t.scratch.is_none();
            if install(&mut t, &self.mem, scratch, pc, &plan).is_err() {
                return Err(Refused::Unsuitable);
            }
            if fresh {
                self.publish_shadow(&t);
            }
        }
        regs.rip = scratch;
        if sys::set_regs(tid, &regs).is_err() {
            return Err(Refused::Gone);
        }
        let back_on_bp = |tid: i32, pc: u64| {
            if let Ok(mut r) = sys::get_regs(tid) {
                if r.rip == scratch {
                    r.rip = pc;
                    let _ = sys::set_regs(tid, &r);
                }
            }
        };
        loop {
            if sys::singlestep(tid, 0).is_err() {
                return Err(Refused::Gone);
            }
            let st = match sys::wait(tid) {
                Ok((_, st)) => st,
                Err(_) => return Err(Refused::Gone),
            };
            match st {
                Status::Stopped {
                    sig: libc::SIGTRAP,
                    event: 0,
                } => {
                    let Ok(mut r) = sys::get_regs(tid) else {
                        return Err(Refused::Gone);
                    };
                    let pushed = if plan.is_call {
                        let mut w = [0u8; 8];
                        breakpoints::read_at(&self.mem, r.rsp, &mut w)
                            .ok()
                            .map(|()| u64::from_le_bytes(w))
                    } else {
                        None
                    };
                    if let Some((at, ret)) = fix_up(&mut r, pc, scratch, &plan, pushed) {
                        if breakpoints::write_at(&self.mem, at, &ret.to_le_bytes()).is_err() {
                            return Err(Refused::Gone);
                        }
                    }
                    if sys::set_regs(tid, &r).is_err() {
                        return Err(Refused::Gone);
                    }
                    if let Some(t) = self.threads.get_mut(&tid) {
                        t.regs = Some(r);
                        t.step_over = false;
                    }
                    return Ok(());
                }
                // The runtime's own signals arrived before the instruction ran: deliver
                // them with the resume, as the all-stop step-over does.
                Status::Stopped { sig, event: 0 } if is_passed_through(sig) => {
                    if let Some(t) = self.threads.get_mut(&tid) {
                        t.pending_sig = sig;
                    }
                }
                Status::Exited(_) | Status::Killed(_) => return Err(Refused::Interrupted(st)),
                Status::Stopped { .. } => {
                    back_on_bp(tid, pc);
                    if let Some(t) = self.threads.get_mut(&tid) {
                        t.regs = None;
                        // Still on the breakpoint, which it has not executed.
                        t.step_over = true;
                    }
                    return Err(Refused::Interrupted(st));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relocates_rip_relative_operands_and_branches() {
        // lea rax, [rip+0x10] at 0x1000 -> target 0x1017.
        let lea = [0x48, 0x8d, 0x05, 0x10, 0x00, 0x00, 0x00];
        let p = plan(&lea, 0x1000, 0x40_0000).expect("lea displaces");
        assert_eq!(p.len, 7);
        let mut dec = Decoder::with_ip(64, &p.code, 0x40_0000, DecoderOptions::NONE);
        let i = dec.decode();
        assert_eq!(i.memory_displacement64(), 0x1017);
        // jz short +5 at 0x1000 becomes a near jz to 0x1007.
        let jz = [0x74, 0x05];
        let p = plan(&jz, 0x1000, 0x40_0000).expect("jz displaces");
        let mut dec = Decoder::with_ip(64, &p.code, 0x40_0000, DecoderOptions::NONE);
        assert_eq!(dec.decode().near_branch64(), 0x1007);
        // call rel32 is a call; its pushed address is fixed up.
        let call = [0xe8, 0x00, 0x01, 0x00, 0x00];
        let p = plan(&call, 0x1000, 0x40_0000).expect("call displaces");
        assert!(p.is_call);
        let mut r = crate::snapshot::Registers {
            rip: 0x1105,
            rsp: 0x7000,
            ..Default::default()
        };
        let end = 0x40_0000 + p.code.len() as u64;
        assert_eq!(
            fix_up(&mut r, 0x1000, 0x40_0000, &p, Some(end)),
            Some((0x7000, 0x1005))
        );
        assert_eq!(r.rip, 0x1105);
        // Straight-line code resumes after the original instruction.
        let cmp = [0x49, 0x3b, 0x66, 0x10]; // cmp rsp, [r14+0x10]
        let p = plan(&cmp, 0x1000, 0x40_0000).expect("cmp displaces");
        let mut r = crate::snapshot::Registers {
            rip: 0x40_0000 + p.code.len() as u64,
            ..Default::default()
        };
        assert_eq!(fix_up(&mut r, 0x1000, 0x40_0000, &p, None), None);
        assert_eq!(r.rip, 0x1004);
    }

    #[test]
    fn refuses_what_cannot_run_elsewhere() {
        assert!(plan(&[0x0f, 0x05], 0x1000, 0x40_0000).is_none()); // syscall
        assert!(plan(&[0xf3, 0xa4], 0x1000, 0x40_0000).is_none()); // rep movsb
        assert!(plan(&[0xe3, 0x05], 0x1000, 0x40_0000).is_none()); // jrcxz
        assert!(plan(&[0xcd, 0x80], 0x1000, 0x40_0000).is_none()); // int 0x80
        assert!(plan(&[0xff], 0x1000, 0x40_0000).is_none()); // truncated
    }
}
