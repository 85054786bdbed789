//! Condition pads: a conditional breakpoint whose condition the tracee tests itself.
//!
//! Why: with an `int3`, every hit of `break f if i == 19999` is a ptrace stop, a
//! register read, an evaluation and a resume, about 80 µs here, even though 19,999 of
//! the 20,000 hits are false. When the condition is one integer variable against a
//! constant and the variable sits at a fixed place at the breakpoint's address (a
//! register or a stack slot: the DWARF location there), the breakpoint's instruction is
//! overwritten with a 5-byte `jmp` to a pad that compares and either runs the displaced
//! instruction and jumps back (false: no stop at all) or traps (true: reported as a hit
//! at the breakpoint's address, where the debugger evaluates the full condition as for
//! any hit, so a compiled condition can only make a hit faster, never change it).
//!
//! The pad, at P0 (where the `jmp` lands):
//!
//! ```text
//! P0:  lea rsp, [rsp-0x80]    keep clear of a red zone (C code; Go has none)
//!      pushfq                 the program's flags may be live across the breakpoint
//!      cmp <var>, imm
//!      j<cc> T                condition true
//!      popfq
//!      lea rsp, [rsp+0x80]
//! P1:  <the instruction, re-encoded for this address>
//!      jmp <next instruction>
//! T:   popfq
//!      lea rsp, [rsp+0x80]
//!      int3                   the hit: every register as at the breakpoint
//! ```
//!
//! `lea` and `popfq` leave the flags alone, so at T's `int3` the thread is exactly as
//! it was at the breakpoint but for RIP. A thread stopped anywhere in the pad (SIGSTOP
//! to halt everyone, a signal) is rolled back to the breakpoint's address with the
//! instruction not run ([`Rollback`]): RSP and the flags put back, and on resume it
//! goes through the test again. P1 is an ordinary jump pad: a thread that already
//! reported its hit runs on through it.
//!
//! The jump covers exactly one instruction, so no thread can be inside it or return
//! into it: instructions of 5 bytes or more get the `jmp rel32` to the pad; those of 2
//! to 4 bytes get a `jmp rel8` to a hole (5 bytes of the int3 padding before a
//! function entry, within 127 bytes, which no code runs), and the hole gets the `jmp
//! rel32`. One-byte instructions keep the `int3`.

use crate::backend::{CondOp, CondOperand, FastCond};

/// The `jmp rel32` written over the breakpoint's instruction (or into a hole).
pub const JMP_LEN: usize = 5;
/// The `jmp rel8` written over an instruction of 2 to 4 bytes, to a hole.
pub const SHORT_JMP_LEN: usize = 2;
/// How far below RSP the pad moves the stack before pushing the flags.
const RED_ZONE: i32 = 0x80;
/// RSP inside the test: the red zone and the pushed flags below the program's RSP.
const SHIFT: i32 = RED_ZONE + 8;

const LEA_DOWN: [u8; 8] = [0x48, 0x8d, 0xa4, 0x24, 0x80, 0xff, 0xff, 0xff];
const LEA_UP: [u8; 8] = [0x48, 0x8d, 0xa4, 0x24, 0x80, 0x00, 0x00, 0x00];
const PUSHFQ: u8 = 0x9c;
const POPFQ: u8 = 0x9d;
const INT3: u8 = 0xcc;

/// How to put a thread found at some address of the test back at the breakpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rollback {
    /// Add this to RSP.
    pub rsp_add: u64,
    /// The program's flags are the 8 bytes at RSP (before adding).
    pub flags_on_stack: bool,
}

/// Where the parts of a condition pad are, as offsets from P0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The test, P0 up to (not including) P1.
    pub test: Vec<u8>,
    /// Offset of every instruction start in the test and in T, with its rollback.
    pub rollbacks: Vec<(u64, Rollback)>,
    /// Where the `j<cc>` rel32 field is, to patch once T's offset is known.
    jcc_rel: usize,
}

