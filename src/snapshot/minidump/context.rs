//! Thread contexts of minidumps to register sets: `CONTEXT_AMD64` (Windows' layout,
//! which Breakpad's `MDRawContextAMD64` copies) to [`Registers`]; `CONTEXT_ARM64`
//! (Windows' and Crashpad's layout) and Breakpad's `MDRawContextARM64_Old` (what
//! Breakpad and minidump-writer write on Linux, with processor architecture 0x8003) to
//! [`Arm64Registers`].
//!
//! The amd64 context has no fs_base/gs_base: Breakpad fills it from `user_regs_struct`
//! but keeps only the segment selectors. So on Linux the TLS slot of the g pointer
//! (fs_base-8) cannot be found from registers; the runtime model finds each thread's M
//! through `runtime.allm` (m.procid == thread id) instead. The arm64 contexts have no
//! `tpidr_el0` either (0, as in qemu-user's cores); Go keeps g in x28.

use super::super::{Arm64Registers, Registers};
use minidump::{MinidumpContext, MinidumpRawContext};

/// A context's registers, by architecture.
#[derive(Debug, Clone)]
pub enum Regs {
    Amd64(Registers),
    Arm64(Arm64Registers),
}

/// The general-purpose registers of an amd64 or arm64 context; `None` for another CPU.
pub fn registers(c: &MinidumpContext) -> Option<Regs> {
    let arm64 = |iregs: &[u64; 31], sp: u64, pc: u64, cpsr: u32| {
        Regs::Arm64(Arm64Registers {
            x: *iregs,
            sp,
            pc,
            pstate: u64::from(cpsr),
            tpidr: 0,
        })
    };
    match &c.raw {
        MinidumpRawContext::Amd64(r) => Some(Regs::Amd64(amd64(r))),
        MinidumpRawContext::Arm64(r) => Some(arm64(&r.iregs, r.sp, r.pc, r.cpsr)),
        MinidumpRawContext::OldArm64(r) => Some(arm64(&r.iregs, r.sp, r.pc, r.cpsr)),
        _ => None,
    }
}

fn amd64(r: &minidump::format::CONTEXT_AMD64) -> Registers {
    Registers {
        r15: r.r15,
        r14: r.r14,
        r13: r.r13,
        r12: r.r12,
        rbp: r.rbp,
        rbx: r.rbx,
        r11: r.r11,
        r10: r.r10,
        r9: r.r9,
        r8: r.r8,
        rax: r.rax,
        rcx: r.rcx,
        rdx: r.rdx,
        rsi: r.rsi,
        rdi: r.rdi,
        orig_rax: 0,
        rip: r.rip,
        cs: u64::from(r.cs),
        eflags: u64::from(r.eflags),
        rsp: r.rsp,
        ss: u64::from(r.ss),
        fs_base: 0,
        gs_base: 0,
        ds: u64::from(r.ds),
        es: u64::from(r.es),
        fs: u64::from(r.fs),
        gs: u64::from(r.gs),
    }
}
