//! The browser's state and what every key and mouse event does to it. Rendering is in
//! `ui.rs`; nothing here touches the terminal, so tests drive an [`App`] directly.

use super::groups::{is_private_runtime, Group, Loading};
use super::live::LiveSide;
use super::source::{self, FileCache, SourceView};
use super::vars::VarTree;
use coroner::repl::{Config, Output, Session};
use coroner::target::Target;
use coroner::unwind::Frame;
use ratatui::layout::Rect;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Frames unwound for the stack pane.
const STACK_DEPTH: usize = 1024;
/// Lines of command output kept.
const OUTPUT_LIMIT: usize = 100_000;

/// The panes of the main view, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Goroutines,
    Stack,
    Source,
    Vars,
    /// The watch list (live processes only).
    Watch,
}

impl Pane {
    const ORDER: [Pane; 5] = [
        Pane::Goroutines,
        Pane::Stack,
        Pane::Source,
        Pane::Vars,
        Pane::Watch,
    ];
    /// The next pane in Tab order; the watch pane exists only on a live process.
    pub(super) fn step(self, back: bool, live: bool) -> Pane {
        let order = if live {
            &Pane::ORDER[..]
        } else {
            &Pane::ORDER[..4]
        };
        let i = order.iter().position(|p| *p == self).unwrap_or(0);
        let n = order.len();
        let j = if back { (i + n - 1) % n } else { (i + 1) % n };
        order.get(j).copied().unwrap_or(Pane::Goroutines)
    }
}

/// What fills the body of the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Main,
    Threads,
    Registers,
    Memory,
    Output,
    /// What a launched program printed (live processes only).
    Program,
}

/// A one-line prompt at the bottom of the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// `:` any REPL command.
    Command,
    /// `/` filter goroutine groups (incremental).
    Filter,
    /// `g` jump to a goroutine by ID.
    Goto,
    /// `x` memory at an address or expression.
    Memory,
    /// `L` a location (`file.go:N`, a function) to show in the source pane.
    Location,
    /// `w` an expression for the watch list.
    Watch,
    /// `q` on an attached process: detach (y), kill (k) or stay (n).
    Quit,
}

/// One row of the goroutines pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    Group(usize),
    /// (group, member index)
    Member(usize, usize),
    /// A goroutine shown before grouping is done (the crashing one).
    Single(u64),
}

/// A selectable list's cursor and first visible row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    pub sel: usize,
    pub offset: usize,
}

impl Cursor {
    pub fn move_by(&mut self, delta: isize, len: usize) {
        if len == 0 {
            self.sel = 0;
            return;
        }
        let s = self.sel as isize + delta;
        self.sel = s.clamp(0, len as isize - 1) as usize;
    }
    /// Keep the selection inside a window of `height` rows.
    pub fn fit(&mut self, height: usize, len: usize) {
        if len == 0 || height == 0 {
            self.offset = 0;
            return;
        }
        self.sel = self.sel.min(len - 1);
        if self.sel < self.offset {
            self.offset = self.sel;
        }
        if self.sel >= self.offset + height {
            self.offset = self.sel + 1 - height;
        }
        self.offset = self.offset.min(len.saturating_sub(height));
    }
}

/// Where the last frame drew each pane (for mouse clicks and wheel).
#[derive(Debug, Clone, Copy, Default)]
pub struct Areas {
    pub goroutines: Rect,
    pub stack: Rect,
    pub source: Rect,
    pub vars: Rect,
    pub watch: Rect,
    pub body: Rect,
}

/// Who answers the command bar: a session over the core, or the live process's actor.
pub enum Engine {
    Core(Box<Session>),
    Live(Box<LiveSide>),
}

/// A thread as the threads view lists it.
#[derive(Debug, Clone)]
pub struct ThreadRow {
    pub tid: u32,
    pub text: String,
}

