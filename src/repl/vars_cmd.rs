//! `print`, `locals`, `args`, `vars`, `whatis` and `display`, plus their `frame N cmd`
//! and `goroutine N [frame M] cmd` forms, on top of [`crate::vars`].

use super::{Debuggee, Output, Session};
use crate::addr::Addr;
use crate::symbols::dwarf::VarLocation;
use crate::target::Target;
use crate::unwind::{Frame, FrameSource};
use crate::vars::expr::Scope;
use crate::vars::load::Loader;
use crate::vars::location::{describe_location, evaluate, FrameRegs, Overlay, Place};
use crate::vars::{format, LoadConfig, Var, VarError};
use regex::Regex;

const VAR_COMMANDS: [&str; 7] = ["print", "p", "locals", "args", "vars", "whatis", "display"];

/// Handle a variables command line; `None` when `line` is not one (or the session has
/// no real target), so the caller falls back to its own handling.
pub(super) fn try_execute(s: &Session, line: &str) -> Option<Output> {
    let target = s.target()?;
    let mut words = line.trim();
    let mut goid = s.current_goroutine();
    let mut frame = s.current_frame();
    loop {
        let (w, rest) = split1(words);
        match w {
            "goroutine" | "gr" => {
                let (n, rest2) = split1(rest);
                goid = Some(n.parse().ok()?);
                frame = 0;
                words = rest2;
            }
            "frame" => {
                let (n, rest2) = split1(rest);
                frame = n.parse().ok()?;
                words = rest2;
            }
            _ => break,
        }
    }
    let (cmd, args) = split1(words);
    if !VAR_COMMANDS.contains(&cmd) {
        return None;
    }
    Some(match run(s, target, goid, frame, cmd, args) {
        Ok(r) if s.json => Output::Json(r.json),
        Ok(r) => Output::Text(r.text),
        Err(e) => Output::Error(e.to_string()),
    })
}

fn split1(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(i) => (
            s.get(..i).unwrap_or(""),
            s.get(i..).unwrap_or("").trim_start(),
        ),
        None => (s, ""),
    }
}

fn config_of(s: &Session, base: LoadConfig) -> LoadConfig {
    let mut c = base;
    if let Some(n) = s.config.max_string_len {
        c.max_string_len = n as i64;
    }
    if let Some(n) = s.config.max_array_values {
        if base.max_array_values > 0 {
            c.max_array_values = n as i64;
        }
    }
    if let Some(n) = s.config.max_variable_recurse {
        c.max_variable_recurse = n as i64;
    }
    c
}

/// A command's answer as Delve's text and as the `--json` tree.
struct Answer {
    text: String,
    json: serde_json::Value,
}

