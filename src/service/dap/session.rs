//! One DAP session: the state between requests (the REPL session over the target,
//! handles, breakpoint bookkeeping), the lifecycle requests (initialize, launch,
//! attach, configurationDone, disconnect) and execution (continue, next, stepIn,
//! stepOut, pause) with the stopped/continued/exited/terminated events.
//!
//! Execution goes through [`Session::execute`] with the REPL's own commands
//! (`goroutine N`, `continue`, `next`, ...), so the stop is adopted exactly as the REPL
//! adopts it; this file only decides which DAP events describe it.

use super::server::{Msg, Out, Shared};
use super::types::{self, LaunchArgs};
use super::vars::Refs;
use super::wire::Request;
use crate::exec::breakpoints::{FATAL_THROW_ID, UNRECOVERED_PANIC_ID};
use crate::exec::{Origin, StopReason};
use crate::repl::{Output, Session};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::Arc;

/// Delve's DAP error ids (service/dap/error_ids.go), which clients may match on.
pub mod ids {
    pub const FAILED_TO_LAUNCH: i64 = 3000;
    pub const FAILED_TO_ATTACH: i64 = 3001;
    pub const FAILED_TO_INITIALIZE: i64 = 3002;
    pub const UNABLE_TO_DISPLAY_THREADS: i64 = 2003;
    pub const UNABLE_TO_PRODUCE_STACK_TRACE: i64 = 2004;
    pub const UNABLE_TO_LIST_LOCALS: i64 = 2005;
    pub const UNABLE_TO_LOOKUP_VARIABLE: i64 = 2008;
    pub const UNABLE_TO_EVALUATE_EXPRESSION: i64 = 2009;
    pub const UNABLE_TO_SET_BREAKPOINTS: i64 = 2002;
    pub const UNABLE_TO_GET_EXCEPTION_INFO: i64 = 2011;
    pub const UNABLE_TO_SET_VARIABLE: i64 = 2012;
    pub const UNABLE_TO_RUN_DLV_COMMAND: i64 = 2013;
    pub const UNABLE_TO_DISASSEMBLE: i64 = 2015;
    pub const UNABLE_TO_READ_MEMORY: i64 = 2017;
    pub const UNSUPPORTED_COMMAND: i64 = 9999;
    pub const NOT_YET_IMPLEMENTED: i64 = 7777;
    pub const INTERNAL_ERROR: i64 = 8888;
}

/// What `launch`/`attach` hands the session: the target, and whatever must live as
/// long as it (a temporary build directory).
pub struct Launched {
    pub session: Session,
    pub guard: Option<Box<dyn std::any::Any>>,
}

/// How targets are started: the binary implements it (it owns `go build`, ptrace
/// launching and core opening), the server calls it on the thread that will own the
/// target. `output(category, text)` sends an output event (build progress).
pub trait Launcher {
    fn launch(
        &mut self,
        args: &LaunchArgs,
        output: &mut dyn FnMut(&str, &str),
    ) -> Result<Launched, String>;
    fn attach(&mut self, pid: u32) -> Result<Launched, String>;
}

/// A log point's message: literal text with `{expr}` holes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogMessage {
    pub parts: Vec<(String, Option<String>)>,
}

/// Delve's parseLogPoint: `{...}` is an expression; braces must pair up.
pub fn parse_log_message(msg: &str) -> Result<Option<LogMessage>, String> {
    if msg.is_empty() {
        return Ok(None);
    }
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut chars = msg.chars();
    while let Some(c) = chars.next() {
        match c {
            '{' => {
                let mut expr = String::new();
                let mut depth = 1;
                for c in chars.by_ref() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    if depth == 0 {
                        break;
                    }
                    expr.push(c);
                }
                if depth != 0 {
                    return Err(format!(
                        "invalid log point format: unbalanced '{{' in {msg:?}"
                    ));
                }
                parts.push((std::mem::take(&mut lit), Some(expr)));
            }
            '}' => {
                return Err(format!(
                    "invalid log point format: unbalanced '}}' in {msg:?}"
                ))
            }
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        parts.push((lit, None));
    }
    Ok(Some(LogMessage { parts }))
}

