//! What the walk needs to know about a CPU: where a thread's stack starts, how a Go
//! frame finds its caller (amd64: the CALL pushed the return address above the frame;
//! arm64: the callee saved LR at its SP, or LR is still live in a frameless leaf), the
//! kernel's signal frame, and the frame-pointer chain for non-Go code. One walk
//! (walk.rs) runs over [`FrameArch`]; nothing else in it depends on the CPU.

use super::walk::Start;
use super::FrameSource;
use crate::addr::Addr;
use crate::arch::Arch;
use crate::snapshot::regs::arm64_dwarf;
use crate::snapshot::{Arm64Registers, Memory, Registers, Thread};

/// A frame's registers beyond pc/sp/bp, when known (a thread's, a signal context's, or
/// restored by CFI).
#[derive(Debug, Clone)]
pub enum CpuRegs {
    Amd64(Registers),
    Arm64(Arm64Registers),
}

/// How a Go frame found its caller.
pub(crate) struct GoCaller {
    /// The caller's PC (a return address).
    pub ret: Addr,
    /// The caller's frame pointer.
    pub bp: Addr,
}

pub(crate) trait FrameArch: Sync {
    /// The walk's start on a thread, from its registers.
    fn thread_start(&self, t: &Thread) -> Start;
    /// The canonical frame address of a Go frame (the caller's SP), the runtime's
    /// `frame.fp`, from the frame's SP and the pcsp delta at its PC.
    fn go_cfa(&self, sp: Addr, delta: i32) -> Addr;
    /// The return address and the caller's frame pointer of a Go frame. `lr` is the
    /// link register's value when it is known to belong to this frame (innermost frame
    /// or after an injected call), else NULL.
    #[allow(clippy::too_many_arguments)]
    #[allow(clippy::too_many_arguments)]
    fn go_caller(
        &self,
        mem: &dyn Memory,
        sp: Addr,
        cfa: Addr,
        delta: i32,
        lr: Addr,
        innermost: bool,
        bp: Addr,
    ) -> Result<GoCaller, String>;
    /// Link-register machines: the signal handler saved LR on the stack below the
    /// interrupted frame before faking a call to sigpanic (or asyncPreempt): the size
    /// of that slot. None where a call pushes the return address (amd64).
    fn injected_call_slot(&self) -> Option<u64>;
    /// A systemstack frame with no frame yet (delta 0) has not switched stacks: only
    /// link-register machines can tell (on amd64 the CALL opened the frame).
    fn systemstack_unswitched(&self, delta: i32) -> bool;
    /// Address of the kernel's ucontext for runtime.sigtramp's frame.
    fn ucontext(&self, sigtramp_sp: Addr, delta: i32) -> Addr;
    /// The interrupted registers saved in a ucontext (pc, sp, bp, lr, all).
    fn read_ucontext(&self, mem: &dyn Memory, uc: Addr) -> Option<(Start, CpuRegs)>;
    /// DWARF register number -> value for a frame, for variable locations.
    fn dwarf_regs(&self, regs: Option<&CpuRegs>, pc: Addr, sp: Addr, bp: Addr) -> Vec<(u16, u64)>;
    /// One step out of non-Go code by the frame-pointer chain: (pc, sp, bp).
    fn frame_pointer_step(
        &self,
        mem: &dyn Memory,
        sp: Addr,
        bp: Addr,
    ) -> Option<(Addr, Addr, Addr)>;
}

/// The implementation for `arch`.
pub(crate) fn frame_arch(arch: Arch) -> &'static dyn FrameArch {
    match arch {
        Arch::Amd64 => &Amd64,
        Arch::Arm64 => &Arm64,
    }
}

/// Frame-pointer chains longer than this between sp and bp are taken for garbage.
const MAX_FP_GAP: u64 = 1 << 24;

pub(crate) struct Amd64;

