//! The stack walk. Mirrors the Go runtime's own unwinder (runtime/traceback.go) for Go
//! frames so stacks match the runtime's crash traceback frame for frame, and adds what
//! a post-mortem debugger needs beyond it: signal frames (sigtramp's ucontext), DWARF
//! CFI and frame pointers for non-Go code.

use super::arch::{frame_arch, CpuRegs, FrameArch};
use super::cache::{PcCache, PcInfo, Special};
use super::{Frame, FrameSource, LiteFrame, LiteStack, Stack};
use crate::addr::Addr;
use crate::goruntime::{GoRuntime, Goroutine, ThreadContext, G_RUNNING, G_SYSCALL};
use crate::snapshot::{Memory, Registers, Thread};
use crate::symbols::cfi::{Cfi, RegSet};
use crate::symbols::native::Native;
use crate::symbols::{Binary, Pclntab};
use std::sync::Arc;

/// Hard cap on physical frames, whatever depth was asked, so garbage cannot loop.
const MAX_PHYSICAL: usize = 100_000;

// abi.FuncFlag bits.
const FLAG_TOPFRAME: u8 = 1;
const FLAG_SPWRITE: u8 = 2;

/// Where a walk starts.
#[derive(Debug, Clone)]
pub struct Start {
    pub pc: Addr,
    pub sp: Addr,
    pub bp: Addr,
    /// The link register, when known to hold this frame's return address (arm64: a
    /// thread's x30, a goroutine's gobuf.lr); NULL otherwise and on amd64.
    pub lr: Addr,
    /// The PC is the instruction being executed (a thread's or a signal context's PC),
    /// not a return address: symbolise it as is.
    pub trap: bool,
    /// Full registers when known (for CFI in non-Go frames).
    pub regs: Option<CpuRegs>,
    pub source: FrameSource,
}

/// Where the unwinder gets the binary's call frame information (a [`Cfi`], or its
/// owner when that loads it on first use).
pub trait CfiSource: Sync {
    fn cfi(&self) -> &Cfi;
}

impl CfiSource for Cfi {
    fn cfi(&self) -> &Cfi {
        self
    }
}

/// Everything the walk reads. Cheap to build; borrow it per call.
pub struct Unwinder<'a> {
    pub mem: &'a dyn Memory,
    pub pcln: &'a Pclntab,
    /// The binary's CFI, loaded on first need: most walks never leave Go code.
    pub cfi: Option<&'a dyn CfiSource>,
    pub bin: &'a Binary,
    pub rt: &'a GoRuntime,
    /// C symbols and lines, shared libraries' symbols and CFI (C frames); without it
    /// C frames are named from the binary's symbol table and unwound by its CFI only.
    pub native: Option<&'a Native>,
}

impl<'a> Unwinder<'a> {
    fn bias(&self) -> u64 {
        self.rt.bias
    }

