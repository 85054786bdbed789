//! `coroner remote HOST:PORT` to a GNU gdbserver this test starts, and the ways a
//! `--backend=gdbserver` session ends (exit, detach, SIGTERM): no stub and no launched
//! program may be left behind, and an attached or remote program keeps running,
//! untraced. Needs gdbserver and ptrace; skips loudly without them.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills and reaps a child however the test ends.
struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Kills a process we did not spawn (the program behind a stub) when the test ends.
struct PidGuard(u32);
impl Drop for PidGuard {
    fn drop(&mut self) {
        // SAFETY: kill(2) on a pid this test learned from the program itself.
        unsafe { libc::kill(self.0 as i32, libc::SIGKILL) };
    }
}

fn usable() -> bool {
    if Command::new("gdbserver").arg("--version").output().is_err() {
        eprintln!("SKIPPED: replay_remote: gdbserver is not installed (apt-get install gdbserver)");
        return false;
    }
    let o = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .args(["exec", "/bin/true"])
        .stdin(Stdio::null())
        .output();
    match o {
        Ok(o) if !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("ptrace") => {
            eprintln!(
                "SKIPPED: replay_remote: ptrace is unavailable: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            false
        }
        Ok(_) => true,
        Err(e) => {
            eprintln!("SKIPPED: replay_remote: cannot run coroner: {e}");
            false
        }
    }
}

fn fixture(dir: &Path) -> PathBuf {
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../cores/live-fixtures/go1.25-noopt/live.zst");
    let dst = dir.join("live");
    let f = std::fs::File::open(&src).expect("open live.zst");
    let mut d = zstd::stream::read::Decoder::new(f).expect("zstd");
    d.window_log_max(27).expect("window log");
    let mut out = std::fs::File::create(&dst).expect("create");
    std::io::copy(&mut d, &mut out).expect("decompress");
    drop(out);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dst
}

/// Pids of processes running an executable under `dir` (the fixture, or gdbserver
/// started on it).
fn running_from(dir: &Path) -> Vec<u32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // A zombie is already dead: its parent reaps it.
            let zombie = stat
                .rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'));
            !zombie && String::from_utf8_lossy(&cmd).contains(dir.to_str().unwrap_or("?"))
        })
        .collect()
}

fn wait_gone(dir: &Path) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = running_from(dir);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn tracer_of(pid: u32) -> Option<u32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))
        .and_then(|v| v.trim().parse().ok())
}

fn ready_pid(text: &str) -> Option<u32> {
    text.lines()
        .find_map(|l| l.strip_prefix("ready pid="))
        .and_then(|p| p.trim().parse().ok())
}

fn coroner(args: &[&str], script: &str, dir: &Path) -> (String, std::process::ExitStatus) {
    let cmds = dir.join("script.cmds");
    std::fs::write(&cmds, script).expect("write script");
    // `--init` right after the subcommand: anything after `--` is the program's.
    let out = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .args(&args[..1])
        .arg("--init")
        .arg(&cmds)
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .expect("run coroner");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text, out.status)
}

#[test]
fn remote_to_a_gdbserver_we_started_stops_at_breakpoints_and_detaches_on_exit() {
    if !usable() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = fixture(dir.path());
    let mut gs = Command::new("gdbserver")
        .args(["--once", "127.0.0.1:0"])
        .arg(&exe)
        .arg("service")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start gdbserver");
    let err = gs.stderr.take().expect("stderr");
    let out = gs.stdout.take().expect("stdout");
    let _gs = Guard(gs);
    let mut lines = BufReader::new(err).lines();
    let port = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("Listening on port ")
                .map(|p| p.trim().to_string())
        })
        .expect("gdbserver says its port");
    std::thread::spawn(move || for _ in lines {});
    let addr = format!("127.0.0.1:{port}");
    // No BIN: the stub names the executable (qXfer:exec-file).
    let (text, status) = coroner(
        &["remote", &addr],
        "break main.ready\ncontinue\nprint main.Progress >= 0\nstack\nexit\n",
        dir.path(),
    );
    assert!(status.success(), "coroner remote failed: {text}");
    assert!(
        text.contains("> [Breakpoint 1] main.ready() ") && text.contains("in main.serviceMain"),
        "no stop at main.ready with its caller: {text}"
    );
    assert!(text.contains("\ntrue\n"), "{text}");
    assert!(text.contains("Detached from process"), "{text}");
    // The program goes on after the detach and says so on the stub's stdout.
    let mut program_out = String::new();
    let mut r = BufReader::new(out);
    r.read_line(&mut program_out).expect("program output");
    let pid = ready_pid(&program_out).expect("ready line from the program");
    let _p = PidGuard(pid);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        tracer_of(pid),
        Some(0),
        "the program is still traced after exit"
    );
    // Drain the rest so the program never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = r.read_to_end(&mut sink);
    });
}

