//! The cgo transitions, so stacks run without a gap from C frames into Go frames:
//!
//! - Go calling C (`runtime.cgocall` → `runtime.asmcgocall` → C on the system stack):
//!   asmcgocall saves, at the bottom of its system-stack frame, the goroutine and its
//!   depth in the goroutine's stack (`stack.hi - SP`, a depth because a callback may
//!   move the stack); from them its caller's frame on the goroutine's stack.
//! - C calling Go (`crosscall2` → `runtime.cgocallback` → Go on the goroutine's
//!   stack): cgocallback opens a frame on the goroutine's stack shaped like its frame
//!   on g0's, whose SP it keeps in `m.g0.sched.sp` for the callback's duration; its
//!   real caller is found there.
//! - A goroutine in a C call is in `_Gsyscall`, the runtime's view of it starting at
//!   `g.syscallpc`; its C frames are on its thread's system stack, so its stack is the
//!   thread's from the C frame that was running.
//! - On Windows every system call is made that way too (`syscall.SyscallN` →
//!   `runtime.cgocall` → `asmcgocall(asmstdcall)` → the DLL): such a goroutine is in a
//!   system call, not in C code of the program, and its stack is the runtime's view,
//!   as for a Linux goroutine whose thread is in the kernel. The thread's own stack
//!   still shows the DLL's frames.

use super::walk::Unwinder;
use super::{cache::PcCache, FrameSource, Stack};
use crate::addr::Addr;
use crate::goruntime::{Goroutine, ThreadContext};
use crate::snapshot::Thread;

/// Frames a thread's stack may hold below a goroutine's own (signal handler, C).
const THREAD_EXTRA_FRAMES: usize = 256;
/// asmcgocall's `nosave` path (already on a system stack) saves the caller's SP
/// itself: it must lie this close above the frame.
const MAX_NOSAVE_GAP: u64 = 1 << 16;
/// How far below `m.g0.sched.sp` a callback's cgocallback frame is looked for (the C
/// frames between them and crosscall2's saved registers).
const CALLBACK_SCAN: u64 = 1 << 16;