pub struct App {
    pub target: Arc<Target>,
    pub engine: Engine,
    /// The session's `config` (source paths, disassembly flavour), as of the last command.
    pub config: Config,
    pub binary_name: String,
    pub core_name: String,
    pub(super) loading: Option<Loading>,
    pub load_failed: bool,
    pub groups: Vec<Group>,
    pub(super) group_of: HashMap<u64, usize>,
    pub filter: String,
    pub rows: Vec<Row>,
    pub(super) expanded: HashSet<usize>,
    pub g_cur: Cursor,
    pub goid: Option<u64>,
    pub stack: Vec<Frame>,
    pub stack_error: Option<String>,
    pub f_cur: Cursor,
    pub source: SourceView,
    /// First line shown in the source pane, None: centre on the mark.
    pub src_top: Option<usize>,
    /// The selected line of the source pane (where `b` toggles a breakpoint).
    pub src_cur: usize,
    pub(super) files: FileCache,
    pub vars: VarTree,
    pub v_cur: Cursor,
    pub threads: Vec<ThreadRow>,
    pub t_cur: Cursor,
    pub w_cur: Cursor,
    pub mem_addr: Option<u64>,
    pub mem_title: String,
    pub output: Vec<String>,
    pub out_top: usize,
    pub focus: Pane,
    pub view: View,
    pub prompt: Option<Prompt>,
    pub input: String,
    pub help: bool,
    pub help_top: usize,
    pub status: String,
    pub quit: bool,
    pub no_color: bool,
    pub areas: Areas,
    /// The goroutine shown first was not the crashing one: once grouped, show the
    /// first group instead.
    pub(super) fallback_start: bool,
}

impl App {
    /// A browser over `target`; `session` must run on the same target (see
    /// `shared.rs`). Grouping starts in the background at once.
    pub fn new(target: Arc<Target>, session: Session, binary: &str, core: &str) -> App {
        let first_goid = session.current_goroutine();
        let config = session.config.clone();
        let mut app = App::blank(
            target,
            Engine::Core(Box::new(session)),
            config,
            binary,
            core,
        );
        // The first screen: the goroutine that crashed (else the session's current
        // one), at its first user frame, before any grouping is done.
        let first = app.target.crash().goroutine.or(first_goid).or_else(|| {
            // No goroutine crashed (a signal from outside, or on a scheduler
            // thread): start on the first live goroutine, usually main.
            app.fallback_start = true;
            app.target
                .goroutines()
                .iter()
                .find(|g| !g.is_dead())
                .map(|g| g.goid)
        });
        if let Some(g) = first {
            app.show_goroutine(g, true);
        }
        app.rebuild_rows();
        app
    }

    /// The state every browser starts from; grouping starts in the background at once.
    pub(super) fn blank(
        target: Arc<Target>,
        engine: Engine,
        config: Config,
        binary: &str,
        core: &str,
    ) -> App {
        let loading = Loading::start(target.clone());
        App {
            target,
            engine,
            config,
            binary_name: binary.to_string(),
            core_name: core.to_string(),
            loading: Some(loading),
            load_failed: false,
            groups: Vec::new(),
            group_of: HashMap::new(),
            filter: String::new(),
            rows: Vec::new(),
            expanded: HashSet::new(),
            g_cur: Cursor::default(),
            goid: None,
            stack: Vec::new(),
            stack_error: None,
            f_cur: Cursor::default(),
            source: SourceView::default(),
            src_top: None,
            src_cur: 0,
            files: FileCache::default(),
            vars: VarTree::default(),
            v_cur: Cursor::default(),
            threads: Vec::new(),
            t_cur: Cursor::default(),
            w_cur: Cursor::default(),
            mem_addr: None,
            mem_title: String::new(),
            output: Vec::new(),
            out_top: 0,
            focus: Pane::Goroutines,
            view: View::Main,
            prompt: None,
            input: String::new(),
            help: false,
            help_top: 0,
            status: String::new(),
            quit: false,
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
            areas: Areas::default(),
            fallback_start: false,
        }
    }

    /// The live side, on a live process.
    pub fn live(&self) -> Option<&LiveSide> {
        match &self.engine {
            Engine::Live(l) => Some(l),
            Engine::Core(_) => None,
        }
    }
    pub(super) fn live_mut(&mut self) -> Option<&mut LiveSide> {
        match &mut self.engine {
            Engine::Live(l) => Some(l),
            Engine::Core(_) => None,
        }
    }

