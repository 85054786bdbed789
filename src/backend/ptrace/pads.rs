//! Jump pads: a breakpoint's instruction copied out of line once, followed by a jump
//! back to the instruction after it, so a thread whose condition was false runs on
//! through the pad without a single-step (one ptrace stop per hit instead of two).
//!
//! Why not the single-step of `displaced.rs` every time: a hit is a trap, a condition
//! check and a resume; the single-step doubled the stops (trap, step trap) and the
//! register traffic. A pad is written once per breakpoint address and never changed
//! while the breakpoint could send a thread into it, so any number of threads may run
//! through the same pad at once, and nothing has to watch them do it.
//!
//! Where pads live: an anonymous mapping made in the tracee by an injected `mmap`
//! system call (the program never sees it run: the thread that makes it is stopped on a
//! breakpoint, and its registers are put back). It is placed near the binary's code so
//! RIP-relative operands re-encode with 32-bit displacements. Detach moves every
//! thread out of it but leaves it mapped: a thread stopped in a signal handler may have
//! been interrupted inside a pad, and its `rt_sigreturn` goes back there (see
//! `drop_pads`); the jump back keeps it correct.
//!
//! What a pad cannot hold: calls (the pushed return address would point into the pad,
//! and the Go runtime's unwinder would reject it during a stack scan or a panic), and
//! whatever `displaced::plan` refuses. Those keep the single-step.
//!
//! A thread seen inside a pad is moved back into the program's code before anyone looks
//! at it (`Pads::locate`): at the pad's start the instruction has not run (the thread is
//! back on its breakpoint, already reported); at the jump back it has (the thread is at
//! the next instruction). So registers and stacks never show a pad. A signal handler
//! can: a signal that arrived while the thread ran through a pad saved the pad's PC in
//! its `ucontext`, and returns there; the Go runtime's handler finds no function at
//! that PC and leaves it alone, so pads stay correct under SIGURG and SIGPROF.

use super::condpad::{self, Rollback};
use super::displaced;
use crate::backend::FastCond;
use std::collections::{BTreeMap, HashMap};

/// Room for one pad: the longest re-encoded instruction (19 bytes) plus the longest
/// jump back (14 bytes), rounded up.
const SLOT: u64 = 48;
/// One mapping holds this many bytes of pads (1,365 breakpoint addresses).
pub const AREA_LEN: u64 = 64 * 1024;

/// Where a thread inside a pad really is in the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InPad {
    /// At the pad's start: the instruction at this breakpoint address has not run.
    Before(u64),
    /// At the jump back: it ran, and this is the next instruction's address.
    After(u64),
    /// In a condition pad's test (`condpad.rs`): the instruction at this breakpoint
    /// address has not run, and no hit was reported; undo what the test did.
    Retry(u64, Rollback),
    /// Just after a condition pad's `int3`: a hit at this breakpoint address.
    Hit(u64),
}

#[derive(Debug, Clone)]
struct Pad {
    /// The breakpoint address whose instruction the pad holds.
    pc: u64,
    /// Length of that instruction in the program.
    len: u64,
    /// Address of the jump back (just after the re-encoded instruction).
    back: u64,
    /// A condition pad's test in front of the instruction.
    cond: Option<CondParts>,
}

/// Where a condition pad's parts are (absolute addresses).
#[derive(Debug, Clone)]
struct CondParts {
    /// Where the instruction itself is (the plain pad inside the condition pad).
    p1: u64,
    /// Just after the `int3` of a true test.
    trap: u64,
    rollbacks: Vec<(u64, Rollback)>,
}

/// The pads of one address space.
#[derive(Debug, Default)]
pub struct Pads {
    /// The mapping: start address, once made.
    area: Option<u64>,
    /// Making the mapping failed once (seccomp, no memory): do not try again.
    pub failed: bool,
    /// Next free byte in the area.
    next: u64,
    /// Breakpoint address -> pad start, for the pads that are current.
    by_pc: HashMap<u64, u64>,
    /// Pad start -> pad, for every pad ever written (old ones may still hold threads).
    by_start: BTreeMap<u64, Pad>,
}

impl Pads {
    pub fn area(&self) -> Option<u64> {
        self.area
    }

    pub fn set_area(&mut self, at: u64) {
        self.area = Some(at);
        self.next = at;
    }

