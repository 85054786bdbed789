//! `RPCServer.*` methods, each a translation into what the REPL does for the same
//! terminal command: selection changes and execution go through
//! [`Session::execute`] (the same code path as typing `thread 3` or `continue`), and
//! reads go to the session's debuggee and the variables engine.

use super::convert;
use super::server::Shared;
use super::types as api;
use super::types::*;
use super::util::{base64, filter_matches, group, rfc3339};
use crate::addr::Addr;
use crate::exec::StopReason;
use crate::repl::{Output, Session};
use regex::Regex;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::sync::Arc;

/// Delve's own release these answers imitate (GetVersion; clients only print it).
const DELVE_VERSION: &str = "1.27.1";
/// The largest ExamineMemory read, as Delve's client chunks it.
const MAX_EXAMINE_BYTES: i64 = 1 << 16;
/// The largest Disassemble range.
const MAX_DISASSEMBLE_BYTES: u64 = 1 << 20;
/// Delve's Stacktrace default when Depth is 0 or less.
const DEFAULT_DEPTH: i64 = 10;
/// Frames per stack we ever unwind for one request (a hostile Depth must not make
/// the server walk a million frames).
const MAX_DEPTH: i64 = 4096;
const CORE_NO_EXEC: &str = "can not continue execution of core process";
/// api.GoroutineWaitingOnChannel.
const CHAN_FILTER: i64 = 8;

/// What the worker does after a call.
pub enum Outcome {
    Reply(Result<Value, String>),
    /// Reply, then end the server (Detach).
    ReplyAndStop(Result<Value, String>),
}

pub struct Methods<'a> {
    s: &'a mut Session,
    shared: Arc<Shared>,
}

type R = Result<Value, String>;

fn input<T: DeserializeOwned + Default>(params: &Value) -> Result<T, String> {
    match params.get(0) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(v) => {
            serde_json::from_value(v.clone()).map_err(|e| format!("malformed request body: {e}"))
        }
    }
}

fn ok<T: serde::Serialize>(v: T) -> R {
    serde_json::to_value(v).map_err(|e| format!("cannot encode the reply: {e}"))
}

/// ADDR of Delve's `*(*"TYPE")(0xADDR)`.
fn chan_var_addr(e: &str) -> Option<u64> {
    let rest = e.trim().strip_prefix("*(*\"")?;
    let (_, tail) = rest.rsplit_once("\")(")?;
    let hex = tail.strip_suffix(')')?.trim();
    u64::from_str_radix(hex.strip_prefix("0x")?, 16).ok()
}

fn regex(filter: &str) -> Result<Regex, String> {
    Regex::new(filter).map_err(|e| format!("invalid filter argument: {e}"))
}