    /// Goroutines grouped so far / to group, while the background work runs.
    pub fn progress(&self) -> Option<(usize, usize)> {
        self.loading.as_ref().map(|l| (l.progress(), l.total))
    }

    /// Take the groups if the background work finished. Returns true when state changed.
    pub fn tick(&mut self) -> bool {
        let live = self.live_tick();
        let Some(l) = &self.loading else {
            return live;
        };
        match l.poll() {
            Ok(groups) => {
                self.loading = None;
                self.set_groups(groups);
                true
            }
            Err(true) => live,
            Err(false) => {
                self.loading = None;
                self.load_failed = true;
                self.status = "grouping goroutines failed".into();
                true
            }
        }
    }

    /// Block until grouping is done (tests and snapshots).
    #[allow(dead_code)] // used by tests/browser_snapshots.rs
    pub fn wait_loaded(&mut self) {
        if let Some(l) = self.loading.take() {
            match l.wait() {
                Some(g) => self.set_groups(g),
                None => self.load_failed = true,
            }
        }
    }

    fn set_groups(&mut self, groups: Vec<Group>) {
        self.group_of.clear();
        for (i, g) in groups.iter().enumerate() {
            for m in &g.members {
                self.group_of.insert(*m, i);
            }
        }
        self.groups = groups;
        self.rebuild_rows();
        if std::mem::take(&mut self.fallback_start) {
            self.g_cur = Cursor::default();
            if let Some(g) = self.rows.first().and_then(|r| self.row_goid(*r)) {
                self.show_goroutine(g, true);
            }
        } else if let Some(g) = self.goid {
            // Keep the cursor on the goroutine shown.
            self.select_row_of(g);
        }
    }

    pub fn is_expanded(&self, group: usize) -> bool {
        self.expanded.contains(&group)
    }

    pub(super) fn crash_goid(&self) -> Option<u64> {
        self.target.crash().goroutine
    }

    /// Recompute the goroutines pane's rows from groups, filter and expansions.
    pub fn rebuild_rows(&mut self) {
        self.rows.clear();
        if self.loading.is_some() || (self.groups.is_empty() && self.load_failed) {
            if let Some(g) = self.crash_goid().or(self.goid) {
                self.rows.push(Row::Single(g));
            }
            return;
        }
        let needle = self.filter.to_lowercase();
        for (i, g) in self.groups.iter().enumerate() {
            if !g.matches(&needle) {
                continue;
            }
            self.rows.push(Row::Group(i));
            if self.expanded.contains(&i) {
                self.rows
                    .extend((0..g.members.len()).map(|m| Row::Member(i, m)));
            }
        }
        self.g_cur.move_by(0, self.rows.len());
    }

    pub(super) fn select_row_of(&mut self, goid: u64) {
        let pos = self.rows.iter().position(|r| match *r {
            Row::Member(gi, mi) => self
                .groups
                .get(gi)
                .and_then(|g| g.members.get(mi))
                .is_some_and(|m| *m == goid),
            Row::Single(g) => g == goid,
            Row::Group(_) => false,
        });
        let pos = pos.or_else(|| {
            let gi = *self.group_of.get(&goid)?;
            self.rows.iter().position(|r| *r == Row::Group(gi))
        });
        if let Some(p) = pos {
            self.g_cur.sel = p;
        }
    }

    /// The goroutine a goroutines-pane row stands for.
    pub fn row_goid(&self, row: Row) -> Option<u64> {
        match row {
            Row::Group(gi) => self.groups.get(gi)?.representative(self.crash_goid()),
            Row::Member(gi, mi) => self.groups.get(gi)?.members.get(mi).copied(),
            Row::Single(g) => Some(g),
        }
    }

