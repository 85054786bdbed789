//! A goroutine's `Start:` location as Delve gives it: when the start function is a
//! compiler-generated wrapper (a `go f(x)` statement compiles to a closure, named
//! `F.gowrapN` since Go 1.22 and `F.funcN.M` before, marked a wrapper in the pclntab),
//! Delve shows the function the wrapper calls (`dwrapUnwrap`), e.g. `runtime/pprof.Do`
//! for `go pprof.Do(ctx, labels, f)`.

use super::debuggee::Debuggee;
use super::is_private_runtime;
use crate::addr::Addr;
use crate::symbols::pclntab::FuncKind;
use iced_x86::{Decoder, DecoderOptions, FlowControl, Instruction};

/// Wrappers are a few dozen instructions; a bound keeps a damaged table cheap.
const MAX_WRAPPER_BYTES: u64 = 4096;

/// The entry of the function a wrapper at `pc` calls first (skipping runtime calls
/// such as morestack), or `pc` itself when it is no wrapper or nothing is found.
pub(super) fn unwrap<D: Debuggee + ?Sized>(d: &D, pc: Addr) -> Addr {
    let Some(t) = d.as_target() else {
        return pc;
    };
    let p = t.pclntab();
    let bias = t.bias();
    let Some(f) = p.func_for_pc(pc.sub(bias)) else {
        return pc;
    };
    if p.func_kind(&f) != FuncKind::Wrapper {
        return pc;
    }
    let entry = f.entry.add(bias);
    let len = f.end.0.saturating_sub(f.entry.0).min(MAX_WRAPPER_BYTES) as usize;
    let Ok(code) = t.memory().read_bytes(entry, len) else {
        return pc;
    };
    let mut dec = Decoder::with_ip(64, &code, entry.0, DecoderOptions::NONE);
    let mut ins = Instruction::default();
    while dec.can_decode() {
        dec.decode_out(&mut ins);
        if ins.flow_control() != FlowControl::Call {
            continue;
        }
        let target = ins.near_branch_target();
        if target == 0 {
            continue;
        }
        if let Some(callee) = p.func_for_pc(Addr(target).sub(bias)) {
            if !is_private_runtime(p.name(&callee)) {
                return callee.entry.add(bias);
            }
        }
    }
    pc
}