fn run(
    s: &Session,
    t: &Target,
    goid: Option<u64>,
    frame_no: usize,
    cmd: &str,
    args: &str,
) -> Result<Answer, VarError> {
    use serde_json::json;
    let dwarf = t.dwarf().ok_or(VarError::NoDwarf)?;
    let frame = goid
        .and_then(|g| t.goroutine(g))
        .map(|g| t.goroutine_stack(g, frame_no.saturating_add(1)))
        .and_then(|st| st.frames.get(frame_no).cloned());
    let mut overlay = Overlay::new(t.memory());
    let mut locals = match &frame {
        Some(f)
            if matches!(
                cmd,
                "locals" | "args" | "print" | "p" | "whatis" | "display"
            ) =>
        {
            match frame_vars(t, f, frame_no, &mut overlay) {
                Ok(v) => v,
                Err(e) if matches!(cmd, "locals" | "args") => return Err(e),
                Err(_) => Vec::new(),
            }
        }
        _ => Vec::new(),
    };
    let loader = Loader::for_target(t, dwarf, &overlay);
    let (verbose, filter) = match args.strip_prefix("-v") {
        Some(rest) if rest.is_empty() || rest.starts_with(' ') => (true, rest.trim()),
        _ => (false, args.trim()),
    };
    match cmd {
        "locals" | "args" => {
            if frame.is_none() {
                return Err(VarError::Expr("no frame selected".into()));
            }
            let re = Regex::new(filter).map_err(|e| VarError::Expr(e.to_string()))?;
            let cfg = config_of(
                s,
                if verbose {
                    LoadConfig::LONG
                } else {
                    LoadConfig::SHORT
                },
            );
            let want_args = cmd == "args";
            let mut out = String::new();
            let mut trees = Vec::new();
            for v in locals
                .iter_mut()
                .filter(|v| v.is_arg == want_args && re.is_match(&v.name))
            {
                if v.unreadable.is_empty() {
                    loader.load(v, 0, &cfg);
                }
                let text = if verbose {
                    format::multiline(v)
                } else {
                    format::singleline(v)
                };
                if v.shadowed {
                    out.push_str(&format!("({}) = {text}\n", v.name));
                } else {
                    out.push_str(&format!("{} = {text}\n", v.name));
                }
                trees.push(format::tree(v));
            }
            if out.is_empty() {
                out = if want_args {
                    "(no args)\n".into()
                } else {
                    "(no locals)\n".into()
                };
            }
            Ok(Answer {
                text: out,
                json: json!({ cmd: trees }),
            })
        }
        "vars" => {
            let re = Regex::new(filter).map_err(|e| VarError::Expr(e.to_string()))?;
            let cfg = config_of(
                s,
                if verbose {
                    LoadConfig::LONG
                } else {
                    LoadConfig::SHORT
                },
            );
            let mut out = String::new();
            let mut trees = Vec::new();
            for name in dwarf.globals_matching(&re) {
                let Some((addr, Some(ty))) = dwarf.global_typed(&name) else {
                    continue;
                };
                let mut v = loader.var_at(&name, addr.0.wrapping_add(t.bias()), ty);
                loader.load(&mut v, 0, &cfg);
                out.push_str(&format!("{name} = {}\n", format::singleline(&v)));
                trees.push(format::tree(&v));
            }
            Ok(Answer {
                text: out,
                json: json!({ "vars": trees }),
            })
        }
        "whatis" => {
            push_curg(t, goid, &loader, &mut locals);
            let scope = Scope {
                loader: &loader,
                locals: &locals,
                package: frame
                    .as_ref()
                    .map_or("", |f| crate::vars::expr::package_of(&f.function)),
            };
            let v = scope.eval(args, &LoadConfig::SHORT)?;
            let mut out = format!("{}\n", v.ty);
            let mut concrete = None;
            if v.kind == crate::vars::Kind::Interface {
                if let Some(c) = v.children.first().filter(|c| !c.ty.is_empty()) {
                    out.push_str(&format!("Concrete type: {}\n", c.ty));
                    concrete = Some(c.ty.clone());
                }
            }
            // `config show-location-expr`: where DWARF puts a variable named directly.
            if s.config.show_location_expr && !v.location_expr.is_empty() {
                out.push_str(&format!("location: {}\n", v.location_expr));
            }
            Ok(Answer {
                text: out,
                json: json!({
                    "expr": args.trim(),
                    "type": v.ty,
                    "kind": v.kind,
                    "concrete_type": concrete,
                    "location": (!v.location_expr.is_empty()).then_some(&v.location_expr),
                }),
            })
        }
        _ => {
            // print [%fmt] expr, display -a expr
            let expr = args.strip_prefix("-a ").unwrap_or(args).trim();
            let (fmtstr, expr) = match expr.strip_prefix('%') {
                Some(r) => {
                    let (f, e) = split1(r);
                    (Some(f.to_string()), e)
                }
                None => (None, expr),
            };
            if expr.is_empty() {
                return Err(VarError::Expr("not enough arguments".into()));
            }
            push_curg(t, goid, &loader, &mut locals);
            let scope = Scope {
                loader: &loader,
                locals: &locals,
                package: frame
                    .as_ref()
                    .map_or("", |f| crate::vars::expr::package_of(&f.function)),
            };
            let v = scope.eval(expr, &config_of(s, LoadConfig::LONG))?;
            let text = match fmtstr.as_deref() {
                Some(f) => apply_format(&v, f),
                None => format::multiline(&v),
            };
            let json = json!({ "expr": expr, "value": format::tree(&v) });
            let text = if cmd == "display" {
                format!("0: {expr} = {text}\n")
            } else if v.kind == crate::vars::Kind::Chan && fmtstr.is_none() {
                format!(
                    "{text}\n\nGoroutines waiting on this channel:\n{}",
                    chan_waiters(s, t, v.base)
                )
            } else {
                format!("{text}\n")
            };
            Ok(Answer { text, json })
        }
    }
}

