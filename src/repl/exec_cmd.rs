//! Execution commands on a live target (`continue`, `next`, `step`, `stepout`,
//! `step-instruction`, `next-instruction`, `break`, `breakpoints`, `clear`, `clearall`, `toggle`,
//! `condition`, `on`, `trace`, `detach`, `kill`), printed as Delve prints them. A child
//! of the session so it can reuse the session's source listing and display list.

use super::{format, Output, Session};
use crate::exec::breakpoints::{Breakpoint, HitCondition, HitOp};
use crate::exec::locate::Here;
use crate::exec::{Debugger, ExecError, Stop, StopReason};
use crate::target::signal_name;
use std::fmt::Write;

impl Session {
    /// Handle `line` when it is an execution command and the session has a live
    /// target; None otherwise (a core answers these through the parser).
    pub(super) fn exec_command(&mut self, line: &str) -> Option<Output> {
        self.debugger.as_ref()?;
        let line = line.trim();
        let (cmd, rest) = match line.split_once(char::is_whitespace) {
            Some((c, r)) => (c, r.trim()),
            None => (line, ""),
        };
        if let Some(o) = self.reverse_command(cmd, rest) {
            return Some(o);
        }
        let out = match cmd {
            "continue" | "c" => self.run_stop(|d, _| {
                if rest.is_empty() {
                    d.cont()
                } else {
                    // `continue LOC`: a temporary breakpoint.
                    let ids = d.set_breakpoint(None, rest, None, false, None)?;
                    let r = d.cont();
                    for id in ids {
                        let _ = d.clear_breakpoint(&id.to_string());
                    }
                    r
                }
            }),
            "next" | "n" => {
                let n: usize = match rest {
                    "" => 1,
                    s => match s.parse() {
                        Ok(n) if n > 0 => n,
                        _ => return Some(Output::Error(format!("invalid count {s:?}"))),
                    },
                };
                let mut text = String::new();
                self.step_op = "next";
                for _ in 0..n {
                    match self.run_stop(|d, tid| d.next(tid)) {
                        Output::Text(t) => text.push_str(&t),
                        other => return Some(other),
                    }
                    if self.step_interrupted
                        || self.debugger.as_ref().is_some_and(|d| d.exited().is_some())
                    {
                        break;
                    }
                }
                Output::Text(text)
            }
            "step" | "s" => {
                self.step_op = "step";
                self.run_stop(|d, tid| d.step(tid))
            }
            "stepout" | "so" => {
                self.step_op = "stepout";
                self.run_stop(|d, tid| d.stepout(tid))
            }
            "step-instruction" | "si" => {
                self.run_stop_as(Listing::Disassembly, |d, tid| d.step_instruction(tid))
            }
            "next-instruction" | "ni" => {
                self.run_stop_as(Listing::Disassembly, |d, tid| d.next_instruction(tid))
            }
            "call" => self.call_cmd(rest).1,
            "set" => self.set_cmd(rest),
            "break" | "b" => self.break_cmd(rest, false),
            "watch" => self.watch_cmd(rest),
            "trace" | "t" => self.break_cmd(rest, true),
            "breakpoints" | "bp" => self.breakpoints_cmd(),
            "clear" => self.clear_cmd(rest),
            "clearall" => self.clearall_cmd(rest),
            "toggle" => self.toggle_cmd(rest),
            "condition" | "cond" => self.condition_cmd(rest),
            "on" => self.on_cmd(rest),
            "restart" | "r" => self.restart_cmd(rest),
            "dump" => self.dump_cmd(rest),
            "detach" => self.end_cmd(false),
            "kill" => self.end_cmd(true),
            _ => return None,
        };
        Some(out)
    }

    fn dbg(&mut self) -> Result<&mut Debugger, String> {
        self.debugger
            .as_mut()
            .ok_or_else(|| "no live process".to_string())
    }

    fn here(&self) -> Option<Here> {
        let f = self.current_frame_of(self.frame).ok()?;
        Some(Here {
            file: f.file,
            line: f.line,
        })
    }

    /// Run one execution step on the selected thread, then report the stop.
    fn run_stop(
        &mut self,
        f: impl FnOnce(&mut Debugger, u32) -> Result<Stop, ExecError>,
    ) -> Output {
        self.run_stop_as(Listing::Source, f)
    }

