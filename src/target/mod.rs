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
use crate::symbols::native::Native;
use crate::symbols::{Binary, Pclntab};
use crate::unwind::{Stack, Unwinder};

mod crash;
pub use crash::{signal_name, Cause, CauseKind, CrashInfo, Sender};
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

/// The binary's symbols at one load address: built once per binary (and per load bias)
/// and shared by every stop of a live process, every reopen of a core.
pub struct Image {
    binary: Arc<Binary>,
    pcln: Pclntab,
    dwarf: Option<Dwarf>,
    cfi: OnceLock<Cfi>,
    buildinfo: Option<BuildInfo>,
    /// Run-time minus link-time address (0 unless PIE).
    bias: u64,
    /// Problems found while loading the symbols (DWARF unreadable, ...).
    warnings: Vec<String>,
}

impl Image {
    /// Load pclntab, DWARF and build info of `binary`, mapped at `bias`.
    pub fn load(binary: Arc<Binary>, bias: u64) -> Result<Image, OpenError> {
        let pcln = Pclntab::load(&binary)
            .map_err(|e| OpenError::Binary(format!("{}: {e}", binary.path.display())))?;
        let mut warnings = Vec::new();
        // Its own DWARF, else a separate debug file's (symbols/debuginfo.rs).
        let dwarf = crate::symbols::debuginfo::load_dwarf(&binary, &mut warnings);
        let buildinfo = buildinfo::read(&binary);
        Ok(Image {
            binary,
            pcln,
            dwarf,
            cfi: OnceLock::new(),
            buildinfo,
            bias,
            warnings,
        })
    }
    pub fn binary(&self) -> &Arc<Binary> {
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
    pub fn bias(&self) -> u64 {
        self.bias
    }
    /// Call frame information, loaded on first use (C frames, signal frames).
    pub fn cfi(&self) -> &Cfi {
        self.cfi
            .get_or_init(|| Cfi::load_with_bias(&self.binary, self.bias))
    }
}

impl crate::unwind::walk::CfiSource for Image {
    fn cfi(&self) -> &Cfi {
        Image::cfi(self)
    }
}

/// One process at one instant, with its symbols and Go runtime model: what every front
/// end queries. A core has one; a live process has a new one at every stop (sharing the
/// [`Image`] and the runtime's static facts with the previous stop).
pub struct Target {
    snapshot: Arc<dyn Snapshot>,
    image: Arc<Image>,
    runtime: GoRuntime,
    /// Read on first use: a breakpoint condition on a live process needs one goroutine,
    /// not the whole list.
    gstate: OnceLock<GoroutineState>,
    crash: OnceLock<CrashInfo>,
    /// C code and shared libraries, for C frames (read on first use).
    native: OnceLock<Native>,
    warnings: Vec<String>,
}

/// The goroutine list of one stop and what the threads run.
struct GoroutineState {
    thread_ctxs: Vec<ThreadContext>,
    goroutines: Vec<Goroutine>,
    by_goid: HashMap<u64, usize>,
}

impl Target {
    /// Open a core file (ELF core or minidump, told apart by the header) with its
    /// binary.
    pub fn open(opts: &OpenOptions) -> Result<Target, OpenError> {
        use crate::snapshot::minidump::{self, Head, Minidump};
        let core_err = |e: &dyn std::fmt::Display| OpenError::Core(e.to_string());
        let core = match minidump::head(&opts.core) {
            Head::Minidump => {
                let dump = Minidump::open(&opts.core).map_err(|e| core_err(&e))?;
                return Target::open_minidump(opts, dump);
            }
            // Decompressed once, then told apart.
            Head::Compressed => {
                let data = crate::snapshot::open_file(&opts.core).map_err(|e| core_err(&e))?;
                if minidump::is_minidump(&data) {
                    let dump = Minidump::from_bytes(&opts.core, data).map_err(|e| core_err(&e))?;
                    return Target::open_minidump(opts, dump);
                }
                ElfCore::from_bytes(&opts.core, data).map_err(|e| core_err(&e))?
            }
            Head::Other => ElfCore::open(&opts.core).map_err(|e| core_err(&e))?,
        };
        let binary =
            Arc::new(Binary::open(&opts.binary).map_err(|e| OpenError::Binary(e.to_string()))?);
        if binary.pe().is_some() {
            return Err(OpenError::Binary(format!(
                "{} is a Windows executable and {} an ELF core of a Linux process: pass the binary that ran",
                opts.binary.display(),
                opts.core.display()
            )));
        }
        let snapshot = CoreWithBinary::new(core, binary.clone());
        if let Err(why) = snapshot.check_match() {
            if !opts.force {
                return Err(OpenError::Mismatch(why));
            }
        }
        let warnings = snapshot.warnings();
        let image = Arc::new(Image::load(binary, snapshot.bias())?);
        let mut t = Target::new(Arc::new(snapshot), image, None, warnings)?;
        // A core's libraries are checked once, up front, so their notes come with
        // the header.
        let notes = t.native().notes();
        t.warnings.extend(notes);
        Ok(t)
    }