    /// The CPU's frame layout, from the binary's ELF header.
    pub(super) fn arch(&self) -> &'static dyn FrameArch {
        frame_arch(self.bin.arch())
    }

    /// A goroutine's stack as the runtime sees it: a goroutine running on a thread
    /// from that thread's registers (system-stack and signal frames included, so its
    /// outermost frames are what the runtime printed); in a syscall from
    /// g.syscallpc/sp; otherwise from g.sched.
    pub fn goroutine(
        &self,
        g: &Goroutine,
        thread: Option<(&Thread, &ThreadContext)>,
        depth: usize,
    ) -> Stack {
        let ctx = thread.map(|(_, c)| c.clone());
        if g.state() == G_SYSCALL {
            if let Some((t, c)) = thread {
                if let Some(st) = self.cgo_call_stack(g, t, c, depth) {
                    return st;
                }
            }
        }
        if g.state() == G_RUNNING {
            if let Some((t, c)) = thread {
                let mut start = self.arch().thread_start(t);
                if self.pcln.func_for_pc(start.pc.sub(self.bias())).is_none()
                    && !c.vdso_sp.is_null()
                {
                    start = Start {
                        pc: c.vdso_pc,
                        sp: c.vdso_sp,
                        bp: Addr::NULL,
                        lr: Addr::NULL,
                        trap: false,
                        regs: None,
                        source: FrameSource::Context,
                    };
                }
                return self.walk(start, Some(g), ctx.as_ref(), depth);
            }
        }
        let start = saved_start(g);
        if start.pc.is_null() || start.sp.is_null() {
            return Stack {
                frames: Vec::new(),
                error: Some(format!(
                    "goroutine {} has no saved context (status {})",
                    g.goid,
                    g.traceback_status()
                )),
            };
        }
        self.walk(start, Some(g), ctx.as_ref(), depth)
    }

    /// A thread's stack from its registers, through signal frames and stack switches.
    pub fn thread(
        &self,
        t: &Thread,
        ctx: Option<&ThreadContext>,
        curg: Option<&Goroutine>,
        depth: usize,
    ) -> Stack {
        self.walk(self.arch().thread_start(t), curg, ctx, depth)
    }

    /// Walk from `start`, building full [`Frame`]s.
    pub fn walk(
        &self,
        start: Start,
        curg: Option<&Goroutine>,
        ctx: Option<&ThreadContext>,
        depth: usize,
    ) -> Stack {
        let mut sink = FullSink {
            frames: Vec::new(),
            arch: self.arch(),
        };
        let error = self.walk_into(start, curg, ctx, depth, None, &mut sink);
        Stack {
            frames: sink.frames,
            error,
        }
    }

    /// A goroutine's stack as lightweight frames that share memoized names, for bulk
    /// listings. `stop_after` ends the walk after the first frame it accepts (e.g. the
    /// first user frame). `None` when this unwinder cannot do it as well as
    /// [`Unwinder::goroutine`]: the goroutine runs on a thread (its stack starts in the
    /// thread's registers), or the walk meets non-Go code and no CFI was given.
    pub fn goroutine_lite(
        &self,
        g: &Goroutine,
        depth: usize,
        cache: &PcCache,
        stop_after: Option<&dyn Fn(&LiteFrame) -> bool>,
    ) -> Option<LiteStack> {
        if g.thread.is_some() {
            return None;
        }
        let start = saved_start(g);
        if start.pc.is_null() || start.sp.is_null() {
            // Same message as the full walk; rare enough not to matter for speed.
            return None;
        }
        let mut sink = LiteSink {
            frames: Vec::new(),
            stop_after,
            foreign: false,
            allow_foreign: self.cfi.is_some(),
        };
        let error = self.walk_into(start, Some(g), None, depth, Some(cache), &mut sink);
        if sink.foreign && !sink.allow_foreign {
            return None;
        }
        Some(LiteStack {
            frames: sink.frames,
            error,
        })
    }

    pub(super) fn info(&self, cache: Option<&PcCache>, pc: Addr, trap: bool) -> Arc<PcInfo> {
        let compute = || PcInfo::compute(self.pcln, self.bin, self.native, self.bias(), pc, trap);
        match cache {
            Some(c) => c.get_or_compute((pc.get(), trap), compute),
            None => Arc::new(compute()),
        }
    }

    /// The walk itself, written once for every kind of frame consumer. Returns why it
    /// stopped early, if it did.
    fn walk_into(
        &self,
        start: Start,
        curg: Option<&Goroutine>,
        ctx: Option<&ThreadContext>,
        depth: usize,
        cache: Option<&PcCache>,
        sink: &mut dyn Sink,
    ) -> Option<String> {
        let arch = self.arch();
        let mut pc = start.pc;
        let mut sp = start.sp;
        let mut bp = start.bp;
        let mut lr = start.lr;
        // The runtime's "innermost": the first frame of a context (a thread's, a
        // signal context's, a resumed gobuf), whose LR may still be live.
        let mut innermost = true;
        let mut trap = start.trap;
        let mut regs = start.regs;
        let mut source = start.source;
        let mut switched = false;
        // The goroutine's syscall context stands in for the first asmcgocall's caller
        // only (see `asmcgocall_caller`); nested calls take the physical one.
        let mut syscall_ctx_used = false;
        let on_curg_stack =
            |sp: Addr| -> bool { curg.is_some_and(|g| sp >= g.stack_lo && sp < g.stack_hi) };

        for _ in 0..MAX_PHYSICAL {
            if sink.len() >= depth {
                break;
            }
            if pc.is_null() {
                break;
            }
            let info = self.info(cache, pc, trap);
            if info.func.is_none() {
                // Not Go code: C, the vDSO, or garbage.
                if !sink.push(&info, pc, sp, bp, source, regs.as_ref()) {
                    return None;
                }
                match self.step_foreign(pc, sp, bp, trap, regs.as_ref()) {
                    Some((npc, nsp, nbp, nregs, how, signal)) => {
                        if nsp <= sp && npc == pc {
                            return Some(stuck(pc));
                        }
                        pc = npc;
                        sp = nsp;
                        bp = nbp;
                        regs = nregs;
                        source = if signal {
                            FrameSource::SignalFrame
                        } else {
                            how
                        };
                        // Past a C signal trampoline (glibc's __restore_rt) the PC is
                        // the interrupted instruction, not a return address.
                        trap = signal;
                        lr = Addr::NULL;
                        innermost = false;
                        continue;
                    }
                    None => return Some(format!("cannot unwind past non-Go code at {pc}")),
                }
            }
            let name = info.name.as_str();

            // morestack on the system stack: the runtime resumes curg at its saved
            // context and never shows morestack; do the same.
            if info.special == Special::Morestack && !on_curg_stack(sp) {
                if let Some(g) = curg.filter(|_| !switched) {
                    pc = g.sched.pc;
                    sp = g.sched.sp;
                    bp = g.sched.bp;
                    // morestack saved the caller's LR in gobuf.lr (arm64).
                    lr = g.sched.lr;
                    innermost = true;
                    trap = false;
                    source = FrameSource::StackSwitch;
                    switched = true;
                    regs = None;
                    continue;
                }
            }

            let before = sink.len();
            let more = sink.push(&info, pc, sp, bp, source, regs.as_ref());
            let n = info.frames.len();

            // The signal trampoline: the kernel's rt_sigframe sits right above its
            // frame (return address = sa_restorer, then the ucontext).
            if info.special == Special::Sigtramp {
                let Some(delta) = info.sp_delta else {
                    return Some("no stack delta for runtime.sigtramp".into());
                };
                let uc = arch.ucontext(sp, delta);
                match arch.read_ucontext(self.mem, uc) {
                    Some((ctx, r)) => {
                        sink.set_cfa(n, uc);
                        if !more {
                            return None;
                        }
                        pc = ctx.pc;
                        sp = ctx.sp;
                        bp = ctx.bp;
                        lr = ctx.lr;
                        innermost = true;
                        regs = Some(r);
                        trap = true;
                        source = ctx.source;
                        continue;
                    }
                    None => return Some(format!("cannot read the signal frame at {uc}")),
                }
            }
            if info.flag & FLAG_TOPFRAME != 0 || info.special == Special::Goexit {
                break;
            }
            // Go calling C: the C frames above ran on the system stack; asmcgocall's
            // caller (cgocall) is on the goroutine's stack, found from what asmcgocall
            // saved on the system stack.
            if info.special == Special::Asmcgocall && !trap && !on_curg_stack(sp) {
                if let Some((npc, nsp, moved)) =
                    self.asmcgocall_caller(sp, curg, &mut syscall_ctx_used)
                {
                    sink.set_cfa(n, nsp);
                    if !more {
                        return None;
                    }
                    pc = npc;
                    sp = nsp;
                    lr = Addr::NULL;
                    innermost = false;
                    trap = false;
                    source = if moved {
                        FrameSource::StackSwitch
                    } else {
                        FrameSource::Pclntab
                    };
                    regs = None;
                    continue;
                }
            }
            if info.special == Special::Mcall && !on_curg_stack(sp) {
                // mcall's callee never returns; the system stack ends here.
                break;
            }

            let mut frame_sp = sp;
            let mut next_source = FrameSource::Pclntab;
            // As the runtime: cgocallback writes SP but keeps a frame valid for
            // unwinding on both stacks, so it is not an SP-writing function here.
            let mut spwrite = info.flag & FLAG_SPWRITE != 0 && info.special != Special::Cgocallback;
            let unswitched = info
                .sp_delta
                .is_some_and(|d| arch.systemstack_unswitched(d));
            if info.special == Special::Cgocallback && on_curg_stack(sp) {
                // C calling Go: cgocallback's frame on the goroutine's stack is a copy of
                // its frame on g0's, where its real caller (crosscall2, then C) is.
                if let Some(g0_sp) = self.cgocallback_g0_sp(ctx, info.sp_delta, cache) {
                    frame_sp = g0_sp;
                    next_source = FrameSource::StackSwitch;
                }
            }
            if info.special == Special::Systemstack && !on_curg_stack(sp) && !unswitched {
                if let Some(g) = curg {
                    if !g.sched.sp.is_null() {
                        // Follow the switch back to the goroutine's stack, where
                        // systemstack saved its SP in g.sched.
                        frame_sp = g.sched.sp;
                        next_source = FrameSource::StackSwitch;
                        spwrite = false;
                    }
                }
            }
            if spwrite && before > 0 {
                // The runtime cannot unwind an SP-writing function that is not
                // innermost (gogo, asmcgocall, ...): neither can anyone.
                break;
            }
            let Some(delta) = info.sp_delta else {
                return Some(format!("no stack delta for {name} at {pc}"));
            };
            let fp = arch.go_cfa(frame_sp, delta);
            sink.set_cfa(n, fp);
            if !more {
                return None;
            }
            let caller = arch.go_caller(self.mem, frame_sp, fp, delta, lr, innermost, bp);
            let caller = match caller {
                Ok(c) => c,
                Err(e) => return Some(format!("cannot read the return address of {name}: {e}")),
            };
            let ret = caller.ret;
            if ret.is_null() {
                break;
            }
            if fp <= sp && ret == pc && next_source != FrameSource::StackSwitch {
                return Some(stuck(pc));
            }
            let injected = info.special == Special::TrapCaller;
            // Before Go 1.21's unwinder only sigpanic's caller was symbolised at its
            // exact PC; asyncPreempt's and debugCallV2's callers took pc-1 like others.
            trap = injected && (name == "runtime.sigpanic" || self.rt.version.minor >= 21);
            pc = ret;
            sp = fp;
            bp = caller.bp;
            lr = Addr::NULL;
            innermost = false;
            source = next_source;
            // Callee-saved registers are not tracked through Go frames (Go has none).
            regs = None;
            if injected {
                if let Some(slot) = arch.injected_call_slot() {
                    // Link-register machines: the signal handler stored the interrupted
                    // LR below the interrupted frame and faked a call from its PC (the
                    // runtime's unwinder undoes it the same way).
                    let Ok(saved) = self.mem.read_ptr(sp) else {
                        return Some(format!("cannot read the LR saved below {name}"));
                    };
                    sp = sp.add(slot);
                    let callee = self.info(cache, pc, true);
                    if callee.func.is_none() {
                        pc = saved;
                    } else if callee.sp_delta == Some(0) {
                        lr = saved;
                    }
                }
            }
        }
        None
    }

    /// One step out of a non-Go frame: DWARF CFI (the binary's, else the shared
    /// library's at `pc`), then the frame-pointer chain. The last value says the frame
    /// was a signal trampoline (the caller's PC is an interrupted instruction).
    #[allow(clippy::type_complexity)]
    fn step_foreign(
        &self,
        pc: Addr,
        sp: Addr,
        bp: Addr,
        trap: bool,
        regs: Option<&CpuRegs>,
    ) -> Option<(Addr, Addr, Addr, Option<CpuRegs>, FrameSource, bool)> {
        // CFI is read with amd64 register numbers only (arm64 C frames: frame pointers).
        let amd64 = self.bin.arch() == crate::arch::Arch::Amd64;
        let regs_amd64 = match regs {
            Some(CpuRegs::Amd64(r)) => Some(r),
            _ => None,
        };
        let lookup = if trap { pc } else { pc.sub(1) };
        let cfi = match self.cfi.map(|c| c.cfi()) {
            Some(c) if c.has_fde(lookup.get()) => Some(c),
            own => self.native.and_then(|n| n.cfi_at(lookup)).or(own),
        };
        if let Some(cfi) = cfi.filter(|_| amd64) {
            let mut rs = regs_amd64.map(RegSet::from_registers).unwrap_or_default();
            rs.set(7, Some(sp.get()));
            rs.set(6, Some(bp.get()));
            rs.set(16, Some(pc.get()));
            if let Some(next) = cfi.unwind_step(lookup.get(), &rs, self.mem) {
                if let (Some(npc), Some(nsp)) = (next.get(16), next.get(7)) {
                    let mut r = regs_amd64.cloned().unwrap_or_default();
                    for n in 0..=16u16 {
                        if let Some(v) = next.get(n) {
                            r.set_by_dwarf(n, v);
                        }
                    }
                    let nbp = next.get(6).unwrap_or(bp.get());
                    let r = Some(CpuRegs::Amd64(r));
                    let signal = cfi.is_signal_frame(lookup.get());
                    return Some((Addr(npc), Addr(nsp), Addr(nbp), r, FrameSource::Cfi, signal));
                }
            }
        }
        let (ret, nsp, nbp) = self.arch().frame_pointer_step(self.mem, sp, bp)?;
        Some((ret, nsp, nbp, None, FrameSource::FramePointer, false))
    }
}