    /// Show goroutine `goid` in the stack pane; `user_frame` selects its first frame
    /// outside the runtime (the one an on-call engineer wants first).
    pub fn show_goroutine(&mut self, goid: u64, user_frame: bool) {
        let Some(g) = self.target.goroutine(goid) else {
            self.status = format!("no goroutine {goid}");
            return;
        };
        let st = self.target.goroutine_stack(g, STACK_DEPTH);
        self.goid = Some(goid);
        self.stack = st.frames;
        self.stack_error = st.error;
        self.f_cur = Cursor::default();
        if user_frame {
            if let Some(i) = self
                .stack
                .iter()
                .position(|f| !is_private_runtime(&f.function))
            {
                self.f_cur.sel = i;
                // Show the callers below the user frame, and a little of what it called.
                self.f_cur.offset = i.saturating_sub(2);
            }
        }
        self.show_frame();
    }

    /// Refresh the source and variables panes for the selected frame.
    pub fn show_frame(&mut self) {
        let n = self.f_cur.sel;
        let Some(f) = self.stack.get(n) else {
            self.source = SourceView::default();
            self.vars = VarTree::default();
            return;
        };
        // Frames interrupted by a signal (sigpanic's caller) hold the faulting PC
        // itself, not a return address.
        let trap = n == 0
            || matches!(f.source, coroner::unwind::FrameSource::SignalFrame)
            || n.checked_sub(1)
                .and_then(|p| self.stack.get(p))
                .is_some_and(|callee| {
                    matches!(
                        callee.function.as_str(),
                        "runtime.sigpanic" | "runtime.asyncPreempt" | "runtime.debugCallV2"
                    )
                });
        self.source = source::for_frame(&self.target, &self.config, &mut self.files, f, trap);
        self.src_top = None;
        self.src_cur = self.source.mark.unwrap_or(0);
        self.vars = VarTree::for_frame(&self.target, f, n);
        self.v_cur = Cursor::default();
    }

    pub(super) fn on_goroutine_row_changed(&mut self) {
        if let Some(g) = self
            .rows
            .get(self.g_cur.sel)
            .and_then(|r| self.row_goid(*r))
        {
            if Some(g) != self.goid {
                self.show_goroutine(g, true);
            }
        }
    }

    /// Jump to goroutine `goid`: expand its group and select it.
    pub fn goto_goroutine(&mut self, goid: u64) {
        if self.target.goroutine(goid).is_none_or(|g| g.is_dead()) {
            self.status = format!("no goroutine {goid}");
            return;
        }
        if let Some(&gi) = self.group_of.get(&goid) {
            let hidden = !self
                .groups
                .get(gi)
                .is_some_and(|g| g.matches(&self.filter.to_lowercase()));
            if hidden {
                self.filter.clear();
            }
            self.expanded.insert(gi);
            self.rebuild_rows();
        }
        self.show_goroutine(goid, true);
        self.select_row_of(goid);
        self.status = format!("goroutine {goid}");
    }

    /// Run one REPL command in the session, in the context of the selected goroutine
    /// and frame, and show its output. On a live process the command goes to the
    /// debugger's thread and its output comes back later (see `live.rs`).
    pub fn run_command(&mut self, line: &str) {
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        let at = self.goid.map(|g| (g, self.f_cur.sel));
        let session = match &mut self.engine {
            Engine::Core(s) => s,
            Engine::Live(_) => {
                self.send_live_command(line, at, true);
                return;
            }
        };
        if let Some((g, f)) = at {
            sync_session(session, g, f);
        }
        let before = (session.current_goroutine(), session.current_frame());
        let out = session.execute(line);
        let after = (session.current_goroutine(), session.current_frame());
        let config_changed = session.config != self.config;
        self.config = session.config.clone();
        if self.show_output(line, &out) {
            return;
        }
        self.view = View::Output;
        self.follow_session(after.0, after.1, after != before, config_changed);
    }

    /// Append a command and its output to the output log. Returns true when the
    /// command ends the session.
    pub(super) fn show_output(&mut self, line: &str, out: &Output) -> bool {
        self.out_top = self.output.len();
        self.output.push(format!("(coroner) {line}"));
        let text = match out {
            Output::Exit => {
                self.quit = true;
                return true;
            }
            o => o.render(),
        };
        self.output
            .extend(text.lines().map(|l| l.replace('\t', "    ")));
        if self.output.len() > OUTPUT_LIMIT {
            let cut = self.output.len() - OUTPUT_LIMIT;
            self.output.drain(..cut);
            self.out_top = self.out_top.saturating_sub(cut);
        }
        false
    }

