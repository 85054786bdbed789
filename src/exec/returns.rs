//! "Values returned": the result parameters of a function that has just returned,
//! read as Delve reads them (pkg/proc `fakeFunctionEntryScope`): the function's DWARF
//! locations at its entry PC, evaluated with the CFA its frame had and the registers
//! the thread has now. The frame is gone but its memory below the stack pointer is
//! still intact right after the return, and a register-assigned result is still in
//! its register. Shared by `stepout`, `next`/`step` returning to the caller, and
//! `call`.

use super::Debugger;
use crate::addr::Addr;
use crate::snapshot::{Memory, Registers};
use crate::symbols::dwarf::VarLocation;
use crate::target::Target;
use crate::vars::load::Loader;
use crate::vars::location::{evaluate, FrameRegs, Overlay, Place};
use crate::vars::{format, LoadConfig, Var};

/// One returned value as Delve's terminal prints it under `Values returned:`.
#[derive(Debug, Clone)]
pub struct Returned {
    pub name: String,
    /// Delve's multi-line form, nested lines indented by one more tab.
    pub text: String,
    /// The value itself, for front ends that send it (JSON-RPC's ReturnValues).
    pub var: Var,
}

/// Equal when they print the same (the loaded value is what the text shows).
impl PartialEq for Returned {
    fn eq(&self, o: &Returned) -> bool {
        self.name == o.name && self.text == o.text
    }
}
impl Eq for Returned {}

impl Returned {
    pub fn of(v: &Var) -> Returned {
        Returned {
            name: v.name.clone(),
            text: format::multiline(v).replace('\n', "\n\t"),
            var: v.clone(),
        }
    }
}

/// What Delve loads return values with (its client's default for `call` and stops).
pub const RETURN_LOAD: LoadConfig = LoadConfig::LONG;

/// DWARF register numbers 0..=16 (general purpose and RIP) of a thread.
pub(super) fn dwarf_regs(r: &Registers) -> Vec<(u16, u64)> {
    (0..=16u16)
        .filter_map(|n| r.by_dwarf(n).map(|v| (n, v)))
        .collect()
}

/// The result parameters of the function entered at `entry` (run-time address) whose
/// frame had CFA `cfa`, with the thread's current registers `regs`, loaded with `cfg`.
pub(super) fn results_at_entry(
    t: &Target,
    regs: &Registers,
    entry: Addr,
    cfa: u64,
    cfg: &LoadConfig,
) -> Result<Vec<Var>, String> {
    let dwarf = t
        .dwarf()
        .ok_or("return values need DWARF (the binary is stripped)")?;
    let link = entry.0.wrapping_sub(t.bias());
    let f = dwarf
        .function_at(link)
        .ok_or_else(|| format!("no DWARF function at {entry}"))?;
    let dies = dwarf
        .variables(f.offset, link, link)
        .map_err(|e| e.to_string())?;
    let mut r = dwarf_regs(regs);
    for (n, v) in r.iter_mut() {
        match *n {
            // As at the function's first instruction: SP holds the return address.
            7 => *v = cfa.wrapping_sub(8),
            16 => *v = entry.0,
            _ => {}
        }
    }
    let fr = FrameRegs { regs: &r, cfa };
    let mem = t.memory();
    let mut overlay = Overlay::new(mem);
    let mut vars = Vec::new();
    for d in dies.iter().filter(|d| d.is_param && d.is_return) {
        let Some(ty) = d.type_id else { continue };
        let (name, escaped) = match d.name.strip_prefix('&') {
            Some(n) => (n.to_string(), true),
            None => (d.name.clone(), false),
        };
        let mut v = Var {
            name,
            ty: dwarf.type_name(ty),
            type_id: Some(ty),
            is_arg: true,
            ..Default::default()
        };
        match &d.location {
            VarLocation::Expr { expr, .. } => {
                let size = dwarf.size_of(ty).unwrap_or(8);
                match evaluate(expr, d.encoding, &fr, mem, size) {
                    Ok(Place::Memory(a)) => v.addr = a,
                    Ok(Place::Bytes(b)) => v.addr = overlay.add(b),
                    Err(e) => v.unreadable = e,
                }
            }
            VarLocation::NotAtPc { list_offset } => {
                v.unreadable = format!(
                    "could not find loclist entry at {list_offset:#x} for address {:#x}",
                    entry.0
                )
            }
            VarLocation::OptimizedOut => {
                v.unreadable = "optimized out: the compiler kept no location for it".into()
            }
        }
        if escaped && v.unreadable.is_empty() {
            // `&x`: a named result moved to the heap; the slot holds a pointer to it.
            let elem = dwarf
                .resolve(ty)
                .and_then(|r| dwarf.type_info(r))
                .and_then(|i| i.target);
            match (elem, overlay.read_ptr(Addr(v.addr))) {
                (Some(e), Ok(p)) => {
                    v.addr = p.0;
                    v.type_id = Some(e);
                    v.ty = dwarf.type_name(e);
                }
                (_, Err(err)) => v.unreadable = err.to_string(),
                _ => v.unreadable = "escaped variable without element type".into(),
            }
        }
        vars.push(v);
    }
    let loader = Loader::for_target(t, dwarf, &overlay);
    for v in &mut vars {
        if let Some(ty) = v.type_id {
            v.kind = loader.kind_of(ty);
        }
        if v.unreadable.is_empty() {
            loader.load(v, 0, cfg);
        }
    }
    Ok(vars)
}

impl Debugger {
    /// The values the function entered at `entry` returned, its frame having been at
    /// `frame_off` (`stack_hi - cfa`) on the goroutine now on `tid`. None when they
    /// cannot be read (no goroutine, no DWARF): Delve then prints no block either.
    pub(super) fn returned_values(
        &self,
        tid: u32,
        entry: Addr,
        frame_off: u64,
    ) -> Option<Vec<Returned>> {
        let t = &self.target;
        let (_, g) = t.thread_quick(tid)?;
        let g = g?;
        let regs = &t.threads().iter().find(|th| th.tid == tid)?.regs;
        let cfa = g.stack_hi.get().wrapping_sub(frame_off);
        let vars = results_at_entry(t, regs, entry, cfa, &RETURN_LOAD).ok()?;
        Some(vars.iter().map(Returned::of).collect())
    }

    /// Entry (run-time) of the function containing run-time `pc`.
    pub(super) fn entry_of(&self, pc: Addr) -> Option<Addr> {
        let bias = self.target.bias();
        let f = self.target.pclntab().func_for_pc(pc.sub(bias))?;
        Some(f.entry.add(bias))
    }
}
