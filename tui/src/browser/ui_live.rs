//! Drawing what only a live process has: the header with the run state and the stop
//! reason, the watch pane, and the program's output.

use super::app::{App, Pane};
use super::ui::{block, inner_height, Theme};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// The footer of a target that runs backwards.
pub const FOOTER_REVERSE: &str =
    "q quit  ? help  c/C cont/rewind  n/N next  s/S step  o/E stepout (shift: backwards)  H halt  b break  : command";

/// The footer when no prompt or status is shown.
pub const FOOTER: &str =
    "q quit  ? help  c cont  n next  s step  o stepout  H halt  b break  L location  w watch  : command  P output";

pub(super) fn draw_header(f: &mut Frame<'_>, app: &App, th: &Theme, area: Rect) {
    let Some(l) = app.live() else { return };
    let t = &app.target;
    let c = t.crash();
    let st = &l.state;
    let running = l.link.running();
    // The pid from the state: `restart` starts a new process.
    let origin = match st.origin {
        coroner::exec::Origin::Launched => "launched",
        coroner::exec::Origin::Attached => "attached",
    };
    let mut first = format!(
        "{} │ pid {} ({origin}) │ {}",
        app.binary_name,
        st.pid,
        c.go_version.as_deref().unwrap_or("go?"),
    );
    if !running && st.ended.is_none() {
        let live = t.goroutines().iter().filter(|g| !g.is_dead()).count();
        first.push_str(&format!(
            " │ {live} goroutines │ {} threads",
            t.threads().len()
        ));
    }
    if let Some(w) = &st.when {
        first.push_str(&format!(" │ {w}"));
    }
    let bps = st.breakpoints.iter().filter(|b| b.enabled).count();
    if bps > 0 {
        first.push_str(&format!(" │ {bps} breakpoints"));
    }
    let mut lines = vec![Line::from(Span::styled(
        first,
        Style::default().add_modifier(Modifier::BOLD),
    ))];
    let (word, style, what) = if running {
        (
            "RUNNING",
            th.fg(Color::Green).add_modifier(Modifier::BOLD),
            "H or Ctrl-C halts it; the panes show the last stop".to_string(),
        )
    } else if let Some(e) = &st.ended {
        ("ENDED", th.bad(), e.clone())
    } else {
        (
            "STOPPED",
            th.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            st.reason.clone(),
        )
    };
    lines.push(Line::from(vec![
        Span::styled(format!("{word}: "), style),
        Span::raw(what),
    ]));
    if l.link.busy && !running {
        lines.push(Line::from(Span::styled("working...", th.dim())));
    } else if let Some(w) = t.warnings().first() {
        lines.push(Line::from(Span::styled(
            format!("warning: {w}"),
            th.fg(Color::Yellow),
        )));
    }
    f.render_widget(Paragraph::new(lines), area);
}

pub(super) fn draw_watch(f: &mut Frame<'_>, app: &mut App, th: &Theme, area: Rect) {
    let focused = app.focus == Pane::Watch;
    let h = inner_height(area);
    let watches = app
        .live()
        .map(|l| l.state.watches.clone())
        .unwrap_or_default();
    app.w_cur.fit(h, watches.len());
    let mut lines = Vec::new();
    if watches.is_empty() {
        lines.push(Line::from(Span::styled(
            "(no watch expressions: w adds one)",
            th.dim(),
        )));
    }
    for (i, w) in watches.iter().enumerate().skip(app.w_cur.offset).take(h) {
        let (text, mut style) = match &w.value {
            Ok(v) if w.changed => (
                format!("{} = {v}", w.expr),
                th.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ),
            Ok(v) => (format!("{} = {v}", w.expr), Style::default()),
            Err(e) => (format!("{}: {e}", w.expr), th.dim()),
        };
        if i == app.w_cur.sel && focused {
            style = style.patch(th.selected(true));
        }
        lines.push(Line::from(Span::styled(text, style)));
    }
    let title = format!(" Watch: {} (w add, W remove) ", watches.len());
    f.render_widget(Paragraph::new(lines).block(block(title, focused, th)), area);
}

pub(super) fn draw_program(f: &mut Frame<'_>, app: &mut App, th: &Theme, area: Rect) {
    let h = inner_height(area);
    let Some(l) = app.live() else { return };
    // Only the visible window is copied out of the log (it may hold 100,000 lines).
    let (total, text) = match l.program.as_ref().and_then(|p| p.lock().ok()) {
        Some(g) => {
            let total = g.len();
            let top = l.prog_top.unwrap_or(total.saturating_sub(h));
            (
                total,
                g.window(top, h).into_iter().map(Line::from).collect(),
            )
        }
        None => (
            0,
            vec![Line::from(Span::styled(
                "the program's output is not captured here (attached, or redirected with -r)",
                th.dim(),
            ))],
        ),
    };
    let title = format!(" Program output: {total} lines (j/k, PgUp/PgDn scroll; Esc: back) ");
    f.render_widget(Paragraph::new(text).block(block(title, true, th)), area);
}

/// The breakpoint column of source line `i`: `●` enabled, `○` disabled, else blank.
pub(super) fn bp_mark(app: &App, i: usize) -> &'static str {
    let Some(l) = app.live() else { return "" };
    let src = &app.source;
    let hit = l.state.breakpoints.iter().find(|b| {
        if src.disassembly {
            src.addrs.get(i).is_some_and(|a| b.addrs.contains(a))
        } else {
            !src.file.is_empty() && b.file == src.file && b.line as usize == i + 1
        }
    });
    match hit {
        Some(b) if b.enabled => "●",
        Some(_) => "○",
        None => " ",
    }
}
