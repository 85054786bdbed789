//! Starting GNU gdbserver: on a new program (`gdbserver --once 127.0.0.1:0 BIN ARGS`)
//! or attached to a running one (`--attach`). It picks a free port and says which on
//! stderr ("Listening on port N"); we read that, connect, and keep draining stderr
//! (the program's stderr comes the same way) so neither can block on a full pipe.
//! Once the port is known, stderr lines that are not gdbserver's own messages are the
//! program's: they go to the sink the launcher chose (coroner's stderr by default).

use super::conn::Timeouts;
use super::process::GdbRemote;
use crate::backend::BackendError;
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
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

/// Stubs alive now, for [`emergency_cleanup`]: (gdbserver pid, the program's pid when
/// we launched it).
static LIVE: Mutex<Vec<(u32, Option<u32>)>> = Mutex::new(Vec::new());

fn live() -> std::sync::MutexGuard<'static, Vec<(u32, Option<u32>)>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Have [`emergency_cleanup`] kill `pid` too (a stub started elsewhere: `rr replay`).
pub fn track(pid: u32) {
    live().push((pid, None));
}

/// The stub `pid` is gone (reaped by its owner).
pub fn untrack(pid: u32) {
    live().retain(|(s, _)| *s != pid);
}

/// For a fatal signal or a panic, when no [`GdbRemote`] can be dropped properly: kill
/// every program we launched under gdbserver, then the stubs. gdbserver does not
/// notice a closed connection while its program runs, so without this both would
/// outlive coroner. An attached program is let go by the kernel when its stub dies;
/// breakpoints inserted in it stay (the proper way out is `exit`, which removes them).
pub fn emergency_cleanup() {
    let stubs = std::mem::take(&mut *live());
    for (stub, program) in stubs {
        if let Some(p) = program {
            // SAFETY: kill(2) with a pid we started; no memory is involved.
            unsafe { libc::kill(p as i32, libc::SIGKILL) };
        }
        // SAFETY: as above.
        unsafe { libc::kill(stub as i32, libc::SIGKILL) };
    }
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
        let pid = self.child.id();
        live().retain(|(s, _)| *s != pid);
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

/// Where the program's stderr lines go once gdbserver is listening.
pub type StderrSink = Box<dyn Write + Send>;

/// A standard stream of the program started under gdbserver.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Stream {
    /// coroner's own stream.
    #[default]
    Inherit,
    Null,
    /// A file: read for stdin, created or truncated for stdout and stderr.
    File(PathBuf),
}

