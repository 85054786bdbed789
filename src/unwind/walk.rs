//! The stack walk. Mirrors the Go runtime's own unwinder (runtime/traceback.go) for Go
//! frames so stacks match the runtime's crash traceback frame for frame, and adds what
//! a post-mortem debugger needs beyond it: signal frames (sigtramp's ucontext), DWARF
//! CFI and frame pointers for non-Go code.

use super::{Frame, FrameSource, Stack};
use crate::addr::Addr;
use crate::goruntime::{GoRuntime, Goroutine, ThreadContext, G_RUNNING};
use crate::snapshot::{Memory, Registers, Thread};
use crate::symbols::cfi::{Cfi, RegSet};
use crate::symbols::{Binary, Pclntab};

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
    /// The PC is the instruction being executed (a thread's or a signal context's PC),
    /// not a return address: symbolise it as is.
    pub trap: bool,
    /// Full registers when known (for CFI in non-Go frames).
    pub regs: Option<Registers>,
    pub source: FrameSource,
}

/// Everything the walk reads. Cheap to build; borrow it per call.
pub struct Unwinder<'a> {
    pub mem: &'a dyn Memory,
    pub pcln: &'a Pclntab,
    pub cfi: Option<&'a Cfi>,
    pub bin: &'a Binary,
    pub rt: &'a GoRuntime,
}

