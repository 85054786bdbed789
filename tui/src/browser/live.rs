//! The browser's live-process side: what the execution keys send to the debugger's
//! thread (`actor.rs`), and how each reply (a new stop) moves the panes.

use super::actor::{Link, LiveState, Poll, Reply, Request, Spot};
use super::app::{App, Engine, Pane, Prompt, View};
use super::groups::Loading;
use super::source::{self, FileCache};
use coroner::exec::{locate, Origin};
use crossterm::event::{KeyCode, KeyEvent};
use std::io::Read;
use std::sync::{Arc, Mutex};

/// Lines of program output kept.
const PROGRAM_LIMIT: usize = 100_000;

/// What a launched program wrote to its stdout and stderr (one pipe for both, so
/// their order is kept), filled by a reader thread.
#[derive(Default)]
pub struct ProgramLog {
    pub lines: Vec<String>,
    partial: String,
}

pub type ProgramOutput = Arc<Mutex<ProgramLog>>;

/// Read the program's output pipe until it closes.
pub fn capture(mut pipe: std::io::PipeReader) -> ProgramOutput {
    let log: ProgramOutput = Arc::default();
    let l = log.clone();
    let spawned = std::thread::Builder::new()
        .name("program-output".into())
        .spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let Ok(mut g) = l.lock() else { break };
                let text = String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned();
                g.partial.push_str(&text);
                while let Some(i) = g.partial.find('\n') {
                    let line: String = g.partial.drain(..=i).collect();
                    let line = line.trim_end_matches(['\n', '\r']).replace('\t', "    ");
                    g.lines.push(line);
                }
                if g.lines.len() > PROGRAM_LIMIT {
                    let cut = g.lines.len() - PROGRAM_LIMIT;
                    g.lines.drain(..cut);
                }
            }
        });
    if spawned.is_err() {
        // Without the thread nothing reads the pipe; the program would block once it
        // is full. Say so in the log itself.
        if let Ok(mut g) = log.lock() {
            g.lines
                .push("(coroner could not start the thread reading the program's output)".into());
        }
    }
    log
}

impl ProgramLog {
    /// Lines so far, counting the one being written.
    pub fn len(&self) -> usize {
        self.lines.len() + usize::from(!self.partial.is_empty())
    }
    /// `n` lines from `top` (the line being written last).
    pub fn window(&self, top: usize, n: usize) -> Vec<String> {
        let mut v: Vec<String> = self.lines.iter().skip(top).take(n).cloned().collect();
        if v.len() < n && !self.partial.is_empty() && top <= self.lines.len() {
            v.push(self.partial.clone());
        }
        v
    }
}

/// The browser's state that only a live process has.
pub struct LiveSide {
    pub link: Link,
    pub state: LiveState,
    pub program: Option<ProgramOutput>,
    pub prog_top: Option<usize>,
    /// Show the output view when the reply in flight comes (`:` commands).
    output_on_reply: bool,
    /// An execution key pressed while a quick request (not a resume) was in flight:
    /// sent when its reply comes, so fast typing is not lost.
    queued: Option<String>,
}

impl App {
    /// A browser on a live process stopped as `state` says; requests go through `link`.
    pub fn new_live(
        state: LiveState,
        link: Link,
        program: Option<ProgramOutput>,
        binary: &str,
    ) -> App {
        let target = state.target.clone();
        let config = state.config.clone();
        let what = match state.origin {
            Origin::Launched => format!("pid {} (launched)", state.pid),
            Origin::Attached => format!("pid {} (attached)", state.pid),
        };
        let side = LiveSide {
            link,
            state,
            program,
            prog_top: None,
            output_on_reply: false,
            queued: None,
        };
        let mut app = App::blank(target, Engine::Live(Box::new(side)), config, binary, &what);
        app.show_stop();
        app.rebuild_rows();
        app
    }

    /// Show the stop: the session's goroutine (the one that stopped) at its frame.
    fn show_stop(&mut self) {
        let Some(st) = self.live().map(|l| (l.state.goid, l.state.frame)) else {
            return;
        };
        let g = st.0.or_else(|| {
            self.target
                .goroutines()
                .iter()
                .find(|g| !g.is_dead())
                .map(|g| g.goid)
        });
        let Some(g) = g else {
            // At the entry point no goroutine exists yet.
            self.goid = None;
            self.stack.clear();
            self.show_frame();
            return;
        };
        self.show_goroutine(g, false);
        if st.1 < self.stack.len() && st.1 != self.f_cur.sel {
            self.f_cur.sel = st.1;
            self.show_frame();
        }
        self.select_row_of(g);
    }

    /// Send a request unless one is in flight (the debugger thread does one thing at a
    /// time; while the program runs it is blocked until the stop).
    fn send(&mut self, r: Request) -> bool {
        let Some(l) = self.live_mut() else {
            return false;
        };
        if l.link.busy {
            self.status = if l.link.running() {
                "the program is running: H or Ctrl-C halts it".into()
            } else {
                "busy: the previous command has not finished".into()
            };
            return false;
        }
        if !l.link.send(r) {
            self.status = "the debugger thread is gone".into();
            return false;
        }
        true
    }