/// Where a goroutine that is not on a thread resumes, as the runtime's
/// `unwinder.initAt` decides: g.syscallpc/sp while syscallsp is set, else g.sched.
pub(super) fn saved_start(g: &Goroutine) -> Start {
    // gobuf.lr is only ever set on link-register machines (0 after mcall/gogo).
    let (pc, sp, bp, lr) = if !g.syscall_sp.is_null() {
        (g.syscall_pc, g.syscall_sp, Addr::NULL, Addr::NULL)
    } else {
        (g.sched.pc, g.sched.sp, g.sched.bp, g.sched.lr)
    };
    Start {
        pc,
        sp,
        bp,
        lr,
        trap: false,
        regs: None,
        source: FrameSource::Context,
    }
}

fn stuck(pc: Addr) -> String {
    format!("unwinding stuck at {pc}")
}

/// The general registers of a Linux amd64 ucontext_t (uc_mcontext.gregs at +40).
pub fn read_ucontext(mem: &dyn Memory, uc: Addr) -> Option<Registers> {
    let g = uc.add(40);
    let w = |i: u64| mem.read_u64(g.add(i * 8)).ok();
    let r = Registers {
        r8: w(0)?,
        r9: w(1)?,
        r10: w(2)?,
        r11: w(3)?,
        r12: w(4)?,
        r13: w(5)?,
        r14: w(6)?,
        r15: w(7)?,
        rdi: w(8)?,
        rsi: w(9)?,
        rbp: w(10)?,
        rbx: w(11)?,
        rdx: w(12)?,
        rax: w(13)?,
        rcx: w(14)?,
        rsp: w(15)?,
        rip: w(16)?,
        eflags: w(17)?,
        ..Default::default()
    };
    (r.rip != 0 && r.rsp != 0).then_some(r)
}

