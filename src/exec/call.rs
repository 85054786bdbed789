//! `call EXPR`: function call injection through the Go runtime's `debugCallV2`
//! protocol (runtime/asm_amd64.s), driven as Delve drives it (pkg/proc/fncall.go):
//!
//! 1. save the thread's registers; push its PC (a simulated CALL), write the argument
//!    frame size at SP-16, set the PC to `runtime.debugCallV2`, run;
//! 2. debugCallV2 stops with INT3 and tells why in R12: 8 the safety check failed
//!    (reason string at SP), 0 the frame is ready (write the arguments where the
//!    callee's DWARF says they are at its entry, push the trapping PC, jump to the
//!    function), 1 the function returned (read the results, at the entry locations
//!    with CFA = SP), 2 it panicked (the `interface{}` at SP), 16 restore every
//!    register but RIP and RSP, then step out of debugCallV2 and restore RFLAGS;
//! 3. string constants are first copied into memory the runtime allocates with an
//!    injected `runtime.mallocgc(len, nil, false)`, as Delve does.
//!
//! Arguments are evaluated before anything is injected, so receivers and values held
//! in registers at the stop are read where they are (Delve re-reads receivers inside
//! the injected frame on Go < 1.23 and fails there).

use super::call_abi::{self, ArgVal, Piece};
use super::returns::{self, Returned, RETURN_LOAD};
use super::{Debugger, ExecError, Stop, StopReason};
use crate::addr::Addr;
use crate::backend::{Direction, Resume, StopEvent};
use crate::snapshot::{Memory, Registers};
use crate::symbols::dwarf::VarLocation;
use crate::vars::expr::Scope;
use crate::vars::load::Loader;
use crate::vars::location::{Overlay, SYNTHETIC_BASE};
use crate::vars::{Kind, LoadConfig, Var};

/// R12 at each INT3 of debugCallV2.
const CALL_READY: u64 = 0;
const RETURNED: u64 = 1;
const PANICKED: u64 = 2;
const PRECHECK_FAILED: u64 = 8;
const RESTORE: u64 = 16;
/// Free stack debugCallV2 needs below SP.
const MIN_STACK: u64 = 256;
/// DWARF numbers of XMM0 and XMM15, and where XMM0 is in the FXSAVE area.
const XMM0: u16 = 17;
const XMM15: u16 = 32;
const FXSAVE_XMM: usize = 160;
/// Instructions from the restore INT3 to debugCallV2's RET (about 17).
const MAX_STEP_OUT: usize = 256;

/// Where a parameter is at the callee's entry.
#[derive(Debug, Clone)]
enum Formal {
    Dwarf {
        expr: Vec<u8>,
        encoding: gimli::Encoding,
        size: u64,
    },
    /// runtime.mallocgc is optimised: its DWARF cannot say; Delve assigns the
    /// integer registers in order (`runtimeOptimizedWorkaround`).
    Reg(u16),
}

/// A fully resolved call.
struct Plan {
    name: String,
    entry: Addr,
    closure: Option<u64>,
    frame_size: u64,
    args: Vec<(Formal, ArgVal)>,
    /// Results come from DWARF (false: mallocgc's pointer in RAX).
    dwarf_results: bool,
}

enum Outcome {
    Returned(Vec<Var>, u64),
    Panicked(Var),
}

