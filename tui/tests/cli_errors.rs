//! The `coroner` binary on error paths: every fatal problem is one line on stderr
//! starting with `coroner: `, and exit status 1.

use std::process::{Command, Output};

fn coroner(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coroner"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run coroner: {e}"))
}

fn assert_one_line_failure(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "expected one line, got: {err}");
    assert!(err.starts_with("coroner: "), "{err}");
    assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    assert!(o.stdout.is_empty(), "nothing on stdout for a failed open");
}

#[test]
fn help_and_version() {
    let o = coroner(&["--help"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("core"), "{out}");
    let o = coroner(&["core", "--help"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for flag in [
        "--init",
        "--json",
        "--force",
        "--allow-non-terminal-interactive",
        "--check-go-version",
    ] {
        assert!(out.contains(flag), "core --help lacks {flag}: {out}");
    }
    let o = coroner(&["version"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("coroner "));
}

#[test]
fn missing_files() {
    let o = coroner(&["core", "/nonexistent/bin", "/nonexistent/core"]);
    assert_one_line_failure(&o, "/nonexistent/");
}

#[test]
fn not_elf() {
    let p = std::env::temp_dir().join(format!("coroner-cli-junk-{}", std::process::id()));
    std::fs::write(&p, "this is not an ELF file\n").unwrap_or_else(|e| panic!("write: {e}"));
    let ps = p.to_string_lossy().to_string();
    let o = coroner(&["core", &ps, &ps]);
    let _ = std::fs::remove_file(&p);
    assert_one_line_failure(&o, "coroner-cli-junk");
}

#[test]
fn executable_given_as_core() {
    let o = coroner(&["core", "/bin/ls", "/bin/ls"]);
    assert_one_line_failure(&o, "/bin/ls");
}

#[test]
fn missing_init_file() {
    let o = coroner(&["core", "/bin/ls", "/bin/ls", "--init", "/nonexistent/init"]);
    assert_one_line_failure(&o, "init file");
}

#[test]
fn delve_flags_are_accepted() {
    // Parsing succeeds (the failure is the open, not an unknown flag).
    let o = coroner(&[
        "core",
        "/nonexistent/bin",
        "/nonexistent/core",
        "--allow-non-terminal-interactive=true",
        "--check-go-version=false",
    ]);
    assert_one_line_failure(&o, "/nonexistent/");
}
