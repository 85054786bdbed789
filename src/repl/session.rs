//! The command engine's state (target, current thread/goroutine/frame, config) and the
//! implementation of every command.

use super::debuggee::{Debuggee, Location};
use super::disasm;
use super::format::{self, GoroutineLine};
use super::help;
use super::json::{self as js, GoroutineLocs};
use super::labels;
use super::parse::{
    self, Command, DisassArgs, DisassTarget, ExamineArgs, FilterKind, Flavor, GoroutinesArgs,
    GroupBy, LocKind, LocSpec,
};
use super::startloc;
use super::{CommandError, Output};
use crate::addr::Addr;
use crate::goruntime::{Goroutine, G_DEAD};
use crate::snapshot::{Registers, Thread, NO_EXECUTION};
use crate::target::Target;
use crate::unwind::{Frame, FrameView, LiteFrame, PcCache, Stack, Unwinder};
use rayon::prelude::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Delve's default `stack` depth.
const DEFAULT_STACK_DEPTH: usize = 50;
/// Frames searched for the user location (Delve: "within the first 30 frames").
const USER_FRAME_SEARCH: usize = 30;
/// Goroutines per parallel batch of a listing: between batches the text is streamed
/// out and the core's resident pages are released, so memory stays flat.
const LIST_BATCH: usize = 1024;
/// Goroutines one rayon task formats into one buffer.
const LIST_TASK: usize = 64;
/// Goroutines shown per group by `goroutines -group`.
const GROUP_MEMBERS_SHOWN: usize = 5;
/// Upper bound on one disassembly, so a garbage range cannot exhaust memory.
const MAX_DISASSEMBLY_BYTES: u64 = 1 << 20;

type Result<T> = std::result::Result<T, CommandError>;

/// `config` settings, Delve's names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pub max_string_len: Option<u64>,
    pub max_array_values: Option<u64>,
    pub max_variable_recurse: Option<u64>,
    pub show_location_expr: bool,
    /// Lines shown each side of the current one by `list` (default 5).
    pub source_list_line_count: Option<u32>,
    /// (from, to) prefix rewrites for source paths, first match wins.
    pub substitute_path: Vec<(String, String)>,
    pub disassemble_flavor: Option<Flavor>,
    /// User aliases, Delve's `aliases:` (command -> its extra names).
    pub aliases: BTreeMap<String, Vec<String>>,
    /// Extra directories searched for separate debug info.
    pub debug_info_directories: Vec<PathBuf>,
}

impl Config {
    /// Apply substitute-path rules to a path recorded in the binary.
    pub fn substitute(&self, path: &str) -> String {
        for (from, to) in &self.substitute_path {
            if let Some(rest) = path.strip_prefix(from.as_str()) {
                if rest.is_empty() || rest.starts_with('/') || from.ends_with('/') {
                    return format!("{to}{rest}");
                }
            }
        }
        path.to_string()
    }
}

#[path = "analyze_cmd.rs"]
mod analyze_cmd;
#[path = "call_cmd.rs"]
mod call_cmd;
#[path = "config_cmd.rs"]
mod config_cmd;
#[path = "edit_cmd.rs"]
mod edit_cmd;
#[path = "exec_cmd.rs"]
mod exec_cmd;
#[path = "reverse_cmd.rs"]
mod reverse_cmd;
#[path = "source_cmd.rs"]
mod source_cmd;
#[path = "transcript.rs"]
mod transcript;

/// One debugging session over a target.
pub struct Session {
    target: Box<dyn Debuggee>,
    pub config: Config,
    /// Emit JSON for goroutines, stack and threads.
    pub json: bool,
    /// Paths under this directory print as `./...` (Delve's ShortenFilePath).
    pub cwd: Option<PathBuf>,
    tid: Option<u32>,
    goid: Option<u64>,
    frame: usize,
    /// Analyzers for the `analyze` command (see analyze_cmd.rs).
    analyzers: crate::analyze::Registry,
    /// `display -a` entries by number: (spec as typed, with its %format; the bare
    /// expression). Removed entries are emptied so numbers do not shift, as in Delve.
    displays: Vec<(String, String)>,
    /// The stepping command running (`next`, `step`, `stepout`), for Delve's words when
    /// a breakpoint on another goroutine interrupts it.
    pub(super) step_op: &'static str,
    /// The last stop interrupted a step: a `next N` goes no further.
    pub(super) step_interrupted: bool,
    /// The last output ends with Delve's continue/cancel question, unanswered: the
    /// streaming front end then fails the command with `EOF`, as Delve on a pipe.
    pub(super) step_question: bool,
    /// The live process behind `target`, when there is one: execution commands go to
    /// it, and each stop replaces `target` with the new view.
    debugger: Option<crate::exec::Debugger>,
    /// The open `transcript` file (transcript.rs).
    transcript: Option<transcript::Shared>,
    /// Depth of `execute` calls: only the outermost records a transcript.
    nesting: usize,
    /// Depth of nested `source` commands (source_cmd.rs).
    source_depth: usize,
}

impl Session {
    pub fn new(target: Target) -> Session {
        Session::with_debuggee(Box::new(target))
    }

    /// A session over any [`Debuggee`]; starts on the crashing thread and its goroutine.
    pub fn with_debuggee(target: Box<dyn Debuggee>) -> Session {
        let crash = target.crash();
        let tid = crash
            .thread
            .filter(|t| target.threads().iter().any(|th| th.tid == *t))
            .or_else(|| target.threads().first().map(|t| t.tid));
        let goid = crash
            .goroutine
            .filter(|g| target.goroutine(*g).is_some())
            .or_else(|| tid.and_then(|t| target.thread_goroutine(t)).map(|g| g.goid));
        Session {
            target,
            config: Config::default(),
            json: false,
            cwd: std::env::current_dir().ok(),
            tid,
            goid,
            frame: 0,
            analyzers: crate::analyze::Registry::default(),
            displays: Vec::new(),
            step_op: "",
            step_interrupted: false,
            step_question: false,
            debugger: None,
            transcript: None,
            nesting: 0,
            source_depth: 0,
        }
    }

    /// A session over a live process, starting at its current stop.
    pub fn with_debugger(d: crate::exec::Debugger) -> Session {
        let mut s = Session::with_debuggee(Box::new(d.target().clone()));
        s.debugger = Some(d);
        s
    }

    pub fn debugger(&self) -> Option<&crate::exec::Debugger> {
        self.debugger.as_ref()
    }
    pub fn debugger_mut(&mut self) -> Option<&mut crate::exec::Debugger> {
        self.debugger.as_mut()
    }

    /// Leave the live process as Delve's `exit` does: detach from an attached process
    /// (it keeps running, every breakpoint removed), kill a launched one.
    pub fn end_live(&mut self, kill_launched: bool) -> Option<String> {
        let d = self.debugger.as_mut()?;
        if d.exited().is_some() {
            return None;
        }
        let kill = kill_launched && d.origin() == crate::exec::Origin::Launched;
        Some(match d.detach(kill) {
            Ok(()) => String::new(),
            Err(e) => format!("could not release process {}: {e}", d.pid()),
        })
    }

    pub fn debuggee(&self) -> &dyn Debuggee {
        self.target.as_ref()
    }
    /// The target, for analyzers (None on non-Target debuggees such as test fakes).
    pub fn target(&self) -> Option<&Target> {
        self.target.as_target()
    }
    pub fn current_thread(&self) -> Option<u32> {
        self.tid
    }
    pub fn current_goroutine(&self) -> Option<u64> {
        self.goid
    }
    pub fn current_frame(&self) -> usize {
        self.frame
    }

    /// The crash header (signal, thread, panics, Go version, warnings).
    pub fn header(&self) -> String {
        format::crash_header(self.target.crash(), self.target.warnings())
    }

    /// Run one command line. Empty lines give empty text (front ends implement
    /// "repeat last command" themselves).
    pub fn execute(&mut self, line: &str) -> Output {
        self.execute_recorded(line, None)
    }