/// Machine code of the test's comparison, or None when it cannot be encoded.
fn compare(c: &FastCond) -> Option<Vec<u8>> {
    let mut v = Vec::with_capacity(13);
    let imm = immediate(c)?;
    match c.operand {
        CondOperand::Stack(off) => {
            let disp = off.checked_add(SHIFT)?;
            if c.size == 2 {
                v.push(0x66);
            }
            if c.size == 8 {
                v.push(0x48);
            }
            v.push(if c.size == 1 { 0x80 } else { 0x81 });
            // ModRM mod=10 (disp32) reg=/7 (cmp) rm=100 (SIB); SIB base=rsp, no index.
            v.extend_from_slice(&[0xbc, 0x24]);
            v.extend_from_slice(&disp.to_le_bytes());
        }
        CondOperand::Reg(dw) => {
            let r = x86_reg(dw)?;
            if r == 4 {
                // RSP moves inside the pad.
                return None;
            }
            if c.size == 2 {
                v.push(0x66);
            }
            let b = u8::from(r >= 8);
            match c.size {
                8 => v.push(0x48 | b),
                // spl/bpl/sil/dil need a REX prefix to be byte registers.
                1 if r >= 4 => v.push(0x40 | b),
                _ if b != 0 => v.push(0x41),
                _ => {}
            }
            v.push(if c.size == 1 { 0x80 } else { 0x81 });
            v.push(0xf8 | (r & 7));
        }
    }
    v.extend_from_slice(&imm);
    Some(v)
}

/// The constant as the comparison's immediate: full width for 1, 2 and 4 bytes, a
/// sign-extended 32-bit value for 8 bytes.
fn immediate(c: &FastCond) -> Option<Vec<u8>> {
    let v = c.value;
    let fits = match (c.size, c.signed) {
        (1, true) => i8::try_from(v).is_ok(),
        (1, false) => u8::try_from(v).is_ok(),
        (2, true) => i16::try_from(v).is_ok(),
        (2, false) => u16::try_from(v).is_ok(),
        (4, true) => i32::try_from(v).is_ok(),
        (4, false) => u32::try_from(v).is_ok(),
        // cmp r/m64, imm32 sign-extends: a uint64 constant must be below 2^31.
        (8, true) => i32::try_from(v).is_ok(),
        (8, false) => (0..=i64::from(i32::MAX)).contains(&v),
        _ => false,
    };
    if !fits {
        return None;
    }
    let b = v.to_le_bytes();
    Some(match c.size {
        1 => b[..1].to_vec(),
        2 => b[..2].to_vec(),
        _ => b[..4].to_vec(),
    })
}

/// DWARF register number (amd64) to the instruction encoding's.
fn x86_reg(dw: u16) -> Option<u8> {
    const MAP: [u8; 16] = [0, 2, 1, 3, 6, 7, 5, 4, 8, 9, 10, 11, 12, 13, 14, 15];
    MAP.get(usize::from(dw)).copied()
}

/// `j<cc> rel32` second opcode byte: jump when the condition holds.
fn jcc(op: CondOp, signed: bool) -> u8 {
    match (op, signed) {
        (CondOp::Eq, _) => 0x84,
        (CondOp::Ne, _) => 0x85,
        (CondOp::Lt, true) => 0x8c,
        (CondOp::Ge, true) => 0x8d,
        (CondOp::Le, true) => 0x8e,
        (CondOp::Gt, true) => 0x8f,
        (CondOp::Lt, false) => 0x82,
        (CondOp::Ge, false) => 0x83,
        (CondOp::Le, false) => 0x86,
        (CondOp::Gt, false) => 0x87,
    }
}

/// The test for `c`, or None when it cannot be encoded.
pub fn test(c: &FastCond) -> Option<Layout> {
    if !matches!(c.size, 1 | 2 | 4 | 8) {
        return None;
    }
    let cmp = compare(c)?;
    let mut test = Vec::with_capacity(40);
    let mut rollbacks = Vec::new();
    let at = |v: &Vec<u8>| v.len() as u64;
    rollbacks.push((0, roll(0, false)));
    test.extend_from_slice(&LEA_DOWN);
    rollbacks.push((at(&test), roll(RED_ZONE, false)));
    test.push(PUSHFQ);
    rollbacks.push((at(&test), roll(SHIFT, true)));
    test.extend_from_slice(&cmp);
    rollbacks.push((at(&test), roll(SHIFT, true)));
    test.extend_from_slice(&[0x0f, jcc(c.op, c.signed)]);
    let jcc_rel = test.len();
    test.extend_from_slice(&[0; 4]);
    rollbacks.push((at(&test), roll(SHIFT, true)));
    test.push(POPFQ);
    rollbacks.push((at(&test), roll(RED_ZONE, false)));
    test.extend_from_slice(&LEA_UP);
    Some(Layout {
        test,
        rollbacks,
        jcc_rel,
    })
}