    pub(super) fn send_live_command(&mut self, line: &str, at: Option<(u64, usize)>, show: bool) {
        let sent = self.send(Request::Command {
            line: line.to_string(),
            at,
        });
        if let (true, Some(l)) = (sent, self.live_mut()) {
            l.output_on_reply = show;
        }
    }

    /// Poll the debugger thread. Returns true when the screen changed.
    pub(super) fn live_tick(&mut self) -> bool {
        let Some(l) = self.live_mut() else {
            return false;
        };
        match l.link.poll() {
            Poll::Reply(r) => {
                self.on_reply(*r);
                if let Some(line) = self.live_mut().and_then(|l| l.queued.take()) {
                    let at = self.goid.map(|g| (g, self.f_cur.sel));
                    self.send_live_command(&line, at, false);
                }
                true
            }
            Poll::Waiting => false,
            Poll::Gone => {
                self.status = "the debugger thread ended".into();
                self.quit = true;
                true
            }
        }
    }

    fn on_reply(&mut self, r: Reply) {
        let show = self
            .live_mut()
            .map(|l| std::mem::take(&mut l.output_on_reply))
            .unwrap_or(false);
        if let Some((line, out)) = &r.echo {
            if self.show_output(line, out) {
                return;
            }
            if show {
                self.view = View::Output;
            }
        }
        if let Some(s) = r.status {
            self.status = s;
        } else if !show {
            if let Some(Err(e)) = r.echo.as_ref().map(|(_, o)| match o {
                coroner::repl::Output::Error(e) => Err(e.clone()),
                _ => Ok(()),
            }) {
                // A key's command failed (e.g. `next` with no goroutine): say why.
                self.status = e;
            }
        }
        let Some(state) = r.state else { return };
        let Some(l) = self.live_mut() else { return };
        let old = std::mem::replace(&mut l.state, state);
        let (new_target, goid, frame, config) = (
            l.state.target.clone(),
            l.state.goid,
            l.state.frame,
            l.state.config.clone(),
        );
        let config_changed = config != self.config;
        self.config = config;
        if config_changed {
            self.files = FileCache::default();
        }
        if !Arc::ptr_eq(&old.target, &new_target) {
            // A new stop: everything is read again from its target.
            self.target = new_target.clone();
            self.loading = Some(Loading::start(new_target));
            self.groups.clear();
            self.group_of.clear();
            self.expanded.clear();
            self.load_failed = false;
            self.threads.clear();
            self.rebuild_rows();
            self.show_stop();
            if matches!(self.view, View::Threads | View::Registers | View::Memory) {
                self.view = View::Main;
            }
            return;
        }
        let moved = (old.goid, old.frame) != (goid, frame);
        self.follow_session(goid, frame, moved, config_changed);
    }

    fn reversible(&self) -> bool {
        self.live().is_some_and(|l| l.state.reversible)
    }

    /// Execution and live-only keys; false when `k` is not one of them.
    pub(super) fn on_live_key(&mut self, k: KeyEvent) -> bool {
        let at = self.goid.map(|g| (g, self.f_cur.sel));
        let cmd = match k.code {
            KeyCode::Char('c') => Some("continue"),
            KeyCode::Char('n') => Some("next"),
            KeyCode::Char('s') => Some("step"),
            KeyCode::Char('o') => Some("stepout"),
            // Backwards, on a target that runs backwards: the shifted forms, with E for
            // stepout because O opens the output.
            KeyCode::Char('C') if self.reversible() => Some("rewind"),
            KeyCode::Char('N') if self.reversible() => Some("rev next"),
            KeyCode::Char('S') if self.reversible() => Some("rev step"),
            KeyCode::Char('E') if self.reversible() => Some("rev stepout"),
            KeyCode::Char('C' | 'N' | 'S' | 'E') => {
                self.status =
                    "running backwards needs a recording (coroner replay) or a stub that reverses"
                        .into();
                return true;
            }
            _ => None,
        };
        if let Some(c) = cmd {
            let Some(l) = self.live_mut() else {
                return false;
            };
            if l.state.ended.is_some() {
                self.status = "the process has ended: :restart starts it again (exec/debug)".into();
                return true;
            }
            if l.link.busy && !l.link.resuming {
                l.queued = Some(c.to_string());
                return true;
            }
            self.send_live_command(c, at, false);
            return true;
        }
        match k.code {
            KeyCode::Char('H') => self.halt(),
            KeyCode::Char('b') => self.toggle_breakpoint(),
            KeyCode::Char('w') => {
                self.prompt = Some(Prompt::Watch);
                self.input.clear();
            }
            KeyCode::Char('W') => self.remove_watch(),
            KeyCode::Delete | KeyCode::Char('d')
                if self.focus == Pane::Watch && self.view == View::Main =>
            {
                self.remove_watch()
            }
            KeyCode::Char('L') => {
                self.prompt = Some(Prompt::Location);
                self.input.clear();
            }
            KeyCode::Char('P') => self.view = View::Program,
            KeyCode::Char('q') => self.ask_quit(),
            _ => return false,
        }
        true
    }

