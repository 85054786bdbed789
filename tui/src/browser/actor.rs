//! The browser on a live process: the debugger runs on its own thread (the ptrace
//! tracer thread, which alone may drive the process) and the browser talks to it
//! through channels, so keys keep working while `continue` blocks.
//!
//! The actor owns the REPL [`Session`] (and through it the
//! [`Debugger`](coroner::exec::Debugger)); the browser sends [`Request`]s and gets one
//! [`Reply`] per request carrying a fresh [`LiveState`]: the target of the current stop
//! (an immutable view the panes read from any thread), why it stopped, the breakpoints
//! to mark in the source pane and the watch list's values. Halting does not go through
//! the channel (the actor is blocked in `wait`): the browser calls the debugger's
//! interrupter, which the actor publishes in a slot the browser reads (`restart`
//! brings a new process, with a new interrupter).

use coroner::addr::Addr;
use coroner::backend::Interrupter;
use coroner::exec::{locate, Origin, Stop, StopReason};
use coroner::repl::{Config, Output, Session};
use coroner::target::{signal_name, Target};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often an idle actor checks for a fatal signal's release request.
const IDLE_TICK: Duration = Duration::from_millis(20);

/// The actor waits for a request: the process is stopped and no ptrace call runs.
static IDLE: AtomicBool = AtomicBool::new(false);
/// A fatal signal (SIGTERM, SIGHUP) asks the idle actor to release the process.
static TERMINATE: AtomicBool = AtomicBool::new(false);
/// The actor released the process after [`TERMINATE`].
static RELEASED: AtomicBool = AtomicBool::new(false);