    /// [`Self::run_stop`], listing the stop as `listing`.
    pub(super) fn run_stop_as(
        &mut self,
        listing: Listing,
        f: impl FnOnce(&mut Debugger, u32) -> Result<Stop, ExecError>,
    ) -> Output {
        let tid = self.tid;
        let Some(d) = self.debugger.as_mut() else {
            return Output::Error("no live process".into());
        };
        let tid = tid
            .or_else(|| d.target().threads().first().map(|t| t.tid))
            .unwrap_or(0);
        crate::log_at!(Debugger, "resuming process {} from thread {tid}", d.pid());
        let res = f(d, tid);
        match res {
            Ok(stop) => {
                crate::log_at!(
                    Debugger,
                    "stopped: {:?} (thread {:?})",
                    stop.reason,
                    self.debugger
                        .as_ref()
                        .and_then(|d| d.target().crash().thread)
                );
                let o = self.after_stop_as(&stop, listing);
                self.with_when(o)
            }
            // Delve says this one plainly, not as a failed command.
            Err(e @ ExecError::Exited { .. }) => Output::Text(format!("{e}\n")),
            Err(e) => {
                // The process may have moved even when the command failed.
                self.adopt_current();
                Output::Error(e.to_string())
            }
        }
    }

    /// Point the session at the debugger's current stop.
    pub(super) fn adopt_current(&mut self) {
        if let Some(d) = &self.debugger {
            self.target = Box::new(d.target().clone());
        }
    }

    /// Adopt the new stop (selection on the stopping thread and goroutine, frame 0),
    /// then print it as Delve does: tracepoint lines, the stop line, the source, the
    /// breakpoint's printed variables and `on` commands, the display list.
    pub(super) fn after_stop(&mut self, stop: &Stop) -> Output {
        self.after_stop_as(stop, Listing::Source)
    }