    /// One line, after alias expansion: the REPL-level commands (source, transcript,
    /// edit), then streaming or plain execution.
    fn dispatch(&mut self, line: &str, out: Option<&mut dyn std::io::Write>) -> Output {
        let expanded = self.expand_alias(line);
        let line = expanded.as_deref().unwrap_or(line);
        let repl = match self.transcript_command(line) {
            Some(r) => Some(r),
            None => self.edit_command(line),
        };
        let (repl, out) = match repl {
            Some(r) => (Some(r), out),
            None => match out {
                Some(w) => (self.source_command(line, Some(&mut *w)), Some(w)),
                None => (self.source_command(line, None), None),
            },
        };
        if let Some(r) = repl {
            return r.unwrap_or_else(|e| Output::Error(e.to_string()));
        }
        if let Some(o) = self.exited_guard(line) {
            return o;
        }
        match out {
            Some(w) => self.execute_stream_inner(line, w),
            None => self.execute_plain(line),
        }
    }

    /// After the process exited, what would read its state says so, as Delve does
    /// (the snapshot of the last stop is not the state at the exit).
    fn exited_guard(&self, line: &str) -> Option<Output> {
        let d = self.debugger.as_ref()?;
        let status = d.exited()?;
        let cmd = line.split_whitespace().next()?;
        let reads_state = matches!(
            cmd,
            "bt" | "stack"
                | "print"
                | "p"
                | "locals"
                | "args"
                | "vars"
                | "whatis"
                | "goroutines"
                | "grs"
                | "goroutine"
                | "gr"
                | "threads"
                | "thread"
                | "tr"
                | "frame"
                | "up"
                | "down"
                | "regs"
                | "examinemem"
                | "x"
                | "disassemble"
                | "disass"
                | "list"
                | "ls"
                | "l"
                | "set"
                | "call"
                | "display"
        );
        reads_state.then(|| {
            Output::Error(format!(
                "Process {} has exited with status {status}",
                d.pid()
            ))
        })
    }

    fn execute_plain(&mut self, line: &str) -> Output {
        if line.trim().is_empty() {
            return Output::Text(String::new());
        }
        if let Some(o) = self.exec_command(line) {
            return o;
        }
        if let Some(o) = self.analyze_command(line) {
            return o;
        }
        if let Some(o) = self.display_command(line) {
            return o;
        }
        if let Some(o) = super::vars_cmd::try_execute(self, line) {
            return o;
        }
        match parse::parse(line).and_then(|c| self.run(c)) {
            Ok(o) => o,
            Err(e) => Output::Error(e.to_string()),
        }
    }