impl Unwinder<'_> {
    /// The caller of asmcgocall's frame at `sp` (on a system stack): its PC, its SP
    /// and whether that moved to the goroutine's stack. The first time, when the
    /// goroutine's syscall context (set by entersyscall in cgocall) is that same
    /// frame, its PC is used as the runtime's traceback does (the line of the
    /// entersyscall call, not of the asmcgocall call).
    pub(super) fn asmcgocall_caller(
        &self,
        sp: Addr,
        curg: Option<&Goroutine>,
        syscall_ctx_used: &mut bool,
    ) -> Option<(Addr, Addr, bool)> {
        // Where asmcgocall keeps (depth, g): 0(SP) and 8(SP) since Go 1.20, 40(SP) and
        // 48(SP) before (room for Windows' shadow space). Try the release's first; the
        // saved g tells which one it is.
        let slots: [(u64, u64); 2] = if self.rt.version.minor >= 20 {
            [(0, 8), (40, 48)]
        } else {
            [(40, 48), (0, 8)]
        };
        for (depth_off, g_off) in slots {
            let (Ok(saved_g), Ok(v)) = (
                self.mem.read_ptr(sp.add(g_off)),
                self.mem.read_u64(sp.add(depth_off)),
            ) else {
                continue;
            };
            // entry_sp: asmcgocall's SP when it saved it (at or below the return address).
            let (entry_sp, moved) = if saved_g.is_null() {
                // nosave: called on a system stack, the original SP saved as is.
                if v <= sp.get() || v - sp.get() >= MAX_NOSAVE_GAP {
                    continue;
                }
                (Addr(v), false)
            } else {
                let Some(g) = curg.filter(|g| g.addr == saved_g) else {
                    continue;
                };
                let Some(e) = g.stack_hi.get().checked_sub(v) else {
                    continue;
                };
                if e < g.stack_lo.get() || e >= g.stack_hi.get() {
                    continue;
                }
                (Addr(e), true)
            };
            // asmcgocall may have pushed BP before saving SP (Go 1.27's assembler does):
            // the return address is the first word there that is Go code.
            let Some((at, ret)) = [entry_sp, entry_sp.add(8)].into_iter().find_map(|a| {
                let r = self.mem.read_ptr(a).ok()?;
                self.info(None, r, false).func.is_some().then_some((a, r))
            }) else {
                continue;
            };
            let caller_sp = at.add(8);
            if let Some(g) = curg.filter(|_| moved && !*syscall_ctx_used) {
                if g.syscall_sp == caller_sp && !g.syscall_pc.is_null() {
                    *syscall_ctx_used = true;
                    return Some((g.syscall_pc, caller_sp, true));
                }
            }
            return Some((ret, caller_sp, moved));
        }
        // No saved g matched: fall back on the goroutine's syscall context once.
        let g = curg.filter(|g| !*syscall_ctx_used && !g.syscall_sp.is_null())?;
        *syscall_ctx_used = true;
        Some((g.syscall_pc, g.syscall_sp, true))
    }

    /// During a callback from C, the SP of cgocallback's frame on the system stack:
    /// `m.g0.sched.sp` while the callback runs. A panic in the callback runs
    /// cgocallbackg's deferred `unwindm`, which restores `m.g0.sched.sp` to the value
    /// cgocallback saved at `0(SP)` of that frame, but leaves the frame in place: then
    /// it is the frame below, returning into crosscall2, whose `0(SP)` holds
    /// `m.g0.sched.sp`.
    pub(super) fn cgocallback_g0_sp(
        &self,
        ctx: Option<&ThreadContext>,
        delta: Option<i32>,
        cache: Option<&PcCache>,
    ) -> Option<Addr> {
        let ctx = ctx.filter(|c| !c.g0.is_null())?;
        let delta = delta?;
        let g0 = self.rt.read_g(self.mem, ctx.g0);
        let sched_sp = g0.sched.sp;
        if sched_sp < g0.stack_lo || sched_sp >= g0.stack_hi {
            return None;
        }
        let returns_to_crosscall2 = |sp: Addr| {
            let fp = self.arch().go_cfa(sp, delta);
            let Ok(ret) = self.mem.read_ptr(fp.sub(8)) else {
                return false;
            };
            let f = self.info(cache, ret, false);
            f.func.is_some() && f.name == "crosscall2"
        };
        if returns_to_crosscall2(sched_sp) {
            return Some(sched_sp);
        }
        let lo = sched_sp.sub(CALLBACK_SCAN).max(g0.stack_lo);
        let len = usize::try_from(sched_sp.get().checked_sub(lo.get())?).ok()?;
        let words = self.mem.read_bytes(lo, len).ok()?;
        // Nearest first: the frame cgocallback opened last.
        (0..len / 8).rev().find_map(|i| {
            let at = lo.add(i as u64 * 8);
            let w = words.get(i * 8..i * 8 + 8)?;
            let v = u64::from_le_bytes(w.try_into().ok()?);
            (v == sched_sp.get() && returns_to_crosscall2(at)).then_some(at)
        })
    }

    /// Whether a goroutine in `_Gsyscall` went there through a cgo call (a
    /// `_Cfunc_`/`_C2func_` wrapper among its first frames, as the runtime shows them)
    /// rather than through a Windows system call.
    fn in_cgo_call(&self, g: &Goroutine) -> bool {
        const CALLERS: usize = 8;
        let st = self.walk(super::walk::saved_start(g), Some(g), None, CALLERS);
        st.frames
            .iter()
            .any(|f| f.function.contains("._Cfunc_") || f.function.contains("._C2func_"))
    }

    /// A goroutine in a C call (status syscall, on `thread`): its thread's stack from
    /// the C frame that was running (after any signal handler's frames), through
    /// asmcgocall into the goroutine's Go frames. `None` when the thread is not in C
    /// for this goroutine (a plain system call): the runtime's view then stands.
    pub(super) fn cgo_call_stack(
        &self,
        g: &Goroutine,
        t: &Thread,
        c: &ThreadContext,
        depth: usize,
    ) -> Option<Stack> {
        if self.bin.pe().is_some() && !self.in_cgo_call(g) {
            return None;
        }
        let full = self.thread(
            t,
            Some(c),
            Some(g),
            depth.saturating_add(THREAD_EXTRA_FRAMES),
        );
        let on_g = |sp: Addr| sp >= g.stack_lo && sp < g.stack_hi;
        // The frame where the walk switched onto the goroutine's stack.
        let switch = full.frames.windows(2).position(|w| {
            w[0].function == "runtime.asmcgocall"
                && !on_g(w[0].sp)
                && w[1].source == FrameSource::StackSwitch
                && on_g(w[1].sp)
        });
        // The C frame that was running: after the last signal frame, or after the
        // sigpanic call a signal handler injected on the system stack (Go 1.19 throws
        // from there on a fault in C).
        let until = switch.unwrap_or(full.frames.len());
        let start = full
            .frames
            .get(..until)?
            .iter()
            .enumerate()
            .filter_map(|(i, f)| match (f.source, f.function.as_str()) {
                (_, "runtime.sigpanic") => Some(i + 1),
                (FrameSource::SignalFrame, _) => Some(i),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        let first = full.frames.get(start)?;
        if switch.is_some() {
            let mut frames = full.frames.get(start..)?.to_vec();
            let cut = frames.len() > depth;
            frames.truncate(depth);
            return Some(Stack {
                frames,
                error: if cut { None } else { full.error },
            });
        }
        if first.func_entry.is_some() {
            // Go code on the thread: a system call from Go, not C.
            return None;
        }
        // Stuck in C (a library without unwind info here): its C frames, then the
        // goroutine's frames from its syscall context, as the runtime shows them.
        let mut frames: Vec<_> = full
            .frames
            .get(start..)?
            .iter()
            .take_while(|f| f.func_entry.is_none())
            .take(depth)
            .cloned()
            .collect();
        let rest = self.walk(
            super::walk::saved_start(g),
            Some(g),
            Some(c),
            depth.saturating_sub(frames.len()),
        );
        frames.extend(rest.frames);
        Some(Stack {
            frames,
            error: rest.error,
        })
    }
}