    fn open_minidump(
        opts: &OpenOptions,
        dump: crate::snapshot::minidump::Minidump,
    ) -> Result<Target, OpenError> {
        use crate::snapshot::minidump::{DumpOs, MinidumpWithBinary};
        let binary =
            Arc::new(Binary::open(&opts.binary).map_err(|e| OpenError::Binary(e.to_string()))?);
        // A Windows process ran a PE executable, a Linux one an ELF file: nothing
        // would be found with the other kind, so not even --force opens them.
        let (dump_os, want) = match dump.os() {
            DumpOs::Windows => (
                "a Windows",
                binary.pe().is_none().then_some("an ELF (Linux)"),
            ),
            DumpOs::Linux => ("a Linux", binary.pe().is_some().then_some("a Windows (PE)")),
        };
        if let Some(kind) = want {
            return Err(OpenError::Binary(format!(
                "{} is a minidump of {dump_os} process but {} is {kind} executable: pass the binary that ran",
                opts.core.display(),
                opts.binary.display()
            )));
        }
        let snapshot = MinidumpWithBinary::new(dump, binary.clone());
        if let Err(why) = snapshot.check_match() {
            if !opts.force {
                return Err(OpenError::Mismatch(why));
            }
        }
        let warnings = snapshot.warnings();
        let partial = snapshot.partial_memory();
        let image = Arc::new(Image::load(binary, snapshot.bias())?);
        let mut t = Target::new(Arc::new(snapshot), image, None, warnings)?;
        if partial {
            t.count_unreadable_goroutines();
        }
        Ok(t)
    }

    /// On a snapshot with part of the memory: say how many goroutines could not be
    /// read (their runtime.g is missing) and how many stacks are missing.
    fn count_unreadable_goroutines(&mut self) {
        let gs = self.goroutines();
        let listed = gs.len();
        let no_g = gs.iter().filter(|g| g.error.is_some()).count();
        // A goroutine on a thread is read from the thread's registers and stack.
        let no_stack = gs
            .iter()
            .filter(|g| g.error.is_none() && g.thread.is_none())
            .filter(|g| self.snapshot.read_u64(g.sched.sp).is_err())
            .count();
        let kind = self.snapshot.kind();
        if no_g > 0 {
            self.warnings.push(format!(
                "{no_g} of {listed} goroutines could not be read: their runtime.g is not in the {kind}"
            ));
        }
        if no_stack > 0 {
            self.warnings.push(format!(
                "{no_stack} of {listed} goroutines have no stack in the {kind}: only their status and where they were created are known"
            ));
        }
    }

    /// A target over any snapshot. `previous` is the runtime model of an earlier stop of
    /// the same process: its static facts (version, layouts, wait reasons) are kept and
    /// only what moves (the goroutine list) is read again.
    pub fn new(
        snapshot: Arc<dyn Snapshot>,
        image: Arc<Image>,
        previous: Option<&GoRuntime>,
        mut warnings: Vec<String>,
    ) -> Result<Target, OpenError> {
        let inputs = Inputs {
            mem: snapshot.as_ref(),
            bin: &image.binary,
            pcln: &image.pcln,
            dwarf: image.dwarf.as_ref(),
            threads: snapshot.threads(),
            bias: image.bias,
            buildinfo_version: image.buildinfo.as_ref().map(|b| b.go_version.clone()),
        };
        let runtime = match previous {
            Some(rt) => rt.at_new_stop(&inputs),
            None => GoRuntime::load_with(&inputs, snapshot.partial_memory()),
        }
        .map_err(|e| OpenError::Binary(e.to_string()))?;
        if previous.is_none() {
            warnings.extend(image.warnings.iter().cloned());
            warnings.extend(runtime.warnings.iter().cloned());
        }
        Ok(Target {
            snapshot,
            image,
            runtime,
            gstate: OnceLock::new(),
            crash: OnceLock::new(),
            native: OnceLock::new(),
            warnings,
        })
    }

    fn gstate(&self) -> &GoroutineState {
        self.gstate.get_or_init(|| {
            let mem = self.snapshot.as_ref();
            let rt = &self.runtime;
            let mut thread_ctxs = rt.thread_contexts(mem, self.snapshot.threads());
            let goroutines = rt.goroutines(mem, &self.image.pcln, &thread_ctxs);
            rt.complete_thread_contexts(mem, &mut thread_ctxs, &goroutines);
            let by_goid = goroutines
                .iter()
                .enumerate()
                .map(|(i, g)| (g.goid, i))
                .collect();
            GoroutineState {
                thread_ctxs,
                goroutines,
                by_goid,
            }
        })
    }

    /// The goroutine whose `runtime.g` is at `addr`, read on its own (without the list).
    pub fn goroutine_at(&self, addr: Addr) -> Goroutine {
        let mut g = self.runtime.read_g(self.snapshot.as_ref(), addr);
        g.system = self
            .runtime
            .is_system_goroutine(g.start_pc, Some(&self.image.pcln));
        g
    }

