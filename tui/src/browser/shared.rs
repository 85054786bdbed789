//! The browser shares one opened target between its own views, the background
//! grouping thread and the command bar's [`Session`](coroner::repl::Session): the
//! session takes any [`Debuggee`], so it gets this forwarding wrapper and the
//! commands run on the very same target the panes show.

use coroner::addr::Addr;
use coroner::goruntime::Goroutine;
use coroner::repl::{Debuggee, FuncInfo};
use coroner::snapshot::{Memory, Thread};
use coroner::target::{CrashInfo, Target};
use coroner::unwind::Stack;
use std::sync::Arc;

pub struct SharedTarget(pub Arc<Target>);

impl Debuggee for SharedTarget {
    fn goroutines(&self) -> &[Goroutine] {
        self.0.goroutines()
    }
    fn goroutine(&self, goid: u64) -> Option<&Goroutine> {
        self.0.goroutine(goid)
    }
    fn threads(&self) -> &[Thread] {
        self.0.threads()
    }
    fn thread_goroutine(&self, tid: u32) -> Option<&Goroutine> {
        self.0.thread_goroutine(tid)
    }
    fn goroutine_stack(&self, g: &Goroutine, depth: usize) -> Stack {
        self.0.goroutine_stack(g, depth)
    }
    fn thread_stack(&self, t: &Thread, depth: usize) -> Stack {
        self.0.thread_stack(t, depth)
    }
    fn memory(&self) -> &dyn Memory {
        self.0.memory()
    }
    fn crash(&self) -> &CrashInfo {
        self.0.crash()
    }
    fn warnings(&self) -> &[String] {
        self.0.warnings()
    }
    fn func_at(&self, pc: Addr) -> Option<FuncInfo> {
        Debuggee::func_at(self.0.as_ref(), pc)
    }
    fn func_by_name(&self, name: &str) -> Option<FuncInfo> {
        Debuggee::func_by_name(self.0.as_ref(), name)
    }
    fn file_line(&self, pc: Addr) -> Option<(String, u32)> {
        Debuggee::file_line(self.0.as_ref(), pc)
    }
    fn function_names(&self) -> Vec<String> {
        Debuggee::function_names(self.0.as_ref())
    }
    fn source_files(&self) -> Vec<String> {
        Debuggee::source_files(self.0.as_ref())
    }
    fn type_names(&self) -> Result<Vec<String>, String> {
        Debuggee::type_names(self.0.as_ref())
    }
    fn as_target(&self) -> Option<&Target> {
        Some(self.0.as_ref())
    }
}
