//! Starting GNU gdbserver: on a new program (`gdbserver --once 127.0.0.1:0 BIN ARGS`)
//! or attached to a running one (`--attach`). It picks a free port and says which on
//! stderr ("Listening on port N"); we read that, connect, and keep draining stderr
//! (the program's stderr comes the same way) so neither can block on a full pipe.

use super::conn::Timeouts;
use super::process::GdbRemote;
use crate::backend::BackendError;
use std::collections::VecDeque;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Lines of stderr kept for diagnostics.
const LOG_LINES: usize = 200;

/// A gdbserver we started. Dropping it kills and reaps it.
pub struct GdbServerChild {
    child: Child,
    log: Arc<Mutex<VecDeque<String>>>,
    reaped: bool,
}

impl GdbServerChild {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> Vec<String> {
        match self.log.lock() {
            Ok(l) => l.iter().cloned().collect(),
            Err(p) => p.into_inner().iter().cloned().collect(),
        }
    }

    /// Give the stub up to `timeout` to exit by itself (after `k` or `D` with
    /// `--once`), then kill it. Always reaps.
    pub fn wait_exit(&mut self, timeout: Duration) {
        if self.reaped {
            return;
        }
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                self.reaped = true;
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.reaped = true;
    }
}

impl Drop for GdbServerChild {
    fn drop(&mut self) {
        self.wait_exit(Duration::from_millis(500));
    }
}

/// What gdbserver printed before it was ready.
struct Started {
    port: u16,
    pid: Option<u32>,
}

fn spawn(args: &[&OsStr], what: &str) -> Result<(GdbServerChild, Started), BackendError> {
    let mut cmd = Command::new("gdbserver");
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group: a Ctrl-C meant for the debugger must not reach the
        // stub or the program (the debugger interrupts with `\x03` instead).
        .process_group(0);
    let mut child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            BackendError::Launch(format!("{what}: gdbserver is not installed (not in PATH)"))
        } else {
            BackendError::Launch(format!("{what}: cannot run gdbserver: {e}"))
        }
    })?;
    let log = Arc::new(Mutex::new(VecDeque::new()));
    let (tx, rx) = mpsc::channel::<String>();
    if let Some(err) = child.stderr.take() {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut l) = log.lock() {
                    if l.len() >= LOG_LINES {
                        l.pop_front();
                    }
                    l.push_back(line.clone());
                }
                // The receiver goes away once the port is known; keep draining.
                let _ = tx.send(line);
            }
        });
    }
    let mut server = GdbServerChild {
        child,
        log,
        reaped: false,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut pid = None;
    let mut last = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left.max(Duration::from_millis(1))) {
            Ok(line) => {
                // "Process /bin/x created; pid = 123", "Attached; pid = 123"
                if let Some(p) = line.split("pid = ").nth(1) {
                    pid = p.trim().parse().ok();
                }
                if let Some(p) = line.strip_prefix("Listening on port ") {
                    if let Ok(port) = p.trim().parse() {
                        return Ok((server, Started { port, pid }));
                    }
                }
                // "Exiting" says nothing; the reason ("Cannot exec ...: No such file")
                // comes first.
                let t = line.trim();
                if !t.is_empty() && t != "Exiting" && !last.starts_with("Cannot") {
                    last = t.to_string();
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                server.wait_exit(Duration::ZERO);
                return Err(BackendError::Launch(format!(
                    "{what}: gdbserver did not say which port it listens on within 20s"
                )));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                server.wait_exit(Duration::from_millis(200));
                return Err(BackendError::Launch(format!(
                    "{what}: gdbserver exited: {}",
                    if last.is_empty() {
                        "(no message)"
                    } else {
                        &last
                    }
                )));
            }
        }
    }
}

impl GdbRemote {
    /// Start `bin args` under a new gdbserver and connect to it.
    pub fn launch_gdbserver<S: AsRef<OsStr>>(
        bin: &std::path::Path,
        args: &[S],
        timeouts: Timeouts,
    ) -> Result<GdbRemote, BackendError> {
        let mut argv: Vec<&OsStr> = vec![OsStr::new("--once"), OsStr::new("127.0.0.1:0")];
        argv.push(bin.as_os_str());
        argv.extend(args.iter().map(|a| a.as_ref()));
        let what = bin.display().to_string();
        let (server, started) = spawn(&argv, &what)?;
        GdbRemote::finish_start(server, started, timeouts, true)
    }

    /// Attach a new gdbserver to running process `pid` and connect to it.
    pub fn attach_gdbserver(pid: u32, timeouts: Timeouts) -> Result<GdbRemote, BackendError> {
        let p = pid.to_string();
        let argv = [
            OsStr::new("--once"),
            OsStr::new("--attach"),
            OsStr::new("127.0.0.1:0"),
            OsStr::new(&p),
        ];
        let what = format!("attach to {pid}");
        let (server, mut started) = spawn(&argv, &what).map_err(|e| match e {
            BackendError::Launch(m) => BackendError::Attach(m),
            e => e,
        })?;
        started.pid = Some(pid);
        GdbRemote::finish_start(server, started, timeouts, false)
    }

    fn finish_start(
        server: GdbServerChild,
        started: Started,
        timeouts: Timeouts,
        launched: bool,
    ) -> Result<GdbRemote, BackendError> {
        let addr = format!("127.0.0.1:{}", started.port);
        // On failure `server` drops here, killing and reaping the stub.
        let mut remote = GdbRemote::connect_with(&addr, timeouts, started.pid)?;
        remote.set_child(server, launched);
        Ok(remote)
    }
}
