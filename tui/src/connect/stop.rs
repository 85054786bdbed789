//! What a stop prints, as Delve's terminal prints it (`printcontext`,
//! `printcontextThread`, `printBreakpointInfo`, `printPos`, then the display list):
//! the stop line of every thread that hit a breakpoint, the selected goroutine's
//! thread last, the values a `stepout` returned, what `on BP ...` asked for, and the
//! source (or, after an instruction step, the disassembly) around the stop.

use super::wire::{self, Scope};
use super::{no_such, Term};
use coroner::repl::format::source_listing;
use coroner::vars::format;
use serde_json::{json, Value};

/// Delve's `Function.Name()` of an absent function.
const NO_FUNCTION: &str = "?";

/// How the position after a stop is shown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pos {
    Source,
    /// After `step-instruction`/`next-instruction`: the disassembly around the PC.
    Instruction,
}

impl Term {
    /// An execution command (`continue [LOC]`, `next [N]`, `step`, `stepout`, the
    /// instruction steps, the reverse forms), then the stop.
    pub(super) fn resume(&mut self, name: &str, rest: &str) -> Result<String, String> {
        let instruction = matches!(
            name,
            "stepInstruction"
                | "nextInstruction"
                | "reverseStepInstruction"
                | "reverseNextInstruction"
        );
        let stepping = matches!(name, "next" | "step" | "stepOut" | "reverseNext")
            || matches!(name, "reverseStep" | "reverseStepOut")
            || instruction;
        if stepping && self.frame != 0 {
            return Err("not on topmost frame".into());
        }
        let mut out = String::new();
        let mut temporary = Vec::new();
        let mut count = 1;
        match name {
            "continue" if !rest.is_empty() => {
                // `continue LOC`: a breakpoint there for this one run, as Delve.
                match self.create_breakpoints(rest, false) {
                    Ok((text, ids)) => {
                        out.push_str(&text);
                        temporary = ids;
                    }
                    Err(e) if e.contains("Breakpoint exists") => {}
                    Err(e) => return Err(e),
                }
            }
            "next" | "reverseNext" if !rest.is_empty() => {
                count = rest
                    .parse::<i64>()
                    .map_err(|_| format!("strconv.ParseInt: parsing {rest:?}: invalid syntax"))?;
                if count <= 0 {
                    return Err("Invalid next count".into());
                }
            }
            _ => {}
        }
        self.frame = 0;
        let r = self.run_command(name, count, instruction, &mut out);
        for id in temporary {
            if self.c.call("ClearBreakpoint", json!({"Id": id})).is_err() {
                out.push_str(&format!("failed to clear temporary breakpoint: {id}"));
            }
        }
        match r {
            Ok(()) => Ok(out),
            Err(e) => {
                // What was printed before the failure stays, then the error (Delve
                // prints both, in this order).
                self.before_error = out;
                Err(e)
            }
        }
    }

    fn run_command(
        &mut self,
        name: &str,
        count: i64,
        instruction: bool,
        out: &mut String,
    ) -> Result<(), String> {
        let cfg = wire::full_cfg(&self.config);
        for left in (1..=count).rev() {
            let r = self.c.call(
                "Command",
                json!({"name": name, "ReturnInfoLoadConfig": cfg}),
            );
            let st = match r {
                Ok(r) => r["State"].clone(),
                Err(e) => {
                    self.context_no_state(out);
                    return Err(e);
                }
            };
            if st["exited"].as_bool() == Some(true) {
                let pid = match st["Pid"].as_i64() {
                    Some(p) if p != 0 => p.to_string(),
                    _ => self.c.call("ProcessPid", json!({}))?["Pid"].to_string(),
                };
                return Err(format!(
                    "Process {pid} has exited with status {}",
                    st["exitStatus"]
                ));
            }
            if left == 1 || name == "continue" {
                out.push_str(&self.context(&st));
                let pos = if instruction {
                    Pos::Instruction
                } else {
                    Pos::Source
                };
                out.push_str(&self.position(&st["currentThread"], pos));
                out.push_str(&self.display_all());
            } else {
                out.push_str(&self.display_all());
            }
        }
        Ok(())
    }

