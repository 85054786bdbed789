//! Thread contexts of minidumps: `CONTEXT_AMD64` (Windows' layout, which Breakpad's
//! `MDRawContextAMD64` copies) to [`Registers`].
//!
//! The context has no fs_base/gs_base: Breakpad fills it from `user_regs_struct` but
//! keeps only the segment selectors. So on Linux the TLS slot of the g pointer
//! (fs_base-8) cannot be found from registers; the runtime model finds each thread's M
//! through `runtime.allm` (m.procid == thread id) instead.

use super::super::{Registers, SignalInfo};
use crate::addr::Addr;
use minidump::format::MINIDUMP_EXCEPTION;
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

/// A Windows exception as the POSIX signal the Go runtime maps it to (see
/// runtime/signal_windows.go), so the cause-of-death logic reads it the same way.
pub fn windows_signal(rec: &MINIDUMP_EXCEPTION, tid: u32) -> Option<SignalInfo> {
    let signo = match rec.exception_code {
        0xc000_0005 | 0xc000_0006 => 11, // access violation, in-page error
        0xc000_008c..=0xc000_0095 => 8,  // float/integer arithmetic
        0xc000_001d | 0xc000_0096 => 4,  // illegal/privileged instruction
        0x8000_0003 | 0x8000_0004 => 5,  // breakpoint, single step
        0x4000_0015 | 0xc000_0409 => 6,  // abort (FAST_FAIL, STATUS_STACK_BUFFER_OVERRUN)
        _ => return None,
    };
    // For access violations parameter 1 is the address that faulted.
    let fault =
        (signo == 11 && rec.number_parameters >= 2).then(|| Addr(rec.exception_information[1]));
    Some(SignalInfo {
        signo,
        code: 1,
        errno: 0,
        fault_addr: fault,
        sender_pid: None,
        tid: Some(tid),
    })
}
