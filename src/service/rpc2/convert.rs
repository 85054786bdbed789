//! The engine's values as Delve's API types. Only shape changes here: which goroutine,
//! frame or value to show is the session's business, how to show it the client's.

use super::types as api;
use crate::addr::Addr;
use crate::exec::breakpoints::Breakpoint as EngineBreakpoint;
use crate::goruntime::Goroutine;
use crate::repl::json::GoroutineLocs;
use crate::repl::{Debuggee, Location, Session};
use crate::snapshot::Thread;
use crate::unwind::Frame;
use crate::vars::{Kind, LoadConfig, Var};

/// `api.Function` for the function at `pc` (None when no function covers it; Delve
/// then omits the field and clients print `?`).
pub fn function_at(d: &dyn Debuggee, pc: u64, name: &str) -> Option<api::Function> {
    if name.is_empty() || name == "?" {
        return None;
    }
    let entry = d.func_at(Addr(pc)).map(|f| f.entry.0).unwrap_or(0);
    let t = d.as_target();
    Some(api::Function {
        name: t.map_or_else(|| name.to_string(), |t| t.shown_function_name(pc, name)),
        value: entry,
        optimized: t.is_some_and(|t| t.optimized_at(pc)),
        ..Default::default()
    })
}

pub fn location(d: &dyn Debuggee, l: &Location) -> api::Location {
    api::Location {
        pc: l.pc,
        file: l.file.clone(),
        line: i64::from(l.line),
        function: function_at(d, l.pc, &l.function),
        ..Default::default()
    }
}

pub fn location_at(d: &dyn Debuggee, pc: u64) -> api::Location {
    location(d, &d.location(Addr(pc)))
}

/// Delve's Goroutine.Status is the runtime's atomicstatus without the scan bit.
const G_SCAN: u32 = 0x1000;

pub fn goroutine(s: &Session, g: &Goroutine, locs: &GoroutineLocs) -> api::Goroutine {
    let d = s.debuggee();
    let status = g.status & !G_SCAN;
    api::Goroutine {
        id: g.goid as i64,
        current_loc: location(d, &locs.current),
        user_current_loc: location(d, &locs.user),
        go_statement_loc: location(d, &locs.go),
        start_loc: location(d, &locs.start),
        thread_id: g.thread.map_or(0, i64::from),
        status: u64::from(status),
        wait_since: g.wait_since,
        wait_reason: if g.is_waiting() || status == crate::goruntime::G_SYSCALL {
            i64::from(g.wait_reason_code)
        } else {
            0
        },
        unreadable: g.error.clone().unwrap_or_default(),
        labels: g
            .labels
            .as_ref()
            .map(|l| l.pairs().collect())
            .unwrap_or_default(),
    }
}

pub fn goroutine_of(s: &Session, g: &Goroutine) -> api::Goroutine {
    goroutine(s, g, &s.goroutine_locs(g))
}

pub fn thread(s: &Session, t: &Thread) -> api::Thread {
    let d = s.debuggee();
    let pc = t.pc();
    let loc = d.location(Addr(pc));
    api::Thread {
        id: i64::from(t.tid),
        pc,
        file: loc.file.clone(),
        line: i64::from(loc.line),
        function: function_at(d, pc, &loc.function),
        goroutine_id: d.thread_goroutine(t.tid).map_or(0, |g| g.goid as i64),
        // What the function the last stop returned from returned (stepout, call), on
        // the thread that stopped: Delve's client prints them as "Values returned:".
        return_values: s.debugger().and_then(|dbg| {
            let last = dbg.last_stop();
            let vals = last.returned.as_ref().filter(|_| last.tid == Some(t.tid))?;
            Some(vals.iter().map(|r| variable(&r.var)).collect())
        }),
        ..Default::default()
    }
}

pub fn frame(d: &dyn Debuggee, f: &Frame) -> api::Stackframe {
    api::Stackframe {
        loc: api::Location {
            pc: f.pc.0,
            file: f.file.clone(),
            line: i64::from(f.line),
            function: function_at(d, f.lookup_pc().0, &f.function),
            ..Default::default()
        },
        // Delve: the frame's CFA relative to the stack's top is not what clients
        // print; the CFA itself is the stable identifier they compare.
        frame_offset: f.cfa.0 as i64,
        frame_pointer_offset: f.bp.0 as i64,
        ..Default::default()
    }
}

