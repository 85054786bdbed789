//! Driving the real `coroner` binary's browser in a tmux pane, as a user runs it: the
//! pane, its keys and screen, the live fixture program, and the checks the browser
//! tests share.
//!
//! Include it with `#[path = "support/tmux.rs"] mod tmux;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a screen may take to show what we wait for (the machine may be loaded).
pub const WAIT: Duration = Duration::from_secs(60);

pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn start(name: &str) -> Tmux {
        let t = Tmux {
            socket: format!("coroner-live-{name}-{}", std::process::id()),
        };
        // A plain shell in a 160x50 pane; the browser runs in it like a user runs it.
        t.run(&[
            "new-session",
            "-d",
            "-s",
            "e2e",
            "-x",
            "160",
            "-y",
            "50",
            "env",
            "-u",
            "NO_COLOR",
            "TERM=xterm-256color",
            "sh",
        ]);
        t
    }
    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    pub fn keys(&self, keys: &[&str]) {
        let mut a = vec!["send-keys", "-t", "e2e"];
        a.extend_from_slice(keys);
        self.run(&a);
    }
    pub fn typed(&self, text: &str) {
        self.keys(&["-l", text]);
    }
    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "e2e"])
    }
    /// Wait until the screen contains `what` (or fail with the last screen).
    pub fn wait_for(&self, what: &str) -> String {
        self.wait_until(what, |s| s.contains(what))
    }
    pub fn wait_until(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            if start.elapsed() > WAIT {
                panic!("timed out waiting for {what:?}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // The pane's shell and coroner get SIGHUP: coroner's handler releases the
        // program (kill launched, detach attached) before it exits.
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// SIGKILLs a pid this test learnt (the launched program) however the test ends.
pub struct PidGuard(pub Option<u32>);

impl Drop for PidGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            if Path::new(&format!("/proc/{p}")).exists() {
                let _ = Command::new("kill").args(["-9", &p.to_string()]).output();
            }
        }
    }
}

/// A program this test started itself: killed and reaped on drop.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Whether this machine has what the tests need; says loudly what is missing.
pub fn usable(test: &str) -> bool {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIP: {test}: tmux is not installed");
        return false;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .args(["exec", "/bin/true"])
        .stdin(Stdio::null())
        .output();
    match out {
        // /bin/true is no Go program: coroner refuses it after launching it, which
        // is enough to know ptrace works; a ptrace failure names ptrace.
        Ok(o) if !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("ptrace") => {
            eprintln!(
                "SKIP: {test}: ptrace is unavailable: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            false
        }
        Ok(_) => true,
        Err(e) => {
            eprintln!("SKIP: {test}: cannot run coroner: {e}");
            false
        }
    }
}

/// The fixture program, decompressed once for every test of this file (into cargo's
/// per-target scratch directory): writing an executable while other tests fork would
/// make their exec of it fail with "text file busy".
pub fn unpack() -> PathBuf {
    static EXE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    EXE.get_or_init(|| {
        let src = repo().join("cores/live-fixtures/go1.27-noopt/live.zst");
        let dst = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-live-go1.27-noopt");
        let f = std::fs::File::open(&src).expect("open live.zst");
        let mut d = zstd::stream::read::Decoder::new(f).expect("zstd");
        d.window_log_max(27).expect("window log");
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut d, &mut bytes).expect("decompress");
        // A previous run's copy is reused as is (another run may be executing it).
        if std::fs::read(&dst).is_ok_and(|old| old == bytes) {
            return dst;
        }
        let tmp = dst.with_extension(format!("part{}", std::process::id()));
        std::fs::write(&tmp, &bytes).expect("write binary");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::rename(&tmp, &dst).expect("rename binary");
        // A child forked while the file was open for writing holds that descriptor
        // until its exec: give such children a moment.
        std::thread::sleep(Duration::from_millis(200));
        dst
    })
    .clone()
}

/// The line marked `// LINE: name` in cores/live/FILE.
pub fn line_of(file: &str, name: &str) -> u32 {
    let text = std::fs::read_to_string(repo().join("cores/live").join(file)).expect("source");
    let marker = format!("// LINE: {name}");
    let i = text
        .lines()
        .position(|l| l.trim_end().ends_with(&marker))
        .unwrap_or_else(|| panic!("no {marker} in {file}"));
    i as u32 + 1
}

