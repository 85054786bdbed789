//! `coroner replay TRACE_DIR [-p PID]` and `coroner exec|debug --backend=rr`: rr
//! replays the recording as a GDB remote stub (`rr replay --dbgport=0`), coroner reads
//! the port from what rr prints and drives it like any stub, backwards too.
//! `DELVE_RR_REPLAY_FLAGS` / `DELVE_RR_RECORD_FLAGS` are honoured as Delve does, and
//! `CORONER_RR_REPLAY_FLAGS` / `CORONER_RR_RECORD_FLAGS` are added after them (so they
//! win where rr takes the last of a flag): e.g. `-W` for rr.soft's software counters.
//! coroner never checks perf_event_paranoid itself: rr says what it lacks.

use crate::live::{self, ExecOptions, LiveOptions};
use anyhow::{bail, Context};
use coroner::backend::gdbserial::GdbRemote;
use coroner::exec::Origin;
use coroner::repl::Session;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Split a flags variable: whitespace separates, `quote` groups.
fn split_flags(s: &str, quote: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut inq, mut any) = (false, false);
    for c in s.chars() {
        if c == quote {
            inq = !inq;
            any = true;
        } else if c.is_whitespace() && !inq {
            if any || !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            any = false;
        } else {
            cur.push(c);
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn flags(delve: &str, ours: &str, quote: char) -> Vec<String> {
    let mut f = Vec::new();
    for var in [delve, ours] {
        if let Ok(v) = std::env::var(var) {
            f.extend(split_flags(&v, quote));
        }
    }
    f
}

/// The rr replay we started: killed and reaped when dropped.
pub struct RrChild(Child);
impl Drop for RrChild {
    fn drop(&mut self) {
        coroner::backend::gdbserial::launch::untrack(self.0.id());
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rr_missing() -> anyhow::Error {
    anyhow::anyhow!("rr is not installed (not in PATH): install rr (Debian: apt-get install rr) or put it on PATH")
}

/// `--onprocess` for `-p PID`; the `gdb` line rr prints gives the port and the exe.
fn start_replay(trace: &Path, pid: Option<u32>) -> anyhow::Result<(RrChild, String, PathBuf)> {
    if !trace.join("version").is_file() {
        bail!(
            "{} is not an rr trace directory (it has no `version` file): give the directory `rr record` wrote",
            trace.display()
        );
    }
    let mut cmd = Command::new("rr");
    cmd.arg("replay").arg("--dbgport=0");
    if let Some(p) = pid {
        cmd.arg(format!("--onprocess={p}"));
    }
    cmd.args(flags(
        "DELVE_RR_REPLAY_FLAGS",
        "CORONER_RR_REPLAY_FLAGS",
        '\'',
    ))
    .arg(trace)
    .stdin(Stdio::null())
    .stdout(Stdio::inherit())
    .stderr(Stdio::piped())
    .process_group(0);
    let mut child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            rr_missing()
        } else {
            anyhow::anyhow!("cannot run rr: {e}")
        }
    })?;
    coroner::backend::gdbserial::launch::track(child.id());
    let err = child.stderr.take().context("rr's stderr")?;
    let child = RrChild(child);
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut found = false;
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            if found {
                // The program's own stderr during replay, and rr's later messages.
                eprintln!("{line}");
            } else {
                found = line.starts_with("  'gdb' ") || line.starts_with("  gdb ");
                let _ = tx.send(line);
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut said = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left.max(Duration::from_millis(1))) {
            Ok(line) => {
                if line.starts_with("  'gdb' ") || line.starts_with("  gdb ") {
                    let f = split_flags(line.trim(), '\'');
                    let addr = f
                        .iter()
                        .find_map(|a| a.strip_prefix("target extended-remote "))
                        .map(str::to_string);
                    let exe = f.last().map(PathBuf::from);
                    match (addr, exe) {
                        (Some(a), Some(e)) => return Ok((child, a, e)),
                        _ => bail!("cannot read the port from rr's line {line:?}"),
                    }
                }
                if !line.starts_with("Launch debugger with") && !line.starts_with("Launch gdb with")
                {
                    said.push(line);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                bail!("rr replay did not say which port it listens on within 120s")
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let msg = said.join("; ");
                bail!(
                    "rr replay failed: {}{}",
                    if msg.is_empty() { "(no message)" } else { &msg },
                    hint(&msg)
                );
            }
        }
    }
}

/// What to do about rr's usual complaints.
fn hint(msg: &str) -> &'static str {
    if msg.contains("perf_event") || msg.contains("counter") || msg.contains("PMU") {
        " (rr needs CPU performance counters: set kernel.perf_event_paranoid to 1 or less, or use an rr with software counters and pass -W in CORONER_RR_RECORD_FLAGS / CORONER_RR_REPLAY_FLAGS)"
    } else if msg.contains("incomplete") || msg.contains("truncated") || msg.contains("EOF") {
        " (the trace looks cut short: record it again)"
    } else {
        ""
    }
}

