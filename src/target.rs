//! A target: a snapshot together with its binary and Go runtime model. This is what
//! every front end (REPL, batch, TUI, analyzers) opens and queries.

use crate::addr::Addr;
use crate::goruntime::model::Inputs;
use crate::goruntime::rtype::TypeReader;
use crate::goruntime::{GoRuntime, Goroutine, ThreadContext};
use crate::snapshot::elfcore::ElfCore;
use crate::snapshot::overlay::CoreWithBinary;
use crate::snapshot::{Memory, Snapshot, Thread};
use crate::symbols::buildinfo::{self, BuildInfo};
use crate::symbols::cfi::Cfi;
use crate::symbols::dwarf::Dwarf;
use crate::symbols::{Binary, Pclntab};
use crate::unwind::{Stack, Unwinder};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

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
    /// The signal that ended the process, e.g. "SIGABRT: abort".
    pub signal: Option<String>,
    pub signo: i32,
    pub code: i32,
    pub fault_addr: Option<u64>,
    /// The signal the Go runtime caught before deciding to crash (g.sig of the
    /// crashing goroutine), as the runtime prints it:
    /// "SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x47db1c".
    pub go_signal: Option<String>,
    /// Tid of the thread that took the fatal signal.
    pub thread: Option<u32>,
    /// Goroutine running on that thread (its M's curg).
    pub goroutine: Option<u64>,
    /// Panic values, innermost (latest) first, decoded to text; recovered ones marked.
    pub panics: Vec<String>,
    /// Message of a runtime fatal error (runtime.throw / runtime.fatal), when found.
    pub fatal: Option<String>,
    pub go_version: Option<String>,
    pub goos: String,
    pub goarch: String,
}

pub struct Target {
    snapshot: CoreWithBinary,
    binary: Arc<Binary>,
    pcln: Pclntab,
    dwarf: Option<Dwarf>,
    cfi: OnceLock<Cfi>,
    buildinfo: Option<BuildInfo>,
    runtime: GoRuntime,
    thread_ctxs: Vec<ThreadContext>,
    goroutines: Vec<Goroutine>,
    by_goid: HashMap<u64, usize>,
    crash: CrashInfo,
    warnings: Vec<String>,
}

impl Target {
    pub fn open(opts: &OpenOptions) -> Result<Target, OpenError> {
        let core = ElfCore::open(&opts.core).map_err(|e| OpenError::Core(e.to_string()))?;
        let binary =
            Arc::new(Binary::open(&opts.binary).map_err(|e| OpenError::Binary(e.to_string()))?);
        let snapshot = CoreWithBinary::new(core, binary.clone());
        if let Err(why) = snapshot.check_match() {
            if !opts.force {
                return Err(OpenError::Mismatch(why));
            }
        }
        let mut warnings = snapshot.warnings();
        let pcln = Pclntab::load(&binary)
            .map_err(|e| OpenError::Binary(format!("{}: {e}", opts.binary.display())))?;
        let dwarf = match Dwarf::load(&binary) {
            Ok(d) => d,
            Err(e) => {
                warnings.push(format!("DWARF unreadable, continuing without it: {e}"));
                None
            }
        };
        let buildinfo = buildinfo::read(&binary);
        let bias = snapshot.bias();
        let inputs = Inputs {
            mem: &snapshot,
            bin: &binary,
            pcln: &pcln,
            dwarf: dwarf.as_ref(),
            threads: snapshot.threads(),
            bias,
            buildinfo_version: buildinfo.as_ref().map(|b| b.go_version.clone()),
        };
        let runtime = GoRuntime::load(&inputs).map_err(|e| OpenError::Binary(e.to_string()))?;
        warnings.extend(runtime.warnings.iter().cloned());
        let mut thread_ctxs = runtime.thread_contexts(&snapshot, snapshot.threads());
        let goroutines = runtime.goroutines(&snapshot, &pcln, &thread_ctxs);
        runtime.complete_thread_contexts(&snapshot, &mut thread_ctxs, &goroutines);
        let by_goid = goroutines
            .iter()
            .enumerate()
            .map(|(i, g)| (g.goid, i))
            .collect();
        let mut t = Target {
            snapshot,
            binary,
            pcln,
            dwarf,
            cfi: OnceLock::new(),
            buildinfo,
            runtime,
            thread_ctxs,
            goroutines,
            by_goid,
            crash: CrashInfo::default(),
            warnings,
        };
        t.crash = t.compute_crash();
        Ok(t)
    }

