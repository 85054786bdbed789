//! The README's examples run as written: each `console` block that starts with
//! `$ cargo run --release -- ARGS` is replayed through the `coroner` binary (its
//! `(coroner) CMD` lines fed as input) and must print exactly the block's other
//! lines; the commands the introduction names must not fail on its fixture.
//!
//! When this fails after a deliberate output change, regenerate the block from the
//! command it shows.

#[path = "support/run.rs"]
mod run;

use run::run_capture;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);
const RUN: &str = "cargo run --release -- ";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn readme() -> String {
    let p = root().join("README.md");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// The fenced blocks of `text` whose info string is `lang`.
fn blocks<'a>(text: &'a str, lang: &str) -> Vec<Vec<&'a str>> {
    let mut out = Vec::new();
    let mut cur: Option<Vec<&str>> = None;
    for line in text.lines() {
        match cur.as_mut() {
            None if line.trim() == format!("```{lang}") => cur = Some(Vec::new()),
            None => {}
            Some(_) if line.trim() == "```" => out.extend(cur.take()),
            Some(b) => b.push(line),
        }
    }
    out
}

/// `coroner ARGS` (without `--repl`: input comes from a pipe) fed `input`.
fn coroner(args: &str, input: &str) -> (String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_coroner"));
    c.args(args.split_whitespace().filter(|a| *a != "--repl"))
        .current_dir(root());
    run_capture(c, input, LIMIT)
}

fn files_exist(args: &str) -> bool {
    for a in args.split_whitespace().filter(|a| a.starts_with("cores/")) {
        if !root().join(a).exists() {
            eprintln!("SKIP: README fixture {a} missing");
            return false;
        }
    }
    true
}

#[test]
fn console_examples_print_what_the_readme_shows() {
    let text = readme();
    let mut checked = 0;
    for b in blocks(&text, "console") {
        let Some(args) = b.first().and_then(|l| l.strip_prefix("$ ")) else {
            continue;
        };
        let args = args
            .strip_prefix(RUN)
            .unwrap_or_else(|| panic!("README console block runs {args:?}, not {RUN:?}..."));
        if !files_exist(args) {
            return;
        }
        let mut input = String::new();
        let mut want = String::new();
        for l in &b[1..] {
            match l.strip_prefix("(coroner) ") {
                Some(cmd) => {
                    input.push_str(cmd);
                    input.push('\n');
                }
                None => {
                    want.push_str(l);
                    want.push('\n');
                }
            }
        }
        let (out, err) = coroner(args, &input);
        assert_eq!(
            out, want,
            "README example `{args}` prints something else now (stderr: {err})"
        );
        assert!(!err.contains("Command failed"), "{err}");
        checked += 1;
    }
    assert!(checked > 0, "no console example found in README.md");
}

#[test]
fn introduction_commands_run_on_its_fixture() {
    let text = readme();
    let sh = blocks(&text, "sh");
    let first = sh
        .first()
        .and_then(|b| b.first())
        .unwrap_or_else(|| panic!("README has no sh block"));
    let args = first
        .strip_prefix(RUN)
        .unwrap_or_else(|| panic!("README's first command is {first:?}"));
    assert!(
        args.split_whitespace().any(|a| a == "--repl"),
        "without --repl a terminal gets the browser, not the prompt the README describes"
    );
    if !files_exist(args) {
        return;
    }
    let (out, err) = coroner(args, "goroutines\ngoroutine 18 bt\nthreads\nhelp\nexit\n");
    assert!(!err.contains("Command failed"), "{err}");
    assert!(out.contains("Goroutine 18 - "), "{out}");
}
