//! The inspection requests (threads, stackTrace, scopes, variables, evaluate,
//! exceptionInfo, readMemory, disassemble), answered from the stopped target with the
//! REPL's own goroutine, frame and variable code.

use super::convert;
use super::session::{ids, Dap};
use super::types::{self};
use super::vars::{Conv, VarRef, DAP_LOAD};
use super::wire::Request;
use crate::addr::Addr;
use crate::exec::breakpoints::{FATAL_THROW_ID, UNRECOVERED_PANIC_ID};
use crate::exec::StopReason;
use crate::repl::{frame_vars, Output, Session};
use crate::unwind::Frame;
use crate::vars::expr::Scope;
use crate::vars::load::Loader;
use crate::vars::location::Overlay;
use crate::vars::{Kind, LoadConfig, Var};
use serde_json::{json, Value};

/// Delve's DAP goroutine limit for `threads`.
const MAX_GOROUTINES: usize = 1 << 10;
/// Frames one stackTrace request may unwind.
const MAX_FRAMES: i64 = 4096;
/// Delve's default stackTraceDepth.
const DEFAULT_DEPTH: i64 = 50;
/// readMemory reads at most this much at once.
const MAX_READ: i64 = 1 << 20;
/// Strings shown alone (evaluate in the REPL or a hover) load this far (Delve).
const MAX_SINGLE_STRING: i64 = 4 << 10;
const NO_TARGET: &str = "no debug session: send launch or attach first";

