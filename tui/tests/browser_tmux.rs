//! End to end: the real `coroner` binary in tmux on a fixture core. Select the
//! faulting goroutine, open a frame, expand a variable, run a command in the command
//! bar, quit; then check the shell's terminal settings were restored.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    fn keys(&self, keys: &[&str]) {
        let mut a = vec!["send-keys", "-t", "e2e"];
        a.extend_from_slice(keys);
        self.run(&a);
    }
    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "e2e"])
    }
    /// Wait until the screen contains `what` (or fail with the last screen).
    fn wait_for(&self, what: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            if start.elapsed() > Duration::from_secs(30) {
                panic!("timed out waiting for {what:?}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

#[test]
fn browse_a_core_in_tmux() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("note: tmux is not installed; skipping the browser end-to-end test");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_coroner");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../cores/fixtures/go1.22-noopt");
    let tmux = Tmux {
        socket: format!("coroner-e2e-{}", std::process::id()),
    };
    // A plain shell in a 120x40 pane; the browser runs in it like a user would run it.
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "e2e",
        "-x",
        "120",
        "-y",
        "40",
        "env",
        "-u",
        "NO_COLOR",
        "TERM=xterm-256color",
        "sh",
    ]);
    let cmd = format!(
        "{bin} core {} {}; echo EXIT=$?; stty -a",
        dir.join("scenarios.zst").display(),
        dir.join("nil_goroutine.core.zst").display()
    );
    tmux.keys(&["-l", &cmd]);
    tmux.keys(&["Enter"]);
    // First screen: the crash reason and the faulting goroutine's user frame.
    let s = tmux.wait_for("groups");
    assert!(s.contains("SIGSEGV"), "{s}");
    assert!(
        s.contains("panic: runtime error: invalid memory address"),
        "{s}"
    );
    assert!(s.contains("work.describe"), "{s}");
    assert!(s.contains("Variables: frame 12 work.describe"), "{s}");
    // Select the faulting goroutine (c), open its frame (Enter: focus variables), expand
    // the variable `n` and its pointee.
    tmux.keys(&["c"]);
    tmux.keys(&["Enter"]);
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("▾ n = ");
    tmux.keys(&["j", "Enter"]);
    let s2 = tmux.wait_for("Name = \"tail\"");
    assert!(s2.contains("Next = "), "{s2}\n(before: {s})");
    // The command bar runs a REPL command; its output is shown.
    tmux.keys(&[":"]);
    tmux.keys(&["-l", "goroutines"]);
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("(coroner) goroutines");
    assert!(s.contains("goroutines]"), "{s}");
    assert!(s.contains("Goroutine 6"), "{s}");
    tmux.keys(&["q"]);
    // The typed command line itself contains "echo EXIT=$?": wait for the shell's
    // output line, which starts with EXIT=.
    // (A non-zero exit times out here with the screen in the message.)
    let s = tmux.wait_for("\nEXIT=0");
    assert!(s.contains("\nEXIT=0"), "{s}");
    // stty -a lists "-icanon"/"-echo" when raw mode was left on.
    let s = tmux.wait_for("icanon");
    let words: Vec<&str> = s.split_whitespace().collect();
    assert!(words.contains(&"icanon"), "{s}");
    assert!(words.contains(&"echo"), "{s}");
}

/// The browser reads the user's config file as the REPL does: its command bar's
/// `config -list` shows the file's settings.
#[test]
fn the_browser_applies_the_users_config_file() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("note: tmux is not installed; skipping the browser config test");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_coroner");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../cores/fixtures/go1.22-noopt");
    let xdg = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(xdg.path().join("coroner")).expect("mkdir");
    std::fs::write(
        xdg.path().join("coroner/config.yml"),
        "max-string-len: 7\nsubstitute-path:\n  - {from: /nowhere, to: /elsewhere}\n",
    )
    .expect("write config");
    let tmux = Tmux {
        socket: format!("coroner-e2e-cfg-{}", std::process::id()),
    };
    let xdg_env = format!("XDG_CONFIG_HOME={}", xdg.path().display());
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "e2e",
        "-x",
        "120",
        "-y",
        "40",
        "env",
        &xdg_env,
        "TERM=xterm-256color",
        "sh",
    ]);
    let cmd = format!(
        "{bin} core {} {}; echo EXIT=$?",
        dir.join("scenarios.zst").display(),
        dir.join("nil_goroutine.core.zst").display()
    );
    tmux.keys(&["-l", &cmd]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("groups");
    tmux.keys(&[":"]);
    tmux.keys(&["-l", "config -list"]);
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("max-string-len");
    assert!(
        s.lines()
            .map(|l| l.trim_matches(|c: char| c == '│' || c.is_whitespace()))
            .any(|l| l.starts_with("max-string-len") && l.ends_with(" 7")),
        "{s}"
    );
    assert!(s.contains("{/nowhere /elsewhere}"), "{s}");
    tmux.keys(&["Escape"]);
    tmux.keys(&["q"]);
    tmux.wait_for("\nEXIT=0");
}