fn roll(add: i32, flags_on_stack: bool) -> Rollback {
    Rollback {
        rsp_add: add as u64,
        flags_on_stack,
    }
}

impl Layout {
    /// The whole pad: the test, then `rest` (P1: the displaced instruction and its jump
    /// back), then T. Returns the code, the offset of P1 and the offset just after T's
    /// `int3` (where a true hit traps); `rollbacks` gains T's instructions.
    pub fn assemble(&mut self, rest: &[u8]) -> (Vec<u8>, u64, u64) {
        let mut code = self.test.clone();
        let p1 = code.len() as u64;
        code.extend_from_slice(rest);
        let t = code.len();
        // The jcc's rel32 counts from the end of the jcc.
        let rel = (t - (self.jcc_rel + 4)) as u32;
        code[self.jcc_rel..self.jcc_rel + 4].copy_from_slice(&rel.to_le_bytes());
        self.rollbacks.push((t as u64, roll(SHIFT, true)));
        code.push(POPFQ);
        self.rollbacks
            .push((code.len() as u64, roll(RED_ZONE, false)));
        code.extend_from_slice(&LEA_UP);
        self.rollbacks.push((code.len() as u64, roll(0, false)));
        code.push(INT3);
        let trap = code.len() as u64;
        // Never run while traced (the tracer moves a thread that trapped back to the
        // breakpoint); once coroner is gone for good, the int3 becomes a nop
        // (`Table::remove_all`) and a thread that was about to trap runs the
        // instruction instead of dying of SIGTRAP.
        let rel = (p1 as i64 - (code.len() as i64 + JMP_LEN as i64)) as i32;
        code.push(0xe9);
        code.extend_from_slice(&rel.to_le_bytes());
        (code, p1, trap)
    }
}

/// `jmp rel8` from `from` to `to`, if it reaches.
pub fn short_jmp(from: u64, to: u64) -> Option<[u8; SHORT_JMP_LEN]> {
    let rel = i8::try_from(to.wrapping_sub(from + SHORT_JMP_LEN as u64) as i64).ok()?;
    Some([0xeb, rel as u8])
}