impl Debugger {
    /// `call [-unsafe] EXPR` on the goroutine running on thread `tid`. Returns the stop
    /// (where the goroutine is, unchanged) with the values returned or the panic.
    pub fn call(&mut self, tid: u32, expr: &str, unsafe_call: bool) -> Result<Stop, ExecError> {
        self.alive()?;
        let inv = ExecError::Invalid;
        let t = self.target.clone();
        if t.pclntab().func_by_name("runtime.debugCallV2").is_none() {
            return Err(inv(
                "function calls not supported by this version of Go".into()
            ));
        }
        let (_, g) = t
            .thread_quick(tid)
            .ok_or_else(|| inv("no goroutine selected".into()))?;
        let g = g.ok_or_else(|| inv("selected goroutine not running".into()))?;
        if g.status & !0x1000 != 2 {
            return Err(inv("selected goroutine not running".into()));
        }
        // From here on the thread is no longer "at" its breakpoint, even when the call
        // fails (Delve clears the thread's current breakpoint before it sets the call
        // up: its stop line after `call not at safe point` names none).
        if matches!(self.last.reason, StopReason::Breakpoint(_)) && self.last.tid == Some(tid) {
            self.last.reason = StopReason::Step;
        }
        let mut plan = self
            .plan_call(tid, expr, unsafe_call, (g.stack_lo.get(), g.stack_hi.get()))
            .map_err(inv)?;
        for i in 0..plan.args.len() {
            if let Some((_, ArgVal::Literal(s))) = plan.args.get(i) {
                let s = s.clone();
                let p = self.alloc_string(tid, &s)?;
                let mut b = p.to_le_bytes().to_vec();
                b.extend((s.len() as u64).to_le_bytes());
                if let Some(a) = plan.args.get_mut(i) {
                    a.1 = ArgVal::Bytes(b);
                }
            }
        }
        let out = self.inject(tid, &plan)?;
        let mut stop = self.stop_on(StopReason::Step, tid);
        stop.returned = Some(match out {
            Outcome::Returned(vars, _) => vars.iter().map(Returned::of).collect(),
            Outcome::Panicked(v) => vec![Returned::of(&v)],
        });
        self.last = stop.clone();
        Ok(stop)
    }

    /// Copy a string constant into memory from `runtime.mallocgc(len, nil, false)`.
    fn alloc_string(&mut self, tid: u32, s: &str) -> Result<u64, ExecError> {
        let f = self
            .target
            .pclntab()
            .func_by_name("runtime.mallocgc")
            .ok_or_else(|| ExecError::Invalid("function runtime.mallocgc not found".into()))?;
        let plan = Plan {
            name: "runtime.mallocgc".into(),
            entry: f.entry.add(self.target.bias()),
            closure: None,
            frame_size: 3 * 8 + 8 + call_abi::MAX_REG_ARG_BYTES,
            args: vec![
                (
                    Formal::Reg(0),
                    ArgVal::Bytes((s.len() as u64).to_le_bytes().to_vec()),
                ),
                (Formal::Reg(3), ArgVal::Bytes(vec![0; 8])),
                (Formal::Reg(2), ArgVal::Bytes(vec![0])),
            ],
            dwarf_results: false,
        };
        match self.inject(tid, &plan)? {
            Outcome::Returned(_, p) if p != 0 => {
                if !s.is_empty() {
                    self.proc.write_memory(Addr(p), s.as_bytes())?;
                }
                Ok(p)
            }
            Outcome::Returned(..) => Err(ExecError::Invalid(
                "runtime.mallocgc returned nil for a string argument".into(),
            )),
            Outcome::Panicked(_) => Err(ExecError::Invalid(
                "runtime.mallocgc panicked allocating a string argument".into(),
            )),
        }
    }

