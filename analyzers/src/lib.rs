//! coroner's analyses, as plugins implementing `coroner::analyze::Analyzer`:
//!
//! - `crash`: what killed the process (signal, faulting goroutine, panic chain, fatal
//!   error, Go version and experiments, GOMAXPROCS);
//! - `groups`: goroutines bucketed by identical stack;
//! - `waitgraph`: who waits on what; deadlocks (lock-order inversions, channel cycles)
//!   and waits that can never end;
//! - `leaks`: large groups of parked goroutines from one creation site.

pub mod common;
pub mod crash;
pub mod groups;
pub mod hangs;
pub mod leaks;
pub mod waitgraph;

use coroner::analyze::Registry;

/// Register every analyzer of this crate, in report order.
pub fn register_all(reg: &mut Registry) {
    reg.register(Box::new(crash::CrashAnalyzer));
    reg.register(Box::new(waitgraph::WaitgraphAnalyzer));
    reg.register(Box::new(leaks::LeaksAnalyzer));
    reg.register(Box::new(groups::GroupsAnalyzer));
}

/// A registry holding every analyzer of this crate.
pub fn registry() -> Registry {
    let mut r = Registry::default();
    register_all(&mut r);
    r
}