/// Delve's `runtime.curg`: the selected goroutine's `runtime.g`, visible to
/// expressions as if it were a variable (after the frame's own, which shadow it).
fn push_curg(t: &Target, goid: Option<u64>, loader: &Loader<'_>, vars: &mut Vec<Var>) {
    let Some(g) = goid.and_then(|g| t.goroutine(g)) else {
        return;
    };
    let Some(ty) = loader.dwarf.type_by_name("runtime.g") else {
        return;
    };
    vars.insert(0, loader.var_at("runtime.curg", g.addr.0, ty));
}

/// The goroutines whose `g.waiting` sudogs name channel `hchan` (Delve's
/// "waiting on channel" filter), one `goroutines` line each, in goroutine order.
fn chan_waiters(s: &Session, t: &Target, hchan: u64) -> String {
    use super::format::{goroutine_line, GoroutineLine};
    use super::parse::LocKind;
    /// Frames searched for the user location (as `goroutines` does).
    const USER_FRAME_SEARCH: usize = 30;
    if hchan == 0 {
        return String::new();
    }
    let waits = crate::goruntime::waits::Waits::read(t);
    let mut out = String::new();
    for g in t.goroutines() {
        let waiting_here = waits
            .chan_waits
            .get(&g.addr)
            .is_some_and(|ws| ws.iter().any(|w| w.chan.0 == hchan));
        if !waiting_here {
            continue;
        }
        let stack = t.goroutine_stack(g, USER_FRAME_SEARCH);
        let frame = stack
            .frames
            .iter()
            .find(|f| !super::is_private_runtime(&f.function))
            .or_else(|| stack.frames.first());
        let mut loc = frame.map_or_else(
            || t.location(g.sched.pc),
            |f| super::Location {
                pc: f.pc.0,
                file: f.file.clone(),
                line: f.line,
                function: f.function.clone(),
            },
        );
        // A return address: the name of the function of the call before it.
        loc.function = t.shown_function_name(loc.pc.saturating_sub(1), &loc.function);
        let wait = g.is_waiting().then(|| g.traceback_status());
        out.push_str(&goroutine_line(
            &GoroutineLine {
                current: Some(g.goid) == s.current_goroutine(),
                goid: g.goid,
                kind: LocKind::User,
                loc: &loc,
                thread: g.thread,
                wait: wait.as_deref(),
            },
            None,
        ));
        out.push('\n');
    }
    out
}

/// `print %x expr` and friends on scalar values.
pub fn apply_format(v: &Var, f: &str) -> String {
    let n: Option<i128> = v
        .value
        .rsplit('(')
        .next()
        .and_then(|x| x.trim_end_matches(')').parse().ok());
    match (f, n) {
        ("x", Some(n)) => format!("{n:x}"),
        ("X", Some(n)) => format!("{n:X}"),
        ("o", Some(n)) => format!("{n:o}"),
        ("b", Some(n)) => format!("{n:b}"),
        ("d", Some(n)) => n.to_string(),
        ("s", _) | ("v", _) => v.value.clone(),
        _ => format::multiline(v),
    }
}

/// The frame's registers, plus XMM0..15 (DWARF 17..32) when the frame is the one a
/// thread is executing and the snapshot has them: float arguments and fields of
/// struct arguments sit there at a function's entry, and Delve reads them.
fn with_vector_regs(t: &Target, f: &Frame) -> Vec<(u16, u64)> {
    let mut regs = f.regs.clone();
    let on_thread = t
        .threads()
        .iter()
        .find(|th| th.arm64.is_none() && th.pc() == f.pc.0 && th.sp() == f.sp.0);
    if let Some(x) = on_thread.and_then(|th| t.snapshot().xmm(th.tid)) {
        regs.extend((17u16..).zip(x));
    }
    regs
}