/// The fixtures record their sources under /tmp/coroner-fixtures-live/src: point that
/// at the repository's copy through the command bar, as a user would.
pub fn substitute_sources(t: &Tmux) {
    let src = repo().join("cores/live");
    let src = src.canonicalize().unwrap_or(src);
    t.keys(&[":"]);
    t.typed(&format!(
        "config substitute-path /tmp/coroner-fixtures-live/src {}",
        src.display()
    ));
    t.keys(&["Enter"]);
    t.wait_for("(coroner) config substitute-path");
    back_to_main(t);
}

/// Esc from a full-screen view back to the panes, waiting until it is drawn: a key
/// sent right after Esc would arrive as Alt+key.
pub fn back_to_main(t: &Tmux) {
    t.keys(&["Escape"]);
    t.wait_for("┌ Stack");
}

/// `pid N (launched)` / `pid N (attached)` in the header.
pub fn header_pid(screen: &str) -> Option<u32> {
    let i = screen.find("│ pid ")?;
    screen
        .get(i + "│ pid ".len()..)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The header's run-state line (`STOPPED: ...`, `RUNNING: ...`).
pub fn state_line(screen: &str) -> String {
    screen
        .lines()
        .find(|l| l.starts_with("STOPPED:") || l.starts_with("RUNNING:") || l.starts_with("ENDED:"))
        .unwrap_or("")
        .to_string()
}

/// The shell's `EXIT=0` line after coroner ended (the prompt may precede it when the
/// command was typed before the shell printed its prompt).
pub fn wait_exit(t: &Tmux) -> String {
    t.wait_until("EXIT=0", |s| {
        s.lines()
            .any(|l| l.trim_start_matches("# ").trim_end() == "EXIT=0")
    })
}

pub fn gone(pid: u32) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            // A zombie no one reaped yet is gone too: it runs no code.
            Ok(s)
                if s.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z')) =>
            {
                return true
            }
            Ok(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    false
}

/// On the loop program stopped before its loop: a breakpoint toggled on the loop's
/// call line (opened with L), continue to it, a watch on `i`, `next` to the loop's
/// post statement, continue to the second hit (the watch's new value).
pub fn breakpoint_continue_watch_next(t: &Tmux, call: u32, for_line: u32) {
    // A breakpoint toggled on a source line opened with L.
    t.keys(&["L"]);
    t.typed(&format!("loop.go:{call}"));
    t.keys(&["Enter"]);
    t.wait_for(&format!("{call} │ \t\tsum += f(i)").replace('\t', "    "));
    // (Each check polls the whole screen: a capture may catch a redraw half done.)
    t.keys(&["b"]);
    t.wait_until("the breakpoint and its mark", |s| {
        s.contains("Breakpoint 1 set at") && s.contains(&format!("●  {call:>4} │"))
    });

    // Continue: the stop is the breakpoint, on main's goroutine at that line.
    t.keys(&["c"]);
    t.wait_until("the breakpoint's stop", |s| {
        let st = state_line(s);
        st.starts_with("STOPPED: Breakpoint 1 at main.loopMain")
            && st.contains(&format!("loop.go:{call} (goroutine 1)"))
            && s.contains(&format!("●=>{call:>4} │"))
            && s.contains("Stack: goroutine 1 [running]")
    });

    // A watch on the loop variable.
    t.keys(&["w"]);
    t.typed("i");
    t.keys(&["Enter"]);
    // (The watch pane's rows start at its border; the variables pane indents.)
    t.wait_for("│i = 0");

    // next: the line moves to the loop's post statement.
    t.keys(&["n"]);
    t.wait_until("the step's stop", |s| {
        let st = state_line(s);
        st.starts_with("STOPPED: stepped at main.loopMain")
            && st.contains(&format!("loop.go:{for_line}"))
            && s.contains(&format!("=>{for_line:>4} │"))
            && s.contains(&format!("0 main.loopMain src/loop.go:{for_line}"))
    });

    // The next hit: the watch shows the new value.
    t.keys(&["c"]);
    t.wait_until("the second hit", |s| {
        state_line(s).starts_with("STOPPED: Breakpoint 1") && s.contains("│i = 1")
    });
}