impl<'a> Methods<'a> {
    pub fn new(s: &'a mut Session, shared: Arc<Shared>) -> Methods<'a> {
        Methods { s, shared }
    }

    /// The session, for a DAP client of the same listener.
    pub fn session(&mut self) -> &mut Session {
        self.s
    }

    /// Leave a live target as Delve's server does when it stops: kill what it
    /// launched, detach from what it attached to.
    pub fn release(&mut self) {
        if let Some(msg) = self.s.end_live(true).filter(|m| !m.is_empty()) {
            eprintln!("coroner: {msg}");
        }
    }

    pub fn call(&mut self, method: &str, params: Value) -> Outcome {
        // After the process exited, what would read its state says so, as Delve's
        // server does (the last stop's snapshot is not the state at the exit).
        let reads_state = matches!(
            method,
            "Stacktrace"
                | "Eval"
                | "Set"
                | "ListLocalVars"
                | "ListFunctionArgs"
                | "ListPackageVars"
                | "ListGoroutines"
                | "ListThreads"
                | "GetThread"
                | "ListRegisters"
                | "ExamineMemory"
                | "Disassemble"
        );
        if let Some((pid, status)) = self
            .s
            .debugger()
            .and_then(|d| d.exited().map(|st| (d.pid(), st)))
            .filter(|_| reads_state)
        {
            return Outcome::Reply(Err(format!(
                "Process {pid} has exited with status {status}"
            )));
        }
        let r = match method {
            "Detach" => {
                let r = self.detach(&params);
                return Outcome::ReplyAndStop(r);
            }
            "GetVersion" => self.get_version(),
            "SetApiVersion" => self.set_api_version(&params),
            "IsMulticlient" => ok(json!({"IsMulticlient": self.shared.multiclient})),
            "State" => self.state_checked().map(|st| json!({ "State": st })),
            "Command" => self.command(&params),
            "ListGoroutines" => self.list_goroutines(&params),
            "Stacktrace" => self.stacktrace(&params),
            "Eval" => self.eval(&params),
            "Set" => self.set(&params),
            "ListLocalVars" => self.scoped_vars(&params, false),
            "ListFunctionArgs" => self.scoped_vars(&params, true),
            "ListPackageVars" => self.package_vars(&params),
            "ListThreads" => self.list_threads(),
            "GetThread" => self.get_thread(&params),
            "ListRegisters" => self.list_registers(&params),
            "FindLocation" => self.find_location(&params),
            "CreateBreakpoint" => self.create_breakpoint(&params),
            "ListBreakpoints" => self.list_breakpoints(),
            "CreateWatchpoint" => self.create_watchpoint(&params),
            "GetBreakpoint" => self.get_breakpoint(&params),
            "ClearBreakpoint" => self.clear_breakpoint(&params),
            "ToggleBreakpoint" => self.toggle_breakpoint(&params),
            "AmendBreakpoint" => self.amend_breakpoint(&params),
            "ListSources" => self.list_names(&params, "Sources", |s| s.debuggee().source_files()),
            "ListFunctions" => self.list_names(&params, "Funcs", |s| s.debuggee().function_names()),
            "ListTypes" => self.list_types(&params),
            "ExamineMemory" => self.examine_memory(&params),
            "Disassemble" => self.disassemble(&params),
            "Restart" => self.restart(&params),
            "Recorded" => {
                // Delve answers true on cores too, so its terminal offers rewind
                // there (and reports the error when it is used).
                let rec = self.s.debugger().is_none_or(|d| d.reversible());
                ok(json!({"Recorded": rec, "TraceDirectory": ""}))
            }
            "AttachedToExistingProcess" => ok(json!({"Answer": self
                .s
                .debugger()
                .is_some_and(|d| d.origin() == crate::exec::Origin::Attached)})),
            "ProcessPid" => ok(json!({"Pid": self.s.debugger().map_or(0, |d| d.pid())})),
            "LastModified" => ok(json!({"Time": self.last_modified()})),
            "FollowExecEnabled" => ok(json!({"Enabled": false})),
            "ListDynamicLibraries" => ok(json!({"List": [], "ExecutableTrimpath": false})),
            "GetBufferedTracepoints" => ok(json!({"TracepointResults": []})),
            "CancelNext" => ok(json!({})),
            // Delve's answers on targets that are not recordings: a live process
            // says "not a recording"; a core has no checkpoints and cannot run.
            "ListCheckpoints" | "Checkpoint" | "ClearCheckpoint"
                if self.s.debugger().is_some_and(|d| d.recorded()) =>
            {
                self.checkpoint_method(method, &params)
            }
            "ListCheckpoints" | "Checkpoint" | "ClearCheckpoint" if self.s.debugger().is_some() => {
                Err("not a recording".into())
            }
            "ListCheckpoints" => ok(json!({"Checkpoints": []})),
            "Checkpoint" => Err(CORE_NO_EXEC.into()),
            "ClearCheckpoint" => Err("checkpoint not found".into()),
            other => Err(format!("rpc: can't find method RPCServer.{other}")),
        };
        Outcome::Reply(r)
    }

    // ----- handshake and state -----

    fn get_version(&self) -> R {
        let go = self
            .s
            .target()
            .and_then(|t| t.buildinfo())
            .map(|b| b.go_version.clone())
            .unwrap_or_default();
        ok(json!({
            "DelveVersion": format!("Version: {DELVE_VERSION}\nBuild: coroner {}", env!("CARGO_PKG_VERSION")),
            "APIVersion": 2,
            "Backend": if self.s.debugger().is_some() { "native" } else { "core" },
            "TargetGoVersion": go,
            "MinSupportedVersionOfGo": "1.20.0",
            "MaxSupportedVersionOfGo": "1.25.0",
        }))
    }

    /// The binary's modification time (RFC 3339, UTC): clients warn that a listing
    /// "may not match stale executable" when a source file is newer.
    fn last_modified(&self) -> String {
        let secs = self
            .s
            .target()
            .and_then(|t| std::fs::metadata(&t.binary().path).ok())
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs() as i64);
        rfc3339(secs)
    }

    fn set_api_version(&self, params: &Value) -> R {
        let i: SetApiVersionIn = input(params)?;
        // Delve: versions below 2 mean 1, which this server does not speak.
        if i.api_version != 2 {
            return Err("unknown API version".into());
        }
        ok(json!({}))
    }

    /// The process's exit, in the words Delve's clients match on.
    fn exit_error(&self) -> Option<String> {
        let d = self.s.debugger()?;
        let status = d.exited()?;
        Some(format!(
            "Process {} has exited with status {status}",
            d.pid()
        ))
    }

    fn state_checked(&self) -> Result<DebuggerState, String> {
        match self.exit_error() {
            Some(e) => Err(e),
            None => Ok(self.state()),
        }
    }