    /// `call [-unsafe] EXPR` in the scope's goroutine, then the stop as after a step.
    pub(super) fn call(&mut self, rest: &str, sc: Scope) -> Result<String, String> {
        let (unsafe_call, expr) = match rest.strip_prefix("-unsafe ") {
            Some(e) => (true, e.trim()),
            None => (false, rest),
        };
        if sc.goroutine > 0 {
            self.c.call(
                "Command",
                json!({"name": "switchGoroutine", "goroutineID": sc.goroutine}),
            )?;
        }
        let cfg = wire::full_cfg(&self.config);
        let r = self.c.call(
            "Command",
            json!({"name": "call", "goroutineID": sc.goroutine, "expr": expr,
                "unsafeCall": unsafe_call, "ReturnInfoLoadConfig": cfg}),
        );
        self.frame = 0;
        let mut out = String::new();
        let st = match r {
            Ok(r) => r["State"].clone(),
            Err(e) => {
                self.context_no_state(&mut out);
                self.before_error = out;
                return Err(e);
            }
        };
        if st["exited"].as_bool() == Some(true) {
            return Err(format!(
                "Process {} has exited with status {}",
                st["Pid"], st["exitStatus"]
            ));
        }
        out.push_str(&self.context(&st));
        out.push_str(&self.position(&st["currentThread"], Pos::Source));
        out.push_str(&self.display_all());
        Ok(out)
    }

    /// Delve's printcontextNoState: the current stop, if the server still has one.
    fn context_no_state(&mut self, out: &mut String) {
        if let Ok(st) = self.state() {
            if st["currentThread"].is_object() {
                out.push_str(&self.context(&st));
            }
        }
    }

    /// The stop line and source of a state, as after `restart cN`.
    pub(super) fn stop_text(&mut self, st: &Value) -> String {
        let mut out = self.context(st);
        out.push_str(&self.position(&st["currentThread"], Pos::Source));
        out
    }

