//! The snapshot: memory, threads, registers and mapped files of one process at one
//! instant. Everything above this layer reads the target only through [`Memory`] and
//! [`Snapshot`], so a live process (ptrace) or an rr replay can implement them later
//! with on-demand, cached reads.

pub mod compressed;
pub mod elfcore;
pub mod minidump;
pub mod notes;
pub mod overlay;
pub mod regs;
mod small_reads;

use crate::addr::Addr;
pub use crate::arch::Arch;
pub use compressed::{open_file, FileBytes, FileError};
pub use elfcore::{CoreChunk, CoreError, CoreSegment, ElfCore};
pub use overlay::{check_match, compute_bias, match_warnings, CoreWithBinary};
pub use regs::{Arm64Registers, Registers};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum MemError {
    /// No mapping covers the address (or part of the range).
    #[error("memory at {0} is not in the snapshot")]
    Unmapped(Addr),
    /// The mapping exists but its bytes were not saved (e.g. a truncated core).
    #[error("memory at {0} was not saved in the core (truncated?)")]
    NotSaved(Addr),
    /// The process has run since this snapshot was taken: its bytes are of another
    /// instant. Take the current stop's snapshot.
    #[error("memory at {0} was read through a snapshot of an earlier stop")]
    Stale(Addr),
    /// A minidump holds only part of the memory (stacks, a few regions): this byte
    /// existed in the process but the dump did not save it.
    #[error("memory at {0} is not in the minidump (it saved only part of the memory)")]
    NotInDump(Addr),
    /// The live process or remote stub refused or failed the read.
    #[error("memory at {0} cannot be read: {1}")]
    Io(Addr, String),
}

/// Read access to the target's memory. Implementations must never panic on any address.
pub trait Memory: Send + Sync {
    /// Fill `buf` with the bytes at `addr`; fails if any byte is unavailable.
    fn read(&self, addr: Addr, buf: &mut [u8]) -> Result<(), MemError>;

    /// Zero-copy view of `len` bytes at `addr` when they are contiguous in a mapping
    /// (the ELF core gives this); `None` otherwise, callers then fall back to `read`.
    fn slice(&self, _addr: Addr, _len: usize) -> Option<&[u8]> {
        None
    }