    /// Delve's display list: `display -a [%fmt] EXPR` adds and prints it, `display`
    /// prints every kept expression, `display -d N` removes number N. A core never
    /// stops again, so `display` with no arguments is how the list is re-printed
    /// (e.g. after switching goroutine or frame). None when the line is not `display`.
    fn display_command(&mut self, line: &str) -> Option<Output> {
        let rest = line.trim().strip_prefix("display")?;
        if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
            return None;
        }
        let rest = rest.trim();
        if rest.is_empty() {
            let list: Vec<(usize, (String, String))> = self
                .displays
                .iter()
                .enumerate()
                .filter(|(_, d)| !d.0.is_empty())
                .map(|(i, d)| (i, d.clone()))
                .collect();
            let mut text = String::new();
            let mut json = Vec::new();
            for (i, (spec, expr)) in list {
                match self.display_one(i, &spec, &expr) {
                    Output::Text(t) => text.push_str(&t),
                    Output::Json(j) => json.push(j),
                    other => return Some(other),
                }
            }
            return Some(if self.json {
                Output::Json(serde_json::Value::Array(json))
            } else {
                Output::Text(text)
            });
        }
        if let Some(spec) = rest.strip_prefix("-a") {
            let spec = spec.trim();
            let expr = match spec.strip_prefix('%') {
                Some(r) => r
                    .split_once(char::is_whitespace)
                    .map_or("", |(_, e)| e.trim()),
                None => spec,
            };
            if expr.is_empty() {
                return Some(Output::Error("not enough arguments".into()));
            }
            let expr = expr.to_string();
            self.displays.push((spec.to_string(), expr.clone()));
            return Some(self.display_one(self.displays.len() - 1, spec, &expr));
        }
        if let Some(n) = rest.strip_prefix("-d") {
            let n = n.trim();
            let Ok(i) = n.parse::<usize>() else {
                return Some(Output::Error(format!("{n:?} is not a number")));
            };
            if i >= self.displays.len() {
                return Some(Output::Error(format!("{i} is out of range")));
            }
            self.displays[i] = Default::default();
            while self.displays.last().is_some_and(|d| d.0.is_empty()) {
                self.displays.pop();
            }
            return Some(Output::Text(String::new()));
        }
        Some(Output::Error("wrong arguments".into()))
    }

    /// Evaluate display number `i` in the current goroutine and frame.
    fn display_one(&self, i: usize, spec: &str, expr: &str) -> Output {
        let line = format!("display -a {spec}");
        match super::vars_cmd::try_execute(self, &line) {
            Some(Output::Text(t)) => Output::Text(match t.strip_prefix("0: ") {
                Some(rest) => format!("{i}: {rest}"),
                None => t,
            }),
            Some(Output::Error(e)) => Output::Text(format!("{i}: {expr} = error {e}\n")),
            Some(other) => other,
            None => Output::Error("variables are not available on this target".into()),
        }
    }

    /// Run a parsed command.
    pub fn run(&mut self, cmd: Command) -> Result<Output> {
        match cmd {
            Command::Goroutines(a) => self.goroutines(&a),
            Command::Goroutine { id, cmd } => self.goroutine_cmd(id, cmd),
            Command::Stack { depth, full } => self.stack_cmd(depth, full),
            Command::Frame { n, cmd } => self.frame_cmd(n, cmd),
            Command::Up(n) => {
                let target = self.frame.checked_add(n).ok_or_else(|| invalid_frame(n))?;
                self.frame_cmd(target, None)
            }
            Command::Down(n) => match self.frame.checked_sub(n) {
                Some(f) => self.frame_cmd(f, None),
                None => Err(CommandError::Invalid(format!(
                    "Invalid frame -{}",
                    n - self.frame
                ))),
            },
            Command::Threads => self.threads_cmd(),
            Command::Thread(t) => self.thread_cmd(t),
            Command::Regs { all } => self.regs_cmd(all),
            Command::List(l) => self.list_cmd(l),
            Command::Funcs(r) => list_matching(self.target.function_names(), r.as_deref()),
            Command::Sources(r) => list_matching(self.target.source_files(), r.as_deref()),
            Command::Types(r) => list_matching(
                self.target.type_names().map_err(CommandError::Failed)?,
                r.as_deref(),
            ),
            Command::Examine(x) => self.examine(&x),
            Command::Disassemble(d) => self.disassemble(&d),
            Command::Config(c) => self.config_cmd(c),
            Command::Help(None) => Ok(Output::Text(help::overview())),
            Command::Help(Some(c)) => match parse::lookup(&c) {
                Some(spec) => Ok(Output::Text(format!("{}\n", spec.help))),
                None => Err(CommandError::NotAvailable),
            },
            Command::Exit => Ok(Output::Exit),
            Command::Execution(name) => {
                Err(CommandError::NoExecution(format!("{name}: {NO_EXECUTION}")))
            }
            // Reached only when the variables engine did not take the line: `set`
            // (a snapshot is read-only), or a debuggee that is not a Target.
            Command::Variables("set") => Err(CommandError::NotYet(
                "set: a core is read-only: variables cannot be changed".into(),
            )),
            Command::Variables(name) => Err(CommandError::NotYet(format!(
                "{name}: this target cannot read variables (no DWARF reader for it)"
            ))),
            Command::Unsupported(name) => Err(CommandError::NotYet(format!(
                "{name} is not available on a snapshot in this version of coroner"
            ))),
        }
    }

    // ---- context helpers -------------------------------------------------------

    fn cwd(&self) -> Option<&std::path::Path> {
        self.cwd.as_deref()
    }

    fn cur_goroutine(&self) -> Option<&Goroutine> {
        self.goid.and_then(|g| self.target.goroutine(g))
    }

    fn cur_thread(&self) -> Option<&Thread> {
        self.tid
            .and_then(|t| self.target.threads().iter().find(|th| th.tid == t))
    }

    /// The current goroutine's stack, or the current thread's when there is no goroutine.
    fn current_stack(&self, depth: usize) -> Result<Stack> {
        if let Some(g) = self.cur_goroutine() {
            return Ok(self.target.goroutine_stack(g, depth));
        }
        if let Some(t) = self.cur_thread() {
            return Ok(self.target.thread_stack(t, depth));
        }
        Err(CommandError::Failed(
            "no current goroutine or thread".into(),
        ))
    }

    fn current_frame_of(&self, n: usize) -> Result<Frame> {
        let stack = self.current_stack(n.saturating_add(1))?;
        stack.frames.get(n).cloned().ok_or_else(|| invalid_frame(n))
    }

    /// Current, user, go and start locations of a goroutine, plus its top frames.
    pub fn goroutine_locs(&self, g: &Goroutine) -> GoroutineLocs {
        let stack = self.target.goroutine_stack(g, USER_FRAME_SEARCH);
        let current = stack
            .frames
            .first()
            .map(frame_location)
            .unwrap_or_else(|| self.target.location(g.sched.pc));
        let user = stack
            .frames
            .iter()
            .find(|f| !is_private_runtime(&f.function))
            .map(frame_location)
            .unwrap_or_else(|| current.clone());
        // The line of the go statement is the call's, so look up one byte before the
        // return address, as the runtime's "created by" line does.
        let mut go = self.target.location(Addr(g.gopc.0.saturating_sub(1)));
        go.pc = g.gopc.0;
        if go.function.is_empty() && !g.gopc.is_null() {
            go.function = self
                .target
                .func_at(g.gopc)
                .map(|f| f.name)
                .unwrap_or_default();
        }
        let start = self
            .target
            .location(startloc::unwrap(self.target.as_ref(), g.start_pc));
        GoroutineLocs {
            current,
            user,
            go,
            start,
        }
    }

    fn goroutine_line_text(&self, g: &Goroutine, kind: LocKind, locs: &GoroutineLocs) -> String {
        let loc = match kind {
            LocKind::User => &locs.user,
            LocKind::Current => &locs.current,
            LocKind::Go => &locs.go,
            LocKind::Start => &locs.start,
        };
        let wait = format::delve_wait(g);
        format::goroutine_line(
            &GoroutineLine {
                current: Some(g.goid) == self.goid,
                goid: g.goid,
                kind,
                loc,
                thread: g.thread,
                wait: wait.as_deref(),
            },
            self.cwd(),
        )
    }

    /// `set SYMBOL = VALUE` in goroutine `goid`'s frame `frame` (JSON-RPC's `Set`).
    pub fn set_in(
        &mut self,
        goid: Option<u64>,
        frame: usize,
        symbol: &str,
        value: &str,
    ) -> std::result::Result<(), String> {
        match self.with_context(goid, frame, |s| s.set_cmd(&format!("{symbol} = {value}"))) {
            Output::Error(e) => Err(e),
            _ => Ok(()),
        }
    }

    /// Run `f` with the goroutine (and its thread, if running) and frame temporarily
    /// switched, restoring the context afterwards.
    fn with_context<T>(
        &mut self,
        goid: Option<u64>,
        frame: usize,
        f: impl FnOnce(&mut Self) -> T,
    ) -> T {
        let saved = (self.tid, self.goid, self.frame);
        if let Some(g) = goid {
            if let Some(t) = self.target.goroutine(g).and_then(|g| g.thread) {
                self.tid = Some(t);
            }
            self.goid = Some(g);
        }
        self.frame = frame;
        let r = f(self);
        (self.tid, self.goid, self.frame) = saved;
        r
    }

    // ---- goroutines --------------------------------------------------------------

    fn goroutine_matches(
        &self,
        g: &Goroutine,
        locs: &GoroutineLocs,
        a: &GoroutinesArgs,
    ) -> Result<bool> {
        for f in &a.filters {
            let m = match &f.kind {
                FilterKind::Running => g.thread.is_some(),
                FilterKind::User => !g.system,
                FilterKind::Loc(k, s) => {
                    let l = match k {
                        LocKind::User => &locs.user,
                        LocKind::Current => &locs.current,
                        LocKind::Go => &locs.go,
                        LocKind::Start => &locs.start,
                    };
                    format!("{}:{} {}", l.file, l.line, l.function).contains(s.as_str())
                }
                FilterKind::Label(k, v) => labels::matches(g, k, v.as_deref()),
            };
            if m == f.negate {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn goroutines(&mut self, a: &GoroutinesArgs) -> Result<Output> {
        if a.group.is_none() && a.exec.is_none() && !self.json {
            return self.goroutines_text(a, None);
        }
        let gs: Vec<Goroutine> = self
            .target
            .goroutines()
            .iter()
            .filter(|g| g.state() != G_DEAD)
            .cloned()
            .collect();
        let mut rows: Vec<(Goroutine, GoroutineLocs)> = Vec::new();
        for g in gs {
            let locs = self.goroutine_locs(&g);
            if self.goroutine_matches(&g, &locs, a)? {
                rows.push((g, locs));
            }
        }
        if let Some(group) = &a.group {
            return self.goroutine_groups(group, a, &rows);
        }
        if let Some(cmd) = &a.exec {
            sort_like_delve(&mut rows, |r| r.0.goid);
            return self.goroutines_exec(cmd, a.loc, &rows);
        }
        let depth = a.stack_depth;
        if self.json {
            let arr: Vec<Value> = rows
                .iter()
                .map(|(g, locs)| {
                    let st = depth.map(|d| self.truncated_stack(g, d).0);
                    js::goroutine(g, locs, st.as_deref())
                })
                .collect();
            return Ok(Output::Json(Value::Array(arr)));
        }
        if rows.is_empty() {
            // Delve prints nothing at all when a filter leaves no goroutine.
            return Ok(Output::Text(String::new()));
        }
        let mut out = String::new();
        for (g, locs) in &rows {
            out.push_str(&self.goroutine_line_text(g, a.loc, locs));
            out.push('\n');
            if a.labels {
                labels::push_line(&mut out, g, "\t");
            }
            if let Some(d) = depth {
                let (frames, truncated) = self.truncated_stack(g, d);
                out.push_str(&format::stack_text(&frames, "\t", self.cwd()));
                if truncated {
                    out.push_str("\t(truncated)\n");
                }
            }
        }
        let _ = writeln!(out, "[{} goroutines]", rows.len());
        Ok(Output::Text(out))
    }

    /// Like [`Session::execute`], but a large text result (a `goroutines` listing) is
    /// written to `out` batch by batch as it is computed instead of being returned, so
    /// its size does not count in memory; the returned output then holds only what
    /// was not written. Front ends printing to a stream should prefer this.
    pub fn execute_streaming(&mut self, line: &str, out: &mut dyn std::io::Write) -> Output {
        self.execute_recorded(line, Some(out))
    }

    fn execute_stream_inner(&mut self, line: &str, out: &mut dyn std::io::Write) -> Output {
        // `call` prints where the goroutine is before a failure, as Delve does.
        if let Some(o) = self.call_streaming(line, out) {
            return o;
        }
        // Only the goroutines text listing streams; everything else goes through
        // `execute`, so both entry points always agree.
        if let Ok(Command::Goroutines(a)) = parse::parse(line) {
            if a.group.is_none() && a.exec.is_none() && !self.json {
                return match self.goroutines_text(&a, Some(out)) {
                    Ok(o) => o,
                    Err(e) => Output::Error(e.to_string()),
                };
            }
        }
        let o = self.execute_plain(line);
        if std::mem::take(&mut self.step_question) {
            if let Output::Text(t) = &o {
                // Delve prints the stop, reads no answer to its question, cancels the
                // step and fails the command with the read's error.
                let _ = out.write_all(t.as_bytes());
                let _ = out.flush();
                return Output::Error("EOF".into());
            }
        }
        o
    }

    /// The text listing of `goroutines` (with `-t`, filters and `-with`): computed in
    /// parallel batches over lightweight, memoized stacks, in allgs order, byte for
    /// byte what [`Session::goroutine_line_text`] and [`format::stack_text`] give.
    fn goroutines_text(
        &self,
        a: &GoroutinesArgs,
        mut stream: Option<&mut dyn std::io::Write>,
    ) -> Result<Output> {
        let mut gs: Vec<&Goroutine> = self
            .target
            .goroutines()
            .iter()
            .filter(|g| g.state() != G_DEAD)
            .collect();
        sort_like_delve(&mut gs, |g| g.goid);
        let listing = Listing {
            args: a,
            cwd: self.cwd(),
            current: self.goid,
            locs: LocCache::default(),
        };
        let mut out = String::new();
        let mut count = 0usize;
        let flush = |out: &mut String, stream: &mut Option<&mut dyn std::io::Write>| {
            if let Some(w) = stream.as_mut() {
                w.write_all(out.as_bytes())
                    .map_err(|e| CommandError::Failed(format!("cannot write the listing: {e}")))?;
                out.clear();
            }
            Ok::<(), CommandError>(())
        };
        if let Some(t) = self.target.as_target() {
            // CFI is left out: the lite walk declines non-Go frames and those
            // goroutines take the full path (Target::goroutine_stack) instead.
            let unw = Unwinder {
                mem: t.memory(),
                pcln: t.pclntab(),
                cfi: None,
                bin: t.binary(),
                rt: t.runtime(),
                native: None,
            };
            let cache = PcCache::new();
            for batch in gs.chunks(LIST_BATCH) {
                let parts: Vec<(String, usize)> = batch
                    .par_chunks(LIST_TASK)
                    .map(|task| {
                        let mut s = String::new();
                        let mut n = 0;
                        for g in task {
                            if listing_row(t, Some((&unw, &cache)), &listing, g, &mut s) {
                                n += 1;
                            }
                        }
                        (s, n)
                    })
                    .collect();
                crate::snapshot::elfcore::release_resident_pages();
                for (mut s, n) in parts {
                    count += n;
                    if stream.is_some() {
                        flush(&mut s, &mut stream)?;
                    } else {
                        out.push_str(&s);
                    }
                }
            }
        } else {
            for g in &gs {
                if listing_row(self.target.as_ref(), None, &listing, g, &mut out) {
                    count += 1;
                }
            }
        }
        if count == 0 {
            // Delve prints nothing at all when a filter leaves no goroutine.
            return Ok(Output::Text(String::new()));
        }
        let _ = writeln!(out, "[{count} goroutines]");
        flush(&mut out, &mut stream)?;
        Ok(Output::Text(out))
    }

    /// Frames 0..=depth (Delve's convention), and whether the stack went deeper.
    fn truncated_stack(&self, g: &Goroutine, depth: usize) -> (Vec<Frame>, bool) {
        let want = depth.saturating_add(1);
        let mut st = self.target.goroutine_stack(g, want.saturating_add(1));
        let truncated = st.frames.len() > want;
        st.frames.truncate(want);
        (st.frames, truncated)
    }

    fn goroutine_groups(
        &self,
        by: &GroupBy,
        a: &GoroutinesArgs,
        rows: &[(Goroutine, GoroutineLocs)],
    ) -> Result<Output> {
        let kind = a.loc;
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, (g, locs)) in rows.iter().enumerate() {
            let key = match by {
                GroupBy::Running => format!("running={}", g.thread.is_some()),
                GroupBy::User => format!("user={}", !g.system),
                GroupBy::Label(k) => labels::of(g).group_key(k),
                GroupBy::Loc(k) => {
                    let l = match k {
                        LocKind::User => &locs.user,
                        LocKind::Current => &locs.current,
                        LocKind::Go => &locs.go,
                        LocKind::Start => &locs.start,
                    };
                    // Delve's formatLoc: the full path, `in` the function.
                    let func = if l.function.is_empty() {
                        "?"
                    } else {
                        &l.function
                    };
                    format!("{}:{} in {func}", l.file, l.line)
                }
            };
            groups.entry(key).or_default().push(i);
        }
        if self.json {
            let arr: Vec<Value> = groups
                .iter()
                .map(|(k, idx)| {
                    json!({
                        "group": k,
                        "total": idx.len(),
                        "goroutines": idx.iter().filter_map(|i| rows.get(*i)).map(|(g, l)| js::goroutine(g, l, None)).collect::<Vec<_>>(),
                    })
                })
                .collect();
            return Ok(Output::Json(Value::Array(arr)));
        }
        let mut parts = Vec::new();
        for (k, idx) in &groups {
            let mut s = format!("{k}\n");
            for i in idx.iter().take(GROUP_MEMBERS_SHOWN) {
                if let Some((g, locs)) = rows.get(*i) {
                    let _ = writeln!(s, "\t{}", self.goroutine_line_text(g, kind, locs));
                    if a.labels {
                        labels::push_line(&mut s, g, "\t\t");
                    }
                }
            }
            let _ = writeln!(s, "\tTotal: {}", idx.len());
            parts.push(s);
        }
        Ok(Output::Text(parts.join("\n")))
    }

    fn goroutines_exec(
        &mut self,
        cmd: &str,
        kind: LocKind,
        rows: &[(Goroutine, GoroutineLocs)],
    ) -> Result<Output> {
        let parsed = parse::parse(cmd)?;
        if matches!(parsed, Command::Goroutines(_) | Command::Exit) {
            return Err(CommandError::Invalid(format!(
                "cannot use {cmd:?} with -exec"
            )));
        }
        if rows.is_empty() && !self.json {
            return Ok(Output::Text(String::new()));
        }
        let mut out = String::new();
        let mut values = Vec::new();
        for (g, locs) in rows {
            let r = self.with_context(Some(g.goid), 0, |s| s.run(parsed.clone()));
            if self.json {
                let v = match r {
                    Ok(Output::Json(v)) => v,
                    Ok(o) => Value::String(o.render()),
                    Err(e) => json!({ "error": e.to_string() }),
                };
                values.push(json!({ "id": g.goid, "result": v }));
                continue;
            }
            out.push_str(&self.goroutine_line_text(g, kind, locs));
            out.push('\n');
            match r {
                Ok(o) => out.push_str(&o.render()),
                Err(e) => {
                    let _ = writeln!(out, "Command failed: {e}");
                }
            }
        }
        if self.json {
            return Ok(Output::Json(Value::Array(values)));
        }
        let _ = writeln!(out, "[{} goroutines]", rows.len());
        Ok(Output::Text(out))
    }

    fn goroutine_cmd(&mut self, id: Option<u64>, cmd: Option<String>) -> Result<Output> {
        let Some(id) = id else {
            return self.goroutine_info();
        };
        let g = self
            .target
            .goroutine(id)
            .filter(|g| g.state() != G_DEAD)
            .ok_or_else(|| CommandError::Failed(format!("unknown goroutine {id}")))?;
        let thread = g.thread;
        if let Some(c) = cmd {
            let parsed = parse::parse(&c)?;
            return self.with_context(Some(id), 0, |s| s.run(parsed));
        }
        let from = self
            .goid
            .map(|g| g.to_string())
            .unwrap_or_else(|| "none".into());
        if thread.is_some() {
            self.tid = thread;
        }
        self.goid = Some(id);
        self.frame = 0;
        let mut out = format!("Switched from {from} to {id}");
        if let Some(t) = self.tid {
            let _ = write!(out, " (thread {t})");
        }
        out.push('\n');
        Ok(Output::Text(out))
    }

    fn goroutine_info(&self) -> Result<Output> {
        let mut out = String::new();
        if let Some(t) = self.cur_thread() {
            let l = self.target.location(Addr(t.pc()));
            let _ = writeln!(
                out,
                "Thread {} at {}:{}",
                t.tid,
                format::shorten_path(&l.file, self.cwd()),
                l.line
            );
        }
        let Some(g) = self.cur_goroutine() else {
            out.push_str("No current goroutine (the current thread runs none)\n");
            return Ok(Output::Text(out));
        };
        let locs = self.goroutine_locs(g);
        if self.json {
            return Ok(Output::Json(js::goroutine(g, &locs, None)));
        }
        let _ = writeln!(out, "Goroutine {}:", g.goid);
        for (k, l) in [
            (LocKind::Current, &locs.current),
            (LocKind::User, &locs.user),
            (LocKind::Go, &locs.go),
            (LocKind::Start, &locs.start),
        ] {
            let _ = writeln!(
                out,
                "\t{}: {}",
                k.label(),
                format::location_text(l, self.cwd())
            );
        }
        labels::push_line(&mut out, g, "\t");
        Ok(Output::Text(out))
    }

    // ---- stack and frames ----------------------------------------------------------

    fn stack_cmd(&self, depth: Option<usize>, full: bool) -> Result<Output> {
        let depth = depth.unwrap_or(DEFAULT_STACK_DEPTH);
        let want = depth.saturating_add(1);
        let mut st = self.current_stack(want.saturating_add(1))?;
        let truncated = st.frames.len() > want;
        st.frames.truncate(want);
        for (i, f) in st.frames.iter_mut().enumerate() {
            f.function = self.frame_function(f, i == 0);
        }
        if self.json {
            return Ok(Output::Json(js::frames(&st.frames)));
        }
        let mut out = format::stack_text(&st.frames, "", self.cwd());
        if full {
            // Each frame is two lines; its arguments and locals go under it, indented
            // past the frame number as Delve does.
            let lines: Vec<&str> = out.lines().collect();
            if lines.len() == 2 * st.frames.len() {
                let digits = st.frames.len().saturating_sub(1).to_string().len();
                let indent = " ".repeat(digits + 2 + 4);
                let vars: Vec<String> = st
                    .frames
                    .iter()
                    .enumerate()
                    .map(|(i, f)| super::vars_cmd::frame_vars_text(self, f, i, &indent))
                    .collect();
                // Delve's PrintStack: a blank line after every frame once any has
                // variables to show.
                let gap = vars.iter().any(|v| !v.is_empty());
                let mut with_vars = String::new();
                for (i, v) in vars.iter().enumerate() {
                    with_vars.push_str(lines[2 * i]);
                    with_vars.push('\n');
                    with_vars.push_str(lines[2 * i + 1]);
                    with_vars.push('\n');
                    with_vars.push_str(v);
                    if gap {
                        with_vars.push('\n');
                    }
                }
                out = with_vars;
            }
        }
        if truncated {
            out.push_str("(truncated)\n");
        } else if let Some(e) = &st.error {
            let _ = writeln!(out, "(unwinding stopped: {e})");
        }
        Ok(Output::Text(out))
    }

    /// The function of frame `f` as Delve names it: Go 1.19's pclntab names generic
    /// instantiations `F[...]`, Delve (stop line, `bt`, `list`) DWARF's
    /// `F[go.shape.int_0]`. `top`: frame 0, whose PC is not a return address.
    pub(super) fn frame_function(&self, f: &Frame, top: bool) -> String {
        if f.inlined || !f.function.contains("[...]") {
            return f.function.clone();
        }
        let pc = if top {
            f.pc.0
        } else {
            f.pc.0.saturating_sub(1)
        };
        match self.target() {
            Some(t) => t.shown_function_name(pc, &f.function),
            None => f.function.clone(),
        }
    }

    /// Whether the function at `pc` was compiled with optimisations (Delve's
    /// Function.Optimized: its unit's producer lacks `-N -l`; the runtime is, even
    /// under `-gcflags=all=-N -l`, from Go 1.2x on).
    pub(super) fn optimized_at(&self, pc: u64) -> bool {
        self.target().is_some_and(|t| t.optimized_at(pc))
    }

    /// `> fn() file:line (PC: 0x..)` for frame 0 of the current goroutine or thread,
    /// naming the breakpoint and its hits when the last stop hit one there (Delve
    /// prints the current thread's breakpoint in this line).
    fn context_line(&self) -> Result<String> {
        let f = self.current_frame_of(0)?;
        let file = format::shorten_path(&f.file, self.cwd());
        let bp = self.debugger.as_ref().and_then(|d| {
            let last = d.last_stop();
            match last.reason {
                crate::exec::StopReason::Breakpoint(id)
                    if last.pc == Some(f.pc) && last.goid == self.goid =>
                {
                    d.breakpoints
                        .get(id)
                        .filter(|b| b.watch.is_none() && !b.tracepoint)
                }
                _ => None,
            }
        });
        let func = self.frame_function(&f, true);
        let here = exec_cmd::StopPlace {
            func: func_or_unknown(&func),
            args: "",
            file: &file,
            line: f.line,
            pc: f.pc.0,
        };
        let mut out = here.line(bp, self.goid.unwrap_or(0));
        // Delve's printcontextThread / printcontextLocation, for `list` and `frame`.
        if self.optimized_at(f.pc.0) {
            out.push_str("Warning: debugging optimized function\n");
        }
        Ok(out)
    }

    fn frame_cmd(&mut self, n: usize, cmd: Option<String>) -> Result<Output> {
        let f = self.current_frame_of(n)?;
        if let Some(c) = cmd {
            let parsed = parse::parse(&c)?;
            let goid = self.goid;
            return self.with_context(goid, n, |s| s.run(parsed));
        }
        self.frame = n;
        let mut out = self.context_line()?;
        let _ = writeln!(
            out,
            "Frame {}: {}:{} (PC: {:x})",
            n,
            format::shorten_path(&f.file, self.cwd()),
            f.line,
            f.pc.0
        );
        out.push_str(&self.source_or_note(&f.file, f.line, true));
        Ok(Output::Text(out))
    }

    // ---- threads and registers --------------------------------------------------------

    fn threads_cmd(&self) -> Result<Output> {
        // Delve lists threads by id; the core's note order puts the crashing one first.
        let mut threads: Vec<&Thread> = self.target.threads().iter().collect();
        threads.sort_by_key(|t| t.tid);
        if self.json {
            let arr: Vec<Value> = threads
                .iter()
                .map(|t| {
                    let l = self.target.location(Addr(t.pc()));
                    json!({
                        "id": t.tid,
                        "current": Some(t.tid) == self.tid,
                        "pc": l.pc,
                        "file": l.file,
                        "line": l.line,
                        "function": l.function,
                        "goroutine": self.target.thread_goroutine(t.tid).map(|g| g.goid),
                        "signal": t.signal,
                    })
                })
                .collect();
            return Ok(Output::Json(Value::Array(arr)));
        }
        let mut out = String::new();
        for t in threads {
            let l = self.target.location(Addr(t.pc()));
            out.push_str(&format::thread_line(
                Some(t.tid) == self.tid,
                t.tid,
                &l,
                self.cwd(),
            ));
            out.push('\n');
        }
        Ok(Output::Text(out))
    }

    fn thread_cmd(&mut self, t: Option<u32>) -> Result<Output> {
        let t = t.ok_or_else(|| CommandError::Invalid("you must specify a thread".into()))?;
        if !self.target.threads().iter().any(|th| th.tid == t) {
            return Err(CommandError::Failed(format!("unknown thread {t}")));
        }
        let from = self
            .tid
            .map(|x| x.to_string())
            .unwrap_or_else(|| "none".into());
        self.tid = Some(t);
        self.goid = self.target.thread_goroutine(t).map(|g| g.goid);
        self.frame = 0;
        Ok(Output::Text(format!("Switched from {from} to {t}\n")))
    }

    fn regs_cmd(&self, all: bool) -> Result<Output> {
        // The thread's registers are exact for frame 0 of the goroutine it runs;
        // elsewhere only the registers the unwinder recovered for the frame are known.
        let on_thread = match self.cur_goroutine() {
            Some(g) => g.thread.is_some() && g.thread == self.tid,
            None => true,
        };
        let mut out = if self.frame == 0 && on_thread {
            let t = self
                .cur_thread()
                .ok_or_else(|| CommandError::Failed("no current thread".into()))?;
            format::thread_regs_text(t, all)
        } else if self.target.threads().iter().any(|t| t.arm64.is_some()) {
            // Only what the unwinder knows in an outer frame: PC, SP, FP and what a
            // signal context restored.
            let f = self.current_frame_of(self.frame)?;
            let mut r = crate::snapshot::Arm64Registers::default();
            let mut names = Vec::new();
            for (n, v) in &f.regs {
                if r.set_by_dwarf(*n, *v) {
                    names.extend(crate::snapshot::Arm64Registers::dwarf_name(*n));
                }
            }
            let mut out = String::new();
            for line in format::arm64_regs_text(&r).lines() {
                let name = line.split('=').next().unwrap_or("").trim();
                if names.contains(&name) {
                    out.push_str(line);
                    out.push('\n');
                }
            }
            out.push('\n');
            out
        } else {
            let f = self.current_frame_of(self.frame)?;
            let mut r = Registers::default();
            let mut known = Vec::new();
            for (n, v) in &f.regs {
                if r.set_by_dwarf(*n, *v) {
                    known.push(*n);
                }
            }
            let text = format::regs_text(&r, false);
            let names: Vec<&str> = known.iter().filter_map(|n| dwarf_reg_name(*n)).collect();
            let mut out = String::new();
            for line in text.lines() {
                let name = line.split('=').next().unwrap_or("").trim();
                if names.contains(&name) {
                    out.push_str(line);
                    out.push('\n');
                }
            }
            if out.is_empty() {
                out.push_str("(no registers are known for this frame)\n");
            }
            out.push('\n');
            out
        };
        if all {
            out.push_str("(floating point and vector registers are not read from the core yet)\n");
        }
        Ok(Output::Text(out))
    }

    // ---- memory and code ------------------------------------------------------------------

    fn examine(&self, x: &ExamineArgs) -> Result<Output> {
        let len = x.count.saturating_mul(x.size);
        let mut buf = vec![0u8; len];
        self.target
            .memory()
            .read(Addr(x.addr), &mut buf)
            .map_err(|e| {
                CommandError::Failed(format!("cannot read memory at {:#x}: {e}", x.addr))
            })?;
        Ok(Output::Text(format::examine_text(
            x.addr, &buf, x.size, x.format,
        )))
    }

    /// Resolve a location to (file, line, pc).
    fn resolve(&self, spec: &LocSpec) -> Result<(String, u32, Option<u64>)> {
        match spec {
            LocSpec::Addr(a) => {
                let (file, line) = self
                    .target
                    .file_line(Addr(*a))
                    .ok_or_else(|| CommandError::Failed(format!("no source line for {a:#x}")))?;
                Ok((file, line, Some(*a)))
            }
            LocSpec::Func(name) => {
                let f = self.find_func(name)?;
                // Delve shows a function where its breakpoint would go: after the
                // prologue.
                if let Some(t) = self.target.as_target() {
                    let found = crate::exec::locate::resolve(t, &f.name, None).ok();
                    if let Some((r, a)) = found
                        .as_ref()
                        .and_then(|v| v.first())
                        .and_then(|r| r.addrs.first().map(|a| (r, a)))
                    {
                        return Ok((r.file.clone(), r.line, Some(a.0)));
                    }
                }
                let (file, line) = self.target.file_line(f.entry).ok_or_else(|| {
                    CommandError::Failed(format!("no source line for {}", f.name))
                })?;
                Ok((file, line, Some(f.entry.0)))
            }
            LocSpec::FileLine(file, line) => {
                let full = self.find_file(file)?;
                let pc = self.pc_for_line(&full, *line);
                Ok((full, *line, pc))
            }
            LocSpec::Line(line) => {
                let f = self.current_frame_of(self.frame)?;
                let pc = self.pc_for_line(&f.file, *line);
                Ok((f.file, *line, pc))
            }
        }
    }

    fn find_func(&self, name: &str) -> Result<crate::repl::FuncInfo> {
        if let Some(f) = self.target.func_by_name(name) {
            return Ok(f);
        }
        // Delve accepts a unique suffix at a package boundary (`Mutex).Lock`, `main`).
        let cands: Vec<String> = self
            .target
            .function_names()
            .into_iter()
            .filter(|n| {
                n.strip_suffix(name)
                    .is_some_and(|p| p.ends_with('.') || p.ends_with('/'))
            })
            .collect();
        match cands.as_slice() {
            [one] => self
                .target
                .func_by_name(one)
                .ok_or_else(|| CommandError::Failed(format!("location {name:?} not found"))),
            [] => Err(CommandError::Failed(format!("location {name:?} not found"))),
            many => Err(CommandError::Failed(format!(
                "location {name:?} is ambiguous: {}",
                many.join(", ")
            ))),
        }
    }

    fn find_file(&self, file: &str) -> Result<String> {
        let files = self.target.source_files();
        if files.iter().any(|f| f == file) {
            return Ok(file.to_string());
        }
        let suffix = format!("/{}", file.trim_start_matches("./"));
        let mut cands: Vec<String> = files.into_iter().filter(|f| f.ends_with(&suffix)).collect();
        cands.dedup();
        match cands.len() {
            1 => Ok(cands.swap_remove(0)),
            0 => Err(CommandError::Failed(format!("location {file:?} not found"))),
            _ => Err(CommandError::Failed(format!(
                "location {file:?} is ambiguous: {}",
                cands.join(", ")
            ))),
        }
    }

    /// The lowest PC whose line-table entry is file:line, scanning the functions
    /// whose entry is in that file (decoded instruction by instruction).
    fn pc_for_line(&self, file: &str, line: u32) -> Option<u64> {
        let mut best: Option<u64> = None;
        for name in self.target.function_names() {
            let Some(f) = self.target.func_by_name(&name) else {
                continue;
            };
            match self.target.file_line(f.entry) {
                Some((ff, _)) if ff == file => {}
                _ => continue,
            }
            let len = f.end.0.saturating_sub(f.entry.0).min(MAX_DISASSEMBLY_BYTES);
            let Ok(code) = self.target.memory().read_bytes(f.entry, len as usize) else {
                continue;
            };
            for ins in disasm::decode(&code, f.entry.0, Flavor::Intel, HashMap::new()) {
                if let Some((ff, l)) = self.target.file_line(Addr(ins.pc)) {
                    if l == line && ff == file {
                        best = Some(best.map_or(ins.pc, |b| b.min(ins.pc)));
                        break;
                    }
                }
            }
        }
        best
    }

    /// Source lines around `line`, or a note saying the file is not on this machine.
    fn source_or_note(&self, file: &str, line: u32, arrow: bool) -> String {
        let path = self.config.substitute(file);
        let count = self.config.source_list_line_count.unwrap_or(5);
        match std::fs::read_to_string(&path) {
            Ok(text) => format::source_listing(&text, line, count, arrow),
            Err(e) => format!(
                "(source not available: open {path}: {e}; map build paths with 'config substitute-path <from> <to>')\n"
            ),
        }
    }

    fn list_cmd(&self, spec: Option<LocSpec>) -> Result<Output> {
        let Some(spec) = spec else {
            let f = self.current_frame_of(self.frame)?;
            let mut out = if self.frame == 0 {
                self.context_line()?
            } else {
                match self.goid {
                    Some(g) => format!(
                        "Goroutine {g} frame {} at {}:{} (PC: {:#x})\n",
                        self.frame, f.file, f.line, f.pc.0
                    ),
                    None => format!(
                        "Thread {} frame {} at {}:{} (PC: {:#x})\n",
                        self.tid.unwrap_or(0),
                        self.frame,
                        f.file,
                        f.line,
                        f.pc.0
                    ),
                }
            };
            out.push_str(&self.source_or_note(&f.file, f.line, true));
            return Ok(Output::Text(out));
        };
        let (file, line, pc) = self.resolve(&spec)?;
        let mut out = format!("Showing {file}:{line}");
        if let Some(pc) = pc {
            let _ = write!(out, " (PC: {pc:#x})");
        }
        out.push('\n');
        out.push_str(&self.source_or_note(&file, line, false));
        Ok(Output::Text(out))
    }

    fn disassemble(&self, d: &DisassArgs) -> Result<Output> {
        let flavor = d
            .flavor
            .or(self.config.disassemble_flavor)
            .unwrap_or_default();
        let (start, end) = match &d.target {
            DisassTarget::Range(s, e) => (*s, *e),
            DisassTarget::Current => {
                let f = self.current_frame_of(self.frame)?;
                // Outer frames hold return addresses: look up the call instruction.
                let pc = if self.frame == 0 {
                    f.pc
                } else {
                    Addr(f.pc.0.saturating_sub(1))
                };
                let func = self
                    .target
                    .func_at(pc)
                    .ok_or_else(|| CommandError::Failed(format!("no function at {:#x}", f.pc.0)))?;
                (func.entry.0, func.end.0)
            }
            DisassTarget::Loc(spec) => {
                let pc = match spec {
                    LocSpec::Func(n) => Some(self.find_func(n)?.entry.0),
                    other => self.resolve(other)?.2,
                };
                let pc =
                    pc.ok_or_else(|| CommandError::Failed("no code at that location".into()))?;
                let func = self
                    .target
                    .func_at(Addr(pc))
                    .ok_or_else(|| CommandError::Failed(format!("no function at {pc:#x}")))?;
                (func.entry.0, func.end.0)
            }
        };
        let len = end.saturating_sub(start);
        if len == 0 || len > MAX_DISASSEMBLY_BYTES {
            return Err(CommandError::Invalid(format!(
                "cannot disassemble {len:#x} bytes (at most {MAX_DISASSEMBLY_BYTES:#x})"
            )));
        }
        let code = self
            .target
            .memory()
            .read_bytes(Addr(start), len as usize)
            .map_err(|e| CommandError::Failed(format!("cannot read code at {start:#x}: {e}")))?;
        let arm64 = self.target.threads().iter().any(|t| t.arm64.is_some());
        let names = if arm64 {
            let mut names = HashMap::new();
            for t in super::disasm_arm64::branch_targets(&code, start) {
                if let Some(f) = self.target.func_at(Addr(t)) {
                    if f.entry.0 == t {
                        names.insert(t, f.name);
                    }
                }
            }
            names
        } else {
            self.target.operand_names(&code, start)
        };
        let mut insns = if arm64 {
            // One syntax on arm64 (the decoder's); -s is ignored there.
            super::disasm_arm64::decode(&code, start, &names)
        } else {
            disasm::decode(&code, start, flavor, names)
        };
        if !matches!(d.target, DisassTarget::Range(..)) {
            // A function's pclntab range runs to the next entry and includes the
            // int3 padding, which has no line-table entry: Delve stops before it.
            while insns
                .last()
                .is_some_and(|i| self.target.file_line(Addr(i.pc)).is_none())
            {
                insns.pop();
            }
        }
        let thread_pc = self.cur_thread().map(|t| t.pc());
        let mut out = String::new();
        if let Some(f) = self.target.func_at(Addr(start)) {
            let file = self
                .target
                .file_line(f.entry)
                .map(|(f, _)| f)
                .unwrap_or_default();
            let _ = writeln!(out, "TEXT {}(SB) {}", f.name, file);
        }
        let rows: Vec<Vec<String>> = insns
            .iter()
            .map(|i| {
                let pos = self
                    .target
                    .file_line(Addr(i.pc))
                    .map(|(f, l)| {
                        let base = f.rsplit('/').next().unwrap_or(&f).to_string();
                        format!("{base}:{l}")
                    })
                    .unwrap_or_else(|| "?".into());
                vec![
                    if Some(i.pc) == thread_pc { "=>" } else { "" }.to_string(),
                    pos,
                    format!("{:#x}", i.pc),
                    disasm::hex_bytes(&i.bytes),
                    i.text.clone(),
                ]
            })
            .collect();
        out.push_str(&format::tabwrite(&rows));
        Ok(Output::Text(out))
    }
}

// ---- free helpers ----------------------------------------------------------------------

/// What every row of one `goroutines` listing shares.
struct Listing<'a> {
    args: &'a GoroutinesArgs,
    cwd: Option<&'a std::path::Path>,
    current: Option<u64>,
    locs: LocCache,
}

