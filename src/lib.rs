//! coroner: the engine of a Go-aware post-mortem debugger.
//!
//! Layers, bottom up (see `docs/architecture.md`):
//! - [`snapshot`]: memory, threads, registers and mapped files of one process at one
//!   instant (ELF core today; live ptrace and rr later implement the same traits).
//! - [`symbols`]: the binary — ELF, Go build info, the Go pclntab, DWARF and CFI.
//! - [`goruntime`]: the Go runtime model — version, struct layouts, goroutines.
//! - [`unwind`]: one unwinder over [`snapshot::Memory`] for Go and non-Go frames.
//! - [`target`]: a snapshot with its binary and Go runtime, the thing front ends open.
//! - [`repl`]: Delve-compatible commands (parse, run, format) shared by every front end.
//! - [`analyze`]: the `Analyzer` trait that plugins implement.

pub mod addr;
pub mod analyze;
pub mod arch;
pub mod backend;
pub mod exec;
pub mod fasthash;
pub mod goruntime;
pub mod logging;
pub mod repl;
pub mod service;
pub mod snapshot;
pub mod symbols;
pub mod target;
pub mod unwind;
pub mod vars;

pub use addr::Addr;
