//! Drawing the browser with ratatui. Everything is drawn from [`App`] state; the only
//! state written here is the list scroll offsets and pane areas (for the mouse).

use super::app::{short_file, short_func, App, Pane, Prompt, Row, View};
use super::keys;
use super::ui_live;
use coroner::addr::Addr;
use coroner::repl::format;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

/// The smallest screen the layout is designed for.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// Colours, or none at all under NO_COLOR (reverse video and bold still work).
pub(super) struct Theme {
    color: bool,
}

impl Theme {
    pub(super) fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }
    pub(super) fn bad(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub(super) fn dim(&self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        }
    }
    pub(super) fn selected(&self, focused: bool) -> Style {
        if focused {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        }
    }
    fn border(&self, focused: bool) -> Style {
        if focused {
            self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            self.dim()
        }
    }
}

pub fn draw(f: &mut Frame<'_>, app: &mut App) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "coroner needs at least {MIN_WIDTH}x{MIN_HEIGHT} (this terminal is {}x{}); q quits",
            area.width, area.height
        );
        f.render_widget(Paragraph::new(msg), area);
        return;
    }
    let th = Theme {
        color: !app.no_color,
    };
    let chunks = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(4),
            Constraint::Min(10),
            Constraint::Length(1),
        ])
        .split(area);
    let (head, body, foot) = match (chunks.first(), chunks.get(1), chunks.get(2)) {
        (Some(a), Some(b), Some(c)) => (*a, *b, *c),
        _ => return,
    };
    if app.live().is_some() {
        ui_live::draw_header(f, app, &th, head);
    } else {
        draw_header(f, app, &th, head);
    }
    app.areas.body = body;
    match app.view {
        View::Main => draw_main(f, app, &th, body),
        View::Threads => draw_threads(f, app, &th, body),
        View::Registers => draw_registers(f, app, &th, body),
        View::Memory => draw_memory(f, app, &th, body),
        View::Output => draw_output(f, app, &th, body),
        View::Program => ui_live::draw_program(f, app, &th, body),
    }
    draw_footer(f, app, &th, foot);
    if app.help {
        draw_help(f, app, &th, body);
    }
}

fn draw_header(f: &mut Frame<'_>, app: &App, th: &Theme, area: Rect) {
    let t = &app.target;
    let c = t.crash();
    let live = t.goroutines().iter().filter(|g| !g.is_dead()).count();
    let mut lines = Vec::new();
    let mut first = format!(
        "{} │ {} │ {}",
        app.binary_name,
        app.core_name,
        c.go_version.as_deref().unwrap_or("go?"),
    );
    if (c.goos.as_str(), c.goarch.as_str()) != ("linux", "amd64") {
        first.push_str(&format!(" {}/{}", c.goos, c.goarch));
    }
    first.push_str(&format!(
        " │ {live} goroutines │ {} threads",
        t.threads().len()
    ));
    match (c.goroutine, c.thread) {
        (Some(g), _) => first.push_str(&format!(" │ crash: goroutine {g}")),
        (None, Some(tid)) => first.push_str(&format!(" │ crash: thread {tid}")),
        _ => {}
    }
    lines.push(Line::from(Span::styled(
        first,
        Style::default().add_modifier(Modifier::BOLD),
    )));
    // The cause is what the runtime printed first (the signal it caught, the panic or
    // the fatal error); the kernel's signal (usually the runtime's own SIGABRT) only
    // says how the process ended.
    let cause = &c.cause;
    let mut first_cause = vec![Span::styled("Cause: ", th.dim())];
    first_cause.push(Span::styled(
        cause.summary().trim_start().to_string(),
        th.bad().add_modifier(Modifier::BOLD),
    ));
    lines.push(Line::from(first_cause));
    // The runtime's other lines ("PC=... m=N sigcode=N", "[signal ...]") open the
    // second line, so a narrow terminal still shows them.
    let rest: Vec<&str> = cause.lines.iter().skip(1).map(|l| l.trim_start()).collect();
    let mut reason = Vec::new();
    if !rest.is_empty() {
        reason.push(Span::raw(format!("{}  ", rest.join("  "))));
    }
    reason.push(Span::styled("Ended by: ", th.dim()));
    match &c.final_signal {
        Some(sig) => reason.push(Span::raw(sig.clone())),
        None => reason.push(Span::raw("nothing (the process was running)")),
    }
    if let Some(a) = c.fault_addr {
        reason.push(Span::raw(format!("  fault addr {a:#x}")));
    }
    if let Some(s) = cause.sender_text() {
        reason.push(Span::styled(format!("  signal {s}"), th.dim()));
    }
    lines.push(Line::from(reason));
    let w = t.warnings();
    if let Some(first) = w.first() {
        let more = if w.len() > 1 {
            format!(" (+{} more)", w.len() - 1)
        } else {
            String::new()
        };
        lines.push(Line::from(Span::styled(
            format!("warning: {first}{more}"),
            th.fg(Color::Yellow),
        )));
    }
    f.render_widget(Paragraph::new(lines), area);
}