/// `jmp rel32` from `from` to `to`, if it reaches.
pub fn jmp(from: u64, to: u64) -> Option<[u8; JMP_LEN]> {
    let rel = i32::try_from(to.wrapping_sub(from + JMP_LEN as u64) as i64).ok()?;
    let r = rel.to_le_bytes();
    Some([0xe9, r[0], r[1], r[2], r[3]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::{Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter};

    fn text(code: &[u8], ip: u64) -> Vec<String> {
        let mut dec = Decoder::with_ip(64, code, ip, DecoderOptions::NONE);
        let mut f = IntelFormatter::new();
        let mut out = Vec::new();
        let mut ins = Instruction::default();
        while dec.can_decode() {
            dec.decode_out(&mut ins);
            let mut s = String::new();
            f.format(&ins, &mut s);
            out.push(s);
        }
        out
    }

    fn cond(operand: CondOperand, size: u8, signed: bool, op: CondOp, value: i64) -> FastCond {
        FastCond {
            operand,
            size,
            signed,
            op,
            value,
            holes: [None; 2],
        }
    }

    #[test]
    fn a_stack_int64_test_decodes_as_written() {
        let c = cond(CondOperand::Stack(0x18), 8, true, CondOp::Eq, 19999);
        let mut l = test(&c).expect("encodes");
        let rest = [0x90, 0xe9, 0, 0, 0, 0];
        let (code, p1, trap) = l.assemble(&rest);
        let t = text(&code, 0x1000);
        assert_eq!(t[0], "lea rsp,[rsp-80h]");
        assert_eq!(t[1], "pushfq");
        // The variable is 0x18 above the program's RSP: 0x18 + 0x88 inside the pad.
        assert_eq!(t[2], "cmp qword ptr [rsp+0A0h],4E1Fh");
        assert_eq!(t[4], "popfq");
        assert_eq!(t[5], "lea rsp,[rsp+80h]");
        assert_eq!(t[6], "nop");
        assert_eq!(t[8], "popfq");
        assert_eq!(t[10], "int3");
        assert_eq!(&code[p1 as usize..p1 as usize + rest.len()], &rest);
        assert_eq!(trap as usize + JMP_LEN, code.len());
        // After the int3, a jmp back to P1 (run only once coroner has gone).
        let mut dec = Decoder::with_ip(
            64,
            &code[trap as usize..],
            0x1000 + trap,
            DecoderOptions::NONE,
        );
        assert_eq!(dec.decode().near_branch64(), 0x1000 + p1);
        // je lands on T's popfq.
        let mut dec = Decoder::with_ip(64, &code, 0x1000, DecoderOptions::NONE);
        let je = (0..4).map(|_| dec.decode()).last().expect("4 instructions");
        assert_eq!(je.near_branch64(), 0x1000 + (trap - 10));
        // Every instruction start has a rollback, and RSP/flags go back as pushed.
        let starts: Vec<u64> = l.rollbacks.iter().map(|r| r.0).collect();
        assert_eq!(starts.len(), 9);
        assert_eq!(l.rollbacks[2].1, roll(0x88, true));
        assert_eq!(
            *l.rollbacks.last().expect("int3"),
            (trap - 1, roll(0, false))
        );
    }

    #[test]
    fn registers_and_widths_encode_with_the_right_prefixes() {
        let enc = |operand, size, signed, value| {
            let mut l = test(&cond(operand, size, signed, CondOp::Lt, value)).expect("encodes");
            text(&l.assemble(&[]).0, 0)[2].clone()
        };
        assert_eq!(
            enc(CondOperand::Reg(0), 8, true, -5),
            "cmp rax,0FFFFFFFFFFFFFFFBh"
        );
        assert_eq!(enc(CondOperand::Reg(1), 4, true, 7), "cmp edx,7");
        assert_eq!(enc(CondOperand::Reg(4), 1, false, 200), "cmp sil,0C8h");
        assert_eq!(enc(CondOperand::Reg(9), 2, false, 0x1234), "cmp r9w,1234h");
        assert_eq!(enc(CondOperand::Reg(15), 8, false, 1), "cmp r15,1");
        assert_eq!(
            enc(CondOperand::Stack(-8), 4, false, 9),
            "cmp dword ptr [rsp+80h],9"
        );
        assert_eq!(
            enc(CondOperand::Stack(0), 1, true, -1),
            "cmp byte ptr [rsp+88h],0FFh"
        );
    }

    #[test]
    fn what_cannot_be_encoded_is_refused() {
        let c =
            |operand, size, signed, value| test(&cond(operand, size, signed, CondOp::Eq, value));
        assert!(
            c(CondOperand::Reg(7), 8, true, 1).is_none(),
            "rsp moves in the pad"
        );
        assert!(
            c(CondOperand::Reg(16), 8, true, 1).is_none(),
            "no such register"
        );
        assert!(
            c(CondOperand::Reg(0), 1, false, 256).is_none(),
            "too big for uint8"
        );
        assert!(
            c(CondOperand::Reg(0), 1, true, 128).is_none(),
            "too big for int8"
        );
        assert!(
            c(CondOperand::Reg(0), 8, false, 1 << 31).is_none(),
            "imm32 sign-extends"
        );
        assert!(c(CondOperand::Reg(0), 8, true, i64::from(i32::MIN)).is_some());
        assert!(c(CondOperand::Reg(0), 3, true, 1).is_none(), "odd size");
        assert!(
            c(CondOperand::Stack(i32::MAX), 8, true, 1).is_none(),
            "disp overflows"
        );
    }

    #[test]
    fn signedness_picks_the_jump() {
        assert_eq!(jcc(CondOp::Lt, true), 0x8c);
        assert_eq!(jcc(CondOp::Lt, false), 0x82);
        assert_eq!(jcc(CondOp::Ge, false), 0x83);
        assert_eq!(jmp(0x1000, 0x1005), Some([0xe9, 0, 0, 0, 0]));
        assert_eq!(jmp(0x1000, 0x1000), Some([0xe9, 0xfb, 0xff, 0xff, 0xff]));
        assert!(jmp(0x1000, 0x7fff_0000_0000).is_none());
        assert_eq!(short_jmp(0x1000, 0x0ff9), Some([0xeb, 0xf7]));
        assert_eq!(short_jmp(0x1000, 0x1081), Some([0xeb, 0x7f]));
        assert!(short_jmp(0x1000, 0x1082).is_none());
    }
}
