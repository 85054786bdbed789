//! Variables for Eval, ListLocalVars, ListFunctionArgs, ListPackageVars and
//! `Stacktrace{Full}`: the same frame variables, loader and expression evaluator the
//! REPL's `print`/`locals`/`args`/`vars` use, converted to `api.Variable`.

use super::convert;
use super::types::Variable;
use crate::repl::{frame_vars, Session};
use crate::unwind::Frame;
use crate::vars::expr::Scope;
use crate::vars::load::Loader;
use crate::vars::location::Overlay;
use crate::vars::{LoadConfig, VarError};
use regex::Regex;

fn target(s: &Session) -> Result<&crate::target::Target, String> {
    s.target()
        .ok_or_else(|| "this target has no variables".to_string())
}

/// Arguments and locals of frame `n`, loaded under `cfg`.
pub fn frame_values(
    s: &Session,
    f: &Frame,
    n: usize,
    cfg: &LoadConfig,
) -> Result<(Vec<Variable>, Vec<Variable>), String> {
    let t = target(s)?;
    let dwarf = t.dwarf().ok_or_else(|| VarError::NoDwarf.to_string())?;
    let mut overlay = Overlay::new(t.memory());
    let mut vars = frame_vars(t, f, n, &mut overlay).map_err(|e| e.to_string())?;
    let loader = Loader::for_target(t, dwarf, &overlay);
    let (mut args, mut locals) = (Vec::new(), Vec::new());
    for v in vars.iter_mut() {
        if v.unreadable.is_empty() {
            loader.load(v, 0, cfg);
        }
        let out = convert::variable(v);
        if v.is_arg {
            args.push(out);
        } else {
            locals.push(out);
        }
    }
    Ok((args, locals))
}

/// `print EXPR` in goroutine `goid`, frame `frame`.
pub fn eval(
    s: &Session,
    goid: Option<u64>,
    frame: usize,
    expr: &str,
    cfg: &LoadConfig,
) -> Result<Variable, String> {
    let t = target(s)?;
    let dwarf = t.dwarf().ok_or_else(|| VarError::NoDwarf.to_string())?;
    let f = goid
        .and_then(|g| t.goroutine(g))
        .map(|g| t.goroutine_stack(g, frame.saturating_add(1)))
        .and_then(|st| st.frames.get(frame).cloned());
    let mut overlay = Overlay::new(t.memory());
    // Globals still evaluate where the frame has no variables (no DWARF function).
    let locals = match &f {
        Some(f) => frame_vars(t, f, frame, &mut overlay).unwrap_or_default(),
        None => Vec::new(),
    };
    let loader = Loader::for_target(t, dwarf, &overlay);
    let scope = Scope {
        loader: &loader,
        locals: &locals,
        package: f
            .as_ref()
            .map_or("", |f| crate::vars::expr::package_of(&f.function)),
    };
    let v = scope.eval(expr, cfg).map_err(|e| e.to_string())?;
    let mut out = convert::variable(&v);
    if out.name.is_empty() {
        out.name = expr.to_string();
    }
    Ok(out)
}

/// `vars FILTER`: package variables whose names match.
pub fn package_vars(s: &Session, re: &Regex, cfg: &LoadConfig) -> Result<Vec<Variable>, String> {
    let t = target(s)?;
    let dwarf = t.dwarf().ok_or_else(|| VarError::NoDwarf.to_string())?;
    let loader = Loader::for_target(t, dwarf, t.memory());
    let mut out = Vec::new();
    for name in dwarf.globals_matching(re) {
        let Some((addr, Some(ty))) = dwarf.global_typed(&name) else {
            continue;
        };
        let mut v = loader.var_at(&name, addr.0.wrapping_add(t.bias()), ty);
        loader.load(&mut v, 0, cfg);
        out.push(convert::variable(&v));
    }
    Ok(out)
}