    /// Evaluate the function and the arguments at the current stop.
    fn plan_call(
        &self,
        tid: u32,
        expr: &str,
        unsafe_call: bool,
        stack: (u64, u64),
    ) -> Result<Plan, String> {
        let (fun, arg_texts) = call_abi::split_call(expr)?;
        let t = &self.target;
        let dwarf = t
            .dwarf()
            .ok_or("function calls need DWARF (the binary is stripped)")?;
        let st = t.thread_frames_quick(tid, 1);
        let f0 = st
            .frames
            .first()
            .ok_or("no frame to evaluate the call in")?;
        let mut overlay = Overlay::new(t.memory());
        let locals = crate::repl::frame_vars(t, f0, 0, &mut overlay).map_err(|e| e.to_string())?;
        let loader = Loader::for_target(t, dwarf, &overlay);
        let scope = Scope {
            loader: &loader,
            locals: &locals,
            package: crate::vars::expr::package_of(&f0.function),
        };
        let header = LoadConfig {
            max_string_len: 0,
            ..LoadConfig::SHORT
        };
        let pcln = t.pclntab();
        let bias = t.bias();
        let func_named = |n: &str| {
            pcln.func_by_name(n)
                .map(|f| (n.to_string(), f.entry.add(bias)))
        };
        // The function: a name, a name in the current package, a method of a value,
        // or a func value (closure).
        let mut receiver: Option<(Vec<u8>, String)> = None;
        let mut closure = None;
        let pkg = call_abi::package_of(&f0.function).unwrap_or("main");
        let is_ident = !fun.contains(['.', '(', '[', '*']);
        let local_func = locals.iter().any(|v| v.name == fun && v.kind == Kind::Func);
        let found = if local_func {
            None
        } else if let Some(x) = func_named(&fun) {
            Some(x)
        } else if is_ident {
            func_named(&format!("{pkg}.{fun}"))
        } else {
            None
        };
        let (name, entry) = match found {
            Some(x) => x,
            None => {
                let method = fun.rsplit_once('.').filter(|_| !local_func);
                let as_method = method.and_then(|(recv, m)| {
                    let rv = scope.eval(recv, &header).ok()?;
                    Some((recv.to_string(), m.to_string(), rv))
                });
                match as_method {
                    Some((recv, m, rv)) => {
                        let (name, entry, bytes) =
                            self.method_receiver(&loader, &overlay, &rv, &m, stack, unsafe_call)?;
                        receiver = Some((bytes, recv));
                        (name, entry)
                    }
                    None => {
                        let fv = scope.eval(&fun, &header).map_err(|e| e.to_string())?;
                        if fv.kind != Kind::Func {
                            return Err(format!("expression {fun:?} is not a function"));
                        }
                        let fval = overlay.read_ptr(Addr(fv.addr)).map_err(|e| e.to_string())?;
                        if fval.is_null() {
                            return Err("nil pointer dereference".into());
                        }
                        let pc = t.memory().read_ptr(fval).map_err(|e| e.to_string())?;
                        let f = pcln
                            .func_for_pc(pc.sub(bias))
                            .ok_or_else(|| format!("could not find DIE for function {fun:?}"))?;
                        closure = Some(fval.0);
                        (pcln.name(&f).to_string(), pc)
                    }
                }
            }
        };
        let link = entry.0.wrapping_sub(bias);
        let fd = dwarf
            .function_at(link)
            .ok_or_else(|| format!("could not find DIE for function {fun:?}"))?;
        let optimized = dwarf
            .producer_at(link)
            .is_none_or(|p| !(p.contains("-N") && p.contains("-l")));
        if optimized && t.runtime().version.at_least(17) {
            return Err(format!(
                "can not call optimized function {name} when regabi is in use"
            ));
        }
        let dies = dwarf
            .variables(fd.offset, link, link)
            .map_err(|e| e.to_string())?;
        let params: Vec<_> = dies.iter().filter(|d| d.is_param).collect();
        let mut frame_size = 0u64;
        for d in &params {
            let size = d.type_id.and_then(|t| dwarf.size_of(t)).unwrap_or(8);
            let align = size.clamp(1, 8).next_power_of_two();
            frame_size = frame_size.div_ceil(align) * align + size;
        }
        frame_size = frame_size.div_ceil(8) * 8 + call_abi::MAX_REG_ARG_BYTES;
        let formals: Vec<_> = params.iter().filter(|d| !d.is_return).collect();
        let n_actual = arg_texts.len() + usize::from(receiver.is_some());
        if n_actual > formals.len() {
            return Err("too many arguments".into());
        }
        if n_actual < formals.len() {
            return Err("not enough arguments".into());
        }
        let mut args = Vec::new();
        let mut texts = arg_texts.iter();
        for (i, d) in formals.iter().enumerate() {
            let VarLocation::Expr { expr, .. } = &d.location else {
                return Err(format!(
                    "could not get argument location of {} in {name}",
                    d.name
                ));
            };
            let ty = d
                .type_id
                .ok_or_else(|| format!("no type for argument {}", d.name))?;
            let size = dwarf.size_of(ty).unwrap_or(0);
            let formal = Formal::Dwarf {
                expr: expr.clone(),
                encoding: d.encoding,
                size,
            };
            if i == 0 {
                if let Some((bytes, _)) = &receiver {
                    args.push((formal, ArgVal::Bytes(bytes.clone())));
                    continue;
                }
            }
            let text = texts.next().ok_or("not enough arguments")?;
            let actual = scope.eval(text, &header).map_err(|e| e.to_string())?;
            let v = call_abi::convert(&loader, &overlay, &actual, ty)?;
            if let ArgVal::Bytes(b) = &v {
                let kind = loader.kind_of(ty);
                let p = b.get(..8).map(|w| {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(w);
                    u64::from_le_bytes(a)
                });
                if !unsafe_call
                    && call_abi::pointer_shaped(kind)
                    && p.is_some_and(|p| p >= stack.0 && p < stack.1)
                {
                    return Err(format!(
                        "cannot use {text} as argument {} in function {name}: stack object passed to escaping pointer: {}",
                        d.name, d.name
                    ));
                }
            }
            args.push((formal, v));
        }
        Ok(Plan {
            name,
            entry,
            closure,
            frame_size,
            args,
            dwarf_results: true,
        })
    }