    /// The current pad for a breakpoint address.
    pub fn for_pc(&self, pc: u64) -> Option<u64> {
        self.by_pc.get(&pc).copied()
    }

    /// Code or breakpoints changed: no current pad is trusted any more. The old pads
    /// stay mapped and unchanged (a running thread may be inside one); new ones are
    /// written elsewhere in the area.
    pub fn forget_current(&mut self) {
        self.by_pc.clear();
    }

    /// A new address space (exec): nothing of the old one exists.
    pub fn reset(&mut self) {
        *self = Pads::default();
    }

    /// Where a thread whose PC is `rip` really is, if `rip` is in a pad.
    pub fn locate(&self, rip: u64) -> Option<InPad> {
        let area = self.area?;
        if !(area..area + AREA_LEN).contains(&rip) {
            return None;
        }
        let (&start, pad) = self.by_start.range(..=rip).next_back()?;
        if let Some(c) = &pad.cond {
            if rip == c.trap {
                return Some(InPad::Hit(pad.pc));
            }
            if rip == c.p1 {
                return Some(InPad::Before(pad.pc));
            }
            if let Some(&(_, rb)) = c.rollbacks.iter().find(|r| r.0 == rip) {
                return Some(InPad::Retry(pad.pc, rb));
            }
        } else if rip == start {
            return Some(InPad::Before(pad.pc));
        }
        (rip == pad.back).then_some(InPad::After(pad.pc + pad.len))
    }

    /// Build the pad for the instruction `bytes` (breakpoints hidden) at `pc`, at the
    /// next free slot. None when the instruction cannot run from a pad or the area is
    /// full. The caller writes `code` at `at`, then calls `commit`.
    pub fn prepare(&self, bytes: &[u8], pc: u64) -> Option<NewPad> {
        let area = self.area?;
        let at = self.next;
        if at + SLOT > area + AREA_LEN {
            return None;
        }
        let plan = displaced::plan(bytes, pc, at)?;
        if plan.is_call {
            return None;
        }
        let mut code = plan.code;
        let back = at + code.len() as u64;
        code.extend_from_slice(&jump(back, pc + plan.len));
        if code.len() as u64 > SLOT {
            return None;
        }
        Some(NewPad {
            at,
            code,
            pad: Pad {
                pc,
                len: plan.len,
                back,
                cond: None,
            },
            room: SLOT,
        })
    }

    /// Build a condition pad (`condpad.rs`) testing `cond` in front of the instruction
    /// `bytes` at `pc`. None when the instruction is shorter than a short `jmp`, is a
    /// call, cannot be displaced, or the area is full.
    pub fn prepare_cond(&self, bytes: &[u8], pc: u64, cond: &FastCond) -> Option<NewPad> {
        let area = self.area?;
        let at = self.next;
        let mut layout = condpad::test(cond)?;
        let p1 = at + layout.test.len() as u64;
        let plan = displaced::plan(bytes, pc, p1)?;
        if plan.is_call || plan.len < condpad::SHORT_JMP_LEN as u64 {
            return None;
        }
        let mut rest = plan.code;
        let back = p1 + rest.len() as u64;
        rest.extend_from_slice(&jump(back, pc + plan.len));
        let (code, p1_off, trap_off) = layout.assemble(&rest);
        let room = (code.len() as u64).div_ceil(16) * 16;
        if at + room > area + AREA_LEN {
            return None;
        }
        let rollbacks = layout.rollbacks.iter().map(|&(o, r)| (at + o, r)).collect();
        Some(NewPad {
            at,
            code,
            pad: Pad {
                pc,
                len: plan.len,
                back,
                cond: Some(CondParts {
                    p1: at + p1_off,
                    trap: at + trap_off,
                    rollbacks,
                }),
            },
            room,
        })
    }

    /// Record a pad `prepare` or `prepare_cond` built, once its bytes are in the
    /// tracee. A condition pad's plain part serves threads stepping over the breakpoint.
    pub fn commit(&mut self, new: NewPad) {
        let plain = new.pad.cond.as_ref().map_or(new.at, |c| c.p1);
        self.by_pc.insert(new.pad.pc, plain);
        self.by_start.insert(new.at, new.pad);
        self.next = new.at + new.room;
    }
}

impl NewPad {
    /// Where a condition pad's `int3` is.
    pub fn int3(&self) -> Option<u64> {
        self.pad.cond.as_ref().map(|c| c.trap - 1)
    }
}

