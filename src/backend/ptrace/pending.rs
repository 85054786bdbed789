//! Breakpoint traps still queued when coroner lets a thread go.
//!
//! A thread can execute an `int3` at the moment the tracer interrupts it: the kernel
//! reports the interrupt first (job-control traps come before signals) and keeps the
//! SIGTRAP queued on the thread. While traced, such a trap is found later and rewound
//! (`Table::removed`). But at detach nothing would report it: the untraced program
//! would get a SIGTRAP at a breakpoint address plus one and die of "trace trap" (seen
//! once in 31 `coroner trace -p` + Ctrl-C runs). So before detaching, each stopped
//! thread with SIGTRAP in its own pending set runs just far enough to report it (a
//! synchronous signal is dequeued before anything else runs), and a breakpoint's trap
//! is rewound onto the instruction, which runs normally once the code is restored.

use super::breakpoints;
use super::pads::InPad;
use super::sys::{self, Status};
use super::Tracee;

/// si_code of a single-step trap and of a hardware watchpoint's.
const TRAP_TRACE: i32 = 2;
const TRAP_HWBKPT: i32 = 4;

/// Bit of SIGTRAP in /proc/PID/task/TID/status's SigPnd mask.
const SIGTRAP_BIT: u64 = 1 << (libc::SIGTRAP - 1);

/// Whether thread `tid` of `pid` has a SIGTRAP queued for itself.
fn trap_pending(pid: i32, tid: i32) -> bool {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")) else {
        return false;
    };
    super::procfs::status_field_of(&text, "SigPnd")
        .and_then(|v| u64::from_str_radix(&v, 16).ok())
        .is_some_and(|m| m & SIGTRAP_BIT != 0)
}

impl Tracee {
    /// Take every queued breakpoint trap of the stopped threads (see the module
    /// comment). Every thread must be stopped. A SIGTRAP that is no breakpoint's stays
    /// owed to the program.
    pub(super) fn flush_pending_traps(&mut self) {
        let tids: Vec<i32> = self
            .threads
            .iter()
            .filter(|(_, t)| !t.exiting && !t.running)
            .map(|(&k, _)| k)
            .collect();
        for tid in tids {
            if !trap_pending(self.pid, tid) {
                continue;
            }
            if sys::cont(tid, 0).is_err() {
                continue;
            }
            let st = match sys::wait(tid) {
                Ok((_, st)) => st,
                Err(_) => continue,
            };
            match st {
                Status::Stopped {
                    sig: libc::SIGTRAP,
                    event: 0,
                } => {
                    let Ok(mut r) = sys::get_regs(tid) else {
                        continue;
                    };
                    let bp = match self.pads.locate(r.rip) {
                        Some(InPad::Hit(pc)) => Some(pc),
                        _ => {
                            let at = r.rip.wrapping_sub(1);
                            let t = breakpoints::lock(&self.bps);
                            (t.inserted.contains_key(&at) || t.removed.contains(&at)).then_some(at)
                        }
                    };
                    match bp {
                        Some(pc) => {
                            r.rip = pc;
                            let _ = sys::set_regs(tid, &r);
                            if let Some(t) = self.threads.get_mut(&tid) {
                                t.regs = Some(r);
                                // Not a hit anyone will see: the instruction runs.
                                t.step_over = false;
                            }
                        }
                        None => {
                            // A step's or a watchpoint's trap is ours too; anything
                            // else (raise(SIGTRAP), a program's own int3) is the
                            // program's.
                            let ours = sys::siginfo(tid).is_ok_and(|si| {
                                si.si_code == TRAP_TRACE || si.si_code == TRAP_HWBKPT
                            });
                            if let Some(t) = self.threads.get_mut(&tid) {
                                if !ours {
                                    t.pending_sig = libc::SIGTRAP;
                                }
                                t.regs = None;
                            }
                        }
                    }
                }
                Status::Stopped { sig, event: 0 } => {
                    // Some other signal came first: owed to the program as usual.
                    if let Some(t) = self.threads.get_mut(&tid) {
                        t.pending_sig = sig;
                        t.regs = None;
                    }
                }
                Status::Stopped { .. } => {
                    if let Some(t) = self.threads.get_mut(&tid) {
                        t.regs = None;
                    }
                }
                Status::Exited(_) | Status::Killed(_) => {
                    if let Some(t) = self.threads.get_mut(&tid) {
                        t.exiting = true;
                    }
                }
            }
        }
    }
}
