//! `restart` with new arguments, as Delve's `restart [-noargs | newargv...]`: the
//! relaunched program sees them (the loop fixture prints `sum=` of N calls, so the
//! argument is visible in its output), a bare `restart` keeps the last ones, and
//! `-noargs` clears them (the fixture then prints its usage and exits 2).

use std::process::{Command, Stdio};

#[path = "support/live.rs"]
mod live;
use live::{ptrace_works, unpack, TempDir};

#[test]
fn restart_takes_new_arguments_and_keeps_them() {
    if !ptrace_works("live restart args") {
        return;
    }
    let dir = TempDir::new("restart-args");
    let exe = unpack("go1.25-noopt", dir.path());
    let cmds = dir.path().join("script.cmds");
    std::fs::write(
        &cmds,
        "continue\nrestart loop 5\ncontinue\nrestart\ncontinue\nrestart -noargs\ncontinue\nexit\n",
    )
    .expect("write script");
    let out = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .arg("exec")
        .arg(&exe)
        .arg("--init")
        .arg(&cmds)
        .args(["--", "loop", "3"])
        .stdin(Stdio::null())
        .output()
        .expect("run coroner");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    // f(i) = i%7 + 1: three calls sum to 6, five to 15.
    let sums: Vec<&str> = text.lines().filter(|l| l.starts_with("sum=")).collect();
    assert_eq!(sums, ["sum=6", "sum=15", "sum=15"], "{text}");
    assert_eq!(
        text.matches("Process restarted with PID").count(),
        3,
        "{text}"
    );
    assert!(
        text.contains("usage: live SCENARIO"),
        "-noargs did not clear the arguments:\n{text}"
    );
    assert!(text.contains("has exited with status 2"), "{text}");
}