    /// The method `m` of the value `rv`, and the receiver's bytes: a pointer for
    /// pointer-receiver methods (the value's address when it is not a pointer), the
    /// value itself for value-receiver methods (dereferenced through a pointer).
    fn method_receiver(
        &self,
        loader: &Loader<'_>,
        mem: &dyn Memory,
        rv: &Var,
        m: &str,
        stack: (u64, u64),
        unsafe_call: bool,
    ) -> Result<(String, Addr, Vec<u8>), String> {
        let t = &self.target;
        let bias = t.bias();
        if rv.kind == Kind::Interface {
            return Err(format!(
                "calling {m} through an interface ({}) is not supported yet",
                rv.ty
            ));
        }
        let (ptr_name, val_name) = call_abi::method_names(&rv.ty, m)
            .ok_or_else(|| format!("{} has no method {m}", rv.ty))?;
        let find = |n: &str| t.pclntab().func_by_name(n).map(|f| f.entry.add(bias));
        let escape = |p: u64, what: &str| -> Result<(), String> {
            if !unsafe_call && p >= stack.0 && p < stack.1 {
                return Err(format!(
                    "cannot use {what} as the receiver of {m}: stack object passed to escaping pointer"
                ));
            }
            Ok(())
        };
        let read = |a: u64, n: u64| -> Result<Vec<u8>, String> {
            let mut b = vec![0u8; n as usize];
            mem.read(Addr(a), &mut b).map_err(|e| e.to_string())?;
            Ok(b)
        };
        let elem_size = |ty: &str| {
            loader
                .dwarf
                .type_by_name(ty.trim_start_matches('*'))
                .and_then(|id| loader.dwarf.size_of(id))
                .unwrap_or(0)
        };
        if rv.kind == Kind::Ptr {
            let p = mem.read_ptr(Addr(rv.addr)).map_err(|e| e.to_string())?;
            if let Some(e) = find(&ptr_name) {
                escape(p.0, &rv.name)?;
                return Ok((ptr_name, e, p.0.to_le_bytes().to_vec()));
            }
            if let Some(e) = find(&val_name) {
                if p.is_null() {
                    return Err("nil pointer dereference".into());
                }
                return Ok((val_name, e, read(p.0, elem_size(&rv.ty))?));
            }
        } else {
            if let Some(e) = find(&val_name) {
                return Ok((val_name, e, read(rv.addr, elem_size(&rv.ty))?));
            }
            if let Some(e) = find(&ptr_name) {
                if rv.addr == 0 || rv.addr >= SYNTHETIC_BASE {
                    return Err(format!("{} is not addressable", rv.name));
                }
                escape(rv.addr, &rv.name)?;
                return Ok((ptr_name, e, rv.addr.to_le_bytes().to_vec()));
            }
        }
        Err(format!("{} has no method {m}", rv.ty))
    }