    /// [`Self::after_stop`] with the source or, after an instruction step, the
    /// instructions around the PC.
    pub(super) fn after_stop_as(&mut self, stop: &Stop, listing: Listing) -> Output {
        let mut out = String::new();
        for l in &stop.trace {
            let _ = writeln!(out, "{l}");
        }
        let pid = self.debugger.as_ref().map(|d| d.pid()).unwrap_or(0);
        match stop.reason {
            StopReason::Exited(status) => {
                let _ = writeln!(out, "Process {pid} has exited with status {status}");
                return Output::Text(out);
            }
            StopReason::Killed(signo) => {
                let _ = writeln!(
                    out,
                    "Process {pid} has exited with status {} ({})",
                    128 + signo,
                    signal_name(signo)
                );
                return Output::Text(out);
            }
            _ => {}
        }
        self.adopt_current();
        if let Some(t) = stop.tid {
            self.tid = Some(t);
        }
        self.goid = stop.goid.or_else(|| {
            stop.tid
                .and_then(|t| self.target.thread_goroutine(t))
                .map(|g| g.goid)
        });
        self.frame = 0;
        let bp: Option<Breakpoint> = match stop.reason {
            StopReason::Breakpoint(id) | StopReason::Watchpoint(id) => self
                .debugger
                .as_ref()
                .and_then(|d| d.breakpoints.get(id).cloned()),
            _ => None,
        };
        if let StopReason::Signal(s) = stop.reason {
            let _ = writeln!(out, "received signal {}", signal_name(s));
        }
        let out_of_scope = match &stop.reason {
            StopReason::WatchOutOfScope(n) => Some(n.clone()),
            _ => None,
        };
        let f = match self.current_frame_of(0) {
            Ok(f) => f,
            Err(e) => {
                let _ = writeln!(out, "> (no frame: {e})");
                return Output::Text(out);
            }
        };
        let file = format::shorten_path(&f.file, self.cwd());
        let func = if f.function.is_empty() {
            "?".to_string()
        } else {
            self.frame_function(&f, true)
        };
        // Delve warns when the stop is in a function compiled with optimisations.
        let optimized = self.optimized_at(f.pc.0);
        let call_args = match &bp {
            Some(b) if b.load_args => self.args_inline(),
            _ => String::new(),
        };
        let here = StopPlace {
            func: &func,
            args: &call_args,
            file: &file,
            line: f.line,
            pc: f.pc.0,
        };
        out.push_str(&here.line(bp.as_ref(), self.goid.unwrap_or(0)));
        if let Some(n) = &out_of_scope {
            let _ = writeln!(out, "Watchpoint {n} went out of scope and was cleared");
        }
        // As Delve: whenever the stop's function was compiled with optimisations (the
        // runtime is, even under `-gcflags=all=-N -l`, from Go 1.2x on).
        if optimized {
            out.push_str("Warning: debugging optimized function\n");
        }
        if let Some(vals) = &stop.returned {
            out.push_str(&super::call_cmd::returned_block(vals));
        }
        if let Some(b) = &bp {
            for v in &b.variables {
                let text = match self.execute(&format!("print {v}")) {
                    Output::Text(t) => t.trim_end().to_string(),
                    Output::Error(e) => format!("(unreadable {e})"),
                    _ => String::new(),
                };
                let _ = writeln!(out, "\t{v}: {text}");
            }
            if b.load_locals {
                if let Output::Text(t) = self.execute("locals") {
                    for l in t.lines() {
                        let _ = writeln!(out, "\t{l}");
                    }
                }
            }
        }
        self.step_interrupted = stop.interrupted_step;
        if stop.interrupted_step {
            // Delve 1.27 (terminal/command.go, continueUntilCompleteNext): the stop,
            // then its question; with no answer (a script, a pipe) it cancels the
            // step, lists the source and fails with the read's error (`EOF`). coroner
            // has already cancelled the step: on a terminal that is the answer `s`.
            let op = std::mem::take(&mut self.step_op);
            let op = if op.is_empty() { "next" } else { op };
            let _ = writeln!(out, "\tbreakpoint hit during {op}");
            if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                let _ = write!(
                    out,
                    "[c] continue [s] stop here and cancel {op}, [f] finish {op} skipping all breakpoints? "
                );
                self.step_question = true;
            }
        }
        self.step_op = "";
        match listing {
            Listing::Source => out.push_str(&self.source_or_note(&f.file, f.line, true)),
            Listing::Disassembly => out.push_str(&self.instructions_around_pc()),
        }
        if let Some(b) = &bp {
            for c in b.on.clone() {
                match self.execute(&c) {
                    Output::Text(t) => out.push_str(&t),
                    Output::Error(e) => {
                        let _ = writeln!(out, "Command failed: {e}");
                    }
                    _ => {}
                }
            }
        }
        if self.displays.iter().any(|d| !d.0.is_empty()) {
            if let Output::Text(t) = self.execute("display") {
                out.push_str(&t);
            }
        }
        Output::Text(out)
    }

    /// What Delve prints after `step-instruction` and `next-instruction`: five
    /// instructions of the function either side of the PC (`=>`), breakpoints marked
    /// `*` after their address, the `TEXT` header when the window starts at the entry.
    fn instructions_around_pc(&mut self) -> String {
        let text = match self.execute("disassemble") {
            Output::Text(t) => t,
            Output::Error(e) => return format!("(no disassembly: {e})\n"),
            _ => return String::new(),
        };
        let marked: std::collections::HashSet<u64> = self
            .debugger
            .as_ref()
            .map(|d| d.breakpoints.wanted_addrs().iter().map(|a| a.0).collect())
            .unwrap_or_default();
        let mut header = None;
        let mut rows: Vec<Vec<String>> = Vec::new();
        for l in text.lines() {
            if l.starts_with("TEXT ") {
                header = Some(l.to_string());
                continue;
            }
            // Cells are separated by padding tabs and hold none themselves.
            let mut cells: Vec<String> = l
                .split('\t')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
            if cells.first().map(String::as_str) != Some("=>") {
                cells.insert(0, String::new());
            }
            if cells.len() < 5 {
                continue;
            }
            let addr = cells[2]
                .strip_prefix("0x")
                .and_then(|h| u64::from_str_radix(h, 16).ok());
            if addr.is_some_and(|a| marked.contains(&a)) {
                cells[2].push('*');
            }
            rows.push(cells);
        }
        let Some(at) = rows.iter().position(|r| r[0] == "=>") else {
            return text;
        };
        let (start, end) = (at.saturating_sub(5), (at + 6).min(rows.len()));
        let mut out = String::new();
        if let (0, Some(h)) = (start, header) {
            out.push_str(&h);
            out.push('\n');
        }
        out.push_str(&format::tabwrite(&rows[start..end]));
        out
    }

    fn describe_bp(&self, b: &Breakpoint) -> String {
        let addrs: Vec<String> = b.addrs.iter().map(|a| format!("{a:#x}")).collect();
        self.describe_bp_at(b, &addrs.join(","))
    }

    /// Delve names a breakpoint's function without type parameters (`main.Sum`), while
    /// its stop line names the instantiation.
    fn describe_bp_at(&self, b: &Breakpoint, addrs: &str) -> String {
        format!(
            "{addrs} for {}() {}:{}",
            without_type_params(&b.function),
            format::shorten_path(&b.file, self.cwd()),
            b.line
        )
    }

    fn break_cmd(&mut self, args: &str, tracepoint: bool) -> Output {
        crate::log_at!(Debugger, "set breakpoint (tracepoint={tracepoint}): {args}");
        let (spec_part, cond) = match args.split_once(" if ") {
            Some((s, c)) => (s.trim(), Some(c.trim())),
            None => (args.trim(), None),
        };
        let words: Vec<&str> = spec_part.split_whitespace().collect();
        let (name, spec) = match words.as_slice() {
            [] => {
                // `break` alone: the current line.
                (None, String::from("+0"))
            }
            [spec] => (None, spec.to_string()),
            [name, spec] => (Some(name.to_string()), spec.to_string()),
            _ => return Output::Error("too many arguments to break".into()),
        };
        let here = self.here();
        let res = match self.dbg() {
            Ok(d) => d.set_breakpoint(name.as_deref(), &spec, cond, tracepoint, here.as_ref()),
            Err(e) => return Output::Error(e),
        };
        let ids = match res {
            Ok(ids) => ids,
            Err(e) => return Output::Error(e.to_string()),
        };
        let mut out = String::new();
        let kind = if tracepoint {
            "Tracepoint"
        } else {
            "Breakpoint"
        };
        for id in ids {
            let Some(b) = self
                .debugger
                .as_ref()
                .and_then(|d| d.breakpoints.get(id).cloned())
            else {
                continue;
            };
            let _ = writeln!(out, "{kind} {} set at {}", b.label(), self.describe_bp(&b));
        }
        Output::Text(out)
    }

    /// `watch [-r|-w|-rw] EXPR`.
    fn watch_cmd(&mut self, args: &str) -> Output {
        use crate::backend::WatchKind;
        let (kind, expr) = match args.split_once(char::is_whitespace) {
            Some(("-r", e)) => (WatchKind::Read, e.trim()),
            Some(("-w", e)) => (WatchKind::Write, e.trim()),
            Some(("-rw", e)) => (WatchKind::ReadWrite, e.trim()),
            _ => (WatchKind::ReadWrite, args.trim()),
        };
        if expr.is_empty() {
            return Output::Error("not enough arguments: watch [-r|-w|-rw] EXPR".into());
        }
        let tid = self.tid.unwrap_or(0);
        let d = match self.dbg() {
            Ok(d) => d,
            Err(e) => return Output::Error(e),
        };
        let v = match d.eval(tid, expr) {
            Ok(v) => v,
            Err(e) => return Output::Error(e),
        };
        if v.addr == 0 {
            return Output::Error(format!(
                "{expr} has no address: only variables can be watched"
            ));
        }
        let len = d.size_of(&v).unwrap_or(8);
        match d.set_watchpoint(expr, crate::addr::Addr(v.addr), len, kind) {
            Ok(_) => Output::Text(format!("Watchpoint {expr} set at {:#x}\n", v.addr)),
            Err(e) => Output::Error(e.to_string()),
        }
    }

    fn breakpoints_cmd(&mut self) -> Output {
        let Some(d) = self.debugger.as_ref() else {
            return Output::Error("no live process".into());
        };
        let mut out = String::new();
        for b in d.breakpoints.sorted() {
            let state = if b.enabled { "enabled" } else { "disabled" };
            if let Some(w) = &b.watch {
                let _ = writeln!(
                    out,
                    "Watchpoint {} ({state}) at {:#x} ({})",
                    b.name,
                    w.addr.get(),
                    b.total_hits
                );
                continue;
            }
            let kind = if b.tracepoint {
                "Tracepoint"
            } else {
                "Breakpoint"
            };
            if b.enabled {
                let _ = writeln!(
                    out,
                    "{kind} {} ({state}) at {} ({})",
                    b.label(),
                    self.describe_bp(b),
                    b.total_hits
                );
            } else {
                // Delve lists a disabled breakpoint by the location it was set with
                // (api.Breakpoint.ExprString), then its attributes as usual.
                let at = if b.spec.is_empty() {
                    format!(
                        "{}:{}",
                        std::path::Path::new(&b.file)
                            .file_name()
                            .map(|f| f.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        b.line
                    )
                } else {
                    b.spec.clone()
                };
                let _ = writeln!(out, "{kind} {} ({state}) at {at}", b.label());
            }
            // Delve's formatBreakpointAttrs order: cond, hit condition, args, locals,
            // printed variables, then the `on` commands.
            if let Some(c) = &b.cond {
                let _ = writeln!(out, "\tcond {c}");
            }
            if let Some(h) = &b.hitcond {
                let _ = writeln!(
                    out,
                    "\tcond -{}hitcount {} {}",
                    if h.per_goroutine { "per-g-" } else { "" },
                    h.op.as_str(),
                    h.n
                );
            }
            if b.load_args {
                let _ = writeln!(out, "\targs");
            }
            if b.load_locals {
                let _ = writeln!(out, "\tlocals");
            }
            for v in &b.variables {
                let _ = writeln!(out, "\tprint {v}");
            }
            for c in &b.on {
                let _ = writeln!(out, "\t{c}");
            }
        }
        Output::Text(out)
    }

    fn clear_cmd(&mut self, spec: &str) -> Output {
        if spec.is_empty() {
            return Output::Error("not enough arguments".into());
        }
        let res = match self.dbg() {
            Ok(d) => d.clear_breakpoint(spec),
            Err(e) => return Output::Error(e),
        };
        match res {
            Ok(b) => Output::Text(format!(
                "Breakpoint {} cleared at {}\n",
                b.label(),
                self.describe_bp(&b)
            )),
            Err(e) => Output::Error(e.to_string()),
        }
    }

    /// `clearall [LOC]`: every user breakpoint, or those at LOC.
    fn clearall_cmd(&mut self, spec: &str) -> Output {
        let here = self.here();
        let Some(d) = self.debugger.as_mut() else {
            return Output::Error("no live process".into());
        };
        let filter: Option<Vec<crate::addr::Addr>> = if spec.is_empty() {
            None
        } else {
            match crate::exec::locate::resolve(d.target(), spec, here.as_ref()) {
                Ok(r) => Some(r.into_iter().flat_map(|r| r.addrs).collect()),
                Err(e) => return Output::Error(e.to_string()),
            }
        };
        let ids: Vec<i64> = d
            .breakpoints
            .list
            .iter()
            .filter(|b| b.id > 0)
            .filter(|b| {
                filter
                    .as_ref()
                    .is_none_or(|f| b.addrs.iter().any(|a| f.contains(a)))
            })
            .map(|b| b.id)
            .collect();
        let mut cleared = Vec::new();
        for id in ids {
            match d.clear_breakpoint(&id.to_string()) {
                Ok(b) => cleared.push(b),
                Err(e) => return Output::Error(e.to_string()),
            }
        }
        let mut out = String::new();
        for b in cleared {
            let _ = writeln!(
                out,
                "Breakpoint {} cleared at {}",
                b.label(),
                self.describe_bp(&b)
            );
        }
        Output::Text(out)
    }

    fn toggle_cmd(&mut self, spec: &str) -> Output {
        let res = match self.dbg() {
            Ok(d) => d.toggle_breakpoint(spec).cloned(),
            Err(e) => return Output::Error(e),
        };
        match res {
            Ok(b) => Output::Text(format!(
                "Breakpoint {} toggled at {}\n",
                b.label(),
                self.describe_bp(&b)
            )),
            Err(e) => Output::Error(e.to_string()),
        }
    }

    /// `condition BP EXPR`, `condition -hitcount BP OP N`, `condition -per-g-hitcount
    /// BP OP N`, `condition -clear BP`.
    fn condition_cmd(&mut self, args: &str) -> Output {
        let words: Vec<&str> = args.split_whitespace().collect();
        let res = match words.as_slice() {
            ["-clear", bp] => self.dbg().map(|d| d.set_condition(bp, None, None, true)),
            [flag @ ("-hitcount" | "-per-g-hitcount"), bp, op, n] => {
                let (Some(op), Ok(n)) = (HitOp::parse(op), n.parse::<u64>()) else {
                    return Output::Error(format!("invalid hit condition {op} {n}"));
                };
                let hc = HitCondition {
                    op,
                    n,
                    per_goroutine: *flag == "-per-g-hitcount",
                };
                self.dbg()
                    .map(|d| d.set_condition(bp, None, Some(hc), false))
            }
            [bp, _, ..] => {
                let expr = args
                    .trim_start()
                    .strip_prefix(bp)
                    .unwrap_or("")
                    .trim()
                    .to_string();
                self.dbg()
                    .map(|d| d.set_condition(bp, Some(expr), None, false))
            }
            _ => return Output::Error("not enough arguments".into()),
        };
        match res {
            Ok(Ok(())) => Output::Text(String::new()),
            Ok(Err(e)) => Output::Error(e.to_string()),
            Err(e) => Output::Error(e),
        }
    }

    /// `on BP CMD`: run CMD (print, args, locals, stack, goroutine, ...) at each stop.
    fn on_cmd(&mut self, args: &str) -> Output {
        let Some((bp, cmd)) = args.split_once(char::is_whitespace) else {
            return Output::Error("not enough arguments".into());
        };
        let d = match self.dbg() {
            Ok(d) => d,
            Err(e) => return Output::Error(e),
        };
        let Some(id) = d.breakpoints.find_id(bp) else {
            return Output::Error(format!("Breakpoint {bp} does not exist"));
        };
        if let Some(b) = d.breakpoints.get_mut(id) {
            let cmd = cmd.trim();
            match cmd.split_once(char::is_whitespace) {
                Some(("print" | "p", expr)) => b.variables.push(expr.trim().to_string()),
                _ if cmd == "args" => b.load_args = true,
                _ if cmd == "locals" => b.load_locals = true,
                _ => b.on.push(cmd.to_string()),
            }
        }
        Output::Text(String::new())
    }

    /// `restart`: start the program again with every breakpoint kept (hit counts reset).
    /// `restart [-noargs | NEWARGV...]`, as Delve: new arguments replace the old ones
    /// (quoted with '' or ""), `-noargs` clears them, none keeps them.
    fn restart_cmd(&mut self, rest: &str) -> Output {
        let args = match rest.trim() {
            "" => None,
            "-noargs" => Some(Vec::new()),
            r => match split_quoted(r) {
                Ok(a) if a.iter().any(|x| x.starts_with('<') || x.starts_with('>')) => {
                    return Output::Error(
                        "restart: redirects are not supported here: start coroner again with -r"
                            .into(),
                    )
                }
                Ok(a) => Some(a),
                Err(e) => return Output::Error(format!("restart: {e}")),
            },
        };
        let d = match self.dbg() {
            Ok(d) => d,
            Err(e) => return Output::Error(e),
        };
        match d.restart(args.as_deref()) {
            Ok(pid) => {
                self.adopt_current();
                self.tid = self.target.threads().first().map(|t| t.tid);
                self.goid = None;
                self.frame = 0;
                Output::Text(format!("Process restarted with PID {pid}\n"))
            }
            Err(e) => Output::Error(e.to_string()),
        }
    }

    /// `dump FILE`: an ELF core of the process as it is stopped now.
    fn dump_cmd(&mut self, file: &str) -> Output {
        if file.is_empty() {
            return Output::Error("not enough arguments: dump FILE".into());
        }
        let Some(d) = self.debugger.as_ref() else {
            return Output::Error("no live process".into());
        };
        if let Some(status) = d.exited() {
            return Output::Error(format!(
                "Process {} has exited with status {status}: nothing to dump",
                d.pid()
            ));
        }
        let t = d.target().clone();
        let pid = d.pid();
        match crate::exec::dump::write_core(t.snapshot(), pid, std::path::Path::new(file)) {
            Ok(st) => {
                let mut out = format!(
                    "Dumping memory of process {pid} ({} threads, {} mappings, {} MiB) to {file}\n",
                    st.threads,
                    st.segments,
                    st.bytes >> 20
                );
                if st.unreadable > 0 {
                    out.push_str(&format!(
                        "warning: {} bytes could not be read and are zeros in the core\n",
                        st.unreadable
                    ));
                }
                Output::Text(out)
            }
            Err(e) => Output::Error(e.to_string()),
        }
    }

    /// `detach` leaves the process running without us; `kill` ends it.
    fn end_cmd(&mut self, kill: bool) -> Output {
        let d = match self.dbg() {
            Ok(d) => d,
            Err(e) => return Output::Error(e),
        };
        let pid = d.pid();
        match d.detach(kill) {
            Ok(()) if kill => Output::Text(format!("Process {pid} killed\n")),
            Ok(()) => Output::Text(format!("Detached from process {pid}\n")),
            Err(e) => Output::Error(e.to_string()),
        }
    }
}