/// A pad built but not yet recorded.
#[derive(Debug)]
pub struct NewPad {
    pub at: u64,
    pub code: Vec<u8>,
    pad: Pad,
    /// Bytes of the area it takes.
    room: u64,
}

/// A jump from `from` to `to`: `jmp rel32` when it reaches, else `jmp [rip+0]` over the
/// absolute address.
fn jump(from: u64, to: u64) -> Vec<u8> {
    let rel = to.wrapping_sub(from + 5) as i64;
    if i32::try_from(rel).is_ok() {
        let mut v = vec![0xe9];
        v.extend_from_slice(&(rel as i32).to_le_bytes());
        v
    } else {
        let mut v = vec![0xff, 0x25, 0, 0, 0, 0];
        v.extend_from_slice(&to.to_le_bytes());
        v
    }
}

/// Where to ask for the pad area: just below the binary's code, so RIP-relative
/// operands and the jumps back reach with 32 bits. The kernel treats it as a hint.
pub fn hint(entry: u64) -> u64 {
    let below = (entry & !0xf_ffff).saturating_sub(0x20_0000);
    below.max(0x10_0000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::{Decoder, DecoderOptions};

    #[test]
    fn a_pad_runs_the_instruction_then_jumps_back() {
        let mut pads = Pads::default();
        pads.set_area(0x20_0000);
        // mov [rsp+0x18], rax at 0x4c40e8 (5 bytes).
        let mov = [0x48, 0x89, 0x44, 0x24, 0x18];
        let new = pads.prepare(&mov, 0x4c40e8).expect("mov goes in a pad");
        let (at, code) = (new.at, new.code.clone());
        assert_eq!(at, 0x20_0000);
        pads.commit(new);
        let mut dec = Decoder::with_ip(64, &code, at, DecoderOptions::NONE);
        let first = dec.decode();
        assert_eq!(first.len(), 5);
        let back = dec.decode();
        assert_eq!(back.near_branch64(), 0x4c40ed);
        assert_eq!(pads.for_pc(0x4c40e8), Some(at));
        assert_eq!(pads.locate(at), Some(InPad::Before(0x4c40e8)));
        assert_eq!(pads.locate(at + 5), Some(InPad::After(0x4c40ed)));
        assert_eq!(pads.locate(at + 6), None);
        assert_eq!(pads.locate(0x4c40e8), None);
        // The next pad goes in the next slot; the old one still translates.
        let cmp = [0x49, 0x3b, 0x66, 0x10];
        let new = pads.prepare(&cmp, 0x4c5000).expect("cmp goes in a pad");
        assert_eq!(new.at, at + SLOT);
        pads.commit(new);
        pads.forget_current();
        assert_eq!(pads.for_pc(0x4c40e8), None);
        assert_eq!(pads.locate(at + 5), Some(InPad::After(0x4c40ed)));
    }

    #[test]
    fn far_targets_get_an_absolute_jump_and_calls_get_no_pad() {
        let mut pads = Pads::default();
        pads.set_area(0x7f00_0000_0000);
        let nop = [0x90];
        let new = pads.prepare(&nop, 0x40_1000).expect("nop goes in a pad");
        let (at, code) = (new.at, new.code.clone());
        pads.commit(new);
        assert_eq!(&code[1..3], &[0xff, 0x25]);
        assert_eq!(
            u64::from_le_bytes(code[7..15].try_into().unwrap()),
            0x40_1001
        );
        assert_eq!(pads.locate(at + 1), Some(InPad::After(0x40_1001)));
        let call = [0xe8, 0, 1, 0, 0];
        pads.set_area(0x20_0000);
        assert!(pads.prepare(&call, 0x40_1000).is_none());
        // rip-relative operands that cannot reach from the area are refused.
        let lea = [0x48, 0x8d, 0x05, 0x10, 0x00, 0x00, 0x00];
        pads.set_area(0x7f00_0000_0000);
        assert!(pads.prepare(&lea, 0x40_1000).is_none());
    }

    #[test]
    fn the_full_area_refuses_new_pads() {
        let mut pads = Pads::default();
        pads.set_area(0x20_0000);
        let nop = [0x90];
        let mut n = 0;
        while let Some(new) = pads.prepare(&nop, 0x40_0000 + n) {
            pads.commit(new);
            n += 1;
        }
        assert_eq!(n, AREA_LEN / SLOT);
    }
}