/// Receives the frames of a walk, physical frame by physical frame.
trait Sink {
    /// Logical frames received so far.
    fn len(&self) -> usize;
    /// One physical frame with its inlined frames (`info.frames`); false stops the walk.
    fn push(
        &mut self,
        info: &Arc<PcInfo>,
        pc: Addr,
        sp: Addr,
        bp: Addr,
        source: FrameSource,
        regs: Option<&CpuRegs>,
    ) -> bool;
    /// The CFA of the last physical frame (its `n` logical frames) became known.
    fn set_cfa(&mut self, n: usize, cfa: Addr);
}

/// Builds owned [`Frame`]s (the general-purpose stack).
struct FullSink {
    frames: Vec<Frame>,
    arch: &'static dyn FrameArch,
}

impl Sink for FullSink {
    fn len(&self) -> usize {
        self.frames.len()
    }

    fn push(
        &mut self,
        info: &Arc<PcInfo>,
        pc: Addr,
        sp: Addr,
        bp: Addr,
        source: FrameSource,
        regs: Option<&CpuRegs>,
    ) -> bool {
        let fregs = self.arch.dwarf_regs(regs, pc, sp, bp);
        for sf in &info.frames {
            self.frames.push(Frame {
                pc,
                sp,
                cfa: Addr::NULL,
                bp,
                func_entry: info.entry,
                function: sf.function.clone(),
                file: sf.file.clone(),
                line: sf.line,
                inlined: sf.inlined,
                source: if sf.inlined {
                    FrameSource::Inlined
                } else {
                    source
                },
                regs: fregs.clone(),
            });
        }
        true
    }