impl Session {
    /// Frame 0's arguments as Delve's stop line shows them: values only, comma-separated.
    fn args_inline(&mut self) -> String {
        let Output::Text(t) = self.execute("args") else {
            return String::new();
        };
        t.lines()
            .filter(|l| *l != "(no args)" && !l.starts_with("~r"))
            .filter_map(|l| l.split_once(" = ").map(|(_, v)| v.to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `main.Sum[go.shape.int]` -> `main.Sum`.
fn without_type_params(name: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for c in name.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// How a stop shows where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// Where a stop is, for its `> ...` line.
pub(super) struct StopPlace<'a> {
    pub func: &'a str,
    /// The breakpoint's arguments when it loads them (Delve's trace form), else "".
    pub args: &'a str,
    pub file: &'a str,
    pub line: u32,
    pub pc: u64,
}

impl StopPlace<'_> {
    /// Delve's stop line: plain, or naming the breakpoint (or watchpoint) hit there on
    /// goroutine `g` with its hit counts.
    pub(super) fn line(&self, bp: Option<&Breakpoint>, g: u64) -> String {
        let StopPlace {
            func,
            args,
            file,
            line,
            pc,
        } = self;
        let Some(b) = bp else {
            return format!("> {func}() {file}:{line} (PC: {pc:#x})\n");
        };
        let hits = format!(
            "(hits goroutine({g}):{} total:{})",
            b.hits.get(&g).copied().unwrap_or(0),
            b.total_hits
        );
        if b.watch.is_some() {
            return format!(
                "> watchpoint on [{}] {func}() {file}:{line} {hits} (PC: {pc:#x})\n",
                b.name
            );
        }
        let name = if b.name.is_empty() {
            format!("Breakpoint {}", b.id)
        } else {
            b.name.clone()
        };
        format!("> [{name}] {func}({args}) {file}:{line} {hits} (PC: {pc:#x})\n")
    }
}

pub(super) enum Listing {
    Source,
    Disassembly,
}

/// Words of a command line, with '...' and "..." quoting (backslash escapes inside
/// double quotes), as Delve's `restart` splits its new argv.
pub(crate) fn split_quoted(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut it = s.chars();
    while let Some(c) = it.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match it.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return Err("unterminated ' quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match it.next() {
                        Some('"') => break,
                        Some('\\') => match it.next() {
                            Some(x) => cur.push(x),
                            None => return Err("unterminated \" quote".into()),
                        },
                        Some(x) => cur.push(x),
                        None => return Err("unterminated \" quote".into()),
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod split_tests {
    use super::split_quoted;

    #[test]
    fn quotes_group_words_and_escapes_work_in_double_quotes() {
        assert_eq!(
            split_quoted(r#"loop 5 'a b' "c \"d\"" e''f"#).unwrap(),
            vec!["loop", "5", "a b", "c \"d\"", "ef"]
        );
        assert_eq!(split_quoted("").unwrap(), Vec::<String>::new());
        assert_eq!(split_quoted(r#""""#).unwrap(), vec![""]);
        assert!(split_quoted("'open").is_err());
    }
}