    /// Ctrl-C: halt a running program; when stopped it does nothing (q quits), so a
    /// second Ctrl-C after a halt never ends the session by accident.
    pub(super) fn on_live_ctrl_c(&mut self) {
        if self.prompt.take().is_some() {
            return;
        }
        if !self.halt_quietly() {
            self.status = "the program is stopped: q quits, c continues".into();
        }
    }

    fn halt_quietly(&mut self) -> bool {
        let halted = self.live().is_some_and(|l| l.link.halt());
        if halted {
            self.status = "halting...".into();
        }
        halted
    }

    fn halt(&mut self) {
        if !self.halt_quietly() {
            self.status = "the program is not running".into();
        }
    }

    /// `q`: a launched program is killed (as the REPL's `exit`); from an attached one
    /// we detach after asking, as the REPL asks whether to kill it.
    fn ask_quit(&mut self) {
        let Some(l) = self.live() else { return };
        if l.state.ended.is_some() || l.state.origin == Origin::Launched {
            self.quit_live(true);
        } else {
            self.prompt = Some(Prompt::Quit);
            self.input.clear();
        }
    }

    /// The answer to the quit question.
    pub(super) fn on_quit_key(&mut self, k: KeyEvent) {
        self.prompt = None;
        match k.code {
            KeyCode::Enter | KeyCode::Char('y') | KeyCode::Char('Y') => self.quit_live(false),
            KeyCode::Char('k') | KeyCode::Char('K') => self.quit_live(true),
            _ => self.status = "still attached".into(),
        }
    }

    /// Release the process and end: a running program is halted first, so the
    /// debugger thread gets the request.
    fn quit_live(&mut self, kill: bool) {
        let Some(l) = self.live_mut() else {
            self.quit = true;
            return;
        };
        if l.link.running() {
            l.link.halt();
        }
        // Queued behind a command in flight; the thread answers it when that returns.
        l.link.force_send(Request::Quit { kill });
        self.quit = true;
    }

    /// `b`: set or clear a breakpoint on the source pane's selected line.
    fn toggle_breakpoint(&mut self) {
        let spot = if self.source.disassembly {
            self.source.addrs.get(self.src_cur).map(|a| Spot::Addr(*a))
        } else if !self.source.file.is_empty() {
            Some(Spot::Line(
                self.source.file.clone(),
                self.src_cur as u32 + 1,
            ))
        } else {
            None
        };
        match spot {
            Some(s) => {
                self.send(Request::Toggle(s));
            }
            None => self.status = "no source line here: L opens a location".into(),
        }
    }

    /// `w` then Enter: a new watch, evaluated first in the frame on screen.
    pub(super) fn add_watch(&mut self, expr: &str) {
        let expr = expr.trim();
        if expr.is_empty() {
            return;
        }
        let at = self.goid.map(|g| (g, self.f_cur.sel));
        self.send(Request::AddWatch(expr.to_string(), at));
    }

    fn remove_watch(&mut self) {
        let n = self.live().map_or(0, |l| l.state.watches.len());
        if n == 0 {
            self.status = "the watch list is empty: w adds an expression".into();
            return;
        }
        let i = self.w_cur.sel.min(n - 1);
        self.send(Request::RemoveWatch(i));
    }

    /// `L` then Enter: show a location (`loop.go:30`, `main.f`) in the source pane,
    /// its line selected, so `b` sets a breakpoint there.
    pub(super) fn show_location(&mut self, spec: &str) {
        let here = self.stack.get(self.f_cur.sel).map(|f| locate::Here {
            file: f.file.clone(),
            line: f.line,
        });
        let r = match locate::resolve(&self.target, spec, here.as_ref()) {
            Ok(r) => r,
            Err(e) => {
                self.status = e.to_string();
                return;
            }
        };
        let Some(first) = r.into_iter().next() else {
            self.status = format!("location {spec:?} not found");
            return;
        };
        let view = source::for_file(
            &self.config,
            &mut self.files,
            &first.file,
            first.line,
            false,
        );
        match view {
            Some(v) => {
                self.source = v;
                self.src_cur = (first.line as usize).saturating_sub(1);
            }
            None => {
                let pc = first.addrs.first().map_or(0, |a| a.0);
                self.source = source::disassembly(&self.target, &self.config, pc);
                self.src_cur = self.source.mark.unwrap_or(0);
            }
        }
        self.src_top = None;
        self.view = View::Main;
        self.focus = Pane::Source;
        self.status = format!("{}:{} (b toggles a breakpoint)", first.file, first.line);
    }
}

impl Link {
    /// Send whatever is in flight (quitting must reach the thread).
    pub fn force_send(&mut self, r: Request) {
        self.busy = false;
        let _ = self.send(r);
    }
}