    fn set_cfa(&mut self, n: usize, cfa: Addr) {
        let len = self.frames.len();
        for f in self.frames.iter_mut().skip(len.saturating_sub(n.max(1))) {
            f.cfa = cfa;
        }
    }
}

/// Builds [`LiteFrame`]s, optionally stopping at the first frame `stop_after` accepts.
struct LiteSink<'s> {
    frames: Vec<LiteFrame>,
    stop_after: Option<&'s dyn Fn(&LiteFrame) -> bool>,
    /// A non-Go frame was met.
    foreign: bool,
    allow_foreign: bool,
}

impl Sink for LiteSink<'_> {
    fn len(&self) -> usize {
        self.frames.len()
    }

    fn push(
        &mut self,
        info: &Arc<PcInfo>,
        pc: Addr,
        sp: Addr,
        _bp: Addr,
        _source: FrameSource,
        _regs: Option<&CpuRegs>,
    ) -> bool {
        if info.func.is_none() {
            self.foreign = true;
            if !self.allow_foreign {
                return false;
            }
        }
        let mut more = true;
        for idx in 0..info.frames.len() {
            let f = LiteFrame {
                pc,
                sp,
                info: info.clone(),
                idx,
            };
            if more && self.stop_after.is_some_and(|stop| stop(&f)) {
                more = false;
            }
            self.frames.push(f);
        }
        more
    }

    fn set_cfa(&mut self, _n: usize, _cfa: Addr) {}
}