    pub fn binary(&self) -> &Binary {
        &self.binary
    }
    pub fn pclntab(&self) -> &Pclntab {
        &self.pcln
    }
    pub fn dwarf(&self) -> Option<&Dwarf> {
        self.dwarf.as_ref()
    }
    pub fn buildinfo(&self) -> Option<&BuildInfo> {
        self.buildinfo.as_ref()
    }
    pub fn runtime(&self) -> &GoRuntime {
        &self.runtime
    }
    pub fn snapshot(&self) -> &dyn Snapshot {
        &self.snapshot
    }
    /// Memory of the process: the core, with the binary's file-backed segments filling
    /// what the core left out.
    pub fn memory(&self) -> &dyn Memory {
        &self.snapshot
    }
    /// Load bias (run-time minus link-time address; 0 unless PIE). Pclntab and symbol
    /// addresses are link-time.
    pub fn bias(&self) -> u64 {
        self.runtime.bias
    }
    pub fn threads(&self) -> &[Thread] {
        self.snapshot.threads()
    }
    pub fn thread_context(&self, tid: u32) -> Option<&ThreadContext> {
        self.thread_ctxs.iter().find(|c| c.tid == tid)
    }
    pub fn goroutines(&self) -> &[Goroutine] {
        &self.goroutines
    }
    pub fn goroutine(&self, goid: u64) -> Option<&Goroutine> {
        self.by_goid
            .get(&goid)
            .and_then(|&i| self.goroutines.get(i))
    }
    /// The goroutine a thread runs (its M's curg), if any.
    pub fn thread_goroutine(&self, tid: u32) -> Option<&Goroutine> {
        let c = self.thread_context(tid)?;
        if c.curg.is_null() {
            return None;
        }
        self.goroutines.iter().find(|g| g.addr == c.curg)
    }

    fn cfi(&self) -> &Cfi {
        self.cfi
            .get_or_init(|| Cfi::load_with_bias(&self.binary, self.runtime.bias))
    }