pub(super) fn block<'a>(title: String, focused: bool, th: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(th.border(focused))
        .title(Span::styled(title, th.border(focused)))
}

pub(super) fn inner_height(r: Rect) -> usize {
    usize::from(r.height.saturating_sub(2))
}

fn draw_main(f: &mut Frame<'_>, app: &mut App, th: &Theme, area: Rect) {
    let cols = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(46), Constraint::Percentage(54)])
        .split(area);
    let (left, right) = match (cols.first(), cols.get(1)) {
        (Some(a), Some(b)) => (*a, *b),
        _ => return,
    };
    let l = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Percentage(50), Constraint::Percentage(50)])
        .split(left);
    // A live process has a watch pane under the variables.
    let live = app.live().is_some();
    let rows: &[Constraint] = if live {
        &[
            Constraint::Percentage(52),
            Constraint::Percentage(28),
            Constraint::Percentage(20),
        ]
    } else {
        &[Constraint::Percentage(58), Constraint::Percentage(42)]
    };
    let r = Layout::default()
        .direction(Direction::Vertical)
        .constraints(rows)
        .split(right);
    app.areas.goroutines = l.first().copied().unwrap_or_default();
    app.areas.stack = l.get(1).copied().unwrap_or_default();
    app.areas.source = r.first().copied().unwrap_or_default();
    app.areas.vars = r.get(1).copied().unwrap_or_default();
    app.areas.watch = r.get(2).copied().unwrap_or_default();
    let a = app.areas;
    draw_goroutines(f, app, th, a.goroutines);
    draw_stack(f, app, th, a.stack);
    draw_source(f, app, th, a.source);
    draw_vars(f, app, th, a.vars);
    if live {
        ui_live::draw_watch(f, app, th, a.watch);
    }
}

