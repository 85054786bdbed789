//! Thin, typed wrappers over the raw system calls the backend needs. Every call returns
//! the errno on failure so the layers above can name the cause; nothing here panics.

use crate::backend::BackendError;
use crate::snapshot::Registers;
use libc::{c_int, c_uint, c_void};

/// An errno value, kept as a number so callers can match on it (EPERM, ESRCH, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    pub fn last() -> Errno {
        Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }
    pub fn describe(self) -> String {
        std::io::Error::from_raw_os_error(self.0).to_string()
    }
    /// As a backend error for the operation `op`.
    pub fn os(self, op: &'static str) -> BackendError {
        BackendError::Os {
            op,
            why: self.describe(),
        }
    }
}

/// `offsetof(struct user, u_debugreg)` on x86_64 (848: the 27 GPRs, u_fpvalid, the
/// i387 area, sizes, start addresses, signal, u_ar0, u_fpstate, magic and u_comm come
/// first). `tests/ptrace_backend.rs` checks it against the C headers.
pub const DEBUGREG_OFFSET: usize = 848;

fn ptrace_raw(req: c_uint, tid: i32, addr: usize, data: usize) -> Result<i64, Errno> {
    // SAFETY: every request used here takes a pid and two word-sized arguments; pointer
    // arguments point at live, correctly sized buffers owned by the caller.
    let r = unsafe { libc::ptrace(req, tid, addr as *mut c_void, data as *mut c_void) };
    if r == -1 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

pub fn seize(tid: i32, options: c_int) -> Result<(), Errno> {
    ptrace_raw(libc::PTRACE_SEIZE, tid, 0, options as usize).map(|_| ())
}
pub fn interrupt(tid: i32) -> Result<(), Errno> {
    ptrace_raw(libc::PTRACE_INTERRUPT, tid, 0, 0).map(|_| ())
}
pub fn cont(tid: i32, sig: i32) -> Result<(), Errno> {
    ptrace_raw(libc::PTRACE_CONT, tid, 0, sig as usize).map(|_| ())
}
pub fn singlestep(tid: i32, sig: i32) -> Result<(), Errno> {
    ptrace_raw(libc::PTRACE_SINGLESTEP, tid, 0, sig as usize).map(|_| ())
}
pub fn detach(tid: i32, sig: i32) -> Result<(), Errno> {
    ptrace_raw(libc::PTRACE_DETACH, tid, 0, sig as usize).map(|_| ())
}
pub fn event_msg(tid: i32) -> Result<u64, Errno> {
    let mut v: libc::c_ulong = 0;
    ptrace_raw(
        libc::PTRACE_GETEVENTMSG,
        tid,
        0,
        &mut v as *mut libc::c_ulong as usize,
    )?;
    Ok(v)
}
pub fn siginfo(tid: i32) -> Result<libc::siginfo_t, Errno> {
    // SAFETY: siginfo_t is plain old data; all-zero is a valid value.
    let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
    ptrace_raw(
        libc::PTRACE_GETSIGINFO,
        tid,
        0,
        &mut si as *mut libc::siginfo_t as usize,
    )?;
    Ok(si)
}

pub fn get_regs(tid: i32) -> Result<Registers, Errno> {
    // SAFETY: user_regs_struct is 27 u64 words of plain data.
    let mut r: libc::user_regs_struct = unsafe { std::mem::zeroed() };
    ptrace_raw(
        libc::PTRACE_GETREGS,
        tid,
        0,
        &mut r as *mut libc::user_regs_struct as usize,
    )?;
    Ok(from_libc(&r))
}
pub fn set_regs(tid: i32, regs: &Registers) -> Result<(), Errno> {
    let r = to_libc(regs);
    ptrace_raw(
        libc::PTRACE_SETREGS,
        tid,
        0,
        &r as *const libc::user_regs_struct as usize,
    )
    .map(|_| ())
}

/// The FXSAVE area (user_fpregs_struct, 512 bytes).
pub fn get_fpregs(tid: i32) -> Result<[u8; 512], Errno> {
    let mut b = [0u8; 512];
    ptrace_raw(libc::PTRACE_GETFPREGS, tid, 0, b.as_mut_ptr() as usize)?;
    Ok(b)
}
pub fn set_fpregs(tid: i32, b: &[u8; 512]) -> Result<(), Errno> {
    ptrace_raw(libc::PTRACE_SETFPREGS, tid, 0, b.as_ptr() as usize).map(|_| ())
}

/// Read debug register `n` (0..=7).
pub fn peek_debugreg(tid: i32, n: usize) -> Result<u64, Errno> {
    // PEEKUSER returns the value, so -1 is ambiguous: clear errno first.
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() = 0 };
    // SAFETY: PEEKUSER takes an offset and ignores data.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_PEEKUSER,
            tid,
            (DEBUGREG_OFFSET + n * 8) as *mut c_void,
            std::ptr::null_mut::<c_void>(),
        )
    };
    if r == -1 {
        let e = Errno::last();
        if e.0 != 0 {
            return Err(e);
        }
    }
    Ok(r as u64)
}
pub fn poke_debugreg(tid: i32, n: usize, v: u64) -> Result<(), Errno> {
    ptrace_raw(
        libc::PTRACE_POKEUSER,
        tid,
        DEBUGREG_OFFSET + n * 8,
        v as usize,
    )
    .map(|_| ())
}

