//! A target: a snapshot together with its binary and Go runtime model. This is what
//! every front end (REPL, batch, TUI, analyzers) opens and queries.

use crate::addr::Addr;
use crate::goruntime::Goroutine;
use crate::snapshot::{Memory, Snapshot, Thread};
use crate::symbols::{Binary, Pclntab};
use crate::unwind::Stack;
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    pub binary: PathBuf,
    pub core: PathBuf,
    /// Open even when the binary does not match the core.
    pub force: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    Core(String),
    #[error("{0}")]
    Binary(String),
    #[error("the binary does not match the core: {0} (use --force to open anyway)")]
    Mismatch(String),
}

/// What killed the process, for the header printed on open.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CrashInfo {
    /// e.g. "SIGSEGV: segmentation violation"
    pub signal: Option<String>,
    pub signo: i32,
    pub code: i32,
    pub fault_addr: Option<u64>,
    /// Tid of the thread that took the fatal signal.
    pub thread: Option<u32>,
    /// Goroutine running on that thread (its curg).
    pub goroutine: Option<u64>,
    /// Panic values, outermost last, decoded to text.
    pub panics: Vec<String>,
    /// Message of a runtime fatal error (runtime.throw), when found.
    pub fatal: Option<String>,
    pub go_version: Option<String>,
    pub goos: String,
    pub goarch: String,
}

pub struct Target {
    _priv: (),
}

impl Target {
    pub fn open(_opts: &OpenOptions) -> Result<Target, OpenError> {
        todo!()
    }
    pub fn binary(&self) -> &Binary {
        todo!()
    }
    pub fn pclntab(&self) -> &Pclntab {
        todo!()
    }
    pub fn snapshot(&self) -> &dyn Snapshot {
        todo!()
    }
    /// Memory of the process: the core, with the binary's file-backed segments filling
    /// what the core left out.
    pub fn memory(&self) -> &dyn Memory {
        todo!()
    }
    pub fn threads(&self) -> &[Thread] {
        todo!()
    }
    pub fn goroutines(&self) -> &[Goroutine] {
        todo!()
    }
    pub fn goroutine(&self, _goid: u64) -> Option<&Goroutine> {
        todo!()
    }
    /// The goroutine a thread runs (its M's curg), if any.
    pub fn thread_goroutine(&self, _tid: u32) -> Option<&Goroutine> {
        todo!()
    }
    pub fn goroutine_stack(&self, _g: &Goroutine, _depth: usize) -> Stack {
        todo!()
    }
    pub fn thread_stack(&self, _t: &Thread, _depth: usize) -> Stack {
        todo!()
    }
    pub fn crash(&self) -> &CrashInfo {
        todo!()
    }
    /// Non-fatal problems found while opening (shown once, after the header).
    pub fn warnings(&self) -> &[String] {
        todo!()
    }
    pub fn entry_point(&self) -> Addr {
        todo!()
    }
}