    /// Delve's printcontext: other threads at breakpoints, then the selected
    /// goroutine's thread (or its location when it runs on none), rr's event, and
    /// watchpoints that went out of scope.
    pub(super) fn context(&mut self, st: &Value) -> String {
        let mut out = String::new();
        let cur = st["currentThread"]["id"].as_i64();
        let threads = st["Threads"].as_array().cloned().unwrap_or_default();
        for th in &threads {
            if th["id"].as_i64() != cur && th["breakPoint"].is_object() {
                out.push_str(&self.thread_context(th));
            }
        }
        if !st["currentThread"].is_object() {
            out.push_str("No current thread available\n");
            return out;
        }
        let g = &st["currentGoroutine"];
        let th = if g.is_object() {
            let tid = g["threadID"].as_i64();
            match threads.iter().find(|t| t["id"].as_i64() == tid) {
                Some(t) => t.clone(),
                None => {
                    let loc = &g["currentLoc"];
                    out.push_str(&self.location_line(loc));
                    return out;
                }
            }
        } else {
            st["currentThread"].clone()
        };
        if th["file"].as_str().unwrap_or("").is_empty() {
            out.push_str(&format!(
                "Stopped at: {:#x}\nno source available\n",
                st["currentThread"]["pc"].as_u64().unwrap_or(0)
            ));
            return out;
        }
        out.push_str(&self.thread_context(&th));
        if let Some(w) = st["When"].as_str().filter(|w| !w.is_empty()) {
            out.push_str(w);
            out.push('\n');
        }
        for w in st["WatchOutOfScope"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "{} went out of scope and was cleared\n",
                super::bps::bp_name(w, true)
            ));
        }
        out
    }

    /// `> fn() file:line (PC: 0x..)` for a location, with the optimized warning.
    fn location_line(&self, loc: &Value) -> String {
        let mut out = format!(
            "> {}() {}:{} (PC: {:#x})\n",
            func_name(&loc["function"]),
            self.path(loc["file"].as_str().unwrap_or("")),
            loc["line"],
            loc["pc"].as_u64().unwrap_or(0)
        );
        if loc["function"]["optimized"].as_bool() == Some(true) {
            out.push_str("Warning: debugging optimized function\n");
        }
        out
    }

    /// Delve's printcontextThread.
    fn thread_context(&self, th: &Value) -> String {
        let bp = &th["breakPoint"];
        if !bp.is_object() {
            let mut out = self.location_line(th);
            out.push_str(&return_values(th));
            return out;
        }
        let info = &th["breakPointInfo"];
        let mut args = Vec::new();
        if bp["LoadArgs"] == wire::SHORT_CFG() {
            for a in info["arguments"].as_array().into_iter().flatten() {
                let Ok(v) = wire::api_var(a) else { continue };
                if v.flags & wire::FLAG_ARGUMENT != 0 {
                    args.push(format::singleline(&wire::to_var(v)));
                }
            }
        }
        let name = if let Some(w) = bp["WatchExpr"].as_str().filter(|w| !w.is_empty()) {
            format!("watchpoint on [{w}] ")
        } else if let Some(n) = bp["name"].as_str().filter(|n| !n.is_empty()) {
            format!("[{n}] ")
        } else if bp["continue"].as_bool() != Some(true) {
            format!("[Breakpoint {}] ", bp["id"])
        } else {
            String::new()
        };
        let g = th["goroutineID"].to_string();
        let hits = match bp["hitCount"].get(&g) {
            Some(n) => format!("hits goroutine({g}):{n} total:{}", bp["totalHitCount"]),
            None => format!("hits total:{}", bp["totalHitCount"]),
        };
        let mut out = format!(
            "> {name}{}({}) {}:{} ({hits}) (PC: {:#x})\n",
            func_name(&th["function"]),
            args.join(", "),
            self.path(th["file"].as_str().unwrap_or("")),
            th["line"],
            th["pc"].as_u64().unwrap_or(0)
        );
        if th["function"]["optimized"].as_bool() == Some(true) {
            out.push_str("Warning: debugging optimized function\n");
        }
        out.push_str(&return_values(th));
        out.push_str(&self.breakpoint_info(bp, info));
        out
    }

    /// Delve's printBreakpointInfo: what `on BP ...` asked the server to collect.
    fn breakpoint_info(&self, bp: &Value, info: &Value) -> String {
        let mut out = String::new();
        if !info.is_object() || bp["traceReturn"].as_bool() == Some(true) {
            return out;
        }
        if info["goroutine"].is_object() {
            out.push_str(&self.goroutine_long(&info["goroutine"], "\t"));
        }
        for v in wire::vars_of(&info["variables"]).unwrap_or_default() {
            out.push_str(&format!("\t{}: {}\n", v.name, indented(&v, "\t")));
        }
        let long_locals = bp["LoadLocals"] == wire::LONG_CFG();
        for v in wire::vars_of(&info["locals"]).unwrap_or_default() {
            if long_locals {
                out.push_str(&format!("\t{}: {}\n", v.name, indented(&v, "\t")));
            } else {
                out.push_str(&format!("\t{}: {}\n", v.name, format::singleline(&v)));
            }
        }
        if bp["LoadArgs"] == wire::LONG_CFG() {
            for v in wire::vars_of(&info["arguments"]).unwrap_or_default() {
                out.push_str(&format!("\t{}: {}\n", v.name, indented(&v, "\t")));
            }
        }
        if info["stacktrace"].is_array() {
            if let Ok(frames) = wire::frames_of(&info["stacktrace"]) {
                out.push_str("\tStack:\n");
                out.push_str(&coroner::repl::format::stack_text(
                    &frames,
                    "\t\t",
                    self.cwd.as_deref(),
                ));
            }
        }
        out
    }

    /// Delve's printPos: the source around the thread's line, or after an
    /// instruction step the disassembly around its PC.
    fn position(&mut self, th: &Value, pos: Pos) -> String {
        if pos == Pos::Instruction {
            let pc = th["pc"].as_u64().unwrap_or(0);
            return match self.disassembly_around(pc) {
                Ok(t) => t,
                Err(e) => format!("Command failed: {e}\n"),
            };
        }
        let file = th["file"].as_str().unwrap_or("");
        let line = th["line"].as_u64().unwrap_or(0);
        self.source(file, line, true)
    }

    /// Delve's printfile after a stop or a frame change: a file that cannot be read
    /// prints nothing (Delve ignores the error there).
    pub(super) fn source(&self, file: &str, line: u64, arrow: bool) -> String {
        self.listing(file, line, arrow).unwrap_or_default()
    }

    /// Delve's printfile: `count` lines either side of LINE, read here (after
    /// substitute-path) as Delve's client reads them, with its stale-listing warning.
    pub(super) fn listing(&self, file: &str, line: u64, arrow: bool) -> Result<String, String> {
        if file.is_empty() {
            return Ok(String::new());
        }
        let local = self.config.substitute(file);
        let n = self.config.source_list_line_count.unwrap_or(5);
        let text = std::fs::read_to_string(&local)
            .map_err(|e| format!("open {local}: {}", no_such(&e)))?;
        let mut out = String::new();
        let newer = std::fs::metadata(&local)
            .and_then(|m| m.modified())
            .ok()
            .zip(self.binary_mtime)
            .is_some_and(|(src, bin)| src > bin);
        if newer {
            out.push_str("Warning: listing may not match stale executable\n");
        }
        let line = u32::try_from(line).unwrap_or(0);
        out.push_str(&source_listing(&text, line, n, arrow));
        Ok(out)
    }

    /// Every kept display expression, evaluated in the selected goroutine (Delve's
    /// printDisplays after each stop).
    pub(super) fn display_all(&mut self) -> String {
        let mut out = String::new();
        for i in 0..self.displays.len() {
            out.push_str(&self.display_one(i));
        }
        out
    }

    pub(super) fn display_one(&mut self, i: usize) -> String {
        let Some(Some((expr, fmt))) = self.displays.get(i).cloned() else {
            return String::new();
        };
        let sc = Scope {
            goroutine: -1,
            frame: 0,
        };
        let cfg = wire::short_cfg(&self.config);
        match self.eval(&expr, sc, cfg).and_then(|v| wire::var_of(&v)) {
            Ok(v) => {
                let text = if fmt.is_empty() {
                    format::singleline(&v)
                } else {
                    coroner::repl::apply_format(&v, &fmt)
                };
                format!("{i}: {} = {text}\n", v.name)
            }
            Err(e) if e.contains("has exited with status") => String::new(),
            Err(e) => format!("{i}: {expr} = error {e}\n"),
        }
    }
}

/// Delve's printReturnValues.
fn return_values(th: &Value) -> String {
    let Some(vals) = th["ReturnValues"].as_array() else {
        return String::new();
    };
    let mut out = String::from("Values returned:\n");
    for v in vals {
        if let Ok(v) = wire::var_of(v) {
            out.push_str(&format!("\t{}: {}\n", v.name, indented(&v, "\t")));
        }
    }
    out.push('\n');
    out
}

/// Delve's multiLineVar with an indent: the multi-line form, its inner lines
/// shifted by INDENT.
pub(super) fn indented(v: &coroner::vars::Var, indent: &str) -> String {
    format::multiline(v).replace('\n', &format!("\n{indent}"))
}

pub(super) fn func_name(f: &Value) -> &str {
    f["name"].as_str().unwrap_or(NO_FUNCTION)
}