    pub fn image(&self) -> &Arc<Image> {
        &self.image
    }
    pub fn snapshot_arc(&self) -> &Arc<dyn Snapshot> {
        &self.snapshot
    }
    pub fn binary(&self) -> &Binary {
        &self.image.binary
    }
    pub fn pclntab(&self) -> &Pclntab {
        &self.image.pcln
    }
    pub fn dwarf(&self) -> Option<&Dwarf> {
        self.image.dwarf.as_ref()
    }
    pub fn buildinfo(&self) -> Option<&BuildInfo> {
        self.image.buildinfo.as_ref()
    }
    /// The name Delve shows for the function at run-time `pc` whose pclntab name is
    /// `name`: before Go 1.21 the pclntab abbreviates generic instantiations as
    /// `F[...]`, and Delve names them from DWARF (`F[go.shape.int_0]`).
    pub fn shown_function_name(&self, pc: u64, name: &str) -> String {
        if name.contains("[...]") {
            if let Some(f) = self
                .dwarf()
                .and_then(|d| d.function_at(pc.wrapping_sub(self.bias())))
                .filter(|f| !f.name.is_empty())
            {
                return f.name;
            }
        }
        name.to_string()
    }
    /// Whether the code at run-time `pc` was compiled with optimisations (Delve's
    /// `Function.Optimized`: its compile unit's producer lacks `-N -l`).
    pub fn optimized_at(&self, pc: u64) -> bool {
        self.dwarf()
            .and_then(|d| d.producer_at(pc.wrapping_sub(self.bias())))
            .is_some_and(|p| !(p.contains("-N") && p.contains("-l")))
    }
    pub fn runtime(&self) -> &GoRuntime {
        &self.runtime
    }
    pub fn snapshot(&self) -> &dyn Snapshot {
        self.snapshot.as_ref()
    }
    /// Memory of the process (for a core: with the binary's file-backed segments filling
    /// what the core left out; for a live process: with breakpoints hidden).
    pub fn memory(&self) -> &dyn Memory {
        self.snapshot.as_ref()
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
        self.gstate().thread_ctxs.iter().find(|c| c.tid == tid)
    }
    pub fn goroutines(&self) -> &[Goroutine] {
        &self.gstate().goroutines
    }
    pub fn goroutine(&self, goid: u64) -> Option<&Goroutine> {
        let st = self.gstate();
        st.by_goid.get(&goid).and_then(|&i| st.goroutines.get(i))
    }
    /// The goroutine a thread runs (its M's curg), if any.
    pub fn thread_goroutine(&self, tid: u32) -> Option<&Goroutine> {
        let c = self.thread_context(tid)?;
        if c.curg.is_null() {
            return None;
        }
        self.goroutines().iter().find(|g| g.addr == c.curg)
    }

    fn unwinder(&self) -> Unwinder<'_> {
        Unwinder {
            mem: self.snapshot.as_ref(),
            pcln: &self.image.pcln,
            cfi: Some(self.image.as_ref()),
            bin: &self.image.binary,
            rt: &self.runtime,
            native: Some(self.native()),
        }
    }

    /// The binary's C code and the shared libraries mapped in the snapshot.
    pub fn native(&self) -> &Native {
        self.native.get_or_init(|| {
            Native::new(
                self.snapshot.clone(),
                self.image.binary.clone(),
                self.image.bias,
            )
        })
    }

    /// What thread `tid` runs, read for that thread alone (no goroutine list): its
    /// runtime context and the user goroutine on it. A breakpoint hit needs only this.
    pub fn thread_quick(&self, tid: u32) -> Option<(ThreadContext, Option<Goroutine>)> {
        let t = self.threads().iter().find(|t| t.tid == tid)?;
        let ctx = self
            .runtime
            .thread_contexts(self.snapshot.as_ref(), std::slice::from_ref(t))
            .into_iter()
            .next()?;
        let g = (!ctx.curg.is_null()).then(|| self.goroutine_at(ctx.curg));
        Some((ctx, g))
    }

    /// The innermost frames of thread `tid` from its registers, without the goroutine
    /// list (see [`Target::thread_quick`]).
    pub fn thread_frames_quick(&self, tid: u32, depth: usize) -> Stack {
        let Some(t) = self.threads().iter().find(|t| t.tid == tid) else {
            return Stack::default();
        };
        let (ctx, g) = match self.thread_quick(tid) {
            Some((c, g)) => (Some(c), g),
            None => (None, None),
        };
        self.unwinder().thread(t, ctx.as_ref(), g.as_ref(), depth)
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
        self.crash.get_or_init(|| self.compute_crash())
    }
    /// Non-fatal problems found while opening (shown once, after the header).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
    pub fn entry_point(&self) -> Addr {
        self.image.binary.entry().add(self.bias())
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
            mem: self.snapshot.as_ref(),
            types,
        }
    }
}