fn draw_goroutines(f: &mut Frame<'_>, app: &mut App, th: &Theme, area: Rect) {
    let focused = app.focus == Pane::Goroutines;
    let h = inner_height(area);
    app.g_cur.fit(h, app.rows.len());
    let mut title = match app.progress() {
        Some((done, total)) => format!(
            " Goroutines: grouping {done}/{total} ({}%) ",
            (done * 100).checked_div(total).unwrap_or(100)
        ),
        None => format!(" Goroutines: {} groups ", app.groups.len()),
    };
    if !app.filter.is_empty() {
        title.push_str(&format!("/{} ", app.filter));
    }
    let crash = app.target.crash().goroutine;
    // Count column as wide as the largest group needs.
    let w = app
        .groups
        .iter()
        .map(|g| g.members.len())
        .max()
        .unwrap_or(1)
        .to_string()
        .len();
    let mut lines = Vec::new();
    for (i, row) in app.rows.iter().enumerate().skip(app.g_cur.offset).take(h) {
        let (text, bad) = match *row {
            Row::Group(gi) => match app.groups.get(gi) {
                Some(g) => {
                    let loc = g
                        .top_user
                        .as_ref()
                        .or(g.top.as_ref())
                        .map(|fr| format!("{}:{}", short_func(&fr.function), fr.line))
                        .unwrap_or_default();
                    let mark = if g.members.len() == 1 {
                        " "
                    } else if app.is_expanded(gi) {
                        "▾"
                    } else {
                        "▸"
                    };
                    let crash_mark = if g.crash { "!" } else { " " };
                    (
                        format!(
                            "{crash_mark}{mark} {:>w$} {:<13} {loc} ({} frames)",
                            g.members.len(),
                            trunc(&g.state, 13),
                            g.depth
                        ),
                        g.crash,
                    )
                }
                None => (String::new(), false),
            },
            Row::Member(gi, mi) => {
                let goid = app
                    .groups
                    .get(gi)
                    .and_then(|g| g.members.get(mi))
                    .copied()
                    .unwrap_or(0);
                let g = app.target.goroutine(goid);
                let thread = g
                    .and_then(|g| g.thread)
                    .map(|t| format!(" thread {t}"))
                    .unwrap_or_default();
                // Labels tell apart members of one stack group (which request, which
                // tenant): shown on the member's row.
                let labels = g.map(super::groups::label_pairs).unwrap_or_default();
                let labels = if labels.is_empty() {
                    String::new()
                } else {
                    format!("  {}", labels.join(" "))
                };
                (
                    format!("     goroutine {goid}{thread}{labels}"),
                    crash == Some(goid),
                )
            }
            Row::Single(goid) => {
                let st = app
                    .target
                    .goroutine(goid)
                    .map(|g| g.traceback_status())
                    .unwrap_or_default();
                (
                    format!("! goroutine {goid} [{st}]  (grouping the rest...)"),
                    crash == Some(goid),
                )
            }
        };
        let mut style = if bad { th.bad() } else { Style::default() };
        if i == app.g_cur.sel {
            style = style.patch(th.selected(focused));
        }
        lines.push(Line::from(Span::styled(text, style)));
    }
    if app.rows.is_empty() && !app.filter.is_empty() {
        lines.push(Line::from(Span::styled(
            "no group matches the filter",
            th.dim(),
        )));
    }
    f.render_widget(Paragraph::new(lines).block(block(title, focused, th)), area);
}

fn draw_stack(f: &mut Frame<'_>, app: &mut App, th: &Theme, area: Rect) {
    let focused = app.focus == Pane::Stack;
    let h = inner_height(area);
    app.f_cur.fit(h, app.stack.len());
    let title = match app.goid.and_then(|g| app.target.goroutine(g)) {
        Some(g) => {
            let labels = super::groups::label_pairs(g);
            let labels = if labels.is_empty() {
                String::new()
            } else {
                format!("{{{}}} ", labels.join(" "))
            };
            format!(
                " Stack: goroutine {} [{}] {labels}",
                g.goid,
                g.traceback_status()
            )
        }
        None => " Stack ".into(),
    };
    let mut lines = Vec::new();
    for (i, fr) in app.stack.iter().enumerate().skip(app.f_cur.offset).take(h) {
        let inl = if fr.inlined { "(inl) " } else { "" };
        let text = format!(
            "{i:>3} {inl}{} {}:{}",
            short_func(&fr.function),
            short_file(&fr.file),
            fr.line
        );
        let mut style = if groups_user(&fr.function) {
            Style::default()
        } else {
            th.dim()
        };
        if i == app.f_cur.sel {
            style = style.patch(th.selected(focused));
        }
        lines.push(Line::from(Span::styled(text, style)));
    }
    if let Some(e) = &app.stack_error {
        if lines.len() < h {
            lines.push(Line::from(Span::styled(
                format!("(stack ends: {e})"),
                th.fg(Color::Yellow),
            )));
        }
    }
    f.render_widget(Paragraph::new(lines).block(block(title, focused, th)), area);
}

