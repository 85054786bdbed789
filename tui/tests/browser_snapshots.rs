//! Snapshot tests of the browser's main screens, rendered with ratatui's TestBackend
//! on fixture cores and compared with the reviewed text in tests/snapshots/.
//!
//! A missing snapshot is written and the test fails, so that a new one is always
//! looked at before it is committed; `UPDATE_SNAPSHOTS=1` rewrites them all.

#[allow(dead_code)]
#[path = "../src/browser/mod.rs"]
mod browser;

use browser::app::{App, Pane, View};
use browser::shared::SharedTarget;
use coroner::repl::Session;
use coroner::target::{OpenOptions, Target};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::path::PathBuf;
use std::sync::Arc;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Open a fixture core in a browser whose sources resolve to `src_dir`.
fn open(dir: &str, scenario: &str, src_dir: &str) -> App {
    let d = repo().join("cores/fixtures").join(dir);
    let target = Target::open(&OpenOptions {
        binary: d.join("scenarios.zst"),
        core: d.join(format!("{scenario}.core.zst")),
        force: false,
    })
    .expect("open fixture");
    let target = Arc::new(target);
    let mut session = Session::with_debuggee(Box::new(SharedTarget(target.clone())));
    // The fixtures name their sources /tmp/coroner-fixtures/src/...: point that at the
    // copy in the repository (or nowhere), so screens do not depend on this machine.
    let out = session.execute(&format!(
        "config substitute-path /tmp/coroner-fixtures/src {src_dir}"
    ));
    assert!(!matches!(out, coroner::repl::Output::Error(_)), "{out:?}");
    let mut app = App::new(target, session, "scenarios", &format!("{scenario}.core"));
    app.wait_loaded();
    app
}

/// Relative to the test's working directory (the package, tui/), so titles are the
/// same in every checkout.
fn scenarios_src() -> String {
    "../cores/scenarios".into()
}

fn render(app: &mut App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| browser::ui::draw(f, app)).expect("draw");
    browser::ui::buffer_text(t.backend().buffer())
}