/// Arguments and locals of one frame, located but not loaded, in Delve's order
/// (block depth, then declaration line). Variables the compiler dropped or that have
/// no location at this PC are kept, with the reason in `unreadable`.
pub fn frame_vars(
    t: &Target,
    f: &Frame,
    frame_no: usize,
    overlay: &mut Overlay<'_>,
) -> Result<Vec<Var>, VarError> {
    let dwarf = t.dwarf().ok_or(VarError::NoDwarf)?;
    // Outer frames hold return addresses: scopes and location lists are looked up at
    // the call instruction.
    let top = frame_no == 0 || matches!(f.source, FrameSource::SignalFrame);
    let pc = if top {
        f.pc.0
    } else {
        f.pc.0.saturating_sub(1)
    };
    // DWARF has link-time addresses; PIE binaries run at a bias.
    let pc = pc.wrapping_sub(t.bias());
    let func = dwarf.function_at(pc).ok_or(VarError::NoFunction(pc))?;
    // An inlined frame shows its own DW_TAG_inlined_subroutine's variables (Delve).
    let scope = dwarf.frame_scope(func.offset, pc, &f.function, f.line, f.inlined);
    let dies = dwarf
        .variables(scope, pc, f.pc.0.wrapping_sub(t.bias()))
        .map_err(|e| VarError::Dwarf(e.to_string()))?;
    let fregs = with_vector_regs(t, f);
    let regs = FrameRegs {
        regs: &fregs,
        cfa: f.cfa.0,
    };
    let mut out: Vec<(usize, u64, Var)> = Vec::new();
    for d in dies {
        // Delve's visibility rule (Go >= 1.15 decl lines are trusted): a local is in
        // scope from the line after its declaration; a variable captured by a closure
        // from its declaration line; arguments everywhere.
        if !d.is_param {
            if let Some(l) = d.decl_line {
                let from = if d.closure_offset.is_some() { l } else { l + 1 };
                if u64::from(f.line) < from {
                    continue;
                }
            }
        }
        let Some(ty) = d.type_id else { continue };
        let (name, escaped) = match d.name.strip_prefix('&') {
            Some(n) => (n.to_string(), true),
            None => (d.name.clone(), false),
        };
        let loader_mem: &dyn crate::snapshot::Memory = t.memory();
        let mut v = Var {
            name: name.clone(),
            ty: dwarf.type_name(ty),
            is_arg: d.is_param,
            is_return: d.is_param && d.is_return,
            type_id: Some(ty),
            ..Default::default()
        };
        match &d.location {
            VarLocation::OptimizedOut => {
                v.unreadable = "optimized out: the compiler kept no location for it".into()
            }
            VarLocation::NotAtPc { list_offset } => {
                // Delve's words: the list's offset and the frame's PC.
                v.unreadable = format!(
                    "could not find loclist entry at {list_offset:#x} for address {:#x}",
                    f.pc.0
                )
            }
            VarLocation::Expr { expr, list_offset } => {
                v.location_expr = describe_location(expr, *list_offset, f.pc.0, escaped);
                let size = dwarf.size_of(ty).unwrap_or(8);
                match evaluate(expr, d.encoding, &regs, loader_mem, size) {
                    Ok(Place::Memory(a)) => v.addr = a,
                    Ok(Place::Bytes(b)) => v.addr = overlay.add(b),
                    Err(e) => v.unreadable = e,
                }
            }
        }
        let mut decl_line = d.decl_line.unwrap_or(0);
        if let Some(at) = early_capture(t, &d, f, top) {
            // Early in a closure its captured variable's own slot is not written yet:
            // Delve reads it from the closure object the context register points at
            // (and, having made a new variable of it, without a line: it sorts first).
            v.addr = at;
            v.unreadable.clear();
            decl_line = 0;
        }
        if escaped && v.unreadable.is_empty() {
            // `&x`: the variable moved to the heap; the DIE holds a pointer to it.
            let elem = dwarf
                .resolve(ty)
                .and_then(|r| dwarf.type_info(r))
                .and_then(|i| i.target);
            match (elem, loader_mem.read_ptr(Addr(v.addr))) {
                (Some(e), Ok(p)) => {
                    v.addr = p.0;
                    v.type_id = Some(e);
                    v.ty = dwarf.type_name(e);
                }
                (_, Err(err)) => v.unreadable = err.to_string(),
                _ => v.unreadable = "escaped variable without element type".into(),
            }
        }
        // Delve's depths: the function's own variables are one below it, but its
        // arguments sort first.
        let depth = if d.is_param && d.depth == 0 {
            0
        } else {
            d.depth + 1
        };
        out.push((depth, decl_line, v));
    }
    out.sort_by_key(|(depth, line, _)| (*depth, *line));
    resolve_shapes(t, &mut out, overlay);
    // A name seen again later (an inner scope's variable) shadows the earlier one.
    let mut last: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for i in 0..out.len() {
        if let Some(&j) = last.get(&out[i].2.name) {
            out[j].2.shadowed = true;
        }
        last.insert(out[i].2.name.clone(), i);
    }
    let kinds = Loader::for_target(t, dwarf, t.memory());
    Ok(out
        .into_iter()
        .map(|(_, _, mut v)| {
            if let Some(ty) = v.type_id {
                v.kind = kinds.kind_of(ty);
            }
            v
        })
        .collect())
}