    fn unwinder(&self) -> Unwinder<'_> {
        Unwinder {
            mem: &self.snapshot,
            pcln: &self.pcln,
            cfi: Some(self.cfi()),
            bin: &self.binary,
            rt: &self.runtime,
        }
    }

    pub fn goroutine_stack(&self, g: &Goroutine, depth: usize) -> Stack {
        let thread = g.thread.and_then(|tid| {
            let t = self.threads().iter().find(|t| t.tid == tid)?;
            let c = self.thread_context(tid)?;
            Some((t, c))
        });
        self.unwinder().goroutine(g, thread, depth)
    }

    pub fn thread_stack(&self, t: &Thread, depth: usize) -> Stack {
        let ctx = self.thread_context(t.tid);
        let curg = self.thread_goroutine(t.tid);
        self.unwinder().thread(t, ctx, curg, depth)
    }

    pub fn crash(&self) -> &CrashInfo {
        &self.crash
    }
    /// Non-fatal problems found while opening (shown once, after the header).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
    pub fn entry_point(&self) -> Addr {
        self.binary.entry().add(self.bias())
    }

    /// The thread that took the fatal signal: the one with a pending signal (the
    /// kernel writes the dumping thread first), else the first.
    pub fn crashing_thread(&self) -> Option<&Thread> {
        let ts = self.threads();
        ts.iter().find(|t| t.signal != 0).or_else(|| ts.first())
    }

    /// Types reader for runtime type descriptors (`any` values, panic values).
    pub fn type_reader(&self) -> TypeReader<'_> {
        let types = self.runtime.firstmoduledata.and_then(|md| {
            self.snapshot
                .read_ptr(md.add(self.runtime.layouts.moduledata.types))
                .ok()
        });
        TypeReader {
            mem: &self.snapshot,
            types,
        }
    }

    fn compute_crash(&self) -> CrashInfo {
        let mut c = CrashInfo {
            go_version: Some(self.runtime.version.raw.clone()),
            goos: self
                .buildinfo
                .as_ref()
                .and_then(|b| b.setting("GOOS"))
                .unwrap_or("linux")
                .to_string(),
            goarch: self
                .buildinfo
                .as_ref()
                .and_then(|b| b.setting("GOARCH"))
                .unwrap_or("amd64")
                .to_string(),
            ..Default::default()
        };
        if let Some(si) = self.snapshot.signal() {
            c.signo = si.signo;
            c.code = si.code;
            c.fault_addr = si.fault_addr.map(|a| a.get());
            c.signal = Some(signal_name(si.signo));
        }
        let thread = self.crashing_thread();
        if c.signal.is_none() {
            if let Some(t) = thread.filter(|t| t.signal != 0) {
                c.signo = t.signal;
                c.signal = Some(signal_name(t.signal));
            }
        }
        c.thread = thread.map(|t| t.tid);
        let g = thread.and_then(|t| self.thread_goroutine(t.tid));
        c.goroutine = g.map(|g| g.goid);
        // The goroutine that panicked: the crashing one, else any with a _panic.
        let panicking = g
            .filter(|g| !g.panic.is_null())
            .or_else(|| self.goroutines.iter().find(|g| !g.panic.is_null()));
        if let Some(pg) = panicking {
            c.panics = self.panic_chain(pg);
        }
        if let Some(g) = g.filter(|g| g.sig != 0) {
            c.go_signal = Some(format!(
                "{} code={:#x} addr={:#x} pc={:#x}",
                signal_name(g.sig as i32),
                g.sigcode0,
                g.sigcode1,
                g.sigpc.get()
            ));
        }
        if let Some(t) = thread {
            c.fatal = self.fatal_message(t);
        }
        c
    }

    /// Decode g._panic's chain.
    pub fn panic_chain(&self, g: &Goroutine) -> Vec<String> {
        let pl = &self.runtime.layouts.panic;
        let tr = self.type_reader();
        let mem = self.memory();
        let mut out = Vec::new();
        let mut p = g.panic;
        while !p.is_null() && out.len() < 64 {
            let typ = mem.read_ptr(p.add(pl.arg)).unwrap_or_default();
            let data = mem.read_ptr(p.add(pl.arg + 8)).unwrap_or_default();
            let mut text = tr.describe_eface(typ, data);
            if mem.read_u8(p.add(pl.recovered)).unwrap_or(0) != 0 {
                text.push_str(" [recovered]");
            }
            out.push(text);
            p = mem.read_ptr(p.add(pl.link)).unwrap_or_default();
        }
        out
    }

    /// The message passed to runtime.throw/runtime.fatal, recovered from the closure
    /// that prints it (it captures the string in throw's frame).
    fn fatal_message(&self, t: &Thread) -> Option<String> {
        let st = self.thread_stack(t, 64);
        let mem = self.memory();
        for f in &st.frames {
            if f.inlined || !matches!(f.function.as_str(), "runtime.throw" | "runtime.fatal") {
                continue;
            }
            let lo = f.sp;
            let hi = if f.cfa.is_null() {
                f.sp.add(256)
            } else {
                f.cfa
            };
            let mut a = lo;
            while a < hi {
                if let (Ok(p), Ok(n)) = (mem.read_ptr(a), mem.read_u64(a.add(8))) {
                    if (4..=1024).contains(&n) && !p.is_null() {
                        if let Ok(b) = mem.read_bytes(p, n as usize) {
                            if let Ok(s) = std::str::from_utf8(&b) {
                                if s.chars().all(|c| !c.is_control())
                                    && s.chars().any(|c| c.is_alphabetic())
                                {
                                    return Some(s.to_string());
                                }
                            }
                        }
                    }
                }
                a = a.add(8);
            }
        }
        None
    }
}

/// Signal names as the Go runtime prints them (runtime/sigtab_linux_generic.go).
pub fn signal_name(signo: i32) -> String {
    let s = match signo {
        1 => "SIGHUP: terminal line hangup",
        2 => "SIGINT: interrupt",
        3 => "SIGQUIT: quit",
        4 => "SIGILL: illegal instruction",
        5 => "SIGTRAP: trace trap",
        6 => "SIGABRT: abort",
        7 => "SIGBUS: bus error",
        8 => "SIGFPE: floating-point exception",
        9 => "SIGKILL: kill",
        10 => "SIGUSR1: user-defined signal 1",
        11 => "SIGSEGV: segmentation violation",
        12 => "SIGUSR2: user-defined signal 2",
        13 => "SIGPIPE: write to broken pipe",
        14 => "SIGALRM: alarm clock",
        15 => "SIGTERM: termination",
        16 => "SIGSTKFLT: stack fault",
        17 => "SIGCHLD: child status has changed",
        18 => "SIGCONT: continue",
        19 => "SIGSTOP: stop, unblockable",
        20 => "SIGTSTP: keyboard stop",
        21 => "SIGTTIN: background read from tty",
        22 => "SIGTTOU: background write to tty",
        23 => "SIGURG: urgent condition on socket",
        24 => "SIGXCPU: cpu limit exceeded",
        25 => "SIGXFSZ: file size limit exceeded",
        26 => "SIGVTALRM: virtual alarm clock",
        27 => "SIGPROF: profiling alarm clock",
        28 => "SIGWINCH: window size change",
        29 => "SIGIO: i/o now possible",
        30 => "SIGPWR: power failure restart",
        31 => "SIGSYS: bad system call",
        n => return format!("signal {n}"),
    };
    s.to_string()
}