#[test]
fn exec_over_gdbserver_leaves_no_process_on_exit() {
    if !usable() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = fixture(dir.path());
    let exe_s = exe.to_str().expect("utf-8 path");
    let (text, status) = coroner(
        &["exec", "--backend=gdbserver", exe_s, "--", "service"],
        "break main.ready\ncontinue\ngoroutines\nexit\n",
        dir.path(),
    );
    assert!(status.success(), "{text}");
    assert!(text.contains("> [Breakpoint 1] main.ready() "), "{text}");
    assert!(
        ready_pid(&text).is_none(),
        "ready printed before the breakpoint: {text}"
    );
    let left = wait_gone(dir.path());
    assert!(left.is_empty(), "left running after exit: {left:?}");
}

#[test]
fn attach_over_gdbserver_detaches_and_the_program_keeps_running() {
    if !usable() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = fixture(dir.path());
    let mut prog = Command::new(&exe)
        .arg("service")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the program");
    let mut r = BufReader::new(prog.stdout.take().expect("stdout"));
    let pid = prog.id();
    let _p = Guard(prog);
    let mut line = String::new();
    r.read_line(&mut line).expect("ready line");
    assert!(line.starts_with("ready pid="), "{line}");
    let (text, status) = coroner(
        &["attach", "--backend=gdbserver", &pid.to_string()],
        "goroutines\nexit\n",
        dir.path(),
    );
    assert!(status.success(), "{text}");
    assert!(
        text.contains("main.svcSpinner") || text.contains("main.svc"),
        "{text}"
    );
    assert!(
        text.contains(&format!("Detached from process {pid}")),
        "{text}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(tracer_of(pid), Some(0), "still traced after detach");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .trim_start()
        .chars()
        .next();
    assert!(
        matches!(state, Some('S' | 'R')),
        "not running after detach: {stat}"
    );
    // Only the program is left: gdbserver has gone.
    let stubs: Vec<u32> = running_from(dir.path())
        .into_iter()
        .filter(|p| *p != pid)
        .collect();
    assert!(stubs.is_empty(), "gdbserver left running: {stubs:?}");
}

#[test]
fn sigterm_while_the_program_runs_over_gdbserver_leaves_nothing() {
    if !usable() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = fixture(dir.path());
    let cmds = dir.path().join("run.cmds");
    std::fs::write(&cmds, "continue\n").expect("script");
    let mut c = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .args(["exec", "--backend=gdbserver"])
        .arg(&exe)
        .arg("--init")
        .arg(&cmds)
        .args(["--", "service"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start coroner");
    let mut r = BufReader::new(c.stdout.take().expect("stdout"));
    let cpid = c.id();
    let mut g = Guard(c);
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen.contains("ready pid=") && Instant::now() < deadline {
        let mut l = String::new();
        if r.read_line(&mut l).unwrap_or(0) == 0 {
            break;
        }
        seen.push_str(&l);
    }
    let pid = ready_pid(&seen).expect("the program started");
    let _p = PidGuard(pid);
    // SAFETY: kill(2) on the coroner we spawned.
    unsafe { libc::kill(cpid as i32, libc::SIGTERM) };
    let _ = g.0.wait();
    let left = wait_gone(dir.path());
    assert!(left.is_empty(), "left running after SIGTERM: {left:?}");
}