#[cfg(test)]
pub(crate) mod tests {
    //! The lite walk must give exactly the frames of the full walk, on real cores.
    use super::*;
    use crate::target::{OpenOptions, Target};
    use crate::unwind::FrameView;
    use std::path::{Path, PathBuf};

    /// (binary, core) pairs of a few fixture directories (Go 1.19 and 1.27, cgo).
    pub(crate) fn fixture_cores(dirs: &[&str]) -> Vec<(PathBuf, PathBuf)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/fixtures");
        let mut out = Vec::new();
        for d in dirs {
            let Ok(rd) = std::fs::read_dir(root.join(d)) else {
                continue;
            };
            let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
            files.sort();
            let name = |p: &PathBuf| {
                p.file_name()
                    .and_then(|s| s.to_str())
                    .unwrap_or("")
                    .to_string()
            };
            let Some(bin) = files.iter().find(|p| {
                let n = name(p);
                !n.contains(".core")
                    && !n.ends_with(".stderr")
                    && !n.ends_with(".json")
                    && !n.ends_with(".md")
            }) else {
                continue;
            };
            for p in files.iter().filter(|p| name(p).ends_with(".core.zst")) {
                out.push((bin.clone(), p.clone()));
            }
        }
        out
    }

    #[test]
    fn lite_walk_matches_full_walk() {
        let cases = fixture_cores(&["go1.19-opt", "go1.27-noopt", "go1.27-cgopie"]);
        assert!(!cases.is_empty(), "no fixture cores under cores/fixtures");
        let mut lite_used = 0;
        for (bin, core) in cases {
            let Ok(t) = Target::open(&OpenOptions {
                binary: bin,
                core: core.clone(),
                force: false,
            }) else {
                continue;
            };
            let u = Unwinder {
                mem: t.memory(),
                pcln: t.pclntab(),
                cfi: None,
                bin: t.binary(),
                rt: t.runtime(),
                native: None,
            };
            let cache = PcCache::new();
            for g in t.goroutines() {
                let full = t.goroutine_stack(g, 60);
                let Some(lite) = u.goroutine_lite(g, 60, &cache, None) else {
                    continue;
                };
                lite_used += 1;
                let ctx = format!("{} goroutine {}", core.display(), g.goid);
                assert_eq!(full.frames.len(), lite.frames.len(), "{ctx}");
                assert_eq!(full.error, lite.error, "{ctx}");
                for (a, b) in full.frames.iter().zip(&lite.frames) {
                    assert_eq!(
                        (
                            a.pc,
                            a.sp,
                            a.function.as_str(),
                            a.file.as_str(),
                            a.line,
                            a.inlined
                        ),
                        (
                            b.pc(),
                            b.sp(),
                            b.function(),
                            b.file(),
                            b.line(),
                            b.inlined()
                        ),
                        "{ctx}"
                    );
                }
                // Stopping early gives a prefix ending at the first accepted frame.
                let stop = |f: &LiteFrame| f.function().starts_with("main.");
                let short = u.goroutine_lite(g, 60, &cache, Some(&stop));
                let short = short.map(|s| s.frames).unwrap_or_default();
                let first = lite.frames.iter().position(stop);
                match first {
                    Some(i) => {
                        assert!(short.len() > i, "{ctx}");
                        assert_eq!(
                            short.get(i).map(|f| f.pc()),
                            lite.frames.get(i).map(|f| f.pc())
                        );
                    }
                    None => assert_eq!(short.len(), lite.frames.len(), "{ctx}"),
                }
            }
            assert!(!cache.is_empty());
        }
        assert!(lite_used > 0, "the lite walk declined every goroutine");
    }
}
