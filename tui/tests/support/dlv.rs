//! Delve's real `dlv connect` client (Debian's Delve 1.20 at /usr/bin/dlv) against
//! `coroner ... --headless`, and coroner's own REPL on the same target, with a marker
//! printed before each command so the two transcripts compare command by command.
//!
//! Include it with `#[path = "support/dlv.rs"] mod dlv;` (and `support/run.rs` as
//! `run`).
#![allow(dead_code)]

use super::run::{run_stdout, Guard};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

pub const DLV: &str = "/usr/bin/dlv";
/// Separates command outputs in both transcripts (both print a string literal as-is).
pub const MARK: &str = "\"----8<----\"";

/// Whether the client is installed (says loudly when not).
pub fn dlv_available() -> bool {
    if Path::new(DLV).exists() {
        return true;
    }
    eprintln!("SKIPPED: dlv not installed ({DLV}; apt-get install delve)");
    false
}

/// Start `coroner SUBCOMMAND --headless --listen=127.0.0.1:0 REST...` and read the
/// address it prints.
pub fn start_server(args: &[&str]) -> (Guard, String) {
    let (sub, rest) = args
        .split_first()
        .unwrap_or_else(|| panic!("no subcommand"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .arg(sub)
        .args(["--headless", "--listen=127.0.0.1:0"])
        .args(rest)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn coroner: {e}"));
    let out = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let guard = Guard(child);
    let mut line = String::new();
    let mut out = BufReader::new(out);
    out.read_line(&mut line)
        .unwrap_or_else(|e| panic!("read server banner: {e}"));
    // Keep reading: a launched target shares this stdout and must not get EPIPE.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let addr = line
        .trim()
        .strip_prefix("API server listening at: ")
        .unwrap_or_else(|| panic!("unexpected banner {line:?}"))
        .to_string();
    (guard, addr)
}

/// The script with a marker printed before each command.
pub fn marked(cmds: &[&str]) -> String {
    let mut s = String::new();
    for c in cmds {
        s.push_str(&format!("print {MARK}\n{c}\n"));
    }
    s
}

/// Outputs after each marker, with Delve's prompt echoes removed and two things
/// normalised: the live target's own stdout (`ready pid=N`, printed to the REPL's
/// stdout but to the server's in headless mode) and the `[Breakpoint N] ` tag that
/// Delve 1.27 (which the REPL follows) prints in stop lines and 1.20 does not.
pub fn chunks(out: &str) -> Vec<String> {
    let tag = regex_lite_strip;
    let mut v: Vec<String> = Vec::new();
    let mut cur: Option<String> = None;
    for line in out.lines() {
        if line.starts_with("ready pid=") {
            continue;
        }
        let stripped = tag(line.trim_start_matches("(dlv) "));
        let line = stripped.as_str();
        if line == MARK {
            if let Some(c) = cur.take() {
                v.push(c);
            }
            cur = Some(String::new());
            continue;
        }
        if let Some(c) = cur.as_mut() {
            c.push_str(line);
            c.push('\n');
        }
    }
    v.extend(cur);
    v
}

/// `> [Breakpoint 3] main.f() ...` -> `> main.f() ...`.
fn regex_lite_strip(line: &str) -> String {
    if let Some(rest) = line.strip_prefix("> [Breakpoint ") {
        if let Some((_, tail)) = rest.split_once("] ") {
            return format!("> {tail}");
        }
    }
    line.to_string()
}

pub fn dlv_connect(addr: &str, cmds: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let init = dir.path().join("script");
    let mut script = marked(cmds);
    script.push_str("exit\n");
    std::fs::write(&init, script).unwrap_or_else(|e| panic!("write script: {e}"));
    let mut cmd = Command::new(DLV);
    // No colours in source listings (Delve colours unless TERM is dumb).
    cmd.env("TERM", "dumb")
        .arg("connect")
        .arg(addr)
        .arg("--init")
        .arg(&init)
        .arg("--allow-non-terminal-interactive=true");
    run_stdout(cmd, "", Duration::from_secs(300))
}

pub fn coroner_repl(args: &[&str], cmds: &[&str]) -> String {
    let (sub, rest) = args
        .split_first()
        .unwrap_or_else(|| panic!("no subcommand"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_coroner"));
    cmd.arg(sub).arg("--repl").args(rest);
    run_stdout(cmd, &marked(cmds), Duration::from_secs(300))
}

pub fn compare(label: &str, cmds: &[&str], dlv: &str, repl: &str) {
    let (d, r) = (chunks(dlv), chunks(repl));
    let mut diffs = Vec::new();
    for (i, c) in cmds.iter().enumerate() {
        let (a, b) = (
            d.get(i).map_or("<missing>", |s| s),
            r.get(i).map_or("<missing>", |s| s),
        );
        if a != b {
            diffs.push(format!("--- {c}\n[dlv connect]\n{a}[coroner repl]\n{b}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{label}: dlv connect and the REPL differ on {} command(s):\n{}\nfull dlv transcript:\n{dlv}",
        diffs.len(),
        diffs.join("\n")
    );
}
