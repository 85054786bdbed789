//! What every key and mouse event does to the browser's state.

use super::app::{App, Cursor, Pane, Prompt, Row, View};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Position;

impl App {
    pub fn on_key(&mut self, k: KeyEvent) {
        let ctrl_c =
            k.modifiers.contains(KeyModifiers::CONTROL) && matches!(k.code, KeyCode::Char('c'));
        if ctrl_c && self.live().is_some() {
            // On a live process Ctrl-C halts; it never kills or quits.
            self.on_live_ctrl_c();
            return;
        }
        if ctrl_c {
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
        if self.live().is_some() && self.on_live_key(k) {
            return;
        }
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
                        Pane::Source | Pane::Vars | Pane::Watch => Pane::Stack,
                    };
                }
            }
            KeyCode::Tab => {
                self.view = View::Main;
                self.focus = self.focus.step(false, self.live().is_some());
            }
            KeyCode::BackTab => {
                self.view = View::Main;
                self.focus = self.focus.step(true, self.live().is_some());
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
        if p == Prompt::Quit {
            self.on_quit_key(k);
            return;
        }
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
                    Prompt::Location => self.show_location(&text),
                    Prompt::Watch => self.add_watch(&text),
                    Prompt::Quit => {}
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
            (View::Main, Pane::Watch) => self.areas.watch,
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
                    // A line cursor (where `b` sets a breakpoint); the window follows it.
                    let h = self.page_height();
                    let n = self.source.lines.len();
                    let mut c = Cursor {
                        sel: self.src_cur,
                        offset: self.src_top.unwrap_or_else(|| self.source_centre_top(h)),
                    };
                    c.move_by(d, n);
                    c.fit(h, n);
                    self.src_cur = c.sel;
                    self.src_top = Some(c.offset);
                }
                Pane::Vars => {
                    let n = self.vars.visible().len();
                    self.v_cur.move_by(d, n);
                }
                Pane::Watch => {
                    let n = self.live().map_or(0, |l| l.state.watches.len());
                    self.w_cur.move_by(d, n);
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
            View::Program => {
                let h = self.page_height();
                if let Some(l) = self.live_mut() {
                    let n = l
                        .program
                        .as_ref()
                        .and_then(|p| p.lock().ok().map(|g| g.len()))
                        .unwrap_or(0);
                    let tail = n.saturating_sub(h);
                    let top = l.prog_top.unwrap_or(tail) as isize;
                    let t = top.saturating_add(d).clamp(0, tail as isize) as usize;
                    // At the end again: follow new output.
                    l.prog_top = if t >= tail { None } else { Some(t) };
                }
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
                Pane::Source | Pane::Watch => {}
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
            (self.areas.watch, Pane::Watch),
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
                    Pane::Source => {
                        // A click selects the line (for `b`).
                        let h = usize::from(r.height.saturating_sub(2));
                        let top = self.src_top.unwrap_or_else(|| self.source_centre_top(h));
                        let target = top + i;
                        if target < self.source.lines.len() {
                            self.src_cur = target;
                            self.src_top = Some(top);
                        }
                    }
                    Pane::Watch => {
                        let target = self.w_cur.offset + i;
                        if target < self.live().map_or(0, |l| l.state.watches.len()) {
                            self.w_cur.sel = target;
                        }
                    }
                }
            }
            _ => {}
        }
    }
}
