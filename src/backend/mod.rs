//! Execution backends: thin layers that move a process's threads and say why they
//! stopped. They know nothing of Go: the breakpoint table, conditions, Go-aware stepping
//! and call injection live above them (`exec`), written once for every backend (ptrace,
//! GDB remote stubs such as gdbserver, rr and QEMU).
//!
//! The model is all-stop: [`Process::wait`] returns when every thread is stopped, and the
//! [`Snapshot`] it then hands out is valid until the next [`Process::resume`]. Reads
//! through an older snapshot fail with [`MemError::Stale`](crate::snapshot::MemError),
//! never with bytes of another instant.

pub mod gdbserial;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub mod ptrace;

use crate::addr::Addr;
use crate::snapshot::{Registers, Snapshot};
use std::sync::Arc;

/// What a backend can do beyond reading a stopped process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Run backwards (`rev continue`, `rev step-instruction`): rr, QEMU record/replay.
    pub reverse: bool,
    /// `checkpoint` / `restart cN`.
    pub checkpoints: bool,
    /// Start the program again from the beginning (`restart`).
    pub restart: bool,
    /// Number of hardware watchpoint slots (amd64 debug registers: 4).
    pub hw_watchpoints: u8,
    /// Memory and registers can be written (`set`, `call`, software breakpoints).
    pub write: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Reverse,
}

/// How to resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Run every thread until something stops one of them.
    Continue,
    /// Execute one instruction on this thread; the others stay stopped.
    Step(u32),
}

/// What a hardware watchpoint fires on. amd64 debug registers cannot watch reads alone,
/// so `Read` is served as `ReadWrite` there and the caller filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchKind {
    Write,
    Read,
    ReadWrite,
}

/// Why the process stopped. Thread creation and exit, and the runtime's own SIGURG and
/// SIGPROF, are handled inside the backend and never surface here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopEvent {
    /// A thread executed an inserted software breakpoint; `pc` is the breakpoint's
    /// address (the backend has already moved the thread's PC back onto it).
    Breakpoint { tid: u32, pc: Addr },
    /// A hardware watchpoint fired on this thread; `addr` is the watched address.
    Watchpoint { tid: u32, slot: u8, addr: Addr },
    /// A `Resume::Step` completed.
    Stepped { tid: u32 },
    /// The program received a signal the user should see (SIGSEGV, SIGABRT, ...). It is
    /// delivered to the program on the next resume unless [`Process::discard_signal`].
    Signal { tid: u32, signo: i32 },
    /// [`Interrupter::interrupt`] stopped the process.
    Interrupted,
    /// Replay reached the start or the end of the recording.
    RecordingBoundary { tid: u32, at_start: bool },
    /// The process exited with this status; nothing is left to inspect.
    Exited { status: i32 },
    /// The process was killed by this signal.
    Killed { signo: i32 },
}

impl StopEvent {
    /// The thread the event happened on, if any.
    pub fn tid(&self) -> Option<u32> {
        match *self {
            StopEvent::Breakpoint { tid, .. }
            | StopEvent::Watchpoint { tid, .. }
            | StopEvent::Stepped { tid }
            | StopEvent::Signal { tid, .. }
            | StopEvent::RecordingBoundary { tid, .. } => Some(tid),
            _ => None,
        }
    }
    pub fn is_exit(&self) -> bool {
        matches!(self, StopEvent::Exited { .. } | StopEvent::Killed { .. })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("{0}")]
    Attach(String),
    #[error("cannot start {0}")]
    Launch(String),
    #[error("the process has exited")]
    Exited,
    #[error("the process is running: halt it first")]
    Running,
    #[error("this target cannot {0}")]
    Unsupported(&'static str),
    #[error("no free hardware watchpoint slot (all {0} are in use): clear one first")]
    NoWatchSlot(u8),
    #[error("{op} failed: {why}")]
    Os { op: &'static str, why: String },
    #[error("remote stub: {0}")]
    Remote(String),
}

/// Stops a running process from any thread: the REPL's Ctrl-C, a `halt` RPC, a key in
/// the browser. The backend's `wait` then returns [`StopEvent::Interrupted`].
pub trait Interrupter: Send + Sync {
    fn interrupt(&self);
}

/// A breakpoint condition simple enough for the tracee to test itself: one integer (or
/// bool) variable against a constant, the variable at a fixed place at the breakpoint's
/// address. A backend that can arm it runs false hits without stopping (see
/// `ptrace/condpad.rs`); a true hit is reported as a breakpoint hit, and the debugger
/// evaluates the full condition as for any other hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastCond {
    pub operand: CondOperand,
    /// Bytes: 1, 2, 4 or 8.
    pub size: u8,
    /// Signed comparison (Go's intN) or unsigned (uintN, bool).
    pub signed: bool,
    pub op: CondOp,
    /// The constant, already checked to fit the variable's type.
    pub value: i64,
    /// Run-time addresses of 5 bytes of padding between functions (never executed)
    /// near the breakpoint: an instruction too short for a 5-byte `jmp` gets a 2-byte
    /// `jmp` to one of them, and the `jmp` to the pad goes there.
    pub holes: [Option<u64>; 2],
}

/// Where the variable is when the thread is at the breakpoint's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CondOperand {
    /// In this DWARF register (amd64 numbering: 0 rax, 1 rdx, 2 rcx, 3 rbx, 4 rsi, 5 rdi,
    /// 6 rbp, 7 rsp, 8..15 r8..r15).
    Reg(u16),
    /// In memory at RSP plus this offset.
    Stack(i32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CondOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// What became of a request to arm a [`FastCond`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Armed {
    /// The tracee tests it.
    Yes,
    /// It cannot here (the instruction is too short or a call, no room, another
    /// backend): the debugger evaluates it at each hit.
    No,
    /// Not while some threads run: ask again at the next full stop.
    Later,
}

/// A process that can run. All methods except [`Process::interrupter`] are called from
/// one thread (ptrace requires the tracer thread).
pub trait Process: Send {
    fn pid(&self) -> u32;
    fn capabilities(&self) -> Capabilities;

