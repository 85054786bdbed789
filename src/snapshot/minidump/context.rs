//! Thread contexts of minidumps: `CONTEXT_AMD64` (Windows' layout, which Breakpad's
//! `MDRawContextAMD64` copies) to [`Registers`].
//!
//! The context has no fs_base/gs_base: Breakpad fills it from `user_regs_struct` but
//! keeps only the segment selectors. So on Linux the TLS slot of the g pointer
//! (fs_base-8) cannot be found from registers; the runtime model finds each thread's M
//! through `runtime.allm` (m.procid == thread id) instead.

use super::super::Registers;
use minidump::{MinidumpContext, MinidumpRawContext};

/// The general-purpose registers of an amd64 context; `None` for another CPU.
pub fn registers(c: &MinidumpContext) -> Option<Registers> {
    let MinidumpRawContext::Amd64(r) = &c.raw else {
        return None;
    };
    Some(Registers {
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
    })
}
