//! The Go runtime model: version, struct layouts (DWARF or built-in), goroutines.

pub mod labels;
pub mod layout;
pub mod locate;
pub mod model;
pub mod rtype;
pub mod waits;

use crate::addr::Addr;
pub use model::{GoRuntime, GoVersion, RuntimeError, ThreadContext};

/// g.sched: where a goroutine that is not running resumes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sched {
    pub sp: Addr,
    pub pc: Addr,
    pub bp: Addr,
    pub ctxt: Addr,
    pub lr: Addr,
}

/// One goroutine, as read from a `runtime.g`.
#[derive(Debug, Clone, Default)]
pub struct Goroutine {
    /// Address of the runtime.g.
    pub addr: Addr,
    pub goid: u64,
    /// Raw atomicstatus, including the _Gscan bit (0x1000).
    pub status: u32,
    /// Raw waitreason value.
    pub wait_reason_code: u8,
    /// Wait reason as the runtime names it (from runtime.waitReasonStrings).
    pub wait_reason: Option<String>,
    /// nanotime() when the goroutine blocked (g.waitsince), 0 if unknown.
    pub wait_since: i64,
    pub sched: Sched,
    pub syscall_sp: Addr,
    pub syscall_pc: Addr,
    pub stack_lo: Addr,
    pub stack_hi: Addr,
    /// PC of the go statement that created it.
    pub gopc: Addr,
    /// PC of the goroutine's function.
    pub start_pc: Addr,
    pub parent_goid: Option<u64>,
    /// The M (runtime.m) running it, null if none.
    pub m: Addr,
    /// OS thread id running it, when it is on a thread.
    pub thread: Option<u32>,
    /// True for runtime-internal goroutines (the runtime's isSystemGoroutine).
    pub system: bool,
    /// g.lockedm != 0 (LockOSThread): the traceback says "locked to thread".
    pub locked_to_thread: bool,
    /// Signal that made the goroutine panic (g.sig), 0 if none.
    pub sig: u32,
    /// si_code and fault address of that signal (g.sigcode0, g.sigcode1), and its PC.
    pub sigcode0: u64,
    pub sigcode1: u64,
    pub sigpc: Addr,
    /// Head of the g._panic chain, null if not panicking.
    pub panic: Addr,
    /// g.labels: pprof's label set, null if the goroutine has none.
    pub labels_ptr: Addr,
    /// The labels decoded from `labels_ptr` (shared by goroutines that inherited the
    /// same set); None when it has none or they could not be read.
    pub labels: Option<std::sync::Arc<labels::Labels>>,
    /// Fields that could not be read, if any.
    pub error: Option<String>,
}

pub const G_IDLE: u32 = 0;
pub const G_RUNNABLE: u32 = 1;
pub const G_RUNNING: u32 = 2;
pub const G_SYSCALL: u32 = 3;
pub const G_WAITING: u32 = 4;
pub const G_DEAD: u32 = 6;
pub const G_COPYSTACK: u32 = 8;
pub const G_PREEMPTED: u32 = 9;
pub const G_LEAKED: u32 = 10;
/// Go 1.27+: a dead g parked on an extra M for cgo callbacks; never printed.
pub const G_DEAD_EXTRA: u32 = 11;
pub const G_SCAN: u32 = 0x1000;

impl Goroutine {
    /// Status without the _Gscan bit.
    pub fn state(&self) -> u32 {
        self.status & !G_SCAN
    }

    /// The status the runtime prints in a traceback header (`running`, `runnable`,
    /// `syscall`, or the wait reason, with ` (scan)` when the scan bit is set), without
    /// the wait time and lock note; see runtime.goroutineheader.
    pub fn traceback_status(&self) -> String {
        let st = self.state();
        let mut s = match st {
            G_IDLE => "idle".to_string(),
            G_RUNNABLE => "runnable".into(),
            G_RUNNING => "running".into(),
            G_SYSCALL => "syscall".into(),
            G_WAITING => "waiting".into(),
            G_DEAD => "dead".into(),
            G_COPYSTACK => "copystack".into(),
            G_PREEMPTED => "preempted".into(),
            G_LEAKED => "leaked".into(),
            G_DEAD_EXTRA => "waiting for cgo callback".into(),
            _ => "???".into(),
        };
        if (st == G_WAITING || st == G_LEAKED) && self.wait_reason_code != 0 {
            if let Some(r) = &self.wait_reason {
                s = r.clone();
            }
        }
        if st == G_LEAKED {
            s.push_str(" (leaked)");
        }
        if self.status & G_SCAN != 0 {
            s.push_str(" (scan)");
        }
        s
    }

    /// Dead goroutines (free gs kept for reuse): the runtime never lists them.
    pub fn is_dead(&self) -> bool {
        matches!(self.state(), G_DEAD | G_DEAD_EXTRA)
    }

    /// Delve's short status word.
    pub fn is_waiting(&self) -> bool {
        self.state() == G_WAITING || self.state() == G_LEAKED
    }
}