/// reflect.Kind numbering: [`Kind`] declares its variants in that order.
pub fn kind_number(k: Kind) -> u8 {
    k as u8
}

pub fn variable(v: &Var) -> api::Variable {
    let is_string = v.kind == Kind::String;
    api::Variable {
        name: v.name.clone(),
        addr: v.addr,
        only_addr: v.only_addr,
        ty: v.ty.clone(),
        real_type: v.ty.clone(),
        // Delve's VariableShadowed (1 << 1): its clients print the name in
        // parentheses; VariableArgument (1 << 3) puts an argument on a stop line.
        // VariableReturnArgument (1 << 4) marks results instead.
        flags: if v.shadowed { 2 } else { 0 }
            | match (v.is_arg, v.is_return) {
                (_, true) => 16,
                (true, false) => 8,
                _ => 0,
            },
        kind: kind_number(v.kind),
        value: v.value.clone(),
        string_value_bytes: None,
        len: v.len,
        // The engine keeps a string's loaded byte count in `cap`; Delve's clients
        // compare len(value) with len instead and expect cap 0.
        cap: if is_string { 0 } else { v.cap },
        children: v.children.iter().map(variable).collect(),
        base: v.base,
        unreadable: v.unreadable.clone(),
        location_expr: v.location_expr.clone(),
        decl_line: 0,
    }
}

pub fn load_config(c: &api::LoadConfig) -> LoadConfig {
    LoadConfig {
        follow_pointers: c.follow_pointers,
        max_variable_recurse: c.max_variable_recurse,
        max_string_len: c.max_string_len,
        max_array_values: c.max_array_values,
        max_struct_fields: c.max_struct_fields,
    }
}

/// Delve's ShortLoadConfig (pkg/terminal), which its clients compare against.
const SHORT_LOAD: api::LoadConfig = api::LoadConfig {
    follow_pointers: false,
    max_variable_recurse: 0,
    max_string_len: 64,
    max_array_values: 0,
    max_struct_fields: 3,
};

pub fn breakpoint(b: &EngineBreakpoint) -> api::Breakpoint {
    let mut out = api::Breakpoint {
        id: b.id,
        name: b.name.clone(),
        addr: b.addrs.first().map_or(0, |a| a.0),
        addrs: b.addrs.iter().map(|a| a.0).collect(),
        addrpid: Vec::new(),
        file: b.file.clone(),
        line: i64::from(b.line),
        // Delve names a breakpoint on an instantiation by its generic function.
        function_name: crate::exec::locate::strip_type_args(&b.function),
        cond: b.cond.clone().unwrap_or_default(),
        tracepoint: b.tracepoint,
        variables: b.variables.clone(),
        total_hit_count: b.total_hits,
        disabled: !b.enabled,
        hit_count: b.hits.iter().map(|(g, n)| (g.to_string(), *n)).collect(),
        // Delve's terminal sends ShortLoadConfig for `on BP args|locals`.
        load_args: b.load_args.then_some(SHORT_LOAD),
        load_locals: b.load_locals.then_some(SHORT_LOAD),
        stacktrace: super::bpinfo::stack_depth(b).unwrap_or(0),
        goroutine: super::bpinfo::wants_goroutine(b),
        ..Default::default()
    };
    if let Some(w) = &b.watch {
        use crate::backend::WatchKind;
        out.watch_expr = b.name.clone();
        out.watch_type = match w.kind {
            WatchKind::Read => 1,
            WatchKind::Write => 2,
            WatchKind::ReadWrite => 3,
        };
        out.addr = w.addr.get();
        out.addrs = vec![w.addr.get()];
    }
    if !b.enabled {
        // Delve keeps a disabled breakpoint as the location expression it was set with.
        out.expr_string = if b.spec.is_empty() {
            let base = b.file.rsplit('/').next().unwrap_or(&b.file);
            format!("{base}:{}", b.line)
        } else {
            b.spec.clone()
        };
    }
    if let Some(h) = &b.hitcond {
        out.hit_cond = format!("{} {}", h.op.as_str(), h.n);
        out.hit_cond_per_g = h.per_goroutine;
    }
    out
}