impl<'a> Unwinder<'a> {
    fn bias(&self) -> u64 {
        self.rt.bias
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
        if g.state() == G_RUNNING {
            if let Some((t, c)) = thread {
                let mut start = thread_start(t);
                if self.pcln.func_for_pc(start.pc.sub(self.bias())).is_none()
                    && !c.vdso_sp.is_null()
                {
                    start = Start {
                        pc: c.vdso_pc,
                        sp: c.vdso_sp,
                        bp: Addr::NULL,
                        trap: false,
                        regs: None,
                        source: FrameSource::Context,
                    };
                }
                return self.walk(start, Some(g), ctx.as_ref(), depth);
            }
        }
        let start = if !g.syscall_sp.is_null() {
            Start {
                pc: g.syscall_pc,
                sp: g.syscall_sp,
                bp: Addr::NULL,
                trap: false,
                regs: None,
                source: FrameSource::Context,
            }
        } else {
            Start {
                pc: g.sched.pc,
                sp: g.sched.sp,
                bp: g.sched.bp,
                trap: false,
                regs: None,
                source: FrameSource::Context,
            }
        };
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
    pub fn thread(&self, t: &Thread, ctx: Option<&ThreadContext>, curg: Option<&Goroutine>, depth: usize) -> Stack {
        self.walk(thread_start(t), curg, ctx, depth)
    }

    pub fn walk(
        &self,
        start: Start,
        curg: Option<&Goroutine>,
        ctx: Option<&ThreadContext>,
        depth: usize,
    ) -> Stack {
        let bias = self.bias();
        let mut frames: Vec<Frame> = Vec::new();
        let mut pc = start.pc;
        let mut sp = start.sp;
        let mut bp = start.bp;
        let mut trap = start.trap;
        let mut regs = start.regs.clone();
        let mut source = start.source;
        let mut switched = false;
        let on_curg_stack = |sp: Addr| -> bool {
            curg.is_some_and(|g| sp >= g.stack_lo && sp < g.stack_hi)
        };
        let curg_sched = curg;
        let _ = ctx;

        for _ in 0..MAX_PHYSICAL {
            if frames.len() >= depth {
                break;
            }
            if pc.is_null() {
                break;
            }
            let Some(f) = self.pcln.func_for_pc(pc.sub(bias)) else {
                // Not Go code: C, the vDSO, or garbage.
                let name = self
                    .bin
                    .symbol_at(pc.sub(bias))
                    .map(|s| s.name.clone())
                    .unwrap_or_else(|| "?".into());
                frames.push(Frame {
                    pc,
                    sp,
                    cfa: Addr::NULL,
                    bp,
                    func_entry: None,
                    function: name,
                    file: String::new(),
                    line: 0,
                    inlined: false,
                    source,
                    regs: regs_list(regs.as_ref(), pc, sp, bp),
                });
                match self.step_foreign(pc, sp, bp, trap, regs.as_ref()) {
                    Some((npc, nsp, nbp, nregs, how)) => {
                        if nsp <= sp && npc == pc {
                            return stuck(frames, pc);
                        }
                        pc = npc;
                        sp = nsp;
                        bp = nbp;
                        regs = nregs;
                        source = how;
                        trap = false;
                        continue;
                    }
                    None => {
                        return Stack {
                            frames,
                            error: Some(format!("cannot unwind past non-Go code at {pc}")),
                        }
                    }
                }
            };
            let name = self.pcln.name(&f).to_string();
            let flag = self.pcln.flag(&f);

            // morestack on the system stack: the runtime resumes curg at its saved
            // context and never shows morestack; do the same.
            if name == "runtime.morestack" && !on_curg_stack(sp) {
                if let Some(g) = curg_sched.filter(|_| !switched) {
                    {
                        pc = g.sched.pc;
                        sp = g.sched.sp;
                        bp = g.sched.bp;
                        trap = false;
                        source = FrameSource::StackSwitch;
                        switched = true;
                        regs = None;
                        continue;
                    }
                }
            }

            let sym_pc = if trap || pc == f.entry.add(bias) {
                pc
            } else {
                pc.sub(1)
            };
            let sources = self.pcln.frames_at(&f, sym_pc.sub(bias));
            let fregs = regs_list(regs.as_ref(), pc, sp, bp);
            let n = sources.len();
            for (i, sf) in sources.into_iter().enumerate() {
                let physical = i + 1 == n;
                frames.push(Frame {
                    pc,
                    sp,
                    cfa: Addr::NULL,
                    bp,
                    func_entry: Some(f.entry.add(bias)),
                    function: if physical { name.clone() } else { sf.function },
                    file: sf.file,
                    line: sf.line,
                    inlined: !physical,
                    source: if physical { source } else { FrameSource::Inlined },
                    regs: fregs.clone(),
                });
            }
            if n == 0 {
                frames.push(Frame {
                    pc,
                    sp,
                    cfa: Addr::NULL,
                    bp,
                    func_entry: Some(f.entry.add(bias)),
                    function: name.clone(),
                    file: String::new(),
                    line: 0,
                    inlined: false,
                    source,
                    regs: fregs,
                });
            }

            // The signal trampoline: the kernel's rt_sigframe sits right above its
            // frame (return address = sa_restorer, then the ucontext).
            if name == "runtime.sigtramp" {
                let Some(delta) = self.pcln.sp_delta(&f, pc.sub(bias)) else {
                    return Stack {
                        frames,
                        error: Some("no stack delta for runtime.sigtramp".into()),
                    };
                };
                let uc = sp.add(delta.max(0) as u64 + 8);
                match read_ucontext(self.mem, uc) {
                    Some(r) => {
                        pc = Addr(r.rip);
                        sp = Addr(r.rsp);
                        bp = Addr(r.rbp);
                        regs = Some(r);
                        trap = true;
                        source = FrameSource::SignalFrame;
                        set_cfa(&mut frames, n, uc);
                        continue;
                    }
                    None => {
                        return Stack {
                            frames,
                            error: Some(format!("cannot read the signal frame at {uc}")),
                        }
                    }
                }
            }
            if flag & FLAG_TOPFRAME != 0 || name == "runtime.goexit" {
                break;
            }
            if name == "runtime.mcall" && !on_curg_stack(sp) {
                // mcall's callee never returns; the system stack ends here.
                break;
            }

            let mut frame_sp = sp;
            let mut next_source = FrameSource::Pclntab;
            let mut spwrite = flag & FLAG_SPWRITE != 0;
            if name == "runtime.systemstack" && !on_curg_stack(sp) {
                if let Some(g) = curg_sched {
                    if !g.sched.sp.is_null() {
                        // Follow the switch back to the goroutine's stack, where
                        // systemstack saved its SP in g.sched.
                        frame_sp = g.sched.sp;
                        next_source = FrameSource::StackSwitch;
                        spwrite = false;
                    }
                }
            }
            if spwrite && frames.len() > n {
                // The runtime cannot unwind an SP-writing function that is not
                // innermost (gogo, asmcgocall, ...): neither can anyone.
                break;
            }
            let Some(delta) = self.pcln.sp_delta(&f, pc.sub(bias)) else {
                return Stack {
                    frames,
                    error: Some(format!("no stack delta for {name} at {pc}")),
                };
            };
            let fp = frame_sp.add(delta.max(0) as u64 + 8);
            set_cfa(&mut frames, n, fp);
            let ret = match self.mem.read_ptr(fp.sub(8)) {
                Ok(r) => r,
                Err(e) => {
                    return Stack {
                        frames,
                        error: Some(format!("cannot read the return address of {name}: {e}")),
                    }
                }
            };
            if ret.is_null() {
                break;
            }
            // Go saves the caller's BP just below the return address when the
            // function has a frame.
            let nbp = if delta > 0 {
                self.mem.read_ptr(fp.sub(16)).unwrap_or(bp)
            } else {
                bp
            };
            if fp <= sp && ret == pc && next_source != FrameSource::StackSwitch {
                return stuck(frames, pc);
            }
            trap = matches!(
                name.as_str(),
                "runtime.sigpanic" | "runtime.asyncPreempt" | "runtime.debugCallV2"
            );
            pc = ret;
            sp = fp;
            bp = nbp;
            source = next_source;
            // Callee-saved registers are not tracked through Go frames (Go has none).
            regs = None;
        }
        Stack {
            frames,
            error: None,
        }
    }

    /// One step out of a non-Go frame: DWARF CFI, then the frame-pointer chain.
    #[allow(clippy::type_complexity)]
    fn step_foreign(
        &self,
        pc: Addr,
        sp: Addr,
        bp: Addr,
        trap: bool,
        regs: Option<&Registers>,
    ) -> Option<(Addr, Addr, Addr, Option<Registers>, FrameSource)> {
        if let Some(cfi) = self.cfi {
            let mut rs = regs.map(RegSet::from_registers).unwrap_or_default();
            rs.set(7, Some(sp.get()));
            rs.set(6, Some(bp.get()));
            rs.set(16, Some(pc.get()));
            let lookup = if trap { pc } else { pc.sub(1) };
            if let Some(next) = cfi.unwind_step(lookup.get(), &rs, self.mem) {
                if let (Some(npc), Some(nsp)) = (next.get(16), next.get(7)) {
                    let mut r = regs.cloned().unwrap_or_default();
                    for n in 0..=16u16 {
                        if let Some(v) = next.get(n) {
                            r.set_by_dwarf(n, v);
                        }
                    }
                    let nbp = next.get(6).unwrap_or(bp.get());
                    return Some((Addr(npc), Addr(nsp), Addr(nbp), Some(r), FrameSource::Cfi));
                }
            }
        }
        // Frame pointers: [bp] = caller's bp, [bp+8] = return address.
        if !bp.is_null() && bp > sp && bp.get() - sp.get() < (1 << 24) {
            let ret = self.mem.read_ptr(bp.add(8)).ok()?;
            let nbp = self.mem.read_ptr(bp).ok()?;
            if !ret.is_null() {
                return Some((ret, bp.add(16), nbp, None, FrameSource::FramePointer));
            }
        }
        None
    }
}

fn thread_start(t: &Thread) -> Start {
    Start {
        pc: Addr(t.regs.rip),
        sp: Addr(t.regs.rsp),
        bp: Addr(t.regs.rbp),
        trap: true,
        regs: Some(t.regs.clone()),
        source: FrameSource::Context,
    }
}

fn set_cfa(frames: &mut [Frame], n: usize, cfa: Addr) {
    let len = frames.len();
    for f in frames.iter_mut().skip(len.saturating_sub(n.max(1))) {
        f.cfa = cfa;
    }
}

fn stuck(frames: Vec<Frame>, pc: Addr) -> Stack {
    Stack {
        frames,
        error: Some(format!("unwinding stuck at {pc}")),
    }
}

fn regs_list(regs: Option<&Registers>, pc: Addr, sp: Addr, bp: Addr) -> Vec<(u16, u64)> {
    let mut v = vec![(16u16, pc.get()), (7, sp.get()), (6, bp.get())];
    if let Some(r) = regs {
        for n in 0..=15u16 {
            if n == 6 || n == 7 {
                continue;
            }
            if let Some(x) = r.by_dwarf(n) {
                v.push((n, x));
            }
        }
    }
    v
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