/// Generic functions: a variable typed by a `.paramN` typedef carrying
/// DW_AT_go_dict_index has the type held in that slot of the function's dictionary
/// (the `.dict` argument), as the runtime resolves it; Delve shows that type and
/// hides `.dict`.
fn resolve_shapes(t: &Target, vars: &mut Vec<(usize, u64, Var)>, mem: &Overlay<'_>) {
    use crate::snapshot::Memory;
    let Some(dwarf) = t.dwarf() else { return };
    let dict = vars
        .iter()
        .find(|(_, _, v)| v.name == ".dict" && v.unreadable.is_empty())
        .and_then(|(_, _, v)| mem.read_ptr(Addr(v.addr)).ok())
        .filter(|p| !p.is_null());
    vars.retain(|(_, _, v)| v.name != ".dict");
    let types = t.type_reader();
    for (_, _, v) in vars.iter_mut() {
        let Some(ty) = v.type_id else { continue };
        let Some(info) = dwarf.type_info(ty) else {
            continue;
        };
        let Some(idx) = info.go_dict_index else {
            continue;
        };
        let slot = dict.and_then(|d| idx.checked_mul(8).and_then(|o| d.0.checked_add(o)));
        let resolved = slot
            .and_then(|a| mem.read_ptr(Addr(a)).ok())
            .filter(|r| !r.is_null())
            .and_then(|r| types.name(r))
            .and_then(|n| dwarf.type_by_name(&n))
            // No dictionary here (optimised away): the shape type itself.
            .or(info.target);
        if let Some(r) = resolved {
            v.type_id = Some(r);
            v.ty = dwarf.type_name(r);
        }
    }
}

/// The arguments then locals of one frame, one `name = value` per line with `indent`
/// before each, as Delve's `stack -full` prints them under a frame. Empty when the
/// binary has no DWARF or the frame has no known function.
pub(super) fn frame_vars_text(s: &Session, f: &Frame, frame_no: usize, indent: &str) -> String {
    let Some(t) = s.target() else {
        return String::new();
    };
    let Some(dwarf) = t.dwarf() else {
        return String::new();
    };
    let mut overlay = Overlay::new(t.memory());
    let Ok(mut vars) = frame_vars(t, f, frame_no, &mut overlay) else {
        return String::new();
    };
    let loader = Loader::for_target(t, dwarf, &overlay);
    let cfg = config_of(s, LoadConfig::SHORT);
    let mut out = String::new();
    for want_args in [true, false] {
        for v in vars.iter_mut().filter(|v| v.is_arg == want_args) {
            if v.unreadable.is_empty() {
                loader.load(v, 0, &cfg);
            }
            out.push_str(&format!("{indent}{} = {}\n", v.name, format::singleline(v)));
        }
    }
    out
}

/// Where a closure's captured variable is while the closure is between its entry and
/// the end of its prologue, on the line that declares it (Delve's rule): in the closure
/// object the context register (RDX on amd64, x26 on arm64) holds, at the variable's
/// `DW_AT_go_closure_offset`. None outside that window or without the register.
fn early_capture(
    t: &Target,
    d: &crate::symbols::dwarf::VarDie,
    f: &crate::unwind::Frame,
    top: bool,
) -> Option<u64> {
    let off = d.closure_offset?;
    if !top || d.is_param || d.decl_line != Some(u64::from(f.line)) {
        return None;
    }
    let reg = match t.binary().arch() {
        crate::arch::Arch::Arm64 => 26,
        _ => 1,
    };
    let ctx = f.regs.iter().find(|(n, _)| *n == reg).map(|(_, v)| *v)?;
    let func = t.pclntab().func_for_pc(f.pc.sub(t.bias()))?;
    let entry = func.entry.add(t.bias());
    let end = crate::exec::locate::after_prologue(t, &func)
        .add(t.bias())
        .max(entry);
    (f.pc >= entry && f.pc <= end && ctx != 0).then(|| ctx.wrapping_add(off))
}