/// `Debuggee::location` by PC, memoized: a listing asks for the same few go-statement
/// and start PCs 100,000 times.
#[derive(Default)]
struct LocCache {
    map: Mutex<HashMap<(u64, bool), Arc<Location>>>,
    starts: Mutex<HashMap<u64, u64>>,
}

impl LocCache {
    /// The location of `pc`; `go` gives the go-statement form (the call's line, the
    /// function found even when the line is not).
    fn get<D: Debuggee + ?Sized>(&self, d: &D, pc: Addr, go: bool) -> Arc<Location> {
        let key = (pc.0, go);
        if let Some(l) = self.lock().get(&key) {
            return l.clone();
        }
        let l = if go {
            // The line of the go statement is the call's, so look up one byte before
            // the return address, as the runtime's "created by" line does.
            let mut l = d.location(Addr(pc.0.saturating_sub(1)));
            l.pc = pc.0;
            if l.function.is_empty() && !pc.is_null() {
                l.function = d.func_at(pc).map(|f| f.name).unwrap_or_default();
            }
            l
        } else {
            d.location(pc)
        };
        let l = Arc::new(l);
        self.lock().entry(key).or_insert(l).clone()
    }

    /// A start PC's location, through a go-statement wrapper as Delve shows it; the
    /// same few start PCs repeat across a listing, so the unwrap is memoized too.
    fn get_start<D: Debuggee + ?Sized>(&self, d: &D, pc: Addr) -> Arc<Location> {
        if let Some(&u) = self.starts().get(&pc.0) {
            return self.get(d, Addr(u), false);
        }
        let u = startloc::unwrap(d, pc);
        self.starts().insert(pc.0, u.0);
        self.get(d, u, false)
    }