/// What `waitpid` said about one tracee.
#[derive(Debug, Clone, Copy)]
pub enum Status {
    Exited(i32),
    Killed(i32),
    /// Stopped with this signal and this PTRACE_EVENT_* (0 for a signal-delivery stop).
    Stopped {
        sig: i32,
        event: i32,
    },
}

/// Wait for `pid` (-1: any child or tracee of *this thread* only: `__WNOTHREAD` keeps two
/// tracer threads in one process, e.g. parallel tests, from stealing each other's events).
pub fn wait(pid: i32) -> Result<(i32, Status), Errno> {
    wait_flags(pid, 0).map(|r| r.unwrap_or((0, Status::Exited(0))))
}

/// Like [`wait`], but returns None at once when nothing has happened yet.
pub fn wait_nohang(pid: i32) -> Result<Option<(i32, Status)>, Errno> {
    wait_flags(pid, libc::WNOHANG)
}

fn wait_flags(pid: i32, extra: c_int) -> Result<Option<(i32, Status)>, Errno> {
    loop {
        let mut st: c_int = 0;
        // SAFETY: st is a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut st, libc::__WALL | libc::__WNOTHREAD | extra) };
        if r == 0 {
            return Ok(None);
        }
        if r == -1 {
            let e = Errno::last();
            if e.0 == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        let s = if libc::WIFEXITED(st) {
            Status::Exited(libc::WEXITSTATUS(st))
        } else if libc::WIFSIGNALED(st) {
            Status::Killed(libc::WTERMSIG(st))
        } else {
            Status::Stopped {
                sig: libc::WSTOPSIG(st),
                event: (st >> 16) & 0xff,
            }
        };
        return Ok(Some((r, s)));
    }
}

pub fn kill(pid: i32, sig: i32) -> Result<(), Errno> {
    // SAFETY: plain syscall.
    if unsafe { libc::kill(pid, sig) } == -1 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// This thread's id: TracerPid in /proc names the tracer *thread*.
pub fn gettid() -> i32 {
    // SAFETY: gettid cannot fail.
    unsafe { libc::gettid() }
}

/// process_vm_readv of one contiguous range; returns the number of bytes read.
pub fn vm_read(pid: i32, addr: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut c_void,
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut c_void,
        iov_len: buf.len(),
    };
    // SAFETY: the local iovec covers `buf` exactly; the remote one is only read by the
    // kernel on the other process's behalf.
    let r = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r as usize)
    }
}

fn from_libc(r: &libc::user_regs_struct) -> Registers {
    Registers::from_user_regs(&[
        r.r15, r.r14, r.r13, r.r12, r.rbp, r.rbx, r.r11, r.r10, r.r9, r.r8, r.rax, r.rcx, r.rdx,
        r.rsi, r.rdi, r.orig_rax, r.rip, r.cs, r.eflags, r.rsp, r.ss, r.fs_base, r.gs_base, r.ds,
        r.es, r.fs, r.gs,
    ])
}

fn to_libc(g: &Registers) -> libc::user_regs_struct {
    libc::user_regs_struct {
        r15: g.r15,
        r14: g.r14,
        r13: g.r13,
        r12: g.r12,
        rbp: g.rbp,
        rbx: g.rbx,
        r11: g.r11,
        r10: g.r10,
        r9: g.r9,
        r8: g.r8,
        rax: g.rax,
        rcx: g.rcx,
        rdx: g.rdx,
        rsi: g.rsi,
        rdi: g.rdi,
        orig_rax: g.orig_rax,
        rip: g.rip,
        cs: g.cs,
        eflags: g.eflags,
        rsp: g.rsp,
        ss: g.ss,
        fs_base: g.fs_base,
        gs_base: g.gs_base,
        ds: g.ds,
        es: g.es,
        fs: g.fs,
        gs: g.gs,
    }
}