    /// The process at this stop: threads with their registers, memory (with inserted
    /// breakpoints hidden: reads return the original bytes), mapped files, auxv.
    fn snapshot(&mut self) -> Result<Arc<dyn Snapshot>, BackendError>;

    fn set_registers(&mut self, tid: u32, regs: &Registers) -> Result<(), BackendError>;
    /// The thread's x87/SSE state in FXSAVE layout (512 bytes, XMM0..15 from offset
    /// 160), saved and restored around an injected call (`call`).
    fn fp_registers(&mut self, _tid: u32) -> Result<Vec<u8>, BackendError> {
        Err(BackendError::Unsupported("read floating-point registers"))
    }
    fn set_fp_registers(&mut self, _tid: u32, _fxsave: &[u8]) -> Result<(), BackendError> {
        Err(BackendError::Unsupported("write floating-point registers"))
    }
    fn write_memory(&mut self, addr: Addr, bytes: &[u8]) -> Result<(), BackendError>;

    /// Insert a software breakpoint at `addr` (idempotent).
    fn insert_breakpoint(&mut self, addr: Addr) -> Result<(), BackendError>;
    /// Remove it, restoring the original bytes (idempotent).
    fn remove_breakpoint(&mut self, addr: Addr) -> Result<(), BackendError>;
    /// Addresses of the breakpoints currently inserted.
    fn breakpoints(&self) -> Vec<Addr>;
    /// Remove the breakpoints at `remove`, then insert those at `insert`, stopping at
    /// the first failure: one request for a `next`'s dozens of temporary breakpoints
    /// where the backend's requests cross threads or a wire.
    fn update_breakpoints(&mut self, remove: &[Addr], insert: &[Addr]) -> Result<(), BackendError> {
        for &a in remove {
            self.remove_breakpoint(a)?;
        }
        for &a in insert {
            self.insert_breakpoint(a)?;
        }
        Ok(())
    }
    /// Let the tracee itself test `cond` at the inserted breakpoint `addr` (None: stop
    /// testing it there). Only a hint: a backend may always say [`Armed::No`].
    fn set_fast_condition(
        &mut self,
        _addr: Addr,
        _cond: Option<FastCond>,
    ) -> Result<Armed, BackendError> {
        Ok(Armed::No)
    }

    /// Arm hardware watchpoint `slot` on every thread (and on threads created later).
    fn set_watchpoint(
        &mut self,
        slot: u8,
        addr: Addr,
        len: u8,
        kind: WatchKind,
    ) -> Result<(), BackendError>;
    fn clear_watchpoint(&mut self, slot: u8) -> Result<(), BackendError>;

    /// Resume. A thread whose PC is on an inserted breakpoint is first stepped over it
    /// without the breakpoint being missed by other threads.
    fn resume(&mut self, how: Resume, dir: Direction) -> Result<(), BackendError>;
    /// Block until the process stops (every thread stopped) or exits.
    fn wait(&mut self) -> Result<StopEvent, BackendError>;
    /// Like [`Process::wait`], but a breakpoint hit may be reported with only the thread
    /// that hit stopped (the flag says so): the others keep running, so checking a
    /// condition does not cost stopping and restarting every thread. In that partial
    /// stop, [`Process::snapshot`] holds the one thread, and the only other calls
    /// allowed are `resume(Continue)` (that thread steps over the breakpoint and runs
    /// on, the breakpoint staying in place for the others), [`Process::stop_others`],
    /// `detach` and `kill`. All-stop backends never report a partial stop.
    fn wait_lazy(&mut self) -> Result<(StopEvent, bool), BackendError> {
        self.wait().map(|ev| (ev, false))
    }
    /// `resume(how)` then [`Process::wait_lazy`] as one request: backends whose requests
    /// cross threads or a wire save a round trip per breakpoint hit.
    fn resume_wait_lazy(&mut self, how: Resume) -> Result<(StopEvent, bool), BackendError> {
        self.resume(how, Direction::Forward)?;
        self.wait_lazy()
    }
    /// Complete a partial stop: stop every other thread. Returns the exit event if the
    /// process ended meanwhile. Nothing to do after a full stop.
    fn stop_others(&mut self) -> Result<Option<StopEvent>, BackendError> {
        Ok(None)
    }
    /// Drop the signal that the last [`StopEvent::Signal`] reported.
    fn discard_signal(&mut self, tid: u32);
    fn interrupter(&self) -> Arc<dyn Interrupter>;

    /// Remove every breakpoint and watchpoint, then let the process run on untraced.
    fn detach(&mut self) -> Result<(), BackendError>;
    fn kill(&mut self) -> Result<(), BackendError>;

    /// A recording's own commands (rr's `qRRCmd`: `when`, `checkpoint WHERE`, `info
    /// checkpoints`, `delete checkpoint N`) and their text reply; None on a backend
    /// that replays nothing.
    fn recording_command(
        &mut self,
        _cmd: &str,
        _args: &[&str],
    ) -> Option<Result<String, BackendError>> {
        None
    }
    /// Go back to the recording's start, to a checkpoint (`cN`) or an event number
    /// (`N`), stopped there. Breakpoints must have been removed first.
    fn restart_recording(&mut self, _at: Option<&str>) -> Result<(), BackendError> {
        Err(BackendError::Unsupported("restart a recording"))
    }
}