    fn state(&self) -> DebuggerState {
        let s = &*self.s;
        let d = s.debuggee();
        let mut st = DebuggerState {
            pid: s.debugger().map_or(0, |x| i64::from(x.pid())),
            threads: Some(d.threads().iter().map(|t| convert::thread(s, t)).collect()),
            ..Default::default()
        };
        if let Some(dbg) = s.debugger() {
            if let Some(code) = dbg.exited() {
                st.exited = true;
                st.exit_status = i64::from(code);
                st.threads = None;
                return st;
            }
            // The thread that hit a breakpoint carries it, so clients print the hit.
            let stop = dbg.last_stop();
            if let StopReason::WatchOutOfScope(name) = &stop.reason {
                st.watch_out_of_scope = Some(vec![api::Breakpoint {
                    name: name.clone(),
                    watch_expr: name.clone(),
                    ..Default::default()
                }]);
            }
            if let (StopReason::Breakpoint(id) | StopReason::Watchpoint(id), Some(tid)) =
                (&stop.reason, stop.tid)
            {
                if let (Some(b), Some(ths)) = (dbg.breakpoints.get(*id), st.threads.as_mut()) {
                    for t in ths.iter_mut().filter(|t| t.id == i64::from(tid)) {
                        t.breakpoint = Some(convert::breakpoint(b));
                        t.breakpoint_info = super::bpinfo::collect(s, b, tid);
                    }
                }
            }
        }
        let tid = s.current_thread();
        st.current_thread = st.threads.as_ref().and_then(|ts| {
            ts.iter()
                .find(|t| Some(t.id) == tid.map(i64::from))
                .cloned()
        });
        st.current_goroutine = s
            .current_goroutine()
            .and_then(|g| d.goroutine(g))
            .map(|g| convert::goroutine_of(s, g));
        st
    }

    /// `Command`: selection changes and execution as the REPL runs them.
    fn command(&mut self, params: &Value) -> R {
        let c: DebuggerCommand = input(params)?;
        let line = match c.name.as_str() {
            "switchThread" => format!("thread {}", c.thread_id),
            "switchGoroutine" => format!("goroutine {}", c.goroutine_id),
            // The interrupt was sent by the connection thread; by the time the worker
            // gets here the target has stopped.
            "halt" => return ok(json!({ "State": self.state() })),
            _ if self.s.debugger().is_none() => return Err(CORE_NO_EXEC.into()),
            "continue" => "continue".into(),
            "next" => "next".into(),
            "step" => "step".into(),
            "stepOut" => "stepout".into(),
            "stepInstruction" => "step-instruction".into(),
            "nextInstruction" => "next-instruction".into(),
            "call" if c.unsafe_call => format!("call -unsafe {}", c.expr),
            "call" => format!("call {}", c.expr),
            "rewind"
            | "reverseNext"
            | "reverseStep"
            | "reverseStepOut"
            | "reverseStepInstruction"
            | "reverseNextInstruction"
                if !self.s.debugger().is_some_and(|d| d.reversible()) =>
            {
                return Err("recording not available".into())
            }
            "rewind" => "rewind".into(),
            "reverseNext" => "rev next".into(),
            "reverseStep" => "rev step".into(),
            "reverseStepOut" => "rev stepout".into(),
            "reverseStepInstruction" => "rev step-instruction".into(),
            "reverseNextInstruction" => "rev next-instruction".into(),
            other => return Err(format!("unsupported command {other:?}")),
        };
        if let Some(e) = self.exit_error() {
            return Err(e);
        }
        match self.s.execute(&line) {
            Output::Error(e) => Err(e),
            _ => {
                let mut st = self.state();
                // rr's event number, which Delve's client prints under the stop line.
                if let Some(when) = self.s.debugger_mut().and_then(|d| d.when()) {
                    st.when = when;
                }
                ok(json!({ "State": st }))
            }
        }
    }

    /// rr's checkpoints, as Delve's `Checkpoint{Where}` → `{ID}`, `ListCheckpoints`
    /// → `{Checkpoints:[{ID,When,Where}]}` and `ClearCheckpoint{ID}`.
    fn checkpoint_method(&mut self, name: &str, params: &Value) -> R {
        let arg = |k: &str| {
            params
                .as_array()
                .and_then(|a| a.first())
                .and_then(|o| o.get(k))
                .cloned()
        };
        let d = self.s.debugger_mut().ok_or("not a recording")?;
        match name {
            "Checkpoint" => {
                let w = arg("Where")
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let id = d.checkpoint(&w).map_err(|e| e.to_string())?;
                ok(json!({ "ID": id }))
            }
            "ClearCheckpoint" => {
                let id = arg("ID")
                    .and_then(|v| v.as_u64())
                    .ok_or("ClearCheckpoint needs an ID")?;
                d.clear_checkpoint(id).map_err(|e| e.to_string())?;
                ok(json!({}))
            }
            _ => {
                let cps = d.checkpoints().map_err(|e| e.to_string())?;
                let list: Vec<Value> = cps
                    .iter()
                    .map(|c| json!({"ID": c.id, "When": c.when, "Where": c.where_}))
                    .collect();
                ok(json!({ "Checkpoints": list }))
            }
        }
    }