    fn starts(&self) -> std::sync::MutexGuard<'_, HashMap<u64, u64>> {
        self.starts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(u64, bool), Arc<Location>>> {
        // A poisoned map holds only complete entries.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Append one goroutine's listing text to `out` if it passes the filters; true if it
/// did. Uses the lite walk when `lite` is given and it can, the full stack otherwise.
fn listing_row<D: Debuggee + ?Sized>(
    d: &D,
    lite: Option<(&Unwinder<'_>, &PcCache)>,
    l: &Listing<'_>,
    g: &Goroutine,
    out: &mut String,
) -> bool {
    // One walk serves both the user-frame search (first 30 frames) and `-t`.
    let want = l.args.stack_depth.map(|d| d.saturating_add(1));
    let walk_depth = want.map_or(USER_FRAME_SEARCH, |w| {
        w.saturating_add(1).max(USER_FRAME_SEARCH)
    });
    if let Some((u, cache)) = lite {
        let stop = |f: &LiteFrame| !is_private_runtime(f.function());
        // Without -t only the frames up to the first user frame matter.
        let stop: Option<&dyn Fn(&LiteFrame) -> bool> = match want {
            None => Some(&stop),
            Some(_) => None,
        };
        if let Some(st) = u.goroutine_lite(g, walk_depth, cache, stop) {
            return render_row(d, l, g, &st.frames, want, out);
        }
    }
    let st = d.goroutine_stack(g, walk_depth);
    render_row(d, l, g, &st.frames, want, out)
}

/// The first frame Delve calls "User:", searched within the frames a
/// `USER_FRAME_SEARCH`-deep walk gives (whole physical frames, inlined ones included).
fn user_frame<F: FrameView>(frames: &[F]) -> Option<&F> {
    let mut prev: Option<(Addr, Addr)> = None;
    for (seen, f) in frames.iter().enumerate() {
        // A new physical frame starts when (pc, sp) changes (inlined frames share
        // both); the bounded walk would not have started it once 30 frames were taken.
        let here = (f.pc(), f.sp());
        if prev != Some(here) && seen >= USER_FRAME_SEARCH {
            return None;
        }
        prev = Some(here);
        if !is_private_runtime(f.function()) {
            return Some(f);
        }
    }
    None
}

fn render_row<D: Debuggee + ?Sized, F: FrameView>(
    d: &D,
    l: &Listing<'_>,
    g: &Goroutine,
    frames: &[F],
    want: Option<usize>,
    out: &mut String,
) -> bool {
    let sched = (frames.is_empty()).then(|| l.locs.get(d, g.sched.pc, false));
    let current = match (frames.first(), &sched) {
        (Some(f), _) => format::LocRef::of_frame(f),
        (None, Some(s)) => s.as_ref().into(),
        (None, None) => return false,
    };
    let user = user_frame(frames).map_or(current, format::LocRef::of_frame);
    let go = l.locs.get(d, g.gopc, true);
    let start = l.locs.get_start(d, g.start_pc);
    let pick = |k: &LocKind| match k {
        LocKind::User => user,
        LocKind::Current => current,
        LocKind::Go => go.as_ref().into(),
        LocKind::Start => start.as_ref().into(),
    };
    for f in &l.args.filters {
        let m = match &f.kind {
            FilterKind::Running => g.thread.is_some(),
            FilterKind::User => !g.system,
            FilterKind::Loc(k, s) => {
                let loc = pick(k);
                format!("{}:{} {}", loc.file, loc.line, loc.function).contains(s.as_str())
            }
            FilterKind::Label(k, v) => labels::matches(g, k, v.as_deref()),
        };
        if m == f.negate {
            return false;
        }
    }
    let wait = format::delve_wait(g);
    format::push_goroutine_line(
        out,
        Some(g.goid) == l.current,
        g.goid,
        l.args.loc,
        pick(&l.args.loc),
        g.thread,
        wait.as_deref(),
        l.cwd,
    );
    out.push('\n');
    if l.args.labels {
        labels::push_line(out, g, "\t");
    }
    if let Some(w) = want {
        let shown = frames.get(..w).unwrap_or(frames);
        format::push_stack_text(out, shown, "\t", l.cwd);
        if frames.len() > w {
            out.push_str("\t(truncated)\n");
        }
    }
    true
}

/// Delve's terminal fetches goroutines in pages of 10,000 (api.goroutineBatchSize)
/// and sorts each page by id before printing it; group listings are not sorted.
fn sort_like_delve<T>(items: &mut [T], id: impl Fn(&T) -> u64 + Copy) {
    const DELVE_PAGE: usize = 10_000;
    for page in items.chunks_mut(DELVE_PAGE) {
        page.sort_by_key(id);
    }
}

/// The arguments of `line` when its first word is `name`.
fn command_args<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let t = line.trim_start();
    let rest = t.strip_prefix(name)?;
    (rest.is_empty() || rest.starts_with(char::is_whitespace)).then_some(rest)
}

fn invalid_frame(n: usize) -> CommandError {
    CommandError::Invalid(format!("Invalid frame {n}"))
}

fn func_or_unknown(f: &str) -> &str {
    if f.is_empty() {
        "?"
    } else {
        f
    }
}

fn frame_location(f: &Frame) -> Location {
    Location {
        pc: f.pc.0,
        file: f.file.clone(),
        line: f.line,
        function: f.function.clone(),
    }
}

/// Delve's "private runtime function": `runtime.` followed by an unexported name
/// (methods `runtime.(*T).m` included), and the runtime's internal packages.
pub fn is_private_runtime(name: &str) -> bool {
    if name.is_empty() || name == "?" {
        return true;
    }
    if let Some(rest) = name.strip_prefix("runtime.") {
        return !rest.chars().next().is_some_and(|c| c.is_ascii_uppercase());
    }
    // Delve's user frame also skips the standard library's internal packages: a
    // goroutine blocked in sync.Mutex.Lock shows there, not in internal/sync.
    name.starts_with("runtime/internal/") || name.starts_with("internal/") || !name.contains('.')
}

fn dwarf_reg_name(n: u16) -> Option<&'static str> {
    Some(match n {
        0 => "Rax",
        1 => "Rdx",
        2 => "Rcx",
        3 => "Rbx",
        4 => "Rsi",
        5 => "Rdi",
        6 => "Rbp",
        7 => "Rsp",
        8 => "R8",
        9 => "R9",
        10 => "R10",
        11 => "R11",
        12 => "R12",
        13 => "R13",
        14 => "R14",
        15 => "R15",
        16 => "Rip",
        49 => "Rflags",
        58 => "Fs_base",
        59 => "Gs_base",
        _ => return None,
    })
}

fn list_matching(mut names: Vec<String>, re: Option<&str>) -> Result<Output> {
    names.sort();
    names.dedup();
    let re = match re {
        Some(r) => Some(
            regex::Regex::new(r)
                .map_err(|e| CommandError::Invalid(format!("invalid regex: {e}")))?,
        ),
        None => None,
    };
    let mut out = String::new();
    for n in names {
        if re.as_ref().map(|r| r.is_match(&n)) != Some(false) {
            out.push_str(&n);
            out.push('\n');
        }
    }
    Ok(Output::Text(out))
}

#[cfg(test)]
mod listing_tests {
    //! The parallel, memoized `goroutines` listing must print exactly what the general
    //! path (full stacks through the Debuggee trait, one goroutine at a time) prints.
    use super::*;
    use crate::target::OpenOptions;
    use crate::unwind::walk::tests::fixture_cores;

