//! What the command engine needs from a target, as one object-safe trait.
//!
//! The REPL is written against [`Debuggee`] rather than [`Target`] directly so that the
//! same commands run on any future backend (live process, rr) and so that parsing and
//! formatting can be unit-tested on constructed values without a core file.

use crate::addr::Addr;
use crate::goruntime::Goroutine;
use crate::snapshot::{Memory, Thread};
use crate::target::{CrashInfo, Target};
use crate::unwind::Stack;

/// A code location: a PC with its function and source position.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Location {
    pub pc: u64,
    pub file: String,
    pub line: u32,
    /// Physical function name; empty when the PC is in no known function.
    pub function: String,
}

/// A function's name and code range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncInfo {
    pub name: String,
    pub entry: Addr,
    pub end: Addr,
}

/// The queries the REPL makes. [`Target`] implements it; tests implement it on fakes.
pub trait Debuggee {
    fn goroutines(&self) -> &[Goroutine];
    fn goroutine(&self, goid: u64) -> Option<&Goroutine>;
    fn threads(&self) -> &[Thread];
    fn thread_goroutine(&self, tid: u32) -> Option<&Goroutine>;
    fn goroutine_stack(&self, g: &Goroutine, depth: usize) -> Stack;
    fn thread_stack(&self, t: &Thread, depth: usize) -> Stack;
    fn memory(&self) -> &dyn Memory;
    fn crash(&self) -> &CrashInfo;
    fn warnings(&self) -> &[String];
    /// The function containing `pc`.
    fn func_at(&self, pc: Addr) -> Option<FuncInfo>;
    /// A function by its full Go name (`main.main`, `sync.(*Mutex).Lock`).
    fn func_by_name(&self, name: &str) -> Option<FuncInfo>;
    /// File and line the line table gives for `pc` (the innermost inlined position).
    fn file_line(&self, pc: Addr) -> Option<(String, u32)>;
    /// Every function name, in table order.
    fn function_names(&self) -> Vec<String>;
    /// Every source file name.
    fn source_files(&self) -> Vec<String>;
    /// Type names, when the target can list them.
    fn type_names(&self) -> Result<Vec<String>, String>;
    /// The underlying [`Target`], for front ends that run analyzers on it.
    fn as_target(&self) -> Option<&Target> {
        None
    }

    /// The binary's symbol containing run-time `addr` (sized, or zero-sized at it):
    /// its name and run-time start.
    fn symbol_at(&self, addr: Addr) -> Option<(String, Addr)> {
        let t = self.as_target()?;
        let bias = t.bias();
        t.binary()
            .symbol_at(addr.sub(bias))
            .map(|s| (s.name.to_string(), s.addr.add(bias)))
    }

    /// Names for the operands of `code` at `pc` as Delve's disassembler gives them:
    /// a function's name for its entry only (inside code nothing else is named), else
    /// the symbol containing the address, with the offset.
    fn operand_names(&self, code: &[u8], pc: u64) -> std::collections::HashMap<u64, String> {
        let entry = |a: u64| {
            self.func_at(Addr(a))
                .filter(|f| f.entry.0 == a)
                .map(|f| f.name)
        };
        let sym = |a: u64| match self.func_at(Addr(a)) {
            Some(f) => (f.entry.0 == a).then_some((f.name, a)),
            None => self.symbol_at(Addr(a)).map(|(n, s)| (n, s.0)),
        };
        super::disasm::operand_names(code, pc, &entry, &sym)
    }

    /// Physical function, file and line at `pc`.
    fn location(&self, pc: Addr) -> Location {
        let function = self.func_at(pc).map(|f| f.name).unwrap_or_default();
        let (file, line) = self.file_line(pc).unwrap_or_else(|| ("?".to_string(), 0));
        Location {
            pc: pc.0,
            file,
            line,
            function,
        }
    }
}