/// The session a DAP client debugs: none yet (`coroner dap` before launch), its own
/// (launched or attached by this client), or the `--headless` server's, which the
/// client joins with attach mode "remote" and must leave behind for the server.
pub enum Slot<'a> {
    Empty,
    Owned(Box<Session>),
    Joined(&'a mut Session),
}

impl Slot<'_> {
    pub fn as_ref(&self) -> Option<&Session> {
        match self {
            Slot::Empty => None,
            Slot::Owned(s) => Some(s),
            Slot::Joined(s) => Some(s),
        }
    }
    pub fn as_mut(&mut self) -> Option<&mut Session> {
        match self {
            Slot::Empty => None,
            Slot::Owned(s) => Some(s),
            Slot::Joined(s) => Some(s),
        }
    }
    pub fn is_some(&self) -> bool {
        !matches!(self, Slot::Empty)
    }
}

/// How a client of the `--headless` listener left, for the server that lent it the
/// session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    /// Only this client is gone; the target is as it was (multiclient).
    ClientOnly,
    /// The server must end (the client disconnected from a single-client server, or
    /// asked to terminate the debuggee, which is then already released).
    StopServer,
}

pub struct Dap<'a> {
    pub(super) out: Arc<Out>,
    pub(super) shared: Arc<Shared>,
    pub(super) rx: &'a Receiver<Msg>,
    launcher: &'a mut dyn Launcher,
    pub(super) s: Slot<'a>,
    /// Some(multiclient) when the session is the `--headless` server's.
    pub(super) joined: Option<bool>,
    pub(super) leave: Leave,
    _guard: Option<Box<dyn std::any::Any>>,
    pub(super) refs: Refs,
    pub(super) types: bool,
    /// The client takes `invalidated` events (sent after setVariable).
    pub(super) invalidated: bool,
    pub(super) args: LaunchArgs,
    pub(super) is_core: bool,
    /// Breakpoint ids by source path (setBreakpoints replaces a file's set).
    pub(super) source_bps: BTreeMap<String, Vec<i64>>,
    pub(super) function_bps: BTreeSet<i64>,
    pub(super) log_points: BTreeMap<i64, LogMessage>,
    /// The error of the last failed execution command (exceptionInfo "runtime error").
    pub(super) exception: Option<String>,
    pub(super) done: bool,
}