fn groups_user(name: &str) -> bool {
    !super::groups::is_private_runtime(name)
}

fn draw_source(f: &mut Frame<'_>, app: &mut App, th: &Theme, area: Rect) {
    let focused = app.focus == Pane::Source;
    let h = inner_height(area);
    let top = app
        .src_top
        .unwrap_or_else(|| app.source_centre_top(h))
        .min(app.source.lines.len().saturating_sub(1));
    let title = format!(
        " {} ",
        tail(&app.source.title, usize::from(area.width.saturating_sub(4)))
    );
    // A disassembly says so in its title's colour too: the source was not found.
    let title_style = if app.source.disassembly {
        th.fg(Color::Yellow)
    } else {
        th.border(focused)
    };
    let lines: Vec<Line> = app
        .source
        .lines
        .iter()
        .enumerate()
        .skip(top)
        .take(h)
        .map(|(i, l)| {
            let mut style = if Some(i) == app.source.mark {
                th.fg(Color::Yellow).add_modifier(Modifier::BOLD)
            } else {
                Style::default()
            };
            // The line cursor shows only where keys move it (the focused pane).
            if focused && i == app.src_cur {
                style = style.patch(th.selected(true));
            }
            // Breakpoints in a column of their own (live processes only).
            let bp = ui_live::bp_mark(app, i);
            let bp_style = th.fg(Color::Red).add_modifier(Modifier::BOLD);
            Line::from(vec![
                Span::styled(bp, bp_style),
                Span::styled(l.clone(), style),
            ])
        })
        .collect();
    let mut lines = lines;
    if app.source.lines.is_empty() && app.live().is_some() {
        // At a launched program's entry point no goroutine has a frame yet.
        lines.push(Line::from(Span::styled(
            "no frame: L shows a location (main.main, file.go:N), b sets a breakpoint",
            th.dim(),
        )));
    }
    let b = Block::default()
        .borders(Borders::ALL)
        .border_style(th.border(focused))
        .title(Span::styled(title, title_style));
    f.render_widget(Paragraph::new(lines).block(b), area);
}

fn draw_vars(f: &mut Frame<'_>, app: &mut App, th: &Theme, area: Rect) {
    let focused = app.focus == Pane::Vars;
    let h = inner_height(area);
    let vis = app.vars.visible();
    app.v_cur.fit(h, vis.len());
    let title = match app.stack.get(app.f_cur.sel) {
        Some(fr) => format!(
            " Variables: frame {} {} ",
            app.f_cur.sel,
            short_func(&fr.function)
        ),
        None => " Variables ".into(),
    };
    let mut lines = Vec::new();
    if let Some(e) = &app.vars.error {
        lines.push(Line::from(Span::styled(e.clone(), th.dim())));
    } else if vis.is_empty() {
        lines.push(Line::from(Span::styled("(no args or locals)", th.dim())));
    }
    for (i, id) in vis.iter().enumerate().skip(app.v_cur.offset).take(h) {
        let Some(n) = app.vars.nodes.get(*id) else {
            continue;
        };
        let mark = if n.expanded {
            "▾ "
        } else if n.expandable() {
            "▸ "
        } else {
            "  "
        };
        let indent = "  ".repeat(n.depth);
        let mut style = if n.note || !n.var.unreadable.is_empty() {
            th.dim()
        } else {
            Style::default()
        };
        if i == app.v_cur.sel {
            style = style.patch(th.selected(focused));
        }
        lines.push(Line::from(Span::styled(
            format!("{indent}{mark}{}", n.text()),
            style,
        )));
    }
    f.render_widget(Paragraph::new(lines).block(block(title, focused, th)), area);
}