    fn general_path(s: &Session, line: &str) -> String {
        let Ok(Command::Goroutines(a)) = parse::parse(line) else {
            return String::from("unparsable");
        };
        let listing = Listing {
            args: &a,
            cwd: s.cwd(),
            current: s.goid,
            locs: LocCache::default(),
        };
        let mut out = String::new();
        let mut n = 0;
        let mut gs: Vec<&Goroutine> = s
            .target
            .goroutines()
            .iter()
            .filter(|g| g.state() != G_DEAD)
            .collect();
        sort_like_delve(&mut gs, |g| g.goid);
        for g in gs {
            if listing_row(s.target.as_ref(), None, &listing, g, &mut out) {
                n += 1;
            }
        }
        if n > 0 {
            let _ = writeln!(out, "[{n} goroutines]");
        }
        out
    }

    #[test]
    fn listing_matches_the_general_path_and_streams_identically() {
        let cases = fixture_cores(&["go1.21-stripped", "go1.27-opt", "go1.27-cgopie"]);
        assert!(!cases.is_empty(), "no fixture cores under cores/fixtures");
        for (bin, core) in cases {
            let Ok(t) = Target::open(&OpenOptions {
                binary: bin,
                core: core.clone(),
                force: false,
            }) else {
                continue;
            };
            let mut s = Session::new(t);
            for line in [
                "goroutines",
                "goroutines -t 3",
                "goroutines -t 50",
                "goroutines -s",
                "goroutines -with user -t 8",
                "goroutines -without curloc gopark",
            ] {
                let Output::Text(fast) = s.execute(line) else {
                    panic!("{line}: not text");
                };
                assert_eq!(fast, general_path(&s, line), "{} {line}", core.display());
                let mut streamed: Vec<u8> = Vec::new();
                let rest = s.execute_streaming(line, &mut streamed);
                assert_eq!(rest, Output::Text(String::new()), "{line}");
                assert_eq!(String::from_utf8_lossy(&streamed), fast, "{line}");
            }
        }
    }
}