    pub(super) fn regs_of(&self, tid: u32) -> Result<Registers, ExecError> {
        self.target
            .threads()
            .iter()
            .find(|t| t.tid == tid)
            .map(|t| t.regs.clone())
            .ok_or_else(|| ExecError::Invalid(format!("thread {tid} is gone")))
    }

    /// Run one call through the protocol and put the thread back where it was.
    fn inject(&mut self, tid: u32, plan: &Plan) -> Result<Outcome, ExecError> {
        let t = self.target.clone();
        let bias = t.bias();
        let dbg = t
            .pclntab()
            .func_by_name("runtime.debugCallV2")
            .ok_or_else(|| {
                ExecError::Invalid("function calls not supported by this version of Go".into())
            })?;
        let (dbg_lo, dbg_hi) = (dbg.entry.add(bias), dbg.end.add(bias));
        let saved = self.regs_of(tid)?;
        // The XMM registers too: the call may clobber what the stopped code keeps there.
        let saved_fp = self.proc.fp_registers(tid).ok();
        if let Some((_, Some(g))) = t.thread_quick(tid) {
            if saved.rsp.wrapping_sub(MIN_STACK) <= g.stack_lo.get() {
                return Err(ExecError::Invalid("not enough stack space".into()));
            }
        }
        // A CALL to debugCallV2 from the stopped PC, and the frame size it wants.
        let mut r = saved.clone();
        r.rsp = saved.rsp.wrapping_sub(8);
        self.proc
            .write_memory(Addr(r.rsp), &saved.rip.to_le_bytes())?;
        self.proc
            .write_memory(Addr(r.rsp.wrapping_sub(16)), &plan.frame_size.to_le_bytes())?;
        r.rip = dbg_lo.0;
        self.proc.set_registers(tid, &r)?;
        let mut failed: Option<String> = None;
        let mut outcome: Option<Outcome> = None;
        loop {
            self.proc.resume(Resume::Continue, Direction::Forward)?;
            let ev = self.proc.wait()?;
            let (etid, signo) = match ev {
                StopEvent::Exited { status } => {
                    self.exit = Some(status);
                    self.inserted.clear();
                    return Err(ExecError::Exited {
                        pid: self.pid,
                        status,
                    });
                }
                StopEvent::Killed { signo } => {
                    self.exit = Some(128 + signo);
                    self.inserted.clear();
                    return Err(ExecError::Exited {
                        pid: self.pid,
                        status: 128 + signo,
                    });
                }
                StopEvent::Signal { tid: e, signo } => (e, signo),
                // Breakpoints and watchpoints hit by the call or by other goroutines
                // while it runs: the call goes on (see docs/cli.md).
                _ => continue,
            };
            if etid != tid || signo != libc::SIGTRAP {
                // Delivered to the program when it resumes, as without a call.
                continue;
            }
            self.refresh()?;
            let regs = self.regs_of(tid)?;
            if !self.at_debug_call_trap(regs.rip) {
                return Err(ExecError::Invalid(format!(
                    "call of {}: unexpected SIGTRAP at {:#x}",
                    plan.name, regs.rip
                )));
            }
            self.proc.discard_signal(tid);
            match regs.r12 {
                PRECHECK_FAILED => {
                    failed =
                        Some(self.read_go_string(regs.rsp).unwrap_or_else(|e| {
                            format!("could not get precheck error reason: {e}")
                        }));
                }
                CALL_READY => {
                    if let Err(e) = self.start_function(tid, &regs, plan) {
                        // Not called: resuming runs debugCallV2 on to its "returned"
                        // and restore stops, which put the thread back.
                        failed = Some(format!("could not set up the call of {}: {e}", plan.name));
                    }
                }
                RETURNED if failed.is_some() => {}
                RETURNED => {
                    let vals = if plan.dwarf_results {
                        returns::results_at_entry(
                            &self.target,
                            &regs,
                            plan.entry,
                            regs.rsp,
                            &RETURN_LOAD,
                        )
                        .map_err(|e| {
                            ExecError::Invalid(format!("could not get return values: {e}"))
                        })?
                    } else {
                        Vec::new()
                    };
                    outcome = Some(Outcome::Returned(vals, regs.rax));
                }
                PANICKED => {
                    let v = self.panic_value(regs.rsp);
                    outcome = Some(Outcome::Panicked(v));
                }
                RESTORE => {
                    let mut back = saved.clone();
                    back.rip = regs.rip;
                    back.rsp = regs.rsp;
                    self.proc.set_registers(tid, &back)?;
                    if let Some(fp) = &saved_fp {
                        self.proc.set_fp_registers(tid, fp)?;
                    }
                    self.step_out_of(tid, dbg_lo, dbg_hi, saved.rip)?;
                    // debugCallV2's tail changes RFLAGS after the restore (Delve
                    // issue 2985): restore them once more.
                    let mut fin = self.regs_of(tid)?;
                    fin.eflags = saved.eflags;
                    self.proc.set_registers(tid, &fin)?;
                    self.refresh()?;
                    break;
                }
                other => {
                    // Unknown protocol value: ignoring it is the safest thing (Delve).
                    let _ = other;
                }
            }
        }
        if let Some(e) = failed {
            return Err(ExecError::Invalid(e));
        }
        outcome.ok_or_else(|| {
            ExecError::Invalid(format!("the call of {} did not complete", plan.name))
        })
    }