fn draw_threads(f: &mut Frame<'_>, app: &mut App, th: &Theme, area: Rect) {
    let h = inner_height(area);
    app.t_cur.fit(h, app.threads.len());
    let lines: Vec<Line> = app
        .threads
        .iter()
        .enumerate()
        .skip(app.t_cur.offset)
        .take(h)
        .map(|(i, t)| {
            let style = if i == app.t_cur.sel {
                th.selected(true)
            } else {
                Style::default()
            };
            Line::from(Span::styled(t.text.clone(), style))
        })
        .collect();
    let title = format!(
        " Threads: {} (Enter: its goroutine, R: registers, Esc: back) ",
        app.threads.len()
    );
    f.render_widget(Paragraph::new(lines).block(block(title, true, th)), area);
}

fn draw_registers(f: &mut Frame<'_>, app: &mut App, th: &Theme, area: Rect) {
    let cols = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(50), Constraint::Percentage(50)])
        .split(area);
    let (l, r) = match (cols.first(), cols.get(1)) {
        (Some(a), Some(b)) => (*a, *b),
        _ => return,
    };
    let t = app.threads.get(app.t_cur.sel).map(|x| x.tid);
    let thread = t.and_then(|tid| app.target.threads().iter().find(|x| x.tid == tid));
    let text = thread
        .map(|x| format::thread_regs_text(x, false))
        .unwrap_or_else(|| "no thread".into());
    let title = format!(" Registers: thread {} (j/k: other thread) ", t.unwrap_or(0));
    f.render_widget(
        Paragraph::new(text.replace('\t', "  ")).block(block(title, true, th)),
        l,
    );
    let mut fr = String::new();
    if let Some(frame) = app.stack.get(app.f_cur.sel) {
        fr.push_str(&format!(
            "pc  {:#018x}\nsp  {:#018x}\ncfa {:#018x}\nbp  {:#018x}\n",
            frame.pc.0, frame.sp.0, frame.cfa.0, frame.bp.0
        ));
        let mut regs = frame.regs.clone();
        regs.sort_unstable();
        for (n, v) in regs {
            fr.push_str(&format!("dwarf r{n:<3} {v:#018x}\n"));
        }
    }
    let title = format!(
        " Frame {} registers (goroutine {}) ",
        app.f_cur.sel,
        app.goid.unwrap_or(0)
    );
    f.render_widget(Paragraph::new(fr).block(block(title, false, th)), r);
}

fn draw_memory(f: &mut Frame<'_>, app: &mut App, th: &Theme, area: Rect) {
    let h = inner_height(area);
    let mut lines = Vec::new();
    if let Some(base) = app.mem_addr {
        let mem = app.target.memory();
        for row in 0..h as u64 {
            let a = base.wrapping_add(row * 16);
            let mut bytes = [0u8; 16];
            let mut hex = String::new();
            let mut ascii = String::new();
            let ok = mem.read(Addr(a), &mut bytes).is_ok();
            for (i, b) in bytes.iter().enumerate() {
                if i == 8 {
                    hex.push(' ');
                }
                if ok {
                    hex.push_str(&format!("{b:02x} "));
                    ascii.push(if b.is_ascii_graphic() || *b == b' ' {
                        *b as char
                    } else {
                        '.'
                    });
                } else {
                    hex.push_str("?? ");
                    ascii.push(' ');
                }
            }
            let style = if ok { Style::default() } else { th.dim() };
            lines.push(Line::from(Span::styled(
                format!("{a:#018x}  {hex} |{ascii}|"),
                style,
            )));
        }
    }
    let title = format!(
        " Memory: {} (j/k: 16 bytes, PgUp/PgDn, x: other address, Esc: back) ",
        app.mem_title
    );
    f.render_widget(Paragraph::new(lines).block(block(title, true, th)), area);
}