    /// Commands that move (goroutine N, frame N, up, down) move the browser too; a
    /// changed `config` (substitute-path) re-reads the source.
    pub(super) fn follow_session(
        &mut self,
        goid: Option<u64>,
        frame: usize,
        moved: bool,
        config_changed: bool,
    ) {
        if moved {
            if let Some(g) = goid {
                if Some(g) != self.goid {
                    self.show_goroutine(g, false);
                    self.select_row_of(g);
                }
            }
            if frame != self.f_cur.sel && frame < self.stack.len() {
                self.f_cur.sel = frame;
                self.show_frame();
                return;
            }
        }
        if config_changed {
            self.files = FileCache::default();
            self.show_frame();
        }
    }

    pub(super) fn load_threads(&mut self) {
        let t = &self.target;
        let crash_tid = t.crash().thread;
        self.threads = t
            .threads()
            .iter()
            .map(|th| {
                let st = t.thread_stack(th, 1);
                let loc = st
                    .frames
                    .first()
                    .map(|f| {
                        format!(
                            "{:#x} {} {}:{}",
                            f.pc.0,
                            f.function,
                            short_file(&f.file),
                            f.line
                        )
                    })
                    .unwrap_or_else(|| format!("{:#x}", th.pc()));
                let g = t
                    .thread_goroutine(th.tid)
                    .map(|g| format!(" goroutine {}", g.goid))
                    .unwrap_or_default();
                let mark = if crash_tid == Some(th.tid) { "!" } else { " " };
                let sig = if th.signal != 0 {
                    format!(" signal {}", th.signal)
                } else {
                    String::new()
                };
                ThreadRow {
                    tid: th.tid,
                    text: format!("{mark}Thread {} at {loc}{g}{sig}", th.tid),
                }
            })
            .collect();
    }

    /// Set the memory view at an address or an expression evaluated in the frame.
    pub fn open_memory(&mut self, what: &str) {
        let what = what.trim();
        self.status.clear();
        let parsed = parse_addr(what);
        let addr = match parsed {
            Some(a) => Some(a),
            None => self.eval_address(what),
        };
        match addr {
            Some(a) => {
                self.mem_addr = Some(a & !0xf);
                self.mem_title = format!("{what} = {a:#x}");
                self.view = View::Memory;
            }
            None => {
                if self.status.is_empty() {
                    self.status = format!("cannot evaluate {what:?} to an address");
                }
            }
        }
    }

    fn eval_address(&mut self, expr: &str) -> Option<u64> {
        let frame = self.stack.get(self.f_cur.sel).map(|f| (f, self.f_cur.sel));
        match super::vars::eval_address(&self.target, frame, expr) {
            Ok(a) => Some(a),
            Err(e) => {
                self.status = format!("{expr}: {e}");
                None
            }
        }
    }
}

/// `0x1234`, `1234` (decimal) as an address.
pub fn parse_addr(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// The last two components of a path (`work/nilderef.go`).
pub fn short_file(path: &str) -> String {
    let mut it = path.rsplit('/');
    match (it.next(), it.next()) {
        (Some(f), Some(d)) if !d.is_empty() => format!("{d}/{f}"),
        (Some(f), _) => f.to_string(),
        _ => String::new(),
    }
}

/// A function name without its package path (`work.describe`).
pub fn short_func(name: &str) -> &str {
    // The package path ends at the last '/' before the first '.' after it; method
    // receivers such as `(*T)` contain no '/'.
    let cut = name
        .find(['(', '['])
        .map_or(name, |i| name.get(..i).unwrap_or(name));
    match cut.rfind('/') {
        Some(i) => name.get(i + 1..).unwrap_or(name),
        None => name,
    }
}

/// Point the session at the browser's goroutine and frame (silently), so `locals`
/// in the command bar means the frame on screen.
pub(super) fn sync_session(session: &mut Session, g: u64, frame: usize) {
    if session.current_goroutine() != Some(g) {
        let _ = session.execute(&format!("goroutine {g}"));
    }
    if session.current_frame() != frame {
        let _ = session.execute(&format!("frame {frame}"));
    }
}