    /// The thread stopped just after an INT3 of the runtime's debugCall functions.
    fn at_debug_call_trap(&self, rip: u64) -> bool {
        let t = &self.target;
        let at = Addr(rip.wrapping_sub(1));
        let mut b = [0u8; 1];
        if t.memory().read(at, &mut b).is_err() || b[0] != 0xcc {
            return false;
        }
        t.pclntab()
            .func_for_pc(at.sub(t.bias()))
            .map(|f| t.pclntab().name(&f).to_string())
            .is_some_and(|n| n.starts_with("runtime.debugCall") || n.starts_with("debugCall"))
    }

    /// R12 = 0: write the arguments, push the return PC, jump to the function.
    fn start_function(&mut self, tid: u32, regs: &Registers, plan: &Plan) -> Result<(), String> {
        let sp = regs.rsp;
        let mut r = regs.clone();
        // At the callee's entry SP will hold the return address: its CFA is SP now.
        let dregs = returns::dwarf_regs(regs);
        let mut writes: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut fp: Option<Vec<u8>> = None;
        for (formal, val) in &plan.args {
            let ArgVal::Bytes(bytes) = val else {
                return Err("string constant was not allocated".into());
            };
            let pieces = match formal {
                Formal::Reg(n) => vec![Piece::Reg(*n, 8)],
                Formal::Dwarf {
                    expr,
                    encoding,
                    size,
                } => call_abi::pieces(expr, *encoding, &dregs, sp, self.target.memory(), *size)?,
            };
            let mut off = 0usize;
            for p in pieces {
                let n = match p {
                    Piece::Reg(_, n) | Piece::Mem(_, n) => n,
                };
                let chunk = bytes.get(off..(off + n).min(bytes.len())).unwrap_or(&[]);
                match p {
                    Piece::Reg(reg @ XMM0..=XMM15, _) => {
                        if fp.is_none() {
                            fp = Some(self.proc.fp_registers(tid).map_err(|e| {
                                format!("float arguments need the floating-point registers: {e}")
                            })?);
                        }
                        let off = FXSAVE_XMM + 16 * usize::from(reg - XMM0);
                        if let Some(dst) = fp
                            .as_mut()
                            .and_then(|f| f.get_mut(off..off + chunk.len().min(16)))
                        {
                            dst.copy_from_slice(chunk.get(..dst.len()).unwrap_or(&[]));
                        }
                    }
                    Piece::Reg(reg, _) => call_abi::set_reg_piece(&mut r, reg, chunk)?,
                    Piece::Mem(0, _) => {}
                    Piece::Mem(a, _) => writes.push((a, chunk.to_vec())),
                }
                off += n;
            }
        }
        for (a, b) in writes {
            self.proc
                .write_memory(Addr(a), &b)
                .map_err(|e| e.to_string())?;
        }
        if let Some(f) = &fp {
            self.proc
                .set_fp_registers(tid, f)
                .map_err(|e| e.to_string())?;
        }
        if let Some(c) = plan.closure {
            r.rdx = c;
        }
        r.rsp = sp.wrapping_sub(8);
        self.proc
            .write_memory(Addr(r.rsp), &regs.rip.to_le_bytes())
            .map_err(|e| e.to_string())?;
        r.rip = plan.entry.0;
        self.proc.set_registers(tid, &r).map_err(|e| e.to_string())
    }