impl FrameArch for Amd64 {
    fn thread_start(&self, t: &Thread) -> Start {
        Start {
            pc: Addr(t.regs.rip),
            sp: Addr(t.regs.rsp),
            bp: Addr(t.regs.rbp),
            lr: Addr::NULL,
            trap: true,
            regs: Some(CpuRegs::Amd64(t.regs.clone())),
            source: FrameSource::Context,
        }
    }

    fn go_cfa(&self, sp: Addr, delta: i32) -> Addr {
        // The CALL pushed the return address just above the frame.
        sp.add(delta.max(0) as u64 + 8)
    }

    #[allow(clippy::too_many_arguments)]
    fn go_caller(
        &self,
        mem: &dyn Memory,
        _sp: Addr,
        cfa: Addr,
        delta: i32,
        _lr: Addr,
        _innermost: bool,
        bp: Addr,
    ) -> Result<GoCaller, String> {
        let ret = mem.read_ptr(cfa.sub(8)).map_err(|e| e.to_string())?;
        // Go saves the caller's BP just below the return address when the function
        // has a frame.
        let bp = if delta > 0 {
            mem.read_ptr(cfa.sub(16)).unwrap_or(bp)
        } else {
            bp
        };
        Ok(GoCaller { ret, bp })
    }

    fn injected_call_slot(&self) -> Option<u64> {
        None
    }

    fn systemstack_unswitched(&self, _delta: i32) -> bool {
        false
    }

    fn ucontext(&self, sp: Addr, delta: i32) -> Addr {
        // rt_sigframe: the return address (sa_restorer), then the ucontext.
        sp.add(delta.max(0) as u64 + 8)
    }

    fn read_ucontext(&self, mem: &dyn Memory, uc: Addr) -> Option<(Start, CpuRegs)> {
        let r = super::walk::read_ucontext(mem, uc)?;
        let start = Start {
            pc: Addr(r.rip),
            sp: Addr(r.rsp),
            bp: Addr(r.rbp),
            lr: Addr::NULL,
            trap: true,
            regs: None,
            source: FrameSource::SignalFrame,
        };
        Some((start, CpuRegs::Amd64(r)))
    }