/// For the signal thread and the panic hook, before the backend's emergency cleanup:
/// a stopped process is released by the tracer thread itself (a proper detach:
/// breakpoints removed, every thread resumed), which the emergency path cannot do while
/// that thread waits for the browser. Waits at most a second; a running process is
/// left to the emergency path (the tracer notices it in `wait`).
pub fn release_on_fatal_signal() {
    if !IDLE.load(Ordering::SeqCst) {
        return;
    }
    TERMINATE.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(1);
    while !RELEASED.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Where a breakpoint is toggled: a source line or an instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spot {
    /// A file as the binary names it, and a line.
    Line(String, u32),
    Addr(u64),
}

pub enum Request {
    /// A REPL command line, run with the session on goroutine and frame `at` (the
    /// browser's selection) when given.
    Command {
        line: String,
        at: Option<(u64, usize)>,
    },
    /// Clear the user breakpoint at the spot, or set one there.
    Toggle(Spot),
    /// A watch expression, first evaluated on goroutine and frame `at`.
    AddWatch(String, Option<(u64, usize)>),
    RemoveWatch(usize),
    /// Release the process (kill it, or detach from it) and end.
    Quit {
        kill: bool,
    },
}

/// One user breakpoint, as the source pane marks it.
#[derive(Debug, Clone)]
pub struct BpMark {
    pub file: String,
    pub line: u32,
    pub addrs: Vec<u64>,
    pub enabled: bool,
}

/// One watch expression and its value at the current stop.
#[derive(Debug, Clone)]
pub struct WatchValue {
    pub expr: String,
    /// The value as `print` shows it, or why it cannot be evaluated.
    pub value: Result<String, String>,
    /// Different from the previous stop's value.
    pub changed: bool,
}

/// How the process stands after a request.
#[derive(Clone)]
pub struct LiveState {
    pub target: Arc<Target>,
    pub pid: u32,
    pub origin: Origin,
    /// The process is gone (exited, killed, or detached from): what happened.
    pub ended: Option<String>,
    /// Why it is stopped, one line (`Breakpoint 1 at main.f ./loop.go:14`).
    pub reason: String,
    /// The session's goroutine and frame (the stopping goroutine, frame 0, after a stop).
    pub goid: Option<u64>,
    pub frame: usize,
    pub breakpoints: Vec<BpMark>,
    pub watches: Vec<WatchValue>,
    pub config: Config,
    /// The target runs backwards (rr, QEMU record/replay): the reverse keys work.
    pub reversible: bool,
    /// rr's event number at this stop, shown in the header.
    pub when: Option<String>,
}

pub struct Reply {
    /// The command line to echo in the output log, and what it printed.
    pub echo: Option<(String, Output)>,
    /// A one-line result for the status bar.
    pub status: Option<String>,
    /// None only if the session lost its debugger (never while the browser runs).
    pub state: Option<LiveState>,
}

/// Commands that resume the process: while one runs, the browser shows "running" and
/// halt keys interrupt it.
pub fn resumes(line: &str) -> bool {
    let cmd = line.split_whitespace().next().unwrap_or("");
    matches!(
        cmd,
        "continue"
            | "c"
            | "next"
            | "n"
            | "step"
            | "s"
            | "stepout"
            | "so"
            | "step-instruction"
            | "si"
            | "restart"
            | "r"
            | "call"
            | "rewind"
            | "rw"
            | "rev"
    )
}

/// The current process's interrupter.
type Slot = Arc<Mutex<Arc<dyn Interrupter>>>;

/// What [`Link::poll`] found.
pub enum Poll {
    Reply(Box<Reply>),
    Waiting,
    /// The actor's thread ended.
    Gone,
}

/// The browser's end of the channels.
pub struct Link {
    tx: Sender<Request>,
    rx: Receiver<Reply>,
    interrupter: Slot,
    /// Set by the actor while a resuming command runs (so a halt is sent only then:
    /// an interrupt sent while stopped would stop the next resume at once).
    running: Arc<AtomicBool>,
    /// A request was sent and its reply has not come back.
    pub busy: bool,
    /// The request in flight resumes the process.
    pub resuming: bool,
}

impl Link {
    pub fn send(&mut self, r: Request) -> bool {
        if let Request::Command { line, .. } = &r {
            self.resuming = resumes(line);
        } else {
            self.resuming = false;
        }
        self.busy = self.tx.send(r).is_ok();
        self.busy
    }
    /// The reply, when it came.
    pub fn poll(&mut self) -> Poll {
        match self.rx.try_recv() {
            Ok(r) => {
                self.busy = false;
                self.resuming = false;
                Poll::Reply(Box::new(r))
            }
            Err(TryRecvError::Empty) => Poll::Waiting,
            Err(TryRecvError::Disconnected) => Poll::Gone,
        }
    }
    /// Halt the running program. Returns false when nothing runs.
    pub fn halt(&self) -> bool {
        if self.running.load(Ordering::SeqCst) {
            let i = self.interrupter.lock().ok().map(|g| g.clone());
            if let Some(i) = i {
                i.interrupt();
            }
            return true;
        }
        false
    }
    pub fn running(&self) -> bool {
        self.busy && self.resuming
    }
    /// The actor's "a resuming command runs" flag, for the last-resort check after
    /// the browser quit.
    pub fn running_flag(&self) -> Arc<AtomicBool> {
        self.running.clone()
    }
}

/// The actor's end.
pub struct Actor {
    rx: Receiver<Request>,
    tx: Sender<Reply>,
    running: Arc<AtomicBool>,
    interrupter: Slot,
    watches: Vec<WatchValue>,
    ended: Option<String>,
    /// rr's event at the last stop ("Current event: N"), asked once per stop.
    when: Option<String>,
}

/// A connected pair; the [`Actor`] stays on the tracer thread.
pub fn channel(interrupter: Arc<dyn Interrupter>) -> (Link, Actor) {
    let slot: Slot = Arc::new(Mutex::new(interrupter));
    let (req_tx, req_rx) = std::sync::mpsc::channel();
    let (rep_tx, rep_rx) = std::sync::mpsc::channel();
    let running = Arc::new(AtomicBool::new(false));
    (
        Link {
            tx: req_tx,
            rx: rep_rx,
            interrupter: slot.clone(),
            running: running.clone(),
            busy: false,
            resuming: false,
        },
        Actor {
            rx: req_rx,
            tx: rep_tx,
            running,
            interrupter: slot,
            watches: Vec::new(),
            ended: None,
            when: None,
        },
    )
}

/// A link whose other end is served by the caller (the browser on a server's
/// target): the requests to answer, where the replies go, and the flag to set while a
/// resume runs (so halting is offered only then).
pub fn remote_channel(
    interrupter: Arc<dyn Interrupter>,
) -> (Link, Receiver<Request>, Sender<Reply>, Arc<AtomicBool>) {
    let (link, actor) = channel(interrupter);
    (link, actor.rx, actor.tx, actor.running)
}

/// How the session left the process, when it did.
pub enum Ending {
    /// Still attached or running under us: the caller releases it.
    Open,
    Released(String),
}

impl Actor {
    /// Serve requests until the browser quits (or its thread dies). The process is
    /// released on [`Request::Quit`]; when the channel closes without one, the caller
    /// releases it (see [`Ending::Open`]).
    pub fn serve(&mut self, s: &mut Session) -> Ending {
        self.when = s.debugger_mut().and_then(|d| d.when());
        let r = self.serve_requests(s);
        IDLE.store(false, Ordering::SeqCst);
        r
    }

    fn serve_requests(&mut self, s: &mut Session) -> Ending {
        loop {
            IDLE.store(true, Ordering::SeqCst);
            let req = match self.rx.recv_timeout(IDLE_TICK) {
                Ok(r) => r,
                Err(RecvTimeoutError::Timeout) => {
                    if TERMINATE.load(Ordering::SeqCst) {
                        let msg = release(s, None);
                        RELEASED.store(true, Ordering::SeqCst);
                        return Ending::Released(msg);
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            IDLE.store(false, Ordering::SeqCst);
            if TERMINATE.load(Ordering::SeqCst) {
                // Coroner is ending: no more commands.
                let msg = release(s, None);
                RELEASED.store(true, Ordering::SeqCst);
                return Ending::Released(msg);
            }
            let (echo, status) = match req {
                Request::Command { line, at } => {
                    if let Some((g, f)) = at {
                        super::app::sync_session(s, g, f);
                    }
                    let before = s.debugger().map(|d| d.target().clone());
                    let resuming = resumes(&line);
                    self.running.store(resuming, Ordering::SeqCst);
                    let out = s.execute(&line);
                    self.running.store(false, Ordering::SeqCst);
                    if let (Some(d), Ok(mut slot)) = (s.debugger(), self.interrupter.lock()) {
                        // `restart` replaced the process.
                        *slot = d.interrupter();
                    }
                    self.note_end(s, &line);
                    let moved = match (&before, s.debugger()) {
                        (Some(b), Some(d)) => !Arc::ptr_eq(b, d.target()),
                        _ => false,
                    };
                    if moved {
                        self.evaluate(s);
                        self.when = s.debugger_mut().and_then(|d| d.when());
                    }
                    if matches!(out, Output::Exit) {
                        // `exit`/`quit` in the command bar: as `q` with the default.
                        let msg = release(s, None);
                        let _ = self.tx.send(self.reply(s, Some((line, out)), None));
                        return Ending::Released(msg);
                    }
                    (Some((line, out)), None)
                }
                Request::Toggle(spot) => {
                    let (line, out) = toggle(s, &spot);
                    let status = match &out {
                        Output::Error(e) => e.clone(),
                        o => o.render().lines().next().unwrap_or_default().to_string(),
                    };
                    (Some((line, out)), Some(status))
                }
                Request::AddWatch(e, at) => {
                    if let Some((g, f)) = at {
                        super::app::sync_session(s, g, f);
                    }
                    let value = eval(s, &e);
                    self.watches.push(WatchValue {
                        expr: e,
                        value,
                        changed: false,
                    });
                    (None, None)
                }
                Request::RemoveWatch(i) => {
                    if i < self.watches.len() {
                        self.watches.remove(i);
                    }
                    (None, None)
                }
                Request::Quit { kill } => {
                    let msg = release(s, Some(kill));
                    return Ending::Released(msg);
                }
            };
            if self.tx.send(self.reply(s, echo, status)).is_err() {
                break;
            }
        }
        Ending::Open
    }

    /// Notice the end of the process (exit, `detach`/`kill` in the command bar), and a
    /// `restart` that brings it back.
    fn note_end(&mut self, s: &Session, line: &str) {
        let Some(d) = s.debugger() else { return };
        if d.exited().is_none() {
            self.ended = None;
            return;
        }
        if self.ended.is_some() {
            return;
        }
        let cmd = line.split_whitespace().next().unwrap_or("");
        let pid = d.pid();
        self.ended = Some(match (&d.last_stop().reason, cmd) {
            (_, "detach") => format!("detached from process {pid}: it keeps running"),
            (_, "kill") => format!("process {pid} killed"),
            (StopReason::Exited(st), _) => format!("process {pid} exited with status {st}"),
            (StopReason::Killed(sig), _) => {
                format!("process {pid} was killed by {}", short_signal(*sig))
            }
            _ => format!("process {pid} is gone"),
        });
    }

    /// Re-evaluate every watch at the new stop, in the session's scope (the stopping
    /// goroutine's frame 0), as Delve's `display` does.
    fn evaluate(&mut self, s: &mut Session) {
        for w in &mut self.watches {
            let v = eval(s, &w.expr);
            w.changed = v != w.value;
            w.value = v;
        }
    }

    pub fn state(&self, s: &Session) -> Option<LiveState> {
        let d = s.debugger()?;
        let t = d.target().clone();
        let breakpoints = d
            .breakpoints
            .sorted()
            .into_iter()
            .filter(|b| b.id > 0 && b.watch.is_none())
            .map(|b| BpMark {
                file: b.file.clone(),
                line: b.line,
                addrs: b.addrs.iter().map(|a| a.0).collect(),
                enabled: b.enabled,
            })
            .collect();
        let reason = match &self.ended {
            Some(e) => e.clone(),
            None => describe_stop(s, &t, d.last_stop(), d.origin()),
        };
        Some(LiveState {
            target: t,
            pid: d.pid(),
            origin: d.origin(),
            ended: self.ended.clone(),
            reason,
            goid: s.current_goroutine(),
            frame: s.current_frame(),
            breakpoints,
            watches: self.watches.clone(),
            config: s.config.clone(),
            reversible: d.reversible(),
            when: self.when.clone(),
        })
    }

    fn reply(&self, s: &Session, echo: Option<(String, Output)>, status: Option<String>) -> Reply {
        Reply {
            echo,
            status,
            state: self.state(s),
        }
    }
}

fn eval(s: &mut Session, expr: &str) -> Result<String, String> {
    match s.execute(&format!("print {expr}")) {
        Output::Error(e) => Err(e),
        o => Ok(o.render().trim_end().replace('\n', " ")),
    }
}

/// Clear the user breakpoint at `spot`, or set one there, with the REPL's commands (so
/// the output log reads as a REPL transcript).
fn toggle(s: &mut Session, spot: &Spot) -> (String, Output) {
    let existing = s.debugger().and_then(|d| {
        d.breakpoints
            .list
            .iter()
            .find(|b| {
                b.id > 0
                    && b.watch.is_none()
                    && match spot {
                        Spot::Line(f, l) => b.file == *f && b.line == *l,
                        Spot::Addr(a) => b.addrs.contains(&Addr(*a)),
                    }
            })
            .map(|b| b.id)
    });
    let line = match (existing, spot) {
        (Some(id), _) => format!("clear {id}"),
        (None, Spot::Line(f, l)) => format!("break {f}:{l}"),
        (None, Spot::Addr(a)) => format!("break *{a:#x}"),
    };
    let out = s.execute(&line);
    (line, out)
}

/// Kill (`Some(true)`), detach (`Some(false)`) or, for `None`, do what the REPL's
/// `exit` does by default: kill a launched process, detach from an attached one.
pub fn release(s: &mut Session, kill: Option<bool>) -> String {
    let Some(d) = s.debugger_mut() else {
        return String::new();
    };
    if d.exited().is_some() {
        return String::new();
    }
    let pid = d.pid();
    let kill = kill.unwrap_or(d.origin() == Origin::Launched);
    match d.detach(kill) {
        Ok(()) if kill => String::new(),
        Ok(()) => format!("Detached from process {pid}: it keeps running."),
        Err(e) => format!("coroner: could not release process {pid}: {e}"),
    }
}

/// `Breakpoint 1 at main.f ./loop.go:14`, `halted at ...`, `received SIGSEGV at ...`.
fn describe_stop(s: &Session, t: &Target, stop: &Stop, origin: Origin) -> String {
    let at = stop
        .pc
        .map(|pc| {
            let r = locate::describe(t, pc);
            let file = coroner::repl::format::shorten_path(&r.file, s.cwd.as_deref());
            if r.function.is_empty() {
                format!("{:#x}", pc.0)
            } else {
                format!("{} {file}:{}", r.function, r.line)
            }
        })
        .unwrap_or_default();
    let at = if at.is_empty() {
        String::new()
    } else {
        format!(" at {at}")
    };
    let g = stop
        .goid
        .map(|g| format!(" (goroutine {g})"))
        .unwrap_or_default();
    let bp_name = |id: i64| {
        s.debugger()
            .and_then(|d| d.breakpoints.get(id))
            .map(|b| b.label())
            .unwrap_or_else(|| id.to_string())
    };
    match &stop.reason {
        StopReason::Entry if origin == Origin::Launched => {
            "at the program's entry point (no goroutine yet): c runs it".into()
        }
        StopReason::Entry => format!("attached{at}{g}"),
        StopReason::Breakpoint(id) => format!("Breakpoint {}{at}{g}", bp_name(*id)),
        StopReason::Watchpoint(id) => format!("watchpoint on {}{at}{g}", bp_name(*id)),
        StopReason::WatchOutOfScope(n) => {
            format!("watchpoint {n} went out of scope and was cleared{at}{g}")
        }
        StopReason::Step => format!("stepped{at}{g}"),
        StopReason::Signal(sig) => format!("received {}{at}{g}", short_signal(*sig)),
        StopReason::Halted => format!("halted{at}{g}"),
        StopReason::Exited(st) => format!("exited with status {st}"),
        StopReason::Killed(sig) => format!("killed by {}", short_signal(*sig)),
    }
}

/// `SIGSEGV` from `SIGSEGV: segmentation violation`.
fn short_signal(sig: i32) -> String {
    let n = signal_name(sig);
    n.split(':').next().unwrap_or(&n).to_string()
}
