//! What a breakpoint asks the server to collect when it is hit (Delve's
//! `collectBreakpointInformation`): the `on BP print` expressions, the arguments
//! and locals of `on BP args|locals`, the goroutine of `on BP goroutine` and the
//! frames of `on BP stack N`. Clients print it under the stop line.

use super::convert;
use super::types as api;
use crate::exec::breakpoints::Breakpoint;
use crate::repl::Session;
use crate::vars::LoadConfig;

/// `on BP stack N` and `on BP goroutine` as the engine keeps them (its `on` list).
pub fn stack_depth(b: &Breakpoint) -> Option<i64> {
    b.on.iter().find_map(|c| {
        let mut w = c.split_whitespace();
        match (w.next(), w.next()) {
            (Some("stack" | "bt"), Some(n)) => n.parse().ok(),
            (Some("stack" | "bt"), None) => Some(50),
            _ => None,
        }
    })
}

pub fn wants_goroutine(b: &Breakpoint) -> bool {
    b.on.iter().any(|c| matches!(c.trim(), "goroutine" | "gr"))
}

/// AmendBreakpoint's collection fields onto the engine's breakpoint: Delve replaces
/// them all with what the client sends.
pub fn amend(b: &mut Breakpoint, new: &api::Breakpoint) {
    b.variables = new.variables.clone();
    b.load_args = new.load_args.is_some();
    b.load_locals = new.load_locals.is_some();
    b.on.retain(|c| {
        let first = c.split_whitespace().next().unwrap_or("");
        !matches!(first, "stack" | "bt" | "goroutine" | "gr")
    });
    if new.stacktrace > 0 {
        b.on.push(format!("stack {}", new.stacktrace));
    }
    if new.goroutine {
        b.on.push("goroutine".into());
    }
}

/// The information breakpoint `b` collects on thread `tid`; None when it asks for none.
pub fn collect(s: &Session, b: &Breakpoint, tid: u32) -> Option<api::BreakpointInfo> {
    let depth = stack_depth(b);
    let goroutine = wants_goroutine(b);
    if b.variables.is_empty() && !b.load_args && !b.load_locals && depth.is_none() && !goroutine {
        return None;
    }
    let d = s.debuggee();
    let g = d.thread_goroutine(tid);
    let mut info = api::BreakpointInfo::default();
    if goroutine {
        info.goroutine = g.map(|g| convert::goroutine_of(s, g));
    }
    if let Some(n) = depth {
        if let Some(t) = d.threads().iter().find(|t| t.tid == tid) {
            let want = usize::try_from(n.max(0)).unwrap_or(0).saturating_add(1);
            let st = d.thread_stack(t, want);
            info.stacktrace = Some(st.frames.iter().map(|f| convert::frame(d, f)).collect());
        }
    }
    let goid = g.map(|g| g.goid);
    for expr in &b.variables {
        let v = match super::vars::eval(s, goid, 0, expr, &LoadConfig::LONG) {
            Ok(mut v) => {
                v.name = expr.clone();
                v
            }
            Err(e) => api::Variable {
                name: expr.clone(),
                unreadable: format!("eval error: {e}"),
                ..Default::default()
            },
        };
        info.variables.get_or_insert_with(Vec::new).push(v);
    }
    if b.load_args || b.load_locals {
        let frame = g
            .map(|g| d.goroutine_stack(g, 1))
            .or_else(|| {
                let t = d.threads().iter().find(|t| t.tid == tid)?;
                Some(d.thread_stack(t, 1))
            })
            .and_then(|st| st.frames.into_iter().next());
        if let Some(f) = frame {
            if let Ok((args, locals)) = super::vars::frame_values(s, &f, 0, &LoadConfig::SHORT) {
                if b.load_args {
                    info.arguments = Some(args);
                }
                if b.load_locals {
                    info.locals = Some(locals);
                }
            }
        }
    }
    Some(info)
}