    /// `Restart` of a live target: the REPL's `restart` (relaunch with the same
    /// arguments, breakpoints kept). Delve refuses cores the same way.
    fn restart(&mut self, params: &Value) -> R {
        if self.s.debugger().is_none() {
            return Err("can not restart core process".into());
        }
        // A recording restarts at `Position` (a checkpoint `cN` or an event number).
        let pos = params
            .as_array()
            .and_then(|a| a.first())
            .and_then(|o| o.get("Position"))
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty() && self.s.debugger().is_some_and(|d| d.recorded()));
        let field = |k: &str| {
            params
                .as_array()
                .and_then(|a| a.first())
                .and_then(|o| o.get(k))
        };
        let reset = field("ResetArgs").and_then(Value::as_bool).unwrap_or(false);
        let line = match pos {
            Some(p) if p.chars().all(|c| c.is_ascii_alphanumeric()) => format!("restart {p}"),
            Some(p) => return Err(format!("restart: bad position {p:?}")),
            // Delve: ResetArgs replaces the arguments with NewArgs (none: -noargs).
            None if reset => {
                let new: Vec<String> = field("NewArgs")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                if new.is_empty() {
                    "restart -noargs".into()
                } else {
                    let quoted: Vec<String> = new
                        .iter()
                        .map(|a| format!("\"{}\"", a.replace('\\', "\\\\").replace('"', "\\\"")))
                        .collect();
                    format!("restart {}", quoted.join(" "))
                }
            }
            None => "restart".into(),
        };
        match self.s.execute(&line) {
            Output::Error(e) => Err(e),
            _ => ok(json!({ "DiscardedBreakpoints": [] })),
        }
    }

    fn detach(&mut self, params: &Value) -> R {
        let i: DetachIn = input(params)?;
        if let Some(d) = self.s.debugger() {
            // Delve kills what it launched whatever the client asks.
            let kill = i.kill || d.origin() == crate::exec::Origin::Launched;
            if let Some(msg) = self.s.end_live(kill).filter(|m| !m.is_empty()) {
                return Err(msg);
            }
        }
        ok(json!({}))
    }

    // ----- goroutines, threads, stacks -----

    fn list_goroutines(&self, params: &Value) -> R {
        let i: ListGoroutinesIn = input(params)?;
        let s = &*self.s;
        let d = s.debuggee();
        let all = d.goroutines();
        let start = usize::try_from(i.start.max(0)).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        let mut next = -1i64;
        let filters = i.filters.clone().unwrap_or_default();
        let chan = match filters.iter().find(|f| f.kind == CHAN_FILTER) {
            Some(f) => Some(self.chan_waiters(f, &i)?),
            None => None,
        };
        let keep = |f: &GoroutineFilter, ag: &api::Goroutine, g: &crate::goruntime::Goroutine| {
            if f.kind == CHAN_FILTER {
                chan.as_ref().is_some_and(|c| c.contains(&g.addr.0))
            } else {
                filter_matches(f, ag, g)
            }
        };
        let mut system = Vec::new();
        for (idx, g) in all.iter().enumerate().skip(start) {
            if i.count > 0 && out.len() as i64 >= i.count {
                next = idx as i64;
                break;
            }
            let ag = convert::goroutine_of(s, g);
            if filters.iter().all(|f| keep(f, &ag, g)) {
                out.push(ag);
                system.push(g.system);
            }
        }
        let mut groups = Vec::new();
        let mut too_many = false;
        if i.group_by != 0 {
            (out, groups, too_many) = group(out, &system, &i);
            next = -1;
        }
        ok(json!({
            "Goroutines": out,
            "Nextg": next,
            "Groups": groups,
            "TooManyGroups": too_many,
        }))
    }

    /// Delve's channel filter (`print` of a chan value asks for it): the goroutines
    /// parked in that channel's queues, found as the REPL's `print` finds them.
    fn chan_waiters(
        &self,
        f: &GoroutineFilter,
        i: &ListGoroutinesIn,
    ) -> Result<std::collections::HashSet<u64>, String> {
        if f.negated {
            return Err("channel filter can not be negated".into());
        }
        if i.count == 0 {
            return Err("count == 0 not allowed with a channel filter".into());
        }
        let scope = i
            .eval_scope
            .as_ref()
            .ok_or("channel filter without eval scope")?;
        let goid = self.scope_goroutine(scope.goroutine_id)?;
        let frame = usize::try_from(scope.frame.clamp(0, MAX_DEPTH)).unwrap_or(0);
        let t = self.s.target().ok_or("this target has no goroutines")?;
        // Delve's client names the channel variable `*(*"TYPE")(0xADDR)`, a cast the
        // expression engine does not parse: read the hchan pointer at ADDR directly.
        let hchan = match chan_var_addr(&f.arg) {
            Some(a) => {
                t.memory()
                    .read_ptr(Addr(a))
                    .map_err(|e| format!("cannot read the channel at {a:#x}: {e}"))?
                    .0
            }
            None => {
                let cfg = crate::vars::LoadConfig::LONG;
                super::vars::eval(self.s, goid, frame, &f.arg, &cfg)?.base
            }
        };
        let waits = crate::goruntime::waits::Waits::read(t);
        Ok(t.goroutines()
            .iter()
            .filter(|g| {
                waits
                    .chan_waits
                    .get(&g.addr)
                    .is_some_and(|ws| ws.iter().any(|w| w.chan.0 == hchan))
            })
            .map(|g| g.addr.0)
            .collect())
    }

    fn list_threads(&self) -> R {
        let s = &*self.s;
        let ts: Vec<_> = s
            .debuggee()
            .threads()
            .iter()
            .map(|t| convert::thread(s, t))
            .collect();
        ok(json!({ "Threads": ts }))
    }

    fn get_thread(&self, params: &Value) -> R {
        let i: GetThreadIn = input(params)?;
        let s = &*self.s;
        let t = s
            .debuggee()
            .threads()
            .iter()
            .find(|t| i64::from(t.tid) == i.id)
            .ok_or_else(|| format!("no thread with ID {}", i.id))?;
        ok(json!({ "Thread": convert::thread(s, t) }))
    }

    /// The goroutine a scope names: -1 (and 0) the selected one.
    fn scope_goroutine(&self, goid: i64) -> Result<Option<u64>, String> {
        if goid <= 0 {
            return Ok(self.s.current_goroutine());
        }
        let g = goid as u64;
        match self.s.debuggee().goroutine(g) {
            Some(_) => Ok(Some(g)),
            None => Err(format!("unknown goroutine {goid}")),
        }
    }

    fn stack(&self, goid: i64, depth: usize) -> Result<crate::unwind::Stack, String> {
        let d = self.s.debuggee();
        match self.scope_goroutine(goid)?.and_then(|g| d.goroutine(g)) {
            Some(g) => Ok(d.goroutine_stack(g, depth)),
            None => {
                // No goroutine on the selected thread: its own stack, as the REPL does.
                let t = self
                    .s
                    .current_thread()
                    .and_then(|tid| d.threads().iter().find(|t| t.tid == tid))
                    .ok_or_else(|| "no goroutine and no thread selected".to_string())?;
                Ok(d.thread_stack(t, depth))
            }
        }
    }

    fn frames(&self, goid: i64, depth: usize) -> Result<Vec<crate::unwind::Frame>, String> {
        Ok(self.stack(goid, depth)?.frames)
    }

    fn stacktrace(&self, params: &Value) -> R {
        let i: StacktraceIn = input(params)?;
        let depth = if i.depth <= 0 {
            DEFAULT_DEPTH
        } else {
            i.depth.min(MAX_DEPTH)
        };
        let skip = usize::try_from(i.skip.clamp(0, MAX_DEPTH)).unwrap_or(0);
        // Delve returns Depth+1 frames (frame 0 through frame Depth).
        let want = skip + depth as usize + 1;
        // One frame more than is sent tells whether the last one sent is the bottom:
        // clients print "(truncated)" unless it is.
        let stack = self.stack(i.id, want + 1)?;
        let complete = stack.frames.len() <= want && stack.error.is_none();
        let mut frames = stack.frames;
        frames.truncate(want);
        let d = self.s.debuggee();
        let cfg = i.cfg.map(|c| convert::load_config(&c));
        let mut out = Vec::new();
        for (n, f) in frames.iter().enumerate().skip(skip) {
            let mut sf = convert::frame(d, f);
            if i.full {
                let c = cfg.unwrap_or(crate::vars::LoadConfig::SHORT);
                match super::vars::frame_values(self.s, f, n, &c) {
                    Ok((args, locals)) => {
                        sf.arguments = Some(args);
                        sf.locals = Some(locals);
                    }
                    Err(e) => sf.err = e,
                }
            }
            sf.bottom = complete && n + 1 == frames.len();
            out.push(sf);
        }
        ok(json!({ "Locations": out }))
    }

    fn list_registers(&mut self, params: &Value) -> R {
        let i: ListRegistersIn = input(params)?;
        if let Some(sc) = i.scope.filter(|sc| sc.frame > 0 || sc.goroutine_id > 0) {
            // An outer frame or another goroutine: what the REPL's `regs` knows there
            // (the registers the unwinder recovered), split into Delve's rows.
            let mut line = format!("frame {} regs", sc.frame.max(0));
            if sc.goroutine_id > 0 {
                line = format!("goroutine {} {line}", sc.goroutine_id);
            }
            let text = match self.s.execute(&line) {
                Output::Text(t) => t,
                Output::Error(e) => return Err(e),
                other => other.render(),
            };
            return ok(json!({ "Registers": text, "Regs": register_rows(&text) }));
        }
        let d = self.s.debuggee();
        let tid = if i.thread_id > 0 {
            Some(i.thread_id as u32)
        } else {
            self.s.current_thread()
        };
        let t = d
            .threads()
            .iter()
            .find(|t| Some(t.tid) == tid)
            .ok_or_else(|| "no thread selected".to_string())?;
        // The REPL's own rendering, split back into Delve's (name, value) rows.
        let text = crate::repl::format::thread_regs_text(t, false);
        ok(json!({ "Registers": text, "Regs": register_rows(&text) }))
    }

    // ----- variables -----

    fn eval(&self, params: &Value) -> R {
        let i: EvalIn = input(params)?;
        let goid = self.scope_goroutine(i.scope.goroutine_id)?;
        let frame = usize::try_from(i.scope.frame.clamp(0, MAX_DEPTH)).unwrap_or(0);
        let cfg = i
            .cfg
            .map(|c| convert::load_config(&c))
            .unwrap_or(crate::vars::LoadConfig::LONG);
        let v = super::vars::eval(self.s, goid, frame, &i.expr, &cfg)?;
        ok(json!({ "Variable": v }))
    }

    /// `Set{Scope, Symbol, Value}`: assign to a variable, as the `set` command.
    fn set(&mut self, params: &Value) -> R {
        let i: SetIn = input(params)?;
        let goid = self.scope_goroutine(i.scope.goroutine_id)?;
        let frame = usize::try_from(i.scope.frame.clamp(0, MAX_DEPTH)).unwrap_or(0);
        self.s.set_in(goid, frame, &i.symbol, &i.value)?;
        ok(json!({}))
    }

    fn scoped_vars(&self, params: &Value, args: bool) -> R {
        let i: ScopedVarsIn = input(params)?;
        let frame = usize::try_from(i.scope.frame.clamp(0, MAX_DEPTH)).unwrap_or(0);
        let frames = self.frames(i.scope.goroutine_id, frame + 1)?;
        let f = frames
            .get(frame)
            .ok_or_else(|| format!("Invalid frame {frame}"))?;
        let (a, l) = super::vars::frame_values(self.s, f, frame, &convert::load_config(&i.cfg))?;
        if args {
            ok(json!({ "Args": a }))
        } else {
            ok(json!({ "Variables": l }))
        }
    }

    fn package_vars(&self, params: &Value) -> R {
        let i: FilterIn = input(params)?;
        let re = regex(&i.filter)?;
        let vs = super::vars::package_vars(self.s, &re, &convert::load_config(&i.cfg))?;
        ok(json!({ "Variables": vs }))
    }

    // ----- locations and breakpoints -----

    fn here(&self) -> Option<crate::exec::locate::Here> {
        let frames = self.frames(-1, self.s.current_frame() + 1).ok()?;
        let f = frames.get(self.s.current_frame())?;
        Some(crate::exec::locate::Here {
            file: f.file.clone(),
            line: f.line,
        })
    }

    fn find_location(&self, params: &Value) -> R {
        let i: FindLocationIn = input(params)?;
        let t = self
            .s
            .target()
            .ok_or_else(|| "no target to resolve locations in".to_string())?;
        let here = self.here();
        let found =
            crate::exec::locate::resolve(t, &i.loc, here.as_ref()).map_err(|e| e.to_string())?;
        let d = self.s.debuggee();
        let locs: Vec<api::Location> = found
            .iter()
            .map(|r| {
                let pc = r.addrs.first().map_or(0, |a| a.0);
                api::Location {
                    pc,
                    file: r.file.clone(),
                    line: i64::from(r.line),
                    function: convert::function_at(d, pc, &r.function),
                    pcs: r.addrs.iter().map(|a| a.0).collect(),
                    pcpids: Vec::new(),
                }
            })
            .collect();
        ok(json!({ "Locations": locs, "SubstituteLocExpr": "" }))
    }

    fn create_breakpoint(&mut self, params: &Value) -> R {
        let i: CreateBreakpointIn = input(params)?;
        let b = &i.breakpoint;
        // The client resolved the location with FindLocation already; the address is
        // the most exact spec, the expression the fallback for scripts.
        let spec = if b.addrs.len() > 1 && !i.loc_expr.is_empty() {
            // One location at several addresses (every instantiation of a generic
            // function): the expression gives the engine the same one breakpoint.
            i.loc_expr.clone()
        } else if b.addr != 0 {
            format!("*{:#x}", b.addr)
        } else if !i.loc_expr.is_empty() {
            i.loc_expr.clone()
        } else if !b.file.is_empty() && b.line > 0 {
            format!("{}:{}", b.file, b.line)
        } else if !b.function_name.is_empty() {
            b.function_name.clone()
        } else {
            return Err("no location given for the breakpoint".into());
        };
        let here = self.here();
        let d = self
            .s
            .debugger_mut()
            .ok_or_else(|| "can not set breakpoints on a core process".to_string())?;
        let name = (!b.name.is_empty()).then_some(b.name.as_str());
        let cond = (!b.cond.is_empty()).then_some(b.cond.as_str());
        let ids = d
            .set_breakpoint(name, &spec, cond, b.tracepoint, here.as_ref())
            .map_err(|e| e.to_string())?;
        if !i.loc_expr.is_empty() {
            // What the client typed, not the address it resolved it to (Delve's
            // ExprString, shown for a disabled breakpoint).
            for id in &ids {
                if let Some(bp) = d.breakpoints.get_mut(*id) {
                    bp.spec = i.loc_expr.clone();
                }
            }
        }
        let first = ids
            .first()
            .and_then(|id| d.breakpoints.get(*id))
            .ok_or_else(|| "no breakpoint was created".to_string())?;
        ok(json!({ "Breakpoint": convert::breakpoint(first) }))
    }

    /// CreateWatchpoint{Scope, Expr, Type}: the REPL's own `watch` (Type is Delve's
    /// WatchType bits: 1 read, 2 write).
    fn create_watchpoint(&mut self, params: &Value) -> R {
        let i: CreateWatchpointIn = input(params)?;
        let flag = match i.ty {
            1 => "-r",
            2 => "-w",
            3 => "-rw",
            t => return Err(format!("invalid watchpoint type {t}")),
        };
        if self.s.debugger().is_none() {
            return Err("can not set breakpoints on a core process".into());
        }
        if let Output::Error(e) = self.s.execute(&format!("watch {flag} {}", i.expr)) {
            return Err(e);
        }
        let b = self
            .s
            .debugger()
            .and_then(|d| {
                d.breakpoints
                    .sorted()
                    .into_iter()
                    .rev()
                    .find(|b| b.watch.is_some())
            })
            .ok_or_else(|| "no watchpoint was created".to_string())?;
        ok(json!({ "Breakpoint": convert::breakpoint(b) }))
    }

    fn list_breakpoints(&self) -> R {
        let bps: Vec<api::Breakpoint> = self
            .s
            .debugger()
            .map(|d| {
                d.breakpoints
                    .sorted()
                    .into_iter()
                    .map(convert::breakpoint)
                    .collect()
            })
            .unwrap_or_default();
        ok(json!({ "Breakpoints": bps }))
    }

    fn breakpoint_spec(i: &BreakpointRefIn) -> String {
        if i.name.is_empty() {
            i.id.to_string()
        } else {
            i.name.clone()
        }
    }

    fn get_breakpoint(&self, params: &Value) -> R {
        let i: BreakpointRefIn = input(params)?;
        let spec = Self::breakpoint_spec(&i);
        let b = self
            .s
            .debugger()
            .and_then(|d| d.breakpoints.find(&spec))
            .ok_or_else(|| format!("no breakpoint with id {spec}"))?;
        ok(json!({ "Breakpoint": convert::breakpoint(b) }))
    }

    fn clear_breakpoint(&mut self, params: &Value) -> R {
        let i: BreakpointRefIn = input(params)?;
        let spec = Self::breakpoint_spec(&i);
        let d = self
            .s
            .debugger_mut()
            .ok_or_else(|| format!("Breakpoint {spec} does not exist"))?;
        let b = d.clear_breakpoint(&spec).map_err(|e| e.to_string())?;
        ok(json!({ "Breakpoint": convert::breakpoint(&b) }))
    }

    fn toggle_breakpoint(&mut self, params: &Value) -> R {
        let i: BreakpointRefIn = input(params)?;
        let spec = Self::breakpoint_spec(&i);
        let d = self
            .s
            .debugger_mut()
            .ok_or_else(|| format!("Breakpoint {spec} does not exist"))?;
        let b = d.toggle_breakpoint(&spec).map_err(|e| e.to_string())?;
        ok(json!({ "Breakpoint": convert::breakpoint(b) }))
    }

    /// AmendBreakpoint: the condition and hit condition, the fields the terminal's
    /// `condition` command edits.
    fn amend_breakpoint(&mut self, params: &Value) -> R {
        let i: AmendBreakpointIn = input(params)?;
        let b = &i.breakpoint;
        let spec = b.id.to_string();
        let hit = if b.hit_cond.trim().is_empty() {
            None
        } else {
            let (op, n) = b
                .hit_cond
                .trim()
                .split_once(' ')
                .ok_or_else(|| format!("invalid hit condition {:?}", b.hit_cond))?;
            Some(crate::exec::breakpoints::HitCondition {
                op: crate::exec::breakpoints::HitOp::parse(op)
                    .ok_or_else(|| format!("invalid operator {op:?}"))?,
                n: n.trim()
                    .parse()
                    .map_err(|_| format!("invalid hit count {n:?}"))?,
                per_goroutine: b.hit_cond_per_g,
            })
        };
        let d = self
            .s
            .debugger_mut()
            .ok_or_else(|| format!("Breakpoint {spec} does not exist"))?;
        let cond = (!b.cond.is_empty()).then(|| b.cond.clone());
        d.set_condition(&spec, cond, hit, true)
            .map_err(|e| e.to_string())?;
        if let Some(bp) = d
            .breakpoints
            .find_id(&spec)
            .and_then(|id| d.breakpoints.get_mut(id))
        {
            super::bpinfo::amend(bp, b);
        }
        ok(json!({}))
    }

    // ----- symbols, memory, code -----

    fn list_names(&self, params: &Value, key: &str, names: impl Fn(&Session) -> Vec<String>) -> R {
        let i: FilterIn = input(params)?;
        let re = regex(&i.filter)?;
        let mut v: Vec<String> = names(self.s)
            .into_iter()
            .filter(|n| re.is_match(n))
            .collect();
        v.sort();
        v.dedup();
        ok(json!({ key: v }))
    }

    fn list_types(&self, params: &Value) -> R {
        let i: FilterIn = input(params)?;
        let re = regex(&i.filter)?;
        let mut v: Vec<String> = self
            .s
            .debuggee()
            .type_names()?
            .into_iter()
            .filter(|n| re.is_match(n))
            .collect();
        v.sort();
        ok(json!({ "Types": v }))
    }

    fn examine_memory(&self, params: &Value) -> R {
        let i: ExamineMemoryIn = input(params)?;
        if i.length <= 0 || i.length > MAX_EXAMINE_BYTES {
            return Err(format!(
                "len must be between 1 and {MAX_EXAMINE_BYTES}, not {}",
                i.length
            ));
        }
        let mut buf = vec![0u8; i.length as usize];
        self.s
            .debuggee()
            .memory()
            .read(Addr(i.address), &mut buf)
            .map_err(|e| e.to_string())?;
        ok(json!({ "Mem": base64(&buf), "IsLittleEndian": true }))
    }

    fn disassemble(&self, params: &Value) -> R {
        use crate::repl::parse::Flavor;
        let i: DisassembleIn = input(params)?;
        let d = self.s.debuggee();
        let (start, end) = if i.end_pc == 0 {
            let f = d
                .func_at(Addr(i.start_pc))
                .ok_or_else(|| format!("no function at {:#x}", i.start_pc))?;
            (f.entry.0, f.end.0)
        } else {
            (i.start_pc, i.end_pc)
        };
        let len = end.saturating_sub(start);
        if len == 0 || len > MAX_DISASSEMBLE_BYTES {
            return Err(format!("cannot disassemble {len:#x} bytes"));
        }
        let mut code = vec![0u8; len as usize];
        d.memory()
            .read(Addr(start), &mut code)
            .map_err(|e| format!("cannot read code at {start:#x}: {e}"))?;
        let flavor = match i.flavour {
            0 => Flavor::Gnu,
            2 => Flavor::Go,
            _ => Flavor::Intel,
        };
        let names = d.operand_names(&code, start);
        let pc = self
            .s
            .current_thread()
            .and_then(|tid| d.threads().iter().find(|t| t.tid == tid))
            .map(|t| t.pc());
        let insns: Vec<api::AsmInstruction> =
            crate::repl::disasm::decode(&code, start, flavor, names)
                .into_iter()
                .map(|x| api::AsmInstruction {
                    loc: convert::location_at(d, x.pc),
                    dest_loc: None,
                    text: x.text,
                    bytes: base64(&x.bytes),
                    breakpoint: false,
                    at_pc: Some(x.pc) == pc,
                })
                .collect();
        ok(json!({ "Disassemble": insns }))
    }
}

/// The REPL's `regs` text as Delve's (name, value) rows.
fn register_rows(text: &str) -> Vec<api::Register> {
    text.lines()
        .filter_map(|line| line.split_once(" = "))
        .map(|(n, v)| api::Register {
            name: n.trim().to_string(),
            value: v.trim().to_string(),
            dwarf_number: 0,
        })
        .collect()
}