fn draw_output(f: &mut Frame<'_>, app: &mut App, th: &Theme, area: Rect) {
    let h = inner_height(area);
    let lines: Vec<Line> = app
        .output
        .iter()
        .skip(app.out_top)
        .take(h)
        .map(|l| {
            if l.starts_with("(coroner) ") {
                Line::from(Span::styled(
                    l.clone(),
                    th.fg(Color::Cyan).add_modifier(Modifier::BOLD),
                ))
            } else if l.starts_with("Command failed:") {
                Line::from(Span::styled(l.clone(), th.bad()))
            } else {
                Line::from(l.clone())
            }
        })
        .collect();
    let title = format!(
        " Command output: line {}/{} (j/k, PgUp/PgDn scroll; : another command; Esc: back) ",
        (app.out_top + 1).min(app.output.len()),
        app.output.len()
    );
    f.render_widget(Paragraph::new(lines).block(block(title, true, th)), area);
}

fn draw_footer(f: &mut Frame<'_>, app: &App, th: &Theme, area: Rect) {
    let line = match app.prompt {
        Some(p) => {
            let label = match p {
                Prompt::Command => ":",
                Prompt::Filter => "filter /",
                Prompt::Goto => "goroutine ID: ",
                Prompt::Memory => "memory at address or expression: ",
                Prompt::Location => "show location (file.go:N, function): ",
                Prompt::Watch => "watch expression: ",
                Prompt::Quit => "detach and leave the process running? [Y/n, k: kill it] ",
            };
            Line::from(vec![
                Span::styled(label, Style::default().add_modifier(Modifier::BOLD)),
                Span::raw(app.input.clone()),
                Span::styled(" ", Style::default().add_modifier(Modifier::REVERSED)),
            ])
        }
        None if !app.status.is_empty() => Line::from(Span::styled(app.status.clone(), th.fg(Color::Yellow))),
        None if app.live().is_some_and(|l| l.state.reversible) => {
            Line::from(Span::styled(ui_live::FOOTER_REVERSE, th.dim()))
        }
        None if app.live().is_some() => Line::from(Span::styled(ui_live::FOOTER, th.dim())),
        None => Line::from(Span::styled(
            "q quit  ? help  : command  / filter  g goto  c crash  Tab pane  Enter open  T threads  R regs  x memory  O output",
            th.dim(),
        )),
    };
    f.render_widget(Paragraph::new(line), area);
}

fn draw_help(f: &mut Frame<'_>, app: &App, th: &Theme, body: Rect) {
    let w = body.width.saturating_sub(4).min(76);
    let help = keys::help(app.live().is_some());
    let h = body.height.saturating_sub(2).min(
        u16::try_from(help.len())
            .unwrap_or(u16::MAX)
            .saturating_add(2),
    );
    let area = Rect {
        x: body.x + (body.width.saturating_sub(w)) / 2,
        y: body.y + 1,
        width: w,
        height: h,
    };
    f.render_widget(Clear, area);
    let lines: Vec<Line> = help
        .iter()
        .skip(app.help_top)
        .map(|(k, d)| {
            Line::from(vec![
                Span::styled(
                    format!("{k:<18}"),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::raw(d.to_string()),
            ])
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(block(
            " Keys (any key closes, j/k scroll) ".into(),
            true,
            th,
        )),
        area,
    );
}

/// The end of `s` in at most `n` characters (paths: the file name matters most).
fn tail(s: &str, n: usize) -> String {
    let count = s.chars().count();
    if count <= n || n == 0 {
        return s.to_string();
    }
    let mut t = String::from("…");
    t.extend(s.chars().skip(count - n + 1));
    t
}

fn trunc(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The screen as text, one line per row, trailing spaces trimmed (snapshots, docs).
#[allow(dead_code)] // used by tests/browser_snapshots.rs
pub fn buffer_text(buf: &ratatui::buffer::Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        let mut line = String::new();
        for x in area.left()..area.right() {
            if let Some(c) = buf.cell((x, y)) {
                line.push_str(c.symbol());
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