/// How to start a program under gdbserver (the ptrace launcher's options, as far as
/// gdbserver can honour them).
#[derive(Debug, Clone, Default)]
pub struct GdbServerLaunch {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Working directory of the program (gdbserver's own, which it inherits).
    pub wd: Option<PathBuf>,
    /// Run with address space randomisation off. Off by default, as with ptrace
    /// (gdbserver's own default is on).
    pub disable_aslr: bool,
    pub stdin: Stream,
    pub stdout: Stream,
    pub stderr: Stream,
}

impl GdbServerLaunch {
    pub fn new(program: impl Into<PathBuf>) -> GdbServerLaunch {
        GdbServerLaunch {
            program: program.into(),
            ..GdbServerLaunch::default()
        }
    }
}

/// gdbserver's own lines on stderr after it started listening: never the program's.
fn is_gdbserver_message(line: &str) -> bool {
    const PREFIXES: [&str; 11] = [
        "Remote debugging from host ",
        "Child exited with status ",
        "Child terminated with signal",
        "Detaching from process ",
        "Killing process(es): ",
        "Killing all inferiors",
        "Remote side has terminated connection",
        "Exiting",
        "Warning: ptrace(",
        "gdbserver: ",
        "Attached; pid = ",
    ];
    PREFIXES.iter().any(|p| line.starts_with(p))
}

/// Forward the program's lines to `sink`. gdbserver writes an empty line before
/// "Child exited ...": an empty line is held until the next one shows whose it is.
struct Forward {
    sink: Option<StderrSink>,
    held_blank: bool,
}

impl Forward {
    fn line(&mut self, line: &str) {
        let Some(sink) = self.sink.as_mut() else {
            return;
        };
        if line.is_empty() {
            if self.held_blank {
                let _ = sink.write_all(b"\n");
            }
            self.held_blank = true;
            return;
        }
        if is_gdbserver_message(line) {
            self.held_blank = false;
            return;
        }
        if std::mem::take(&mut self.held_blank) {
            let _ = sink.write_all(b"\n");
        }
        let _ = sink.write_all(line.as_bytes());
        let _ = sink.write_all(b"\n");
        let _ = sink.flush();
    }
    fn end(&mut self) {
        if let (true, Some(sink)) = (self.held_blank, self.sink.as_mut()) {
            let _ = sink.write_all(b"\n");
            let _ = sink.flush();
        }
    }
}

fn open_stream(s: &Stream, input: bool, what: &str) -> Result<Stdio, BackendError> {
    Ok(match s {
        Stream::Inherit => Stdio::inherit(),
        Stream::Null => Stdio::null(),
        Stream::File(p) => {
            let f = if input {
                std::fs::File::open(p)
            } else {
                std::fs::File::create(p)
            };
            Stdio::from(f.map_err(|e| {
                BackendError::Launch(format!("{what}: cannot open {}: {e}", p.display()))
            })?)
        }
    })
}

fn spawn(
    args: &[&OsStr],
    what: &str,
    launch: Option<&GdbServerLaunch>,
) -> Result<(GdbServerChild, Started), BackendError> {
    let mut cmd = Command::new("gdbserver");
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group: a Ctrl-C meant for the debugger must not reach the
        // stub or the program (the debugger interrupts with `\x03` instead).
        .process_group(0);
    // The program shares gdbserver's stdin and stdout; its stderr comes through our
    // pipe, mixed with gdbserver's messages.
    let mut sink: Option<StderrSink> = None;
    if let Some(l) = launch {
        cmd.stdin(open_stream(&l.stdin, true, what)?)
            .stdout(open_stream(&l.stdout, false, what)?);
        if let Some(wd) = &l.wd {
            cmd.current_dir(wd);
        }
        sink = match &l.stderr {
            Stream::Inherit => Some(Box::new(std::io::stderr())),
            Stream::Null => None,
            Stream::File(p) => Some(Box::new(std::fs::File::create(p).map_err(|e| {
                BackendError::Launch(format!("{what}: cannot open {}: {e}", p.display()))
            })?)),
        };
    }
    let mut child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            BackendError::Launch(format!(
                "{what}: gdbserver is not installed (not in PATH): install gdbserver (Debian: apt-get install gdbserver)"
            ))
        } else {
            BackendError::Launch(format!("{what}: cannot run gdbserver: {e}"))
        }
    })?;
    let log = Arc::new(Mutex::new(VecDeque::new()));
    let (tx, rx) = mpsc::channel::<String>();
    if let Some(err) = child.stderr.take() {
        let log = log.clone();
        std::thread::spawn(move || {
            let mut fwd = Forward {
                sink,
                held_blank: false,
            };
            let mut listening = false;
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut l) = log.lock() {
                    if l.len() >= LOG_LINES {
                        l.pop_front();
                    }
                    l.push_back(line.clone());
                }
                if listening {
                    fwd.line(&line);
                } else {
                    listening = line.starts_with("Listening on port ");
                }
                // The receiver goes away once the port is known; keep draining.
                let _ = tx.send(line);
            }
            fwd.end();
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
    /// Start `bin args` under a new gdbserver and connect to it (stdin from
    /// /dev/null, stdout discarded, stderr kept in [`GdbRemote::stub_log`] only).
    pub fn launch_gdbserver<S: AsRef<OsStr>>(
        bin: &std::path::Path,
        args: &[S],
        timeouts: Timeouts,
    ) -> Result<GdbRemote, BackendError> {
        let mut argv: Vec<&OsStr> = vec![OsStr::new("--once"), OsStr::new("127.0.0.1:0")];
        argv.push(bin.as_os_str());
        argv.extend(args.iter().map(|a| a.as_ref()));
        let what = bin.display().to_string();
        let (server, started) = spawn(&argv, &what, None)?;
        GdbRemote::finish_start(server, started, timeouts, true)
    }

    /// Start a program as `coroner exec --backend=gdbserver` does: its own working
    /// directory, streams and ASLR setting; the program is exec'd directly (no shell
    /// between, so arguments reach it as given).
    pub fn launch_gdbserver_with(
        l: &GdbServerLaunch,
        timeouts: Timeouts,
    ) -> Result<GdbRemote, BackendError> {
        let mut argv: Vec<&OsStr> = vec![
            OsStr::new("--once"),
            OsStr::new("--no-startup-with-shell"),
            OsStr::new(if l.disable_aslr {
                "--disable-randomization"
            } else {
                "--no-disable-randomization"
            }),
            OsStr::new("127.0.0.1:0"),
        ];
        argv.push(l.program.as_os_str());
        argv.extend(l.args.iter().map(OsString::as_os_str));
        let what = l.program.display().to_string();
        let (server, started) = spawn(&argv, &what, Some(l))?;
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
        let (server, mut started) = spawn(&argv, &what, None).map_err(|e| match e {
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
        live().push((server.pid(), started.pid.filter(|_| launched)));
        remote.set_child(server, launched);
        Ok(remote)
    }
}