    fn read_u8(&self, addr: Addr) -> Result<u8, MemError> {
        let mut b = [0u8; 1];
        self.read(addr, &mut b)?;
        Ok(b[0])
    }
    fn read_u16(&self, addr: Addr) -> Result<u16, MemError> {
        let mut b = [0u8; 2];
        self.read(addr, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }
    fn read_u32(&self, addr: Addr) -> Result<u32, MemError> {
        let mut b = [0u8; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn read_u64(&self, addr: Addr) -> Result<u64, MemError> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn read_ptr(&self, addr: Addr) -> Result<Addr, MemError> {
        self.read_u64(addr).map(Addr)
    }
    /// Read a Go string header's bytes (data pointer and length), capped at `max` bytes.
    fn read_bytes(&self, addr: Addr, len: usize) -> Result<Vec<u8>, MemError> {
        if let Some(s) = self.slice(addr, len) {
            return Ok(s.to_vec());
        }
        let mut v = vec![0u8; len];
        self.read(addr, &mut v)?;
        Ok(v)
    }
}

/// One thread of the snapshot.
#[derive(Debug, Clone)]
pub struct Thread {
    /// OS thread id (LWP).
    pub tid: u32,
    /// The amd64 registers; all zero in a snapshot of another architecture.
    pub regs: Registers,
    /// Signal pending or being delivered on this thread (pr_cursig), 0 if none.
    pub signal: i32,
    /// The arm64 registers, in a snapshot of an arm64 process (then `regs` is unused).
    pub arm64: Option<Arm64Registers>,
    /// Addresses that may hold the thread's g, for snapshots whose registers do not
    /// locate TLS (Windows minidumps: where the TEB words that can be Go's TLS slot
    /// point); the runtime model takes the one whose g's M has this thread's id.
    /// Empty elsewhere.
    pub g_slots: Vec<Addr>,
}

impl Thread {
    /// The architecture of this thread's registers.
    pub fn arch(&self) -> Arch {
        if self.arm64.is_some() {
            Arch::Arm64
        } else {
            Arch::Amd64
        }
    }
    /// The program counter, whatever the architecture.
    pub fn pc(&self) -> u64 {
        self.arm64.as_ref().map_or(self.regs.rip, |r| r.pc)
    }
    /// The stack pointer, whatever the architecture.
    pub fn sp(&self) -> u64 {
        self.arm64.as_ref().map_or(self.regs.rsp, |r| r.sp)
    }
    /// Name/value pairs of the general registers in Delve's `regs` order.
    pub fn named_regs(&self) -> Vec<(&'static str, u64)> {
        match &self.arm64 {
            Some(r) => r.named(),
            None => self.regs.named(),
        }
    }
}

/// A file mapped into the process (from NT_FILE, /proc/PID/maps, ...).
#[derive(Debug, Clone)]
pub struct MappedFile {
    pub start: Addr,
    pub end: Addr,
    /// Offset in the file of `start`, in bytes.
    pub file_offset: u64,
    pub path: PathBuf,
}

/// The signal that stopped or killed the process (NT_SIGINFO, or the first thread's
/// pending signal when there is no siginfo).
#[derive(Debug, Clone, Default)]
pub struct SignalInfo {
    pub signo: i32,
    pub code: i32,
    pub errno: i32,
    /// si_addr for SIGSEGV/SIGBUS/SIGILL/SIGFPE.
    pub fault_addr: Option<Addr>,
    /// Sending pid for signals sent by kill(2)/tgkill(2).
    pub sender_pid: Option<i32>,
    /// Tid of the thread that received it, when known.
    pub tid: Option<u32>,
}

/// Process-wide facts (NT_PRPSINFO).
#[derive(Debug, Clone, Default)]
pub struct ProcessInfo {
    pub pid: i32,
    /// Short command name (pr_fname).
    pub name: String,
    /// Command line as recorded (pr_psargs, truncated to 80 bytes by the kernel).
    pub args: String,
}

/// A snapshot of a process: memory plus threads and process metadata.
pub trait Snapshot: Memory {
    fn threads(&self) -> &[Thread];
    fn mapped_files(&self) -> &[MappedFile];
    /// ELF auxiliary vector (AT_* type, value).
    fn auxv(&self) -> &[(u64, u64)];
    fn signal(&self) -> Option<&SignalInfo>;
    fn process(&self) -> Option<&ProcessInfo>;
    /// Memory regions that are readable, sorted by start (for `x`, heap scans, ...).
    fn regions(&self) -> Vec<(Addr, Addr)>;
    /// A short description of the source ("core file /path", "process 1234").
    fn describe(&self) -> String;

    /// What kind of snapshot this is, for messages ("core", "minidump").
    fn kind(&self) -> &'static str {
        "core"
    }
    /// The snapshot saved only part of the process's writable memory (a stacks-only
    /// minidump): the runtime's globals or heap may be missing, and the goroutine list
    /// with them.
    fn partial_memory(&self) -> bool {
        false
    }
    /// The CPU architecture of the process.
    fn arch(&self) -> Arch {
        Arch::Amd64
    }

    /// The low 64 bits of XMM0..XMM15 (DWARF registers 17..32) of thread `tid`, where
    /// the snapshot has them (a stopped live process): Go's register ABI passes float
    /// arguments and results there, and Delve reads them for frame 0.
    fn xmm(&self, _tid: u32) -> Option<[u64; 16]> {
        None
    }

    /// Value of one auxv entry.
    fn auxv_value(&self, key: u64) -> Option<u64> {
        self.auxv().iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

/// A snapshot whose target can run. Cores do not implement it; the REPL answers
/// execution commands on a core with [`NO_EXECUTION`].
pub trait Execution {
    fn cont(&mut self) -> Result<(), String>;
    fn step_instruction(&mut self, tid: u32) -> Result<(), String>;
}

pub const NO_EXECUTION: &str =
    "a core file cannot run: execution commands need a live process or an rr recording";
