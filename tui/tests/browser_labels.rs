//! The browser on the labels fixtures (cores/fixtures-labels/): `/k=v` filters the
//! goroutine groups by label, a group's member rows and the stack pane's title show
//! the goroutine's labels; stripped binaries included.

#[allow(dead_code)]
#[path = "../src/browser/mod.rs"]
mod browser;

use browser::app::{App, Row};
use browser::shared::SharedTarget;
use coroner::repl::Session;
use coroner::target::{OpenOptions, Target};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::path::PathBuf;
use std::sync::Arc;

fn open(tag: &str) -> App {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../cores/fixtures-labels")
        .join(tag);
    let target = Target::open(&OpenOptions {
        binary: d.join("labels.zst"),
        core: d.join("labels.core.zst"),
        force: false,
    })
    .unwrap_or_else(|e| panic!("open {tag}: {e}"));
    let target = Arc::new(target);
    let session = Session::with_debuggee(Box::new(SharedTarget(target.clone())));
    let mut app = App::new(target, session, "labels", "labels.core");
    app.wait_loaded();
    app
}

fn key(app: &mut App, c: KeyCode) {
    app.on_key(KeyEvent::new(c, KeyModifiers::NONE));
}

fn render(app: &mut App) -> String {
    let mut t = Terminal::new(TestBackend::new(160, 50)).expect("terminal");
    t.draw(|f| browser::ui::draw(f, app)).expect("draw");
    browser::ui::buffer_text(t.backend().buffer())
}

#[test]
fn filter_by_label_and_show_labels() {
    for tag in ["go1.19-stripped", "go1.22-noopt", "go1.27-opt"] {
        let mut app = open(tag);
        key(&mut app, KeyCode::Char('/'));
        for c in "route=/users".chars() {
            key(&mut app, KeyCode::Char(c));
        }
        key(&mut app, KeyCode::Enter);
        let groups: Vec<usize> = app
            .rows
            .iter()
            .filter_map(|r| match r {
                Row::Group(i) => Some(*i),
                _ => None,
            })
            .collect();
        // The three handlers share one stack; two of them serve /users.
        assert_eq!(groups.len(), 1, "{tag}: one group has route=/users members");
        let members = app.groups[groups[0]].members.len();
        assert_eq!(members, 3, "{tag}: the main.serve group");
        // Expand it: each member's row shows its labels.
        key(&mut app, KeyCode::Enter);
        let screen = render(&mut app);
        for want in [
            "method=GET route=/users service=api",
            "method=POST route=/orders service=api",
            "method=DELETE route=/users service=api",
        ] {
            assert!(screen.contains(want), "{tag}: no {want:?} on\n{screen}");
        }
        // The crashing goroutine's labels head the stack pane.
        let mut app = open(tag);
        let screen = render(&mut app);
        assert!(
            screen.contains("Stack: goroutine 1 [running] {phase=shutdown service=api}"),
            "{tag}:\n{screen}"
        );
    }
}