/// Expression evaluation in one frame: the frame's variables, a loader over the
/// target's memory overlaid with register-held values, and the frame's package.
pub(super) fn in_frame<T>(
    s: &Session,
    goid: Option<u64>,
    frame: usize,
    f: impl FnOnce(&Loader<'_>, &[Var], &str) -> Result<T, String>,
) -> Result<T, String> {
    let t = s.target().ok_or("this target has no variables")?;
    let dwarf = t
        .dwarf()
        .ok_or_else(|| crate::vars::VarError::NoDwarf.to_string())?;
    let fr = goid
        .and_then(|g| t.goroutine(g))
        .map(|g| t.goroutine_stack(g, frame.saturating_add(1)))
        .and_then(|st| st.frames.get(frame).cloned());
    let mut overlay = Overlay::new(t.memory());
    let locals = match &fr {
        Some(fr) => frame_vars(t, fr, frame, &mut overlay).unwrap_or_default(),
        None => Vec::new(),
    };
    let loader = Loader::for_target(t, dwarf, &overlay);
    // The frame's package: unqualified names that are no local are its variables.
    let package = fr
        .as_ref()
        .map_or("", |fr| crate::vars::expr::package_of(&fr.function));
    f(&loader, &locals, package)
}

impl Dap<'_> {
    pub(super) fn threads(&mut self, req: &Request) {
        let Some(s) = self.s.as_ref() else {
            return self.ok(req, json!({"threads": [{"id": 1, "name": "Dummy"}]}));
        };
        if s.debugger().is_some_and(|d| d.exited().is_some()) {
            return self.ok(req, json!({"threads": [{"id": 1, "name": "Dummy"}]}));
        }
        let d = s.debuggee();
        let all = d.goroutines();
        let mut gs: Vec<_> = all.iter().take(MAX_GOROUTINES).collect();
        if all.len() > MAX_GOROUTINES {
            self.out.output(
                "console",
                &format!("Too many goroutines, only loaded {MAX_GOROUTINES}\n"),
            );
            if let Some(sel) = s.current_goroutine().and_then(|g| d.goroutine(g)) {
                if !gs.iter().any(|g| g.goid == sel.goid) {
                    gs.push(sel);
                }
            }
        }
        let threads: Vec<Value> = if gs.is_empty() {
            vec![json!({"id": 1, "name": "Dummy"})]
        } else {
            gs.iter()
                .map(|g| {
                    let id = if g.error.is_some() { 0 } else { g.goid };
                    json!({"id": id, "name": convert::thread_name(s, g)})
                })
                .collect()
        };
        self.ok(req, json!({ "threads": threads }));
    }

    pub(super) fn stack_trace(&mut self, req: &Request) {
        const F: &str = "Unable to produce stack trace";
        let a: types::StackTraceArgs = match types::parse(&req.arguments) {
            Ok(a) => a,
            Err(e) => return self.fail(req, ids::UNABLE_TO_PRODUCE_STACK_TRACE, F, &e),
        };
        let Some(s) = self.s.as_ref() else {
            return self.fail(req, ids::UNABLE_TO_PRODUCE_STACK_TRACE, F, NO_TARGET);
        };
        let d = s.debuggee();
        let Some(g) = u64::try_from(a.thread_id)
            .ok()
            .and_then(|id| d.goroutine(id))
        else {
            let e = format!("unknown goroutine {}", a.thread_id);
            return self.fail(req, ids::UNABLE_TO_PRODUCE_STACK_TRACE, F, &e);
        };
        let depth = if self.args.stack_trace_depth > 0 {
            self.args.stack_trace_depth
        } else {
            DEFAULT_DEPTH
        };
        let start = a.start_frame.clamp(0, MAX_FRAMES);
        let levels = if a.levels > 0 {
            a.levels.min(MAX_FRAMES)
        } else {
            depth
        };
        let want = (start + levels) as usize;
        let stack = d.goroutine_stack(g, want);
        let complete = stack.frames.len() < want && stack.error.is_none();
        let system = g.system;
        let goid = g.goid;
        let mut frames = Vec::new();
        for (i, f) in stack
            .frames
            .iter()
            .enumerate()
            .skip(start as usize)
            .take(levels as usize)
        {
            let id = self.refs.frame(goid, i);
            frames.push(convert::stack_frame(id, f, system));
        }
        let mut total = stack.frames.len() as i64;
        if !complete {
            // More frames exist: say so, so the client pages on (Delve adds the depth).
            total += depth;
        }
        self.ok(req, json!({"stackFrames": frames, "totalFrames": total}));
    }

    fn frame_of(&self, s: &Session, goid: u64, n: usize) -> Result<Frame, String> {
        let d = s.debuggee();
        let g = d
            .goroutine(goid)
            .ok_or_else(|| format!("unknown goroutine {goid}"))?;
        d.goroutine_stack(g, n + 1)
            .frames
            .get(n)
            .cloned()
            .ok_or_else(|| format!("Invalid frame {n}"))
    }

    pub(super) fn scopes(&mut self, req: &Request) {
        const F: &str = "Unable to list locals";
        let a: types::ScopesArgs = types::parse(&req.arguments).unwrap_or_default();
        let Some((goid, n)) = self.refs.get_frame(a.frame_id) else {
            let e = format!("unknown frame id {}", a.frame_id);
            return self.fail(req, ids::UNABLE_TO_LIST_LOCALS, F, &e);
        };
        let Some(s) = self.s.as_ref() else {
            return self.fail(req, ids::UNABLE_TO_LIST_LOCALS, F, NO_TARGET);
        };
        let r = self.frame_of(s, goid, n).and_then(|f| {
            let t = s.target().ok_or("this target has no variables")?;
            let dwarf = t
                .dwarf()
                .ok_or_else(|| crate::vars::VarError::NoDwarf.to_string())?;
            let mut overlay = Overlay::new(t.memory());
            let mut vars = frame_vars(t, &f, n, &mut overlay).map_err(|e| e.to_string())?;
            let loader = Loader::for_target(t, dwarf, &overlay);
            for v in vars.iter_mut().filter(|v| v.unreadable.is_empty()) {
                loader.load(v, 0, &DAP_LOAD);
            }
            // Delve lists arguments first, then locals.
            vars.sort_by_key(|v| !v.is_arg);
            let optimized = t
                .dwarf()
                .and_then(|d| d.producer_at(f.pc.0.wrapping_sub(t.bias())))
                .is_some_and(|p| !(p.contains("-N") && p.contains("-l")));
            let pkg = convert::fn_package(&f.function).to_string();
            Ok((vars, optimized, pkg))
        });
        let (vars, optimized, pkg) = match r {
            Ok(x) => x,
            Err(e) => return self.fail(req, ids::UNABLE_TO_LIST_LOCALS, F, &e),
        };
        let name = if optimized {
            "Locals (warning: optimized function)"
        } else {
            "Locals"
        };
        let scope = Var {
            name: name.into(),
            children: vars,
            ..Default::default()
        };
        let r = self.refs.var(VarRef {
            var: scope,
            expr: String::new(),
            scope: true,
            start: 0,
            frame: Some((goid, n)),
        });
        let mut scopes = vec![json!({"name": name, "variablesReference": r, "expensive": false})];
        if self.args.show_global_variables {
            if let Some(g) = self.globals(s, &pkg) {
                let name = format!("Globals (package {pkg})");
                let v = Var {
                    name: name.clone(),
                    children: g,
                    ..Default::default()
                };
                let r = self.refs.var(VarRef {
                    var: v,
                    expr: pkg.clone(),
                    scope: true,
                    start: 0,
                    frame: Some((goid, n)),
                });
                scopes.push(json!({"name": name, "variablesReference": r, "expensive": false}));
            }
        }
        if self.args.show_registers {
            if let Some(t) = s
                .debuggee()
                .goroutine(goid)
                .and_then(|g| g.thread)
                .and_then(|tid| s.debuggee().threads().iter().find(|t| t.tid == tid))
            {
                let text = crate::repl::format::thread_regs_text(t, false);
                let regs: Vec<Var> = text
                    .lines()
                    .filter_map(|l| l.split_once(" = "))
                    .map(|(n, v)| Var {
                        name: format!("{:>6}", n.trim().to_lowercase()),
                        value: v.trim().to_string(),
                        kind: Kind::Invalid,
                        ..Default::default()
                    })
                    .collect();
                let v = Var {
                    name: "Registers".into(),
                    children: regs,
                    ..Default::default()
                };
                let r = self.refs.var(VarRef {
                    var: v,
                    expr: String::new(),
                    scope: true,
                    start: 0,
                    frame: Some((goid, n)),
                });
                scopes.push(
                    json!({"name": "Registers", "variablesReference": r, "expensive": false}),
                );
            }
        }
        self.ok(req, json!({ "scopes": scopes }));
    }

    /// Package variables of `pkg`, named without the package prefix.
    fn globals(&self, s: &Session, pkg: &str) -> Option<Vec<Var>> {
        let t = s.target()?;
        let dwarf = t.dwarf()?;
        let re = regex::Regex::new(&format!("^{}\\.", regex::escape(pkg))).ok()?;
        let loader = Loader::for_target(t, dwarf, t.memory());
        let mut out = Vec::new();
        for name in dwarf.globals_matching(&re) {
            let Some((addr, Some(ty))) = dwarf.global_typed(&name) else {
                continue;
            };
            let short = name
                .strip_prefix(&format!("{pkg}."))
                .unwrap_or(&name)
                .to_string();
            let mut v = loader.var_at(&short, addr.0.wrapping_add(t.bias()), ty);
            loader.load(&mut v, 0, &DAP_LOAD);
            out.push(v);
        }
        Some(out)
    }

    pub(super) fn variables(&mut self, req: &Request) {
        const F: &str = "Unable to lookup variable";
        let a: types::VariablesArgs = match types::parse(&req.arguments) {
            Ok(a) => a,
            Err(e) => return self.fail(req, ids::UNABLE_TO_LOOKUP_VARIABLE, F, &e),
        };
        let Some(r) = self.refs.get_var(a.variables_reference).cloned() else {
            let e = format!("unknown reference {}", a.variables_reference);
            return self.fail(req, ids::UNABLE_TO_LOOKUP_VARIABLE, F, &e);
        };
        let Some(s) = self.s.as_ref() else {
            return self.fail(req, ids::UNABLE_TO_LOOKUP_VARIABLE, F, NO_TARGET);
        };
        let refs = &mut self.refs;
        let types = self.types;
        let filter = a.filter.clone();
        let vars = in_frame(s, None, 0, |loader, _, _| {
            let conv = Conv {
                loader: Some(loader),
                cfg: DAP_LOAD,
                types,
                frame: r.frame,
            };
            let paged;
            let r = if filter == "indexed" {
                paged = conv.page(&r, a.start, a.count);
                &paged
            } else {
                &r
            };
            Ok(conv.variables(refs, r, &filter))
        })
        .unwrap_or_else(|_| {
            let conv = Conv {
                loader: None,
                cfg: DAP_LOAD,
                types,
                frame: r.frame,
            };
            conv.variables(refs, &r, &filter)
        });
        self.ok(req, json!({ "variables": vars }));
    }

    /// The (goroutine, frame) a frameId names; the selected goroutine's top otherwise.
    fn frame_scope(&self, frame_id: Option<i64>) -> (Option<u64>, usize) {
        match frame_id.and_then(|id| self.refs.get_frame(id)) {
            Some((g, n)) => (Some(g), n),
            None => (self.s.as_ref().and_then(|s| s.current_goroutine()), 0),
        }
    }

    pub(super) fn evaluate(&mut self, req: &Request) {
        let a: types::EvaluateArgs = match types::parse(&req.arguments) {
            Ok(a) => a,
            Err(e) => {
                return self.fail(
                    req,
                    ids::UNABLE_TO_EVALUATE_EXPRESSION,
                    "Unable to evaluate expression",
                    &e,
                )
            }
        };
        let show = !matches!(a.context.as_str(), "watch" | "repl" | "hover");
        let expr = a.expression.trim();
        if let Some(cmd) = expr
            .strip_prefix("dlv ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            return match self.repl_command(cmd) {
                Ok(text) => self.ok(req, json!({"result": text, "variablesReference": 0})),
                Err(e) => self.out.error(
                    req,
                    ids::UNABLE_TO_RUN_DLV_COMMAND,
                    "Unable to run dlv command",
                    &e,
                    show,
                ),
            };
        }
        if let Some(call) = super::setvar::call_expr(expr) {
            return self.evaluate_call(req, call, a.frame_id, show);
        }
        let (goid, frame) = self.frame_scope(a.frame_id);
        let Some(s) = self.s.as_ref() else {
            return self.out.error(
                req,
                ids::UNABLE_TO_EVALUATE_EXPRESSION,
                "Unable to evaluate expression",
                NO_TARGET,
                show,
            );
        };
        let refs = &mut self.refs;
        let types = self.types;
        let ctx = a.context.clone();
        let r = in_frame(s, goid, frame, |loader, locals, package| {
            let scope = Scope {
                loader,
                locals,
                package,
            };
            let mut v = scope.eval(expr, &DAP_LOAD).map_err(|e| e.to_string())?;
            if matches!(ctx.as_str(), "repl" | "variables" | "hover" | "clipboard")
                && v.kind == Kind::String
                && v.unreadable.is_empty()
                && v.len > v.cap.max(0)
            {
                let cfg = LoadConfig {
                    max_string_len: MAX_SINGLE_STRING,
                    ..DAP_LOAD
                };
                if let Ok(w) = scope.eval(expr, &cfg) {
                    v = w;
                }
            }
            let conv = Conv {
                loader: Some(loader),
                cfg: DAP_LOAD,
                types,
                frame: goid.map(|g| (g, frame)),
            };
            let full = matches!(ctx.as_str(), "clipboard" | "variables");
            let (value, reference) = conv.convert(refs, &mut v, &format!("({expr})"), full);
            let mut body = super::vars::fields(&v, value.clone(), reference, types);
            if let Some(m) = body.as_object_mut() {
                m.remove("value");
            }
            body["result"] = json!(value);
            Ok(body)
        });
        match r {
            Ok(body) => self.ok(req, body),
            Err(e) => self.out.error(
                req,
                ids::UNABLE_TO_EVALUATE_EXPRESSION,
                "Unable to evaluate expression",
                &e,
                show,
            ),
        }
    }

    /// `dlv CMD` in the debug console: any REPL command that does not move the
    /// target (those have the editor's buttons, and must send DAP events).
    fn repl_command(&mut self, cmd: &str) -> Result<String, String> {
        let word = cmd.split_whitespace().next().unwrap_or("");
        const MOVES: [&str; 16] = [
            "continue",
            "c",
            "next",
            "n",
            "step",
            "s",
            "stepout",
            "so",
            "step-instruction",
            "si",
            "restart",
            "r",
            "detach",
            "kill",
            "exit",
            "quit",
        ];
        if MOVES.contains(&word) || word == "q" {
            return Err(format!(
                "{word:?} is not available from the debug console: use the editor's debug controls"
            ));
        }
        let s = self.s.as_mut().ok_or(NO_TARGET)?;
        match s.execute(cmd) {
            Output::Error(e) => Err(e),
            Output::Exit => Err("exit is not available from the debug console".into()),
            o => Ok(o.render()),
        }
    }

    /// Delve's panicReason / throwReason: the panic value or the throw's message.
    pub(super) fn throw_or_panic_reason(&self, goid: u64, panic: bool) -> String {
        let Some(s) = self.s.as_ref() else {
            return String::new();
        };
        let expr = if panic { "(*msgs).arg.(data)" } else { "s" };
        let r = in_frame(s, Some(goid), 0, |loader, locals, package| {
            let scope = Scope {
                loader,
                locals,
                package,
            };
            scope.eval(expr, &DAP_LOAD).map_err(|e| e.to_string())
        });
        match r {
            Ok(v) if v.unreadable.is_empty() => super::vars::value_text(&v),
            _ => {
                let c = s.debuggee().crash();
                let fallback = if panic {
                    c.panics.first().cloned()
                } else {
                    c.fatal.clone()
                };
                fallback.unwrap_or_else(|| "unknown".into())
            }
        }
    }

    pub(super) fn exception_info(&mut self, req: &Request) {
        const F: &str = "Unable to get exception info";
        let a: types::ExceptionInfoArgs = types::parse(&req.arguments).unwrap_or_default();
        let Some(s) = self.s.as_ref() else {
            return self.fail(req, ids::UNABLE_TO_GET_EXCEPTION_INFO, F, NO_TARGET);
        };
        let d = s.debuggee();
        let Some(g) = u64::try_from(a.thread_id)
            .ok()
            .and_then(|id| d.goroutine(id))
        else {
            let e = format!("could not find goroutine {}", a.thread_id);
            return self.fail(req, ids::UNABLE_TO_GET_EXCEPTION_INFO, F, &e);
        };
        let goid = g.goid;
        let (id, description) = if s.debugger().is_none() {
            let crash = d.crash();
            let culprit = crash.goroutine.or(s.current_goroutine());
            if culprit != Some(goid) {
                let e = format!("no exception found for goroutine {goid}");
                return self.fail(req, ids::UNABLE_TO_GET_EXCEPTION_INFO, F, &e);
            }
            convert::cause_of_death(crash)
        } else {
            let stop = s.debugger().map(|d| d.last_stop().clone());
            let on_culprit = stop.as_ref().is_some_and(|st| st.goid == Some(goid));
            let reason = stop.map(|st| st.reason).filter(|_| on_culprit);
            match reason {
                Some(StopReason::Breakpoint(UNRECOVERED_PANIC_ID)) => {
                    ("panic".into(), self.throw_or_panic_reason(goid, true))
                }
                Some(StopReason::Breakpoint(FATAL_THROW_ID)) => (
                    "fatal error".into(),
                    self.throw_or_panic_reason(goid, false),
                ),
                Some(StopReason::Signal(n)) => {
                    ("signal".into(), crate::target::signal_name(n).to_string())
                }
                // A failed execution command, reported on the selected goroutine.
                _ => match &self.exception {
                    None => {
                        let e = "no runtime error found";
                        return self.fail(req, ids::UNABLE_TO_GET_EXCEPTION_INFO, F, e);
                    }
                    Some(e) if s.current_goroutine() == Some(goid) => {
                        ("runtime error".into(), e.clone())
                    }
                    Some(_) => {
                        let e = format!("no exception found for goroutine {goid}");
                        return self.fail(req, ids::UNABLE_TO_GET_EXCEPTION_INFO, F, &e);
                    }
                },
            }
        };
        let depth = if self.args.stack_trace_depth > 0 {
            self.args.stack_trace_depth
        } else {
            DEFAULT_DEPTH
        } as usize;
        let stack = d.goroutine_stack(g, depth);
        let complete = stack.frames.len() < depth && stack.error.is_none();
        let user = s.goroutine_locs(g).user;
        let text = convert::stack_text(
            &stack.frames,
            complete,
            convert::fn_package(&user.function) == "runtime",
        );
        self.ok(
            req,
            json!({"exceptionId": id, "description": description, "breakMode": "unhandled",
                   "details": {"stackTrace": text}}),
        );
    }

    pub(super) fn read_memory(&mut self, req: &Request) {
        const F: &str = "Unable to read memory";
        let a: types::ReadMemoryArgs = match types::parse(&req.arguments) {
            Ok(a) => a,
            Err(e) => return self.fail(req, ids::UNABLE_TO_READ_MEMORY, F, &e),
        };
        if a.count < 0 {
            return self.fail(req, ids::UNABLE_TO_READ_MEMORY, F, "negative count");
        }
        let Some(&(addr, size)) = self.refs.mem.get(&a.memory_reference) else {
            return self.fail(
                req,
                ids::UNABLE_TO_READ_MEMORY,
                F,
                "unknown memoryReference",
            );
        };
        let Some(s) = self.s.as_ref() else {
            return self.fail(req, ids::UNABLE_TO_READ_MEMORY, F, NO_TARGET);
        };
        let end_req = a.offset.saturating_add(a.count);
        let start = a.offset.clamp(0, size);
        let end = end_req.clamp(0, size).min(start.saturating_add(MAX_READ));
        let at = addr.wrapping_add(start as u64);
        let n = (end - start).max(0);
        let mut buf = vec![0u8; n as usize];
        if n > 0 {
            if let Err(e) = s.debuggee().memory().read(Addr(at), &mut buf) {
                return self.fail(req, ids::UNABLE_TO_READ_MEMORY, F, &e.to_string());
            }
        }
        let unreadable = (a.count - n).max(0);
        let mut body = json!({"address": format!("{at:#x}"), "unreadableBytes": unreadable});
        if n > 0 {
            body["data"] = json!(crate::service::rpc2::base64(&buf));
        }
        self.ok(req, body);
    }

    pub(super) fn disassemble(&mut self, req: &Request) {
        const F: &str = "Unable to disassemble";
        let a: types::DisassembleArgs = match types::parse(&req.arguments) {
            Ok(a) => a,
            Err(e) => return self.fail(req, ids::UNABLE_TO_DISASSEMBLE, F, &e),
        };
        let r = a.memory_reference.trim();
        let parsed = match r.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16),
            None => r.parse(),
        };
        let Ok(addr) = parsed else {
            let e = format!("invalid memory reference {r:?}");
            return self.fail(req, ids::UNABLE_TO_DISASSEMBLE, F, &e);
        };
        let addr = addr.wrapping_add(a.offset as u64);
        let count = a.instruction_count.clamp(0, 4096);
        let Some(s) = self.s.as_ref() else {
            return self.fail(req, ids::UNABLE_TO_DISASSEMBLE, F, NO_TARGET);
        };
        let d = s.debuggee();
        let insns = match d.func_at(Addr(addr)) {
            Some(f) if f.end.0 > f.entry.0 && f.end.0 - f.entry.0 <= 1 << 20 => {
                let mut code = vec![0u8; (f.end.0 - f.entry.0) as usize];
                match d.memory().read(f.entry, &mut code) {
                    Ok(()) => crate::repl::disasm::decode(
                        &code,
                        f.entry.0,
                        crate::repl::parse::Flavor::Go,
                        Default::default(),
                    ),
                    Err(e) => return self.fail(req, ids::UNABLE_TO_DISASSEMBLE, F, &e.to_string()),
                }
            }
            _ => Vec::new(),
        };
        // The requested window: instructionOffset relative to the one at addr; slots
        // outside the function are invalid instructions, as Delve pads them.
        let at = insns.iter().position(|i| i.pc == addr);
        let mut out = Vec::new();
        let (mut last_file, mut last_line) = (String::new(), 0u32);
        for k in 0..count {
            let idx = at.map(|p| p as i64 + a.instruction_offset + k);
            match idx
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| insns.get(i))
            {
                Some(ins) => {
                    let hex: String = ins.bytes.iter().map(|b| format!("{b:02x}")).collect();
                    let mut v = json!({"address": format!("{:#x}", ins.pc), "instructionBytes": hex, "instruction": ins.text});
                    if let Some((file, line)) = d.file_line(Addr(ins.pc)) {
                        if file != last_file || line != last_line {
                            v["location"] = json!({"path": file});
                            v["line"] = json!(line);
                            (last_file, last_line) = (file, line);
                        }
                    }
                    out.push(v);
                }
                None => {
                    let before = idx.is_none_or(|i| i < 0);
                    let address = if before {
                        "0x0".to_string()
                    } else {
                        format!("{:#x}", u64::MAX)
                    };
                    out.push(json!({"address": address, "instruction": "invalid instruction"}));
                }
            }
        }
        self.ok(req, json!({ "instructions": out }));
    }
}