    /// Single-step `tid` until it leaves [lo, hi) (debugCallV2's RET) for `back`.
    fn step_out_of(&mut self, tid: u32, lo: Addr, hi: Addr, back: u64) -> Result<(), ExecError> {
        for _ in 0..MAX_STEP_OUT {
            // A step delivers the thread's pending signal and stops in its handler. The
            // runtime's SIGURG (preemption, re-sent when needed) and SIGPROF (one
            // profiling sample) are dropped rather than run inside the protocol.
            let pending = self
                .target
                .threads()
                .iter()
                .find(|t| t.tid == tid)
                .map_or(0, |t| t.signal);
            if pending == libc::SIGURG || pending == libc::SIGPROF {
                self.proc.discard_signal(tid);
            }
            self.proc.resume(Resume::Step(tid), Direction::Forward)?;
            match self.proc.wait()? {
                StopEvent::Exited { status } => {
                    self.exit = Some(status);
                    return Err(ExecError::Exited {
                        pid: self.pid,
                        status,
                    });
                }
                StopEvent::Killed { signo } => {
                    self.exit = Some(128 + signo);
                    return Err(ExecError::Exited {
                        pid: self.pid,
                        status: 128 + signo,
                    });
                }
                _ => {}
            }
            self.refresh()?;
            let pc = self.regs_of(tid)?.rip;
            if pc == back {
                return Ok(());
            }
            if pc < lo.0 || pc >= hi.0 {
                return Err(ExecError::Invalid(format!(
                    "the call returned, but the thread left runtime.debugCallV2 for {pc:#x} instead of {back:#x} (a signal handler?)"
                )));
            }
        }
        Err(ExecError::Invalid(
            "could not step out of runtime.debugCallV2".into(),
        ))
    }

    /// A Go string header (pointer, length) at `addr`.
    fn read_go_string(&self, addr: u64) -> Result<String, String> {
        let mem = self.target.memory();
        let p = mem.read_ptr(Addr(addr)).map_err(|e| e.to_string())?;
        let n = mem.read_ptr(Addr(addr + 8)).map_err(|e| e.to_string())?.0;
        let mut b = vec![0u8; n.min(1 << 16) as usize];
        mem.read(p, &mut b).map_err(|e| e.to_string())?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }

    /// The `interface{}` panic value at `sp`, named `~panic` as Delve names it.
    fn panic_value(&self, sp: u64) -> Var {
        let t = &self.target;
        let Some(dwarf) = t.dwarf() else {
            return Var {
                name: "~panic".into(),
                unreadable: "no DWARF".into(),
                ..Default::default()
            };
        };
        let loader = Loader::for_target(t, dwarf, t.memory());
        match dwarf.type_by_name("interface {}") {
            Some(ty) => {
                let mut v = loader.var_at("~panic", sp, ty);
                loader.load(&mut v, 0, &RETURN_LOAD);
                v
            }
            None => Var {
                name: "~panic".into(),
                unreadable: "no interface {} type in DWARF".into(),
                ..Default::default()
            },
        }
    }
}
