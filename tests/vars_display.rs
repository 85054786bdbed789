//! Delve's display list on a core: `display -a` adds and prints, `display` re-prints
//! every kept expression (numbers stable across removals), `display -d N` removes.

use coroner::repl::{Output, Session};
use coroner::target::{OpenOptions, Target};
use std::path::Path;

fn text(s: &mut Session, line: &str) -> String {
    match s.execute(line) {
        Output::Text(t) => t,
        Output::Error(e) => format!("ERROR {e}"),
        other => panic!("{line}: unexpected {other:?}"),
    }
}

#[test]
fn display_list_is_kept_and_reprinted() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/fixtures-values/go1.22-noopt");
    if !base.exists() {
        eprintln!("no values fixtures: skipped");
        return;
    }
    // coroner opens zstd-compressed binaries and cores directly.
    let t = Target::open(&OpenOptions {
        binary: base.join("values.zst"),
        core: base.join("values.core.zst"),
        force: false,
    })
    .expect("open values fixture");
    let mut s = Session::new(t);
    assert_eq!(text(&mut s, "display -a main.GInt"), "0: main.GInt = 42\n");
    assert_eq!(
        text(&mut s, "display -a %x main.GInt"),
        "1: main.GInt = 2a\n"
    );
    let e = text(&mut s, "display -a main.nope");
    assert!(e.starts_with("2: main.nope = error "), "{e}");
    let all = text(&mut s, "display");
    assert_eq!(all.lines().count(), 3, "{all}");
    assert!(
        all.starts_with("0: main.GInt = 42\n1: main.GInt = 2a\n"),
        "{all}"
    );
    assert_eq!(text(&mut s, "display -d 1"), "");
    let all = text(&mut s, "display");
    assert!(
        all.starts_with("0: main.GInt = 42\n2: main.nope = error"),
        "{all}"
    );
    assert_eq!(text(&mut s, "display -d 9"), "ERROR 9 is out of range");
    assert_eq!(text(&mut s, "display main.GInt"), "ERROR wrong arguments");
    assert_eq!(text(&mut s, "display -a"), "ERROR not enough arguments");
}