    fn dwarf_regs(&self, regs: Option<&CpuRegs>, pc: Addr, sp: Addr, bp: Addr) -> Vec<(u16, u64)> {
        let mut v = vec![(16u16, pc.get()), (7, sp.get()), (6, bp.get())];
        if let Some(CpuRegs::Amd64(r)) = regs {
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

    fn frame_pointer_step(
        &self,
        mem: &dyn Memory,
        sp: Addr,
        bp: Addr,
    ) -> Option<(Addr, Addr, Addr)> {
        // [bp] = caller's bp, [bp+8] = return address.
        if bp.is_null() || bp <= sp || bp.get() - sp.get() >= MAX_FP_GAP {
            return None;
        }
        let ret = mem.read_ptr(bp.add(8)).ok()?;
        let nbp = mem.read_ptr(bp).ok()?;
        (!ret.is_null()).then_some((ret, bp.add(16), nbp))
    }
}

pub(crate) struct Arm64;

/// Offsets in the arm64 `struct ucontext` (kernel and qemu-user alike): uc_flags,
/// uc_link, uc_stack (24), uc_sigmask padded to 1024 bits, then the 16-aligned
/// `sigcontext` (fault_address, regs[31], sp, pc, pstate).
const UC_MCONTEXT: u64 = 176;
const SC_REGS: u64 = 8;
const SC_SP: u64 = SC_REGS + 31 * 8;
const SC_PC: u64 = SC_SP + 8;
const SC_PSTATE: u64 = SC_PC + 8;
/// `struct rt_sigframe` on arm64 is the siginfo (128 bytes), then the ucontext.
const SIGINFO_SIZE: u64 = 128;

impl FrameArch for Arm64 {
    fn thread_start(&self, t: &Thread) -> Start {
        let r = t.arm64.clone().unwrap_or_default();
        Start {
            pc: Addr(r.pc),
            sp: Addr(r.sp),
            bp: Addr(r.fp()),
            lr: Addr(r.lr()),
            trap: true,
            regs: Some(CpuRegs::Arm64(r)),
            source: FrameSource::Context,
        }
    }

    fn go_cfa(&self, sp: Addr, delta: i32) -> Addr {
        sp.add(delta.max(0) as u64)
    }

    #[allow(clippy::too_many_arguments)]
    fn go_caller(
        &self,
        mem: &dyn Memory,
        sp: Addr,
        cfa: Addr,
        delta: i32,
        lr: Addr,
        innermost: bool,
        bp: Addr,
    ) -> Result<GoCaller, String> {
        // As the runtime's unwinder: a frame that has been allocated saved LR at its
        // SP; the innermost frame before that (a leaf, or a prologue) still has its
        // return address in LR.
        let ret = if lr.is_null() || (innermost && sp < cfa) {
            mem.read_ptr(sp).map_err(|e| e.to_string())?
        } else {
            lr
        };
        // The prologue stores the caller's frame pointer just below the saved LR.
        let bp = if delta > 0 {
            mem.read_ptr(sp.sub(8)).unwrap_or(bp)
        } else {
            bp
        };
        Ok(GoCaller { ret, bp })
    }

    fn injected_call_slot(&self) -> Option<u64> {
        // sys.MinFrameSize (8) aligned up to sys.StackAlign (16).
        Some(16)
    }

    fn systemstack_unswitched(&self, delta: i32) -> bool {
        delta == 0
    }

    fn ucontext(&self, sp: Addr, delta: i32) -> Addr {
        // sigtramp's CFA is the SP the kernel gave the handler: the rt_sigframe.
        sp.add(delta.max(0) as u64 + SIGINFO_SIZE)
    }

    fn read_ucontext(&self, mem: &dyn Memory, uc: Addr) -> Option<(Start, CpuRegs)> {
        let mc = uc.add(UC_MCONTEXT);
        let w = |off: u64| mem.read_u64(mc.add(off)).ok();
        let mut r = Arm64Registers::default();
        for (i, x) in r.x.iter_mut().enumerate() {
            *x = w(SC_REGS + 8 * i as u64)?;
        }
        r.sp = w(SC_SP)?;
        r.pc = w(SC_PC)?;
        r.pstate = w(SC_PSTATE)?;
        if r.pc == 0 || r.sp == 0 {
            return None;
        }
        let start = Start {
            pc: Addr(r.pc),
            sp: Addr(r.sp),
            bp: Addr(r.fp()),
            lr: Addr(r.lr()),
            trap: true,
            regs: None,
            source: FrameSource::SignalFrame,
        };
        Some((start, CpuRegs::Arm64(r)))
    }

    fn dwarf_regs(&self, regs: Option<&CpuRegs>, pc: Addr, sp: Addr, bp: Addr) -> Vec<(u16, u64)> {
        let mut v = vec![
            (arm64_dwarf::PC, pc.get()),
            (arm64_dwarf::SP, sp.get()),
            (arm64_dwarf::FP, bp.get()),
        ];
        if let Some(CpuRegs::Arm64(r)) = regs {
            for n in 0..=arm64_dwarf::LR {
                if n == arm64_dwarf::FP {
                    continue;
                }
                if let Some(x) = r.by_dwarf(n) {
                    v.push((n, x));
                }
            }
        }
        v
    }

    fn frame_pointer_step(
        &self,
        mem: &dyn Memory,
        sp: Addr,
        bp: Addr,
    ) -> Option<(Addr, Addr, Addr)> {
        // AAPCS64 frame record: [x29] = caller's x29, [x29+8] = saved LR.
        if bp.is_null() || bp < sp || bp.get() - sp.get() >= MAX_FP_GAP {
            return None;
        }
        let ret = mem.read_ptr(bp.add(8)).ok()?;
        let nbp = mem.read_ptr(bp).ok()?;
        (!ret.is_null()).then_some((ret, bp.add(16), nbp))
    }
}