impl<'a> Dap<'a> {
    pub(super) fn new(
        out: Arc<Out>,
        shared: Arc<Shared>,
        rx: &'a Receiver<Msg>,
        launcher: &'a mut dyn Launcher,
        existing: Slot<'a>,
        multiclient: bool,
    ) -> Dap<'a> {
        let joined = matches!(existing, Slot::Joined(_)).then_some(multiclient);
        let is_core = existing.as_ref().is_some_and(|s| s.debugger().is_none());
        Dap {
            joined,
            leave: Leave::StopServer,
            out,
            shared,
            rx,
            launcher,
            s: existing,
            _guard: None,
            refs: Refs::default(),
            types: false,
            invalidated: false,
            args: LaunchArgs::default(),
            is_core,
            source_bps: BTreeMap::new(),
            function_bps: BTreeSet::new(),
            log_points: BTreeMap::new(),
            exception: None,
            done: false,
        }
    }

    pub(super) fn ok(&self, req: &Request, body: Value) {
        self.out.respond(req, body);
    }
    pub(super) fn fail(&self, req: &Request, id: i64, summary: &str, details: &str) {
        self.out.error(req, id, summary, details, false);
    }

    /// Handle one request on the worker.
    pub(super) fn handle(&mut self, req: &Request) {
        let a = &req.arguments;
        match req.command.as_str() {
            "initialize" => self.initialize(req),
            "launch" => self.launch(req),
            "attach" => self.attach(req),
            "configurationDone" => self.configuration_done(req),
            "disconnect" => self.disconnect(req),
            "continue" => self.resume(req, "continue", None),
            "next" | "stepIn" | "stepOut" => {
                let t: types::ThreadArgs = match types::parse(a) {
                    Ok(t) => t,
                    Err(e) => return self.fail(req, ids::INTERNAL_ERROR, "Unable to step", &e),
                };
                let cmd = match (t.granularity.as_str(), req.command.as_str()) {
                    ("instruction", "next") => "next-instruction",
                    ("instruction", _) => "step-instruction",
                    (_, "next") => "next",
                    (_, "stepIn") => "step",
                    _ => "stepout",
                };
                self.resume(req, cmd, Some(t.thread_id))
            }
            // Nothing runs while the worker handles a request: the target is stopped.
            "pause" => self.ok(req, Value::Null),
            "threads" => self.threads(req),
            "stackTrace" => self.stack_trace(req),
            "scopes" => self.scopes(req),
            "variables" => self.variables(req),
            "evaluate" => self.evaluate(req),
            "setVariable" => self.set_variable(req),
            "setBreakpoints" => self.set_breakpoints(req),
            "setFunctionBreakpoints" => self.set_function_breakpoints(req),
            // The implicit panic and fatal-throw breakpoints are always set.
            "setExceptionBreakpoints" => self.ok(req, json!({ "breakpoints": [] })),
            "exceptionInfo" => self.exception_info(req),
            "readMemory" => self.read_memory(req),
            "disassemble" => self.disassemble(req),
            "stepBack" | "reverseContinue" if !self.reversible() => self.fail(
                req,
                ids::UNSUPPORTED_COMMAND,
                "Unsupported command",
                "reverse execution needs a target that runs backwards: an rr replay (mode \"replay\") or a stub with reverse execution",
            ),
            // Delve: stepBack is a reverse next (a reverse step-instruction at
            // instruction granularity), reverseContinue a rewind.
            "reverseContinue" => self.resume(req, "rewind", None),
            "stepBack" => {
                let t: types::ThreadArgs = match types::parse(a) {
                    Ok(t) => t,
                    Err(e) => return self.fail(req, ids::INTERNAL_ERROR, "Unable to step back", &e),
                };
                let cmd = if t.granularity == "instruction" {
                    "rev step-instruction"
                } else {
                    "rev next"
                };
                self.resume(req, cmd, Some(t.thread_id))
            }
            "terminate"
            | "setExpression"
            | "loadedSources"
            | "cancel"
            | "restart"
            | "writeMemory"
            | "setInstructionBreakpoints"
            | "dataBreakpointInfo"
            | "setDataBreakpoints" => self.fail(
                req,
                ids::NOT_YET_IMPLEMENTED,
                "Not yet implemented",
                &format!("cannot process {:?} request", req.command),
            ),
            other => self.fail(
                req,
                ids::UNSUPPORTED_COMMAND,
                "Unsupported command",
                &format!("cannot process {other:?} request"),
            ),
        }
    }

    fn initialize(&mut self, req: &Request) {
        let a: types::InitializeArgs = match types::parse(&req.arguments) {
            Ok(a) => a,
            Err(e) => return self.fail(req, ids::FAILED_TO_INITIALIZE, "Failed to initialize", &e),
        };
        if let Some(p) = a.path_format.as_deref().filter(|p| *p != "path") {
            let d = format!("Unsupported 'pathFormat' value '{p}'.");
            return self.fail(req, ids::FAILED_TO_INITIALIZE, "Failed to initialize", &d);
        }
        if a.lines_start_at1 == Some(false) {
            let d = "Only 1-based line numbers are supported.";
            return self.fail(req, ids::FAILED_TO_INITIALIZE, "Failed to initialize", d);
        }
        if a.columns_start_at1 == Some(false) {
            let d = "Only 1-based column numbers are supported.";
            return self.fail(req, ids::FAILED_TO_INITIALIZE, "Failed to initialize", d);
        }
        self.types = a.supports_variable_type;
        self.invalidated = a.supports_invalidated_event;
        // Delve's capabilities, less what coroner does not do (restart,
        // writeMemory, instruction and data breakpoints).
        self.ok(
            req,
            json!({
                "supportsConfigurationDoneRequest": true,
                "supportsFunctionBreakpoints": true,
                "supportsConditionalBreakpoints": true,
                "supportsHitConditionalBreakpoints": true,
                "supportsEvaluateForHovers": true,
                "exceptionBreakpointFilters": [
                    {"filter": "unrecovered-panic", "label": "Unrecovered Panics", "default": true},
                    {"filter": "runtime-fatal-throw", "label": "Fatal Throws", "default": true},
                ],
                "supportsStepBack": false,
                "supportsSetVariable": true,
                "supportsRestartRequest": false,
                "supportsExceptionInfoRequest": true,
                "supportsDelayedStackTraceLoading": true,
                "supportsLogPoints": true,
                "supportsDisassembleRequest": true,
                "supportsClipboardContext": true,
                "supportsSteppingGranularity": true,
                "supportsReadMemoryRequest": true,
                "supportTerminateDebuggee": false,
            }),
        );
    }

    fn launch(&mut self, req: &Request) {
        const F: &str = "Failed to launch";
        if self.s.is_some() {
            let d = "debug session already in progress - use remote attach mode to connect to a server with an active debug session";
            return self.out.error(req, ids::FAILED_TO_LAUNCH, F, d, true);
        }
        let mut a: LaunchArgs = match types::parse(&req.arguments) {
            Ok(a) => a,
            Err(e) => {
                let d = format!("invalid debug configuration - {e}");
                return self.out.error(req, ids::FAILED_TO_LAUNCH, F, &d, true);
            }
        };
        if a.mode.is_empty() {
            a.mode = "debug".into();
        }
        let bad = match a.mode.as_str() {
            "debug" | "test" | "exec" | "core" | "replay" => None,
            m => Some(format!(
                "invalid debug configuration - unsupported 'mode' attribute {m:?}"
            )),
        };
        let bad = bad
            .or_else(|| {
                // A replay finds its binary in the trace.
                (a.program.is_empty() && a.mode != "replay")
                    .then(|| "The program attribute is missing in debug configuration.".into())
            })
            .or_else(|| {
                (a.mode == "replay" && a.trace_dir_path.is_empty()).then(|| {
                    "The 'traceDirPath' attribute is missing in debug configuration.".into()
                })
            })
            .or_else(|| {
                (a.mode == "core" && a.core_file_path.is_empty()).then(|| {
                    "The 'coreFilePath' attribute is missing in debug configuration.".into()
                })
            })
            .or_else(|| {
                a.no_debug.then(|| {
                    "noDebug launches are not supported: run the program without the debugger"
                        .into()
                })
            });
        if let Some(d) = bad {
            return self.out.error(req, ids::FAILED_TO_LAUNCH, F, &d, true);
        }
        let out = self.out.clone();
        let mut emit = |cat: &str, text: &str| out.output(cat, text);
        match self.launcher.launch(&a, &mut emit) {
            Ok(l) => {
                self.is_core = a.mode == "core";
                self.args = a;
                self.adopt(l, "launch");
                if self.reversible() {
                    // Delve tells the editor after launch that this target steps back.
                    self.out.event(
                        "capabilities",
                        json!({"capabilities": {"supportsStepBack": true}}),
                    );
                }
                self.out.event("initialized", Value::Null);
                self.ok(req, Value::Null);
            }
            Err(e) => self.out.error(req, ids::FAILED_TO_LAUNCH, F, &e, true),
        }
    }

    fn attach(&mut self, req: &Request) {
        const F: &str = "Failed to attach";
        let a: LaunchArgs = match types::parse(&req.arguments) {
            Ok(a) => a,
            Err(e) => {
                let d = format!("invalid debug configuration - {e}");
                return self.out.error(req, ids::FAILED_TO_ATTACH, F, &d, true);
            }
        };
        match a.mode.as_str() {
            "" | "local" => {}
            "remote" if self.joined.is_some() => {
                // Headless server: the target exists already (and is stopped: the
                // listener halted it before handing the client over); this client
                // joins it. As Delve, say whether it may be left running.
                let attached = self
                    .s
                    .as_ref()
                    .and_then(|s| s.debugger())
                    .is_some_and(|d| d.origin() == Origin::Attached);
                if self.joined == Some(true) || attached {
                    self.out.event(
                        "capabilities",
                        json!({"capabilities": {"supportTerminateDebuggee": true}}),
                    );
                }
                self.args = a;
                self.out.event("initialized", Value::Null);
                return self.ok(req, Value::Null);
            }
            "remote" => {
                let d = "mode \"remote\" joins a server started with --headless; `coroner dap` starts its own target: use attach mode \"local\"";
                return self.out.error(req, ids::FAILED_TO_ATTACH, F, d, true);
            }
            m => {
                let d = format!("invalid debug configuration - unsupported 'mode' attribute {m:?}");
                return self.out.error(req, ids::FAILED_TO_ATTACH, F, &d, true);
            }
        }
        if self.s.is_some() {
            let d = "debug session already in progress";
            return self.out.error(req, ids::FAILED_TO_ATTACH, F, d, true);
        }
        let Ok(pid) = u32::try_from(a.process_id).map_err(|_| ()).and_then(|p| {
            if p == 0 {
                Err(())
            } else {
                Ok(p)
            }
        }) else {
            let d = "The 'processId' attribute is missing in debug configuration";
            return self.out.error(req, ids::FAILED_TO_ATTACH, F, d, true);
        };
        match self.launcher.attach(pid) {
            Ok(l) => {
                self.args = a;
                self.adopt(l, "attach");
                // Delve: attached processes may be left running or killed on disconnect.
                self.out.event(
                    "capabilities",
                    json!({"capabilities": {"supportTerminateDebuggee": true}}),
                );
                self.out.event("initialized", Value::Null);
                self.ok(req, Value::Null);
            }
            Err(e) => self.out.error(req, ids::FAILED_TO_ATTACH, F, &e, true),
        }
    }

    fn adopt(&mut self, l: Launched, how: &str) {
        let pid = l.session.debugger().map_or(0, |d| d.pid());
        let name = if self.is_core {
            String::new()
        } else {
            self.args.program.clone()
        };
        self.out.event(
            "process",
            json!({"name": name, "systemProcessId": pid, "isLocalProcess": true, "startMethod": how}),
        );
        if let Ok(mut g) = self.shared.interrupter.lock() {
            *g = l.session.debugger().map(|d| d.interrupter());
        }
        self.s = Slot::Owned(Box::new(l.session));
        self._guard = l.guard;
    }

    fn configuration_done(&mut self, req: &Request) {
        self.out
            .output("console", "Type 'dlv help' for list of commands.\n");
        self.ok(req, Value::Null);
        let Some(s) = self.s.as_ref() else { return };
        if s.debugger().is_none() {
            // A core never runs: stop at once on the goroutine that crashed, with the
            // cause of death, so the editor opens at the culprit line.
            let (desc, text) = super::convert::cause_of_death(s.debuggee().crash());
            let goid = self.stopped_goroutine();
            self.refs.reset();
            self.out.event(
                "stopped",
                json!({"reason": "exception", "description": desc, "text": text,
                       "threadId": goid, "allThreadsStopped": true}),
            );
            return;
        }
        if self.args.stop_on_entry {
            self.out.event(
                "stopped",
                json!({"reason": "entry", "threadId": 1, "allThreadsStopped": true}),
            );
            return;
        }
        self.run("continue");
    }

    /// The goroutine a stopped event names: the selected one, else the selected
    /// thread's, else the first (an editor needs a thread that `threads` lists).
    pub(super) fn stopped_goroutine(&self) -> u64 {
        let Some(s) = self.s.as_ref() else { return 1 };
        let d = s.debuggee();
        s.current_goroutine()
            .or_else(|| {
                s.current_thread()
                    .and_then(|t| d.thread_goroutine(t))
                    .map(|g| g.goid)
            })
            .or_else(|| d.goroutines().first().map(|g| g.goid))
            .unwrap_or(1)
    }

    /// The target can run backwards (rr, QEMU record/replay).
    fn reversible(&self) -> bool {
        self.s
            .as_ref()
            .and_then(|s| s.debugger())
            .is_some_and(|d| d.reversible())
    }

    fn resume(&mut self, req: &Request, cmd: &str, goid: Option<i64>) {
        let Some(s) = self.s.as_mut() else {
            return self.fail(
                req,
                ids::INTERNAL_ERROR,
                "Unable to continue",
                "no debug session: send launch or attach first",
            );
        };
        if s.debugger().is_none() {
            return self.fail(
                req,
                ids::INTERNAL_ERROR,
                "Unable to continue",
                "can not continue execution of core process",
            );
        }
        if let Some(g) = goid {
            // Delve: steps first switch to the goroutine the client names.
            self.out.event(
                "continued",
                json!({"threadId": g, "allThreadsContinued": true}),
            );
            self.out.respond(req, Value::Null);
            if g > 0 && s.current_goroutine() != Some(g as u64) {
                if let Output::Error(e) = s.execute(&format!("goroutine {g}")) {
                    let tid = self.stopped_goroutine();
                    self.out.event("stopped", json!({"reason": "error", "text": e, "threadId": tid, "allThreadsStopped": true}));
                    return;
                }
            }
        } else {
            self.out.respond(req, json!({"allThreadsContinued": true}));
        }
        self.run(cmd);
    }

    /// Run an execution command to a stop the client must hear about, then tell it.
    /// Log points print and resume; a halt made to change breakpoints applies the
    /// queued requests and resumes.
    fn run(&mut self, first: &str) {
        self.refs.reset();
        self.exception = None;
        self.shared.halt_requested.store(false, Ordering::SeqCst);
        self.shared.bp_halt.store(false, Ordering::SeqCst);
        let mut cmd = first.to_string();
        let mut err = None;
        loop {
            self.shared.running.store(true, Ordering::SeqCst);
            let out = match self.s.as_mut() {
                Some(s) => s.execute(&cmd),
                None => return,
            };
            self.shared.running.store(false, Ordering::SeqCst);
            if let Output::Error(e) = out {
                err = Some(e);
                break;
            }
            if self.shared.gone.load(Ordering::SeqCst) {
                return;
            }
            let stop = match self.s.as_ref().and_then(|s| s.debugger()) {
                Some(d) => d.last_stop().clone(),
                None => return,
            };
            if let StopReason::Breakpoint(id) = stop.reason {
                if self.log_point_hit(id) {
                    cmd = "continue".into();
                    continue;
                }
            }
            if stop.reason == StopReason::Halted
                && self.shared.bp_halt.swap(false, Ordering::SeqCst)
            {
                if !self.drain() {
                    return;
                }
                if !self.shared.halt_requested.load(Ordering::SeqCst) {
                    cmd = "continue".into();
                    continue;
                }
            }
            break;
        }
        self.report_stop(err);
    }

    /// Handle the requests queued while the target ran (breakpoint changes). False
    /// when the client left or disconnected meanwhile.
    fn drain(&mut self) -> bool {
        while let Ok(m) = self.rx.try_recv() {
            match m {
                Msg::Req(r) => {
                    self.handle(&r);
                    if self.done {
                        return false;
                    }
                }
                Msg::Gone => {
                    self.shared.gone.store(true, Ordering::SeqCst);
                    return false;
                }
            }
        }
        true
    }

    fn report_stop(&mut self, err: Option<String>) {
        let Some(s) = self.s.as_ref() else { return };
        let Some(d) = s.debugger() else { return };
        if let Some(code) = d.exited() {
            self.out.output(
                "console",
                &format!("Process {} has exited with status {code}\n", d.pid()),
            );
            self.out.event("exited", json!({ "exitCode": code }));
            self.out.event("terminated", Value::Null);
            return;
        }
        let goid = self.stopped_goroutine();
        let mut body = json!({"threadId": goid, "allThreadsStopped": true});
        if let Some(e) = err {
            body["reason"] = json!("exception");
            body["description"] = json!("runtime error");
            body["text"] = json!(e);
            self.exception = Some(e);
            self.out.event("stopped", body);
            return;
        }
        let stop = d.last_stop().clone();
        let reason = match &stop.reason {
            StopReason::Step => "step",
            StopReason::Halted => "pause",
            StopReason::Entry => "entry",
            StopReason::Watchpoint(_) | StopReason::WatchOutOfScope(_) => "data breakpoint",
            StopReason::Signal(n) => {
                body["description"] = json!("signal");
                body["text"] = json!(crate::target::signal_name(*n));
                "exception"
            }
            StopReason::Breakpoint(id) if *id == UNRECOVERED_PANIC_ID || *id == FATAL_THROW_ID => {
                let panic = *id == UNRECOVERED_PANIC_ID;
                body["description"] = json!(if panic { "panic" } else { "fatal error" });
                body["text"] = json!(self.throw_or_panic_reason(goid, panic));
                body["hitBreakpointIds"] = json!([id]);
                "exception"
            }
            StopReason::Breakpoint(id) => {
                body["hitBreakpointIds"] = json!([id]);
                if self.function_bps.contains(id) {
                    "function breakpoint"
                } else {
                    "breakpoint"
                }
            }
            StopReason::Exited(_) | StopReason::Killed(_) => "unknown",
        };
        body["reason"] = json!(reason);
        if reason != "exception" && self.shared.halt_requested.load(Ordering::SeqCst) {
            body["reason"] = json!("pause");
            body["hitBreakpointIds"] = json!([]);
        }
        if stop.interrupted_step {
            self.out.output("console", "Step interrupted by a breakpoint. Use 'Continue' to resume the original step command.\n");
        }
        self.out.event("stopped", body);
    }

    /// End the session: kill what was launched (or, with terminateDebuggee, what was
    /// attached), detach from the rest, as Delve's disconnect does.
    fn disconnect(&mut self, req: &Request) {
        let a: types::DisconnectArgs = types::parse(&req.arguments).unwrap_or_default();
        if self.joined == Some(true) && a.terminate_debuggee != Some(true) {
            // A multiclient server: only this client leaves (Delve's words).
            let exited = self
                .s
                .as_ref()
                .and_then(|s| s.debugger())
                .and_then(|d| d.exited());
            let status = if exited.is_some() { "exited" } else { "halted" };
            let msg = format!(
                "Closing client session, but leaving multi-client DAP server with debuggee {status}\n"
            );
            self.out.output("console", &msg);
            self.ok(req, Value::Null);
            self.out.event("terminated", Value::Null);
            self.leave = Leave::ClientOnly;
            self.done = true;
            return;
        }
        if let Some(d) = self.s.as_mut().and_then(|s| s.debugger_mut()) {
            if d.exited().is_none() {
                let kill = d.origin() == Origin::Launched || a.terminate_debuggee == Some(true);
                let pid = d.pid();
                let msg = match d.detach(kill) {
                    Ok(()) if kill => format!("Detaching and terminating target process {pid}\n"),
                    Ok(()) => format!("Detaching from process {pid}: it keeps running\n"),
                    Err(e) => format!("could not release process {pid}: {e}\n"),
                };
                self.out.output("console", &msg);
            }
        }
        self.ok(req, Value::Null);
        self.done = true;
    }

    /// The client vanished: leave the target as Delve's server does.
    pub(super) fn release(&mut self) {
        if let Some(multiclient) = self.joined {
            // The server that lent the session decides: with multiclient it keeps
            // the (now halted) target for the next client, otherwise it releases it.
            self.leave = if multiclient {
                Leave::ClientOnly
            } else {
                Leave::StopServer
            };
            return;
        }
        if let Some(s) = self.s.as_mut() {
            if let Some(m) = s.end_live(true).filter(|m| !m.is_empty()) {
                eprintln!("coroner: {m}");
            }
        }
    }
}