fn key(app: &mut App, c: KeyCode) {
    app.on_key(KeyEvent::new(c, KeyModifiers::NONE));
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn check(name: &str, got: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.txt"));
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    match std::fs::read_to_string(&path) {
        Ok(want) if !update => {
            if want != got {
                panic!(
                    "snapshot {name} differs ({}):\n--- want\n{want}\n--- got\n{got}",
                    path.display()
                );
            }
        }
        _ => {
            std::fs::write(&path, got).expect("write snapshot");
            if !update {
                panic!(
                    "snapshot {name} was missing: written to {}, review it",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn nil_goroutine_first_screen() {
    let mut app = open("go1.22-opt", "nil_goroutine", &scenarios_src());
    let s = render(&mut app, 120, 40);
    // What the on-call engineer needs on the first screen.
    assert!(s.contains("SIGSEGV"), "{s}");
    assert!(s.contains("addr=0x0"), "{s}");
    assert!(s.contains("work.describe"), "{s}");
    assert!(
        s.contains("=>  35 │"),
        "source centred on the faulting line:\n{s}"
    );
    let frame = app.stack.get(app.f_cur.sel).expect("frame");
    assert_eq!(
        frame.function,
        "example.com/scenarios/internal/work.describe"
    );
    assert_eq!(frame.line, 35);
    check("nil_goroutine_120x40", &s);
}

#[test]
fn minimum_size_and_too_small() {
    let mut app = open("go1.22-opt", "panic_main", &scenarios_src());
    let s = render(&mut app, 80, 24);
    assert!(s.contains("panic: "), "{s}");
    assert!(s.contains("limit out of range"), "{s}");
    check("panic_main_80x24", &s);
    let small = render(&mut app, 79, 24);
    assert!(small.contains("needs at least 80x24"), "{small}");
}

#[test]
fn filter_and_expand_groups() {
    let mut app = open("go1.22-opt", "sigquit_service", &scenarios_src());
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "chan rec");
    // Incremental: the rows are filtered before Enter.
    let rows = app.rows.len();
    assert!(rows >= 1 && rows < app.groups.len(), "{rows} rows");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Enter); // expand the first matching group
    let s = render(&mut app, 120, 40);
    assert!(s.contains("/chan rec"), "{s}");
    assert!(s.contains("goroutine "), "{s}");
    check("sigquit_filter_chan_rec", &s);
}

#[test]
fn variables_tree_expands() {
    let mut app = open("go1.22-noopt", "nil_goroutine", &scenarios_src());
    app.focus = Pane::Vars;
    // describe(n *Node): expand n, then *n.
    let vis = app.vars.visible();
    let first = app
        .vars
        .nodes
        .get(*vis.first().expect("a variable"))
        .expect("node");
    assert_eq!(first.label, "n");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    let s = render(&mut app, 120, 40);
    assert!(s.contains("▾ n = "), "{s}");
    assert!(s.contains("Next = "), "{s}");
    assert!(s.contains("Name = "), "{s}");
    check("nil_goroutine_vars_expanded", &s);
    // Left collapses.
    key(&mut app, KeyCode::Up);
    key(&mut app, KeyCode::Left);
    assert_eq!(app.vars.visible().len(), vis.len());
}

#[test]
fn disassembly_when_source_is_missing() {
    let mut app = open("go1.22-opt", "nil_goroutine", "/nonexistent/coroner-src");
    let s = render(&mut app, 120, 40);
    assert!(s.contains("nilderef.go not found)"), "{s}");
    // The faulting instruction itself (the Go signal's pc), not the one before it.
    let pc = app
        .target
        .crash()
        .go_signal
        .as_deref()
        .and_then(|g| g.rsplit("pc=").next())
        .map(str::to_string)
        .expect("go signal pc");
    assert!(s.contains(&format!("=>{pc}")), "{s}");
    check("nil_goroutine_disassembly", &s);
}

#[test]
fn command_bar_runs_repl_commands() {
    let mut app = open("go1.22-noopt", "nil_goroutine", &scenarios_src());
    key(&mut app, KeyCode::Char(':'));
    typed(&mut app, "args");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Output);
    // The same engine as the REPL, in the frame on screen (describe's frame).
    let want = {
        let mut s = Session::with_debuggee(Box::new(SharedTarget(app.target.clone())));
        let g = app.goid.expect("goroutine");
        s.execute(&format!("goroutine {g} frame {} args", app.f_cur.sel))
            .render()
    };
    let got: Vec<String> = app.output.iter().skip(1).cloned().collect();
    let want: Vec<String> = want.lines().map(str::to_string).collect();
    assert_eq!(got, want);
    let s = render(&mut app, 120, 40);
    assert!(s.contains("(coroner) args"), "{s}");
    check("nil_goroutine_command_args", &s);
    // `frame 1` moves the browser too.
    key(&mut app, KeyCode::Char(':'));
    typed(&mut app, "frame 0");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.f_cur.sel, 0);
    key(&mut app, KeyCode::Char(':'));
    typed(&mut app, "exit");
    key(&mut app, KeyCode::Enter);
    assert!(app.quit);
}

#[test]
fn help_threads_registers_memory() {
    let mut app = open("go1.22-noopt", "nil_goroutine", &scenarios_src());
    key(&mut app, KeyCode::Char('?'));
    let s = render(&mut app, 120, 40);
    for (k, _) in browser::keys::HELP {
        assert!(s.contains(k), "help lacks {k}:\n{s}");
    }
    check("help_overlay", &s);
    key(&mut app, KeyCode::Esc);
    assert!(!app.help);
    key(&mut app, KeyCode::Char('T'));
    let s = render(&mut app, 120, 40);
    assert!(s.contains("Thread "), "{s}");
    key(&mut app, KeyCode::Char('R'));
    let s = render(&mut app, 120, 40);
    assert!(s.contains("Rip"), "{s}");
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('x'));
    typed(&mut app, "n");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Memory, "status: {}", app.status);
    let s = render(&mut app, 120, 40);
    assert!(s.contains("Memory: n = 0x"), "{s}");
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('g'));
    typed(&mut app, "1");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.goid, Some(1));
}

#[test]
fn no_color_uses_no_colours() {
    use ratatui::style::Color;
    let mut app = open("go1.22-opt", "nil_goroutine", &scenarios_src());
    let colours = |app: &mut App| {
        let mut t = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
        t.draw(|f| browser::ui::draw(f, app)).expect("draw");
        t.backend()
            .buffer()
            .content()
            .iter()
            .filter(|c| c.fg != Color::Reset || c.bg != Color::Reset)
            .count()
    };
    app.no_color = false;
    assert!(colours(&mut app) > 0);
    app.no_color = true;
    assert_eq!(colours(&mut app), 0);
}

#[test]
fn mouse_click_selects_and_wheel_scrolls() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mut app = open("go1.22-opt", "panic_main", &scenarios_src());
    render(&mut app, 120, 40);
    let click = |app: &mut App, col: u16, row: u16| {
        app.on_mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: col,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    // The third goroutine group (border row + 2).
    let g = app.areas.goroutines;
    click(&mut app, g.x + 3, g.y + 3);
    assert_eq!(app.focus, Pane::Goroutines);
    assert_eq!(app.g_cur.sel, 2);
    let want = app.rows.get(2).and_then(|r| app.row_goid(*r));
    assert_eq!(app.goid, want);
    // Click in the stack pane selects that frame.
    render(&mut app, 120, 40);
    let s = app.areas.stack;
    click(&mut app, s.x + 3, s.y + 1);
    assert_eq!(app.focus, Pane::Stack);
    assert_eq!(app.f_cur.sel, app.f_cur.offset);
    let before = app.f_cur.sel;
    app.on_mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: s.x + 3,
        row: s.y + 2,
        modifiers: KeyModifiers::NONE,
    });
    assert_eq!(app.f_cur.sel, (before + 3).min(app.stack.len() - 1));
}
