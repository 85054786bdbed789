//! The browser's state and what every key and mouse event does to it. Rendering is in
//! `ui.rs`; nothing here touches the terminal, so tests drive an [`App`] directly.

use super::groups::{is_private_runtime, Group, Loading};
use super::source::{self, FileCache, SourceView};
use super::vars::VarTree;
use coroner::repl::{Output, Session};
use coroner::target::Target;
use coroner::unwind::Frame;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};
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
}

impl Pane {
    const ORDER: [Pane; 4] = [Pane::Goroutines, Pane::Stack, Pane::Source, Pane::Vars];
    fn step(self, back: bool) -> Pane {
        let i = Pane::ORDER.iter().position(|p| *p == self).unwrap_or(0);
        let n = Pane::ORDER.len();
        let j = if back { (i + n - 1) % n } else { (i + 1) % n };
        Pane::ORDER.get(j).copied().unwrap_or(Pane::Goroutines)
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
    pub body: Rect,
}

/// A thread as the threads view lists it.
#[derive(Debug, Clone)]
pub struct ThreadRow {
    pub tid: u32,
    pub text: String,
}

pub struct App {
    pub target: Arc<Target>,
    pub session: Session,
    pub binary_name: String,
    pub core_name: String,
    loading: Option<Loading>,
    pub load_failed: bool,
    pub groups: Vec<Group>,
    group_of: HashMap<u64, usize>,
    pub filter: String,
    pub rows: Vec<Row>,
    expanded: HashSet<usize>,
    pub g_cur: Cursor,
    pub goid: Option<u64>,
    pub stack: Vec<Frame>,
    pub stack_error: Option<String>,
    pub f_cur: Cursor,
    pub source: SourceView,
    /// First line shown in the source pane, None: centre on the mark.
    pub src_top: Option<usize>,
    files: FileCache,
    pub vars: VarTree,
    pub v_cur: Cursor,
    pub threads: Vec<ThreadRow>,
    pub t_cur: Cursor,
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
    fallback_start: bool,
}

impl App {
    /// A browser over `target`; `session` must run on the same target (see
    /// `shared.rs`). Grouping starts in the background at once.
    pub fn new(target: Arc<Target>, session: Session, binary: &str, core: &str) -> App {
        let loading = Loading::start(target.clone());
        let mut app = App {
            target,
            session,
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
            files: FileCache::default(),
            vars: VarTree::default(),
            v_cur: Cursor::default(),
            threads: Vec::new(),
            t_cur: Cursor::default(),
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
        };
        // The first screen: the goroutine that crashed (else the session's current
        // one), at its first user frame, before any grouping is done.
        let first = app
            .target
            .crash()
            .goroutine
            .or_else(|| app.session.current_goroutine())
            .or_else(|| {
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

    /// Goroutines grouped so far / to group, while the background work runs.
    pub fn progress(&self) -> Option<(usize, usize)> {
        self.loading.as_ref().map(|l| (l.progress(), l.total))
    }

    /// Take the groups if the background work finished. Returns true when state changed.
    pub fn tick(&mut self) -> bool {
        let Some(l) = &self.loading else {
            return false;
        };
        match l.poll() {
            Ok(groups) => {
                self.loading = None;
                self.set_groups(groups);
                true
            }
            Err(true) => false,
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

    fn crash_goid(&self) -> Option<u64> {
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

    fn select_row_of(&mut self, goid: u64) {
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
        self.source =
            source::for_frame(&self.target, &self.session.config, &mut self.files, f, trap);
        self.src_top = None;
        self.vars = VarTree::for_frame(&self.target, f, n);
        self.v_cur = Cursor::default();
    }

    fn on_goroutine_row_changed(&mut self) {
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
    /// and frame, and show its output.
    pub fn run_command(&mut self, line: &str) {
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        self.sync_session();
        let before = (
            self.session.current_goroutine(),
            self.session.current_frame(),
        );
        let out = self.session.execute(line);
        self.out_top = self.output.len();
        self.output.push(format!("(coroner) {line}"));
        let text = match &out {
            Output::Exit => {
                self.quit = true;
                return;
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
        self.view = View::Output;
        // Commands that move (goroutine N, frame N, up, down) move the browser too.
        let after = (
            self.session.current_goroutine(),
            self.session.current_frame(),
        );
        if after != before {
            if let Some(g) = after.0 {
                if Some(g) != self.goid {
                    self.show_goroutine(g, false);
                    self.select_row_of(g);
                }
            }
            if after.1 != self.f_cur.sel && after.1 < self.stack.len() {
                self.f_cur.sel = after.1;
                self.show_frame();
            }
        }
    }

    /// Point the session at the browser's goroutine and frame (silently), so `locals`
    /// in the command bar means the frame on screen.
    fn sync_session(&mut self) {
        let Some(g) = self.goid else { return };
        if self.session.current_goroutine() != Some(g) {
            let _ = self.session.execute(&format!("goroutine {g}"));
        }
        if self.session.current_frame() != self.f_cur.sel {
            let _ = self.session.execute(&format!("frame {}", self.f_cur.sel));
        }
    }

    fn load_threads(&mut self) {
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
                    .unwrap_or_else(|| format!("{:#x}", th.regs.rip));
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

    // ---- input ----

    pub fn on_key(&mut self, k: KeyEvent) {
        if k.modifiers.contains(KeyModifiers::CONTROL) && matches!(k.code, KeyCode::Char('c')) {
            self.quit = true;
            return;
        }
        if self.prompt.is_some() {
            self.on_prompt_key(k);
            return;
        }
        if self.help {
            match k.code {
                KeyCode::Down | KeyCode::Char('j') => self.help_top += 1,
                KeyCode::Up | KeyCode::Char('k') => self.help_top = self.help_top.saturating_sub(1),
                _ => self.help = false,
            }
            return;
        }
        self.status.clear();
        let page = self.page_height();
        match k.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') => {
                self.help = true;
                self.help_top = 0;
            }
            KeyCode::Char(':') => self.open_prompt(Prompt::Command),
            KeyCode::Char('/') => {
                self.view = View::Main;
                self.focus = Pane::Goroutines;
                self.open_prompt(Prompt::Filter);
                self.input = self.filter.clone();
            }
            KeyCode::Char('g') => self.open_prompt(Prompt::Goto),
            KeyCode::Char('x') | KeyCode::Char('M') => self.open_prompt(Prompt::Memory),
            KeyCode::Char('T') => {
                self.load_threads();
                self.view = View::Threads;
            }
            KeyCode::Char('R') => {
                if self.threads.is_empty() {
                    self.load_threads();
                }
                self.view = View::Registers;
            }
            KeyCode::Char('O') => self.view = View::Output,
            KeyCode::Char('c') => {
                if let Some(g) = self.crash_goid() {
                    self.view = View::Main;
                    self.goto_goroutine(g);
                    self.focus = Pane::Stack;
                }
            }
            KeyCode::Esc => {
                if self.view != View::Main {
                    self.view = View::Main;
                } else if !self.filter.is_empty() {
                    self.filter.clear();
                    self.rebuild_rows();
                    if let Some(g) = self.goid {
                        self.select_row_of(g);
                    }
                } else {
                    self.focus = match self.focus {
                        Pane::Goroutines | Pane::Stack => Pane::Goroutines,
                        Pane::Source | Pane::Vars => Pane::Stack,
                    };
                }
            }
            KeyCode::Tab => {
                self.view = View::Main;
                self.focus = self.focus.step(false);
            }
            KeyCode::BackTab => {
                self.view = View::Main;
                self.focus = self.focus.step(true);
            }
            KeyCode::Up | KeyCode::Char('k') => self.scroll(-1),
            KeyCode::Down | KeyCode::Char('j') => self.scroll(1),
            KeyCode::PageUp => self.scroll(-(page as isize)),
            KeyCode::PageDown | KeyCode::Char(' ') => self.scroll(page as isize),
            KeyCode::Home => self.scroll(isize::MIN / 2),
            KeyCode::End | KeyCode::Char('G') => self.scroll(isize::MAX / 2),
            KeyCode::Enter => self.enter(),
            KeyCode::Right | KeyCode::Char('l') => self.right(),
            KeyCode::Left | KeyCode::Char('h') => self.left(),
            _ => {}
        }
    }

    fn open_prompt(&mut self, p: Prompt) {
        self.prompt = Some(p);
        self.input.clear();
    }

    fn on_prompt_key(&mut self, k: KeyEvent) {
        let Some(p) = self.prompt else { return };
        match k.code {
            KeyCode::Esc => {
                self.prompt = None;
                if p == Prompt::Filter {
                    self.filter.clear();
                    self.rebuild_rows();
                }
            }
            KeyCode::Enter => {
                self.prompt = None;
                let text = std::mem::take(&mut self.input);
                match p {
                    Prompt::Command => self.run_command(&text),
                    Prompt::Filter => {
                        self.filter = text;
                        self.rebuild_rows();
                        self.g_cur.sel = 0;
                        self.on_goroutine_row_changed();
                    }
                    Prompt::Goto => match text.trim().parse::<u64>() {
                        Ok(g) => {
                            self.view = View::Main;
                            self.goto_goroutine(g);
                        }
                        Err(_) => self.status = format!("not a goroutine ID: {text:?}"),
                    },
                    Prompt::Memory => self.open_memory(&text),
                }
            }
            KeyCode::Backspace => {
                self.input.pop();
                if p == Prompt::Filter {
                    self.apply_filter();
                }
            }
            KeyCode::Char(c) => {
                if p == Prompt::Goto && !c.is_ascii_digit() {
                    return;
                }
                self.input.push(c);
                if p == Prompt::Filter {
                    self.apply_filter();
                }
            }
            _ => {}
        }
    }

    /// Incremental filter: every keystroke refilters the groups.
    fn apply_filter(&mut self) {
        self.filter = self.input.clone();
        self.rebuild_rows();
        self.g_cur = Cursor::default();
    }

    fn page_height(&self) -> usize {
        let r = match (self.view, self.focus) {
            (View::Main, Pane::Goroutines) => self.areas.goroutines,
            (View::Main, Pane::Stack) => self.areas.stack,
            (View::Main, Pane::Source) => self.areas.source,
            (View::Main, Pane::Vars) => self.areas.vars,
            _ => self.areas.body,
        };
        usize::from(r.height.saturating_sub(2)).max(1)
    }

    fn scroll(&mut self, d: isize) {
        match self.view {
            View::Main => match self.focus {
                Pane::Goroutines => {
                    self.g_cur.move_by(d, self.rows.len());
                    self.on_goroutine_row_changed();
                }
                Pane::Stack => {
                    let old = self.f_cur.sel;
                    self.f_cur.move_by(d, self.stack.len());
                    if self.f_cur.sel != old {
                        self.show_frame();
                    }
                }
                Pane::Source => {
                    let h = self.page_height();
                    let top = self.src_top.unwrap_or_else(|| self.source_centre_top(h));
                    let max = self.source.lines.len().saturating_sub(1) as isize;
                    self.src_top =
                        Some((top as isize).saturating_add(d).clamp(0, max.max(0)) as usize);
                }
                Pane::Vars => {
                    let n = self.vars.visible().len();
                    self.v_cur.move_by(d, n);
                }
            },
            View::Threads | View::Registers => self.t_cur.move_by(d, self.threads.len()),
            View::Memory => {
                if let Some(a) = self.mem_addr {
                    let delta = (d.clamp(-(1 << 40), 1 << 40) as i64).wrapping_mul(16);
                    self.mem_addr = Some(a.wrapping_add_signed(delta));
                }
            }
            View::Output => {
                let max = self.output.len().saturating_sub(1) as isize;
                self.out_top = (self.out_top as isize)
                    .saturating_add(d)
                    .clamp(0, max.max(0)) as usize;
            }
        }
    }

    /// First source line shown when centring the mark in `height` rows.
    pub fn source_centre_top(&self, height: usize) -> usize {
        self.source.mark.map_or(0, |m| m.saturating_sub(height / 2))
    }

    fn enter(&mut self) {
        match self.view {
            View::Threads | View::Registers => {
                // Enter on a thread shows the goroutine it runs.
                let tid = self.threads.get(self.t_cur.sel).map(|t| t.tid);
                if let Some(g) = tid
                    .and_then(|t| self.target.thread_goroutine(t))
                    .map(|g| g.goid)
                {
                    self.view = View::Main;
                    self.goto_goroutine(g);
                    self.focus = Pane::Stack;
                } else if self.view == View::Threads {
                    self.view = View::Registers;
                }
            }
            View::Main => match self.focus {
                Pane::Goroutines => match self.rows.get(self.g_cur.sel).copied() {
                    Some(Row::Group(gi)) => {
                        if !self.expanded.remove(&gi) {
                            self.expanded.insert(gi);
                        }
                        self.rebuild_rows();
                    }
                    Some(_) => self.focus = Pane::Stack,
                    None => {}
                },
                Pane::Stack => self.focus = Pane::Vars,
                Pane::Source => {}
                Pane::Vars => {
                    let vis = self.vars.visible();
                    if let Some(&id) = vis.get(self.v_cur.sel) {
                        if !self.vars.collapse(id) {
                            self.vars.expand(&self.target, id);
                        }
                    }
                }
            },
            _ => {}
        }
    }

    fn right(&mut self) {
        match (self.view, self.focus) {
            (View::Main, Pane::Vars) => {
                let vis = self.vars.visible();
                if let Some(&id) = vis.get(self.v_cur.sel) {
                    self.vars.expand(&self.target, id);
                }
            }
            (View::Main, Pane::Goroutines) => {
                if let Some(Row::Group(gi)) = self.rows.get(self.g_cur.sel).copied() {
                    self.expanded.insert(gi);
                    self.rebuild_rows();
                }
            }
            _ => {}
        }
    }

    fn left(&mut self) {
        match (self.view, self.focus) {
            (View::Main, Pane::Vars) => {
                let vis = self.vars.visible();
                if let Some(&id) = vis.get(self.v_cur.sel) {
                    if !self.vars.collapse(id) {
                        // On a leaf: go to its parent.
                        if let Some(p) = self.vars.parent(id) {
                            if let Some(pos) = self.vars.visible().iter().position(|x| *x == p) {
                                self.v_cur.sel = pos;
                            }
                        }
                    }
                }
            }
            (View::Main, Pane::Goroutines) => {
                let gi = match self.rows.get(self.g_cur.sel).copied() {
                    Some(Row::Group(gi)) | Some(Row::Member(gi, _)) => gi,
                    _ => return,
                };
                if self.expanded.remove(&gi) {
                    self.rebuild_rows();
                    if let Some(p) = self.rows.iter().position(|r| *r == Row::Group(gi)) {
                        self.g_cur.sel = p;
                    }
                }
            }
            _ => {}
        }
    }

    pub fn on_mouse(&mut self, m: MouseEvent) {
        let pos = Position::new(m.column, m.row);
        let pane = [
            (self.areas.goroutines, Pane::Goroutines),
            (self.areas.stack, Pane::Stack),
            (self.areas.source, Pane::Source),
            (self.areas.vars, Pane::Vars),
        ]
        .into_iter()
        .find(|(r, _)| r.contains(pos));
        match m.kind {
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                let d = if m.kind == MouseEventKind::ScrollDown {
                    3
                } else {
                    -3
                };
                if self.view == View::Main {
                    if let Some((_, p)) = pane {
                        self.focus = p;
                    }
                }
                self.scroll(d);
            }
            MouseEventKind::Down(MouseButton::Left) => {
                if self.view != View::Main {
                    return;
                }
                let Some((r, p)) = pane else { return };
                self.focus = p;
                // Row inside the bordered pane.
                if m.row <= r.y || m.row.saturating_add(1) >= r.y.saturating_add(r.height) {
                    return;
                }
                let i = usize::from(m.row - r.y - 1);
                match p {
                    Pane::Goroutines => {
                        let target = self.g_cur.offset + i;
                        if target < self.rows.len() {
                            if target == self.g_cur.sel {
                                self.enter();
                            } else {
                                self.g_cur.sel = target;
                                self.on_goroutine_row_changed();
                            }
                        }
                    }
                    Pane::Stack => {
                        let target = self.f_cur.offset + i;
                        if target < self.stack.len() && target != self.f_cur.sel {
                            self.f_cur.sel = target;
                            self.show_frame();
                        }
                    }
                    Pane::Vars => {
                        let target = self.v_cur.offset + i;
                        if target < self.vars.visible().len() {
                            if target == self.v_cur.sel {
                                self.enter();
                            }
                            self.v_cur.sel = target;
                        }
                    }
                    Pane::Source => {}
                }
            }
            _ => {}
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
