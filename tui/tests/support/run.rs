//! Running a client or server process from a test: a guard that kills and reaps it
//! however the test ends, and a run-to-completion with a hard time limit.
//!
//! Include it with `#[path = "support/run.rs"] mod run;`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed and reaped on drop.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Run `cmd` with `stdin` to its end, killing it (and failing the test) after `limit`;
/// its stdout and stderr, read concurrently so neither pipe can fill and block it.
pub fn run_capture(cmd: Command, stdin: &str, limit: Duration) -> (String, String) {
    let shown = format!("{cmd:?}");
    try_capture(cmd, stdin, limit)
        .unwrap_or_else(|| panic!("{shown} did not finish within {limit:?}"))
}

/// [`run_capture`], but None (the process killed and reaped) when it runs past
/// `limit`, for a caller that knows why a peer may hang and can try again.
pub fn try_capture(cmd: Command, stdin: &str, limit: Duration) -> Option<(String, String)> {
    try_capture_while(cmd, stdin, limit, || true)
}

/// [`try_capture`] that also gives up (killing the process) as soon as `healthy`,
/// asked about once a second, says the peer it waits on is stuck.
pub fn try_capture_while(
    mut cmd: Command,
    stdin: &str,
    limit: Duration,
    mut healthy: impl FnMut() -> bool,
) -> Option<(String, String)> {
    let mut child = Guard(
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}")),
    );
    if let Some(mut i) = child.0.stdin.take() {
        let _ = i.write_all(stdin.as_bytes());
    }
    let mut out = child.0.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut err = child.0.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let o = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let e = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let mut asked = Instant::now();
    while child.0.try_wait().ok().flatten().is_none() {
        if start.elapsed() > limit {
            drop(child);
            return None;
        }
        if asked.elapsed() >= Duration::from_secs(1) {
            asked = Instant::now();
            if !healthy() {
                drop(child);
                return None;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some((o.join().unwrap_or_default(), e.join().unwrap_or_default()))
}

/// `run_capture`, returning stdout and showing stderr (when there is any) in the log.
pub fn run_stdout(cmd: Command, stdin: &str, limit: Duration) -> String {
    let shown = format!("{cmd:?}");
    let (o, e) = run_capture(cmd, stdin, limit);
    if !e.is_empty() {
        eprintln!("stderr of {shown}:\n{e}");
    }
    o
}