/// [`Target`] answers directly; a live process's stop is an `Arc<Target>` shared
/// between the debugger and the session.
macro_rules! debuggee_for_target {
    ($t:ty) => {
        impl Debuggee for $t {
            fn goroutines(&self) -> &[Goroutine] {
                Target::goroutines(self)
            }
            fn goroutine(&self, goid: u64) -> Option<&Goroutine> {
                Target::goroutine(self, goid)
            }
            fn threads(&self) -> &[Thread] {
                Target::threads(self)
            }
            fn thread_goroutine(&self, tid: u32) -> Option<&Goroutine> {
                Target::thread_goroutine(self, tid)
            }
            fn goroutine_stack(&self, g: &Goroutine, depth: usize) -> Stack {
                Target::goroutine_stack(self, g, depth)
            }
            fn thread_stack(&self, t: &Thread, depth: usize) -> Stack {
                Target::thread_stack(self, t, depth)
            }
            fn memory(&self) -> &dyn Memory {
                Target::memory(self)
            }
            fn crash(&self) -> &CrashInfo {
                Target::crash(self)
            }
            fn warnings(&self) -> &[String] {
                Target::warnings(self)
            }
            fn func_at(&self, pc: Addr) -> Option<FuncInfo> {
                symbols::func_at(self, pc)
            }
            fn func_by_name(&self, name: &str) -> Option<FuncInfo> {
                symbols::func_by_name(self, name)
            }
            fn file_line(&self, pc: Addr) -> Option<(String, u32)> {
                symbols::file_line(self, pc)
            }
            fn function_names(&self) -> Vec<String> {
                symbols::function_names(self)
            }
            fn source_files(&self) -> Vec<String> {
                symbols::source_files(self)
            }
            fn type_names(&self) -> Result<Vec<String>, String> {
                symbols::type_names(self)
            }
            fn as_target(&self) -> Option<&Target> {
                let t: &Target = self;
                Some(t)
            }
        }
    };
}
debuggee_for_target!(Target);
debuggee_for_target!(std::sync::Arc<Target>);

/// Symbol queries over the target's pclntab (and DWARF for types). Pclntab addresses
/// are link-time: add the load bias going out, subtract it coming in (PIE).
mod symbols {
    use super::FuncInfo;
    use crate::addr::Addr;
    use crate::symbols::Func;
    use crate::target::Target;

    fn info(t: &Target, f: &Func) -> FuncInfo {
        FuncInfo {
            name: t.pclntab().name(f).to_string(),
            entry: f.entry.add(t.bias()),
            end: f.end.add(t.bias()),
        }
    }
    pub(super) fn func_at(t: &Target, pc: Addr) -> Option<FuncInfo> {
        let f = t.pclntab().func_for_pc(pc.sub(t.bias()))?;
        Some(info(t, &f))
    }
    pub(super) fn func_by_name(t: &Target, name: &str) -> Option<FuncInfo> {
        let f = t.pclntab().func_by_name(name)?;
        Some(info(t, &f))
    }
    pub(super) fn file_line(t: &Target, pc: Addr) -> Option<(String, u32)> {
        let link = pc.sub(t.bias());
        let p = t.pclntab();
        let f = p.func_for_pc(link)?;
        p.file_line(&f, link)
            .map(|(file, line)| (file.to_string(), line))
    }
    pub(super) fn function_names(t: &Target) -> Vec<String> {
        let p = t.pclntab();
        p.funcs().map(|f| p.name(&f).to_string()).collect()
    }
    pub(super) fn source_files(t: &Target) -> Vec<String> {
        t.pclntab()
            .files()
            .into_iter()
            .map(str::to_string)
            .collect()
    }
    pub(super) fn type_names(t: &Target) -> Result<Vec<String>, String> {
        let d = t.dwarf().ok_or_else(|| {
            "the binary has no DWARF (stripped?): type names are not available".to_string()
        })?;
        let all = regex::Regex::new("").map_err(|e| e.to_string())?;
        Ok(d.types_matching(&all))
    }
}