fn replay_session(
    trace: &Path,
    pid: Option<u32>,
    binary: Option<&Path>,
    opts: LiveOptions,
) -> anyhow::Result<()> {
    let (session, child, binary) = replay_target(trace, pid, binary)?;
    let r = live::run_session(session, opts, &binary);
    drop(child);
    r
}

/// Start `rr replay` on `trace` and connect to it: the session, the rr process (to
/// be dropped after the session, which ends the replay) and the binary in use.
pub fn replay_target(
    trace: &Path,
    pid: Option<u32>,
    binary: Option<&Path>,
) -> anyhow::Result<(Session, RrChild, PathBuf)> {
    let (child, addr, exe) = start_replay(trace, pid)?;
    let proc =
        GdbRemote::connect(&addr).with_context(|| format!("cannot connect to rr at {addr}"))?;
    let binary = binary.map(Path::to_path_buf).unwrap_or(exe);
    // Launched: on exit coroner ends the replay (`k`), as Delve does.
    let d = live::start_boxed(Box::new(proc), &binary, Origin::Launched)?;
    Ok((Session::with_debugger(d), child, binary))
}

/// `coroner replay TRACE_DIR [-p PID]`.
pub fn replay(trace: PathBuf, pid: Option<u32>, opts: LiveOptions) -> anyhow::Result<()> {
    live::install_signal_handling()?;
    replay_session(&trace, pid, None, opts)
}

/// `coroner exec --backend=rr BIN [-- ARGS]`: record into a temporary directory
/// (removed afterwards, as Delve's default `--rr-cleanup`), then replay it.
pub fn record_and_replay(
    binary: &Path,
    args: &[String],
    e: &ExecOptions,
    opts: LiveOptions,
) -> anyhow::Result<()> {
    live::install_signal_handling()?;
    let dir = tempfile::tempdir().context("cannot create a directory for the recording")?;
    let trace = dir.path().join("trace");
    let mut cmd = Command::new("rr");
    cmd.arg("record")
        .arg("-o")
        .arg(&trace)
        .args(flags(
            "DELVE_RR_RECORD_FLAGS",
            "CORONER_RR_RECORD_FLAGS",
            '"',
        ))
        .arg(binary)
        .args(args)
        .stderr(Stdio::piped());
    if let Some(wd) = &e.wd {
        cmd.current_dir(wd);
    }
    if !e.redirects.is_empty() {
        bail!("-r is not supported with --backend=rr yet: redirect inside the recorded command instead");
    }
    let out = cmd.output().map_err(|err| {
        if err.kind() == std::io::ErrorKind::NotFound {
            rr_missing()
        } else {
            anyhow::anyhow!("cannot run rr: {err}")
        }
    })?;
    let msg = String::from_utf8_lossy(&out.stderr);
    eprint!("{msg}");
    if !trace.join("version").is_file() {
        let m = msg.trim().replace('\n', "; ");
        bail!("rr record failed ({}): {m}{}", out.status, hint(&m));
    }
    let r = replay_session(&trace, None, Some(binary), opts);
    drop(dir);
    r
}
