//! `print`, `locals`, `args`, `vars`, `whatis` and `display`, plus their `frame N cmd`
//! and `goroutine N [frame M] cmd` forms, on top of [`crate::vars`].

use super::{Debuggee, Output, Session};
use crate::addr::Addr;
use crate::symbols::dwarf::VarLocation;
use crate::target::Target;
use crate::unwind::{Frame, FrameSource};
use crate::vars::expr::Scope;
use crate::vars::load::Loader;
use crate::vars::location::{evaluate, FrameRegs, Overlay, Place};
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
        Ok(t) => Output::Text(t),
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

fn run(
    s: &Session,
    t: &Target,
    goid: Option<u64>,
    frame_no: usize,
    cmd: &str,
    args: &str,
) -> Result<String, VarError> {
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
    let fname = |pc: u64| t.func_at(Addr(pc)).map(|f| f.name);
    let loader = Loader {
        dwarf,
        mem: &overlay,
        types: t.type_reader(),
        func_name: &fname,
        swiss: t.runtime().version.at_least(24),
        bias: t.bias(),
    };
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
                out.push_str(&format!("{} = {text}\n", v.name));
            }
            if out.is_empty() {
                out = if want_args {
                    "(no args)\n".into()
                } else {
                    "(no locals)\n".into()
                };
            }
            Ok(out)
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
            for name in dwarf.globals_matching(&re) {
                let Some((addr, Some(ty))) = dwarf.global_typed(&name) else {
                    continue;
                };
                let mut v = loader.var_at(&name, addr.0.wrapping_add(t.bias()), ty);
                loader.load(&mut v, 0, &cfg);
                out.push_str(&format!("{name} = {}\n", format::singleline(&v)));
            }
            Ok(out)
        }
        "whatis" => {
            let scope = Scope {
                loader: &loader,
                locals: &locals,
            };
            let v = scope.eval(args, &LoadConfig::SHORT)?;
            let mut out = format!("{}\n", v.ty);
            if v.kind == crate::vars::Kind::Interface {
                if let Some(c) = v.children.first().filter(|c| !c.ty.is_empty()) {
                    out.push_str(&format!("Concrete type: {}\n", c.ty));
                }
            }
            Ok(out)
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
            let scope = Scope {
                loader: &loader,
                locals: &locals,
            };
            let v = scope.eval(expr, &config_of(s, LoadConfig::LONG))?;
            let text = match fmtstr.as_deref() {
                Some(f) => apply_format(&v, f),
                None => format::multiline(&v),
            };
            if cmd == "display" {
                Ok(format!("0: {expr} = {text}\n"))
            } else {
                Ok(format!("{text}\n"))
            }
        }
    }
}

/// `print %x expr` and friends on scalar values.
fn apply_format(v: &Var, f: &str) -> String {
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
    let dies = dwarf
        .variables(func.offset, pc)
        .map_err(|e| VarError::Dwarf(e.to_string()))?;
    let regs = FrameRegs {
        regs: &f.regs,
        cfa: f.cfa.0,
    };
    let mut out: Vec<(usize, u64, Var)> = Vec::new();
    for d in dies {
        if !d.is_param && d.decl_line.is_some_and(|l| l > u64::from(f.line)) {
            continue;
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
            type_id: Some(ty),
            ..Default::default()
        };
        match &d.location {
            VarLocation::OptimizedOut => {
                v.unreadable = "optimized out: the compiler kept no location for it".into()
            }
            VarLocation::NotAtPc => {
                v.unreadable = format!("no location at this PC ({pc:#x}): not live here")
            }
            VarLocation::Expr(e) => {
                let size = dwarf.size_of(ty).unwrap_or(8);
                match evaluate(e, d.encoding, &regs, loader_mem, size) {
                    Ok(Place::Memory(a)) => v.addr = a,
                    Ok(Place::Bytes(b)) => v.addr = overlay.add(b),
                    Err(e) => v.unreadable = e,
                }
            }
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
        out.push((d.depth, d.decl_line.unwrap_or(0), v));
    }
    out.sort_by_key(|(depth, line, _)| (*depth, *line));
    let fname = |pc: u64| t.func_at(Addr(pc)).map(|f| f.name);
    let kinds = Loader {
        dwarf,
        mem: t.memory(),
        types: t.type_reader(),
        func_name: &fname,
        swiss: false,
        bias: t.bias(),
    };
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
    let fname = |pc: u64| t.func_at(Addr(pc)).map(|f| f.name);
    let loader = Loader {
        dwarf,
        mem: &overlay,
        types: t.type_reader(),
        func_name: &fname,
        swiss: t.runtime().version.at_least(24),
        bias: t.bias(),
    };
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
