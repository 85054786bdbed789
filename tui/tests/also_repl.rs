//! REPL conveniences Delve users expect, through the real `coroner` binary on a
//! fixture core: `source`, `transcript`, `edit`, the persistent config file and its
//! Delve fallback, `config -save`, aliases, and `--log-output=rpc` against the
//! headless server with a real JSON-RPC request.
//!
//! Every test gets its own HOME and XDG_CONFIG_HOME (temporary directories), so the
//! user's own configuration never leaks in. Every process started is killed by pid
//! when its guard drops.

#[path = "support/run.rs"]
mod run;

use run::{run_capture, Guard};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

fn fixture() -> Option<(PathBuf, PathBuf)> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cores/fixtures/go1.22-opt");
    let (bin, core) = (d.join("scenarios.zst"), d.join("nil_goroutine.core.zst"));
    if !bin.exists() || !core.exists() {
        eprintln!("SKIP: fixture {} missing", d.display());
        return None;
    }
    Some((bin, core))
}

/// A temporary HOME with nothing in it, and the command to run coroner there.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")),
        }
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    fn home(&self) -> PathBuf {
        self.path("home")
    }
    fn xdg(&self) -> PathBuf {
        self.path("xdg")
    }
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
        }
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }
    fn coroner(&self) -> Command {
        let _ = std::fs::create_dir_all(self.home());
        let mut c = Command::new(env!("CARGO_BIN_EXE_coroner"));
        c.env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.xdg())
            .env("XDG_STATE_HOME", self.path("state"))
            .env_remove("DELVE_EDITOR")
            .env_remove("EDITOR")
            .current_dir(self.dir.path());
        c
    }
    /// `coroner core BIN CORE` with `stdin` as the batch input: (stdout, stderr).
    fn core(&self, extra: &[&str], stdin: &str) -> Option<(String, String)> {
        let (bin, core) = fixture()?;
        let mut c = self.coroner();
        c.args(extra).arg("core").arg(bin).arg(core);
        Some(run_capture(c, stdin, LIMIT))
    }
}

/// Batch stdout without the crash header (everything up to the `help` hint).
fn body(out: &str) -> String {
    const HINT: &str = "Type 'help' for list of commands.\n";
    match out.find(HINT) {
        Some(i) => out[i + HINT.len()..].to_string(),
        None => out.to_string(),
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// `    at FILE:LINE` of the first frame in a `bt` listing.
fn first_frame_at(bt: &str) -> (String, u32) {
    let at = bt
        .lines()
        .find_map(|l| l.trim().strip_prefix("at "))
        .unwrap_or_else(|| panic!("no frame location in:\n{bt}"));
    let (file, line) = at
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("no line in {at:?}"));
    (
        file.to_string(),
        line.parse()
            .unwrap_or_else(|_| panic!("bad line in {at:?}")),
    )
}

#[test]
fn source_runs_lines_skips_comments_reports_failures_and_nests() {
    let env = Env::new();
    let inner = env.write("inner.txt", "# nested\nthreads\n");
    let script = env.write(
        "cmds.txt",
        &format!(
            "# a comment\n\n   goroutine 18 bt 1\nno-such-command\nsource {}\nsource {}\n",
            inner.display(),
            env.path("missing.txt").display()
        ),
    );
    let Some((out, err)) = env.core(&[], &format!("source {}\n", script.display())) else {
        return;
    };
    let bt = body(&env.core(&[], "goroutine 18 bt 1\n").unwrap_or_default().0);
    let threads = body(&env.core(&[], "threads\n").unwrap_or_default().0);
    // Everything the script's good lines print, in order, with each failure on its
    // own `FILE:LINE: error` line where it happened.
    let s = script.display();
    let out = body(&out);
    assert!(
        out.starts_with(&bt),
        "bt output missing:\n{out}\nwant:\n{bt}"
    );
    assert!(
        out.contains(&format!("{s}:4: command not available\n")),
        "{out}"
    );
    assert!(
        out.contains(&threads),
        "nested source did not run threads:\n{out}"
    );
    assert!(
        out.contains(&format!(
            "{s}:6: open {}",
            env.path("missing.txt").display()
        )),
        "{out}"
    );
    let fail_at = out.find(&format!("{s}:4:")).unwrap_or(0);
    let threads_at = out.find(&threads).unwrap_or(0);
    assert!(0 < fail_at && fail_at < threads_at, "order wrong:\n{out}");
    assert!(!err.contains("panicked"), "{err}");

    // A file that sources itself stops at the depth limit instead of overflowing.
    let selfref = env.path("self.txt");
    env.write("self.txt", &format!("source {}\n", selfref.display()));
    let (out, err) = env
        .core(
            &[],
            &format!("source {}\ngoroutine 18\n", selfref.display()),
        )
        .unwrap_or_default();
    assert!(out.contains("nested more than 16 deep"), "{out}\n{err}");
    assert!(
        out.contains("Switched from 18 to 18"),
        "session did not go on:\n{out}"
    );
}

#[test]
fn source_exit_ends_the_session() {
    let env = Env::new();
    let script = env.write("quit.txt", "exit\n");
    let Some((out, _)) = env.core(&[], &format!("source {}\nthreads\n", script.display())) else {
        return;
    };
    assert!(!out.contains("Thread "), "commands ran after exit:\n{out}");
}

#[test]
fn transcript_records_commands_and_output_truncates_and_suppresses() {
    let env = Env::new();
    let t = env.path("t.txt");
    std::fs::write(&t, "old line\n").unwrap_or_else(|e| panic!("{e}"));
    let input = format!(
        "transcript {p}\ngoroutine 18 bt 1\nno-such-command\ntranscript -off\nthreads\n",
        p = t.display()
    );
    let Some((out, err)) = env.core(&[], &input) else {
        return;
    };
    let text = read(&t);
    let bt = body(&env.core(&[], "goroutine 18 bt 1\n").unwrap_or_default().0);
    // Appended, not truncated; the prompt and command echoed before their output.
    assert!(text.starts_with("old line\n"), "{text}");
    assert!(
        text.contains(&format!("(coroner) goroutine 18 bt 1\n{bt}")),
        "transcript:\n{text}\nwant:\n{bt}"
    );
    // Errors go to stderr only; commands after -off are not recorded.
    assert!(text.contains("(coroner) no-such-command\n"), "{text}");
    assert!(!text.contains("command not available"), "{text}");
    assert!(text.ends_with("(coroner) transcript -off\n"), "{text}");
    assert!(!text.contains("Thread "), "{text}");
    assert!(
        err.contains("Command failed: command not available"),
        "{err}"
    );
    // Without -x, stdout still has everything.
    assert!(out.contains(&bt) && out.contains("Thread "), "{out}");

    // -t truncates; -x keeps output off stdout.
    let input = format!("transcript -t -x {}\nthreads\n", t.display());
    let (out, _) = env.core(&[], &input).unwrap_or_default();
    let text = read(&t);
    assert!(text.starts_with("(coroner) threads\n* Thread "), "{text}");
    assert!(
        !out.contains("Thread "),
        "-x leaked output to stdout:\n{out}"
    );

    let (_, err) = env.core(&[], "transcript -t\n").unwrap_or_default();
    assert!(err.contains("no output path specified"), "{err}");
}

#[test]
fn edit_runs_the_editor_at_the_frame_or_location() {
    let env = Env::new();
    let argv = env.path("argv.txt");
    let editor = env.write(
        "fake-editor",
        &format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > {}\n",
            argv.display()
        ),
    );
    let chmod = Command::new("chmod").arg("755").arg(&editor).status();
    assert!(chmod.is_ok_and(|s| s.success()), "chmod failed");
    let Some((bt, _)) = env.core(&[], "goroutine 18 bt 1\n") else {
        return;
    };
    let (file, line) = first_frame_at(&bt);
    let (bin, core) = fixture().unwrap_or_default();

    // $DELVE_EDITOR wins over $EDITOR.
    let mut c = env.coroner();
    c.env("DELVE_EDITOR", &editor)
        .env("EDITOR", "/bin/false")
        .arg("core")
        .arg(&bin)
        .arg(&core);
    let (_, err) = run_capture(c, "goroutine 18\nedit\n", LIMIT);
    assert!(!err.contains("Command failed"), "{err}");
    assert_eq!(read(&argv), format!("+{line}\n{file}\n"));

    // $EDITOR alone, with a location.
    std::fs::remove_file(&argv).unwrap_or_else(|e| panic!("{e}"));
    let loc = format!("{file}:{}", line + 1);
    let mut c = env.coroner();
    c.env("EDITOR", &editor).arg("core").arg(&bin).arg(&core);
    let (_, err) = run_capture(c, &format!("ed {loc}\n"), LIMIT);
    assert!(!err.contains("Command failed"), "{err}");
    assert_eq!(read(&argv), format!("+{}\n{file}\n", line + 1));

    // Neither set: Delve's error.
    let (_, err) = env.core(&[], "edit\n").unwrap_or_default();
    assert!(
        err.contains("Command failed: Neither DELVE_EDITOR or EDITOR is set"),
        "{err}"
    );
}

#[test]
fn config_file_is_read_at_start_and_delve_is_the_fallback() {
    let env = Env::new();
    // Only Delve's file: it is used.
    env.write(
        "home/.config/dlv/config.yml",
        "max-string-len: 77\naliases:\n  goroutines: [gs]\nsource-list-line-color: 34\n",
    );
    let Some((out, err)) = env.core(&[], "config max-string-len\ngs -with user\n") else {
        return;
    };
    assert!(
        out.contains("max-string-len            77\n"),
        "{out}\n{err}"
    );
    assert!(
        out.contains("Goroutine 18 - "),
        "alias gs did not list goroutines:\n{out}"
    );

    // coroner's own file wins over Delve's.
    env.write("xdg/coroner/config.yml", "max-string-len: 12\n");
    let (out, _) = env.core(&[], "config max-string-len\n").unwrap_or_default();
    assert!(out.contains("max-string-len            12\n"), "{out}");

    // --init runs after the file is loaded.
    let init = env.write("init.txt", "config max-string-len 5\n");
    let mut c = env.coroner();
    let (bin, core) = fixture().unwrap_or_default();
    c.arg("core").arg(&bin).arg(&core).arg("--init").arg(&init);
    let (out, _) = run_capture(c, "config max-string-len\n", LIMIT);
    assert!(out.contains("max-string-len            5\n"), "{out}");
}

#[test]
fn bad_yaml_warns_with_file_and_line_and_uses_defaults() {
    let env = Env::new();
    let p = env.write(
        "xdg/coroner/config.yml",
        "max-string-len: 9\nsubstitute-path: [ {from: a\n",
    );
    let Some((out, err)) = env.core(&[], "config max-string-len\nthreads\n") else {
        return;
    };
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning: ")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].starts_with(&format!("warning: {}:", p.display()))
            && warnings[0].contains("bad YAML"),
        "{err}"
    );
    let line: String = warnings[0][format!("warning: {}:", p.display()).len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert!(matches!(line.as_str(), "2" | "3"), "line {line:?} in {err}");
    assert!(
        out.contains("max-string-len            <not defined>\n"),
        "{out}"
    );
    assert!(out.contains("Thread "), "{out}");
}

#[test]
fn config_save_creates_the_file_keeps_unknown_keys_and_is_read_back() {
    let env = Env::new();
    env.write(
        "home/.config/dlv/config.yml",
        "source-list-line-color: \"\\x1b[34m\"\nmax-array-values: 3\n",
    );
    let input = "config max-string-len 42\nconfig substitute-path /build /src\nconfig alias threads ths\nconfig -save\n";
    let Some((out, err)) = env.core(&[], input) else {
        return;
    };
    let saved = env.xdg().join("coroner/config.yml");
    assert!(
        out.contains(&format!("Configuration saved to {}", saved.display())),
        "{out}\n{err}"
    );
    let text = read(&saved);
    assert!(text.contains("source-list-line-color"), "{text}");
    assert!(text.contains("max-string-len: 42"), "{text}");
    assert!(text.contains("max-array-values: 3"), "{text}");
    // Delve's file is left alone.
    assert!(!read(&env.home().join(".config/dlv/config.yml")).contains("42"));

    let (out, err) = env.core(&[], "config -list\nths\n").unwrap_or_default();
    assert!(
        out.contains("max-string-len            42\n"),
        "{out}\n{err}"
    );
    assert!(
        out.contains("substitute-path           [{/build /src}]\n"),
        "{out}"
    );
    assert!(
        out.contains("aliases                   map[threads:[ths]]\n"),
        "{out}"
    );
    assert!(
        out.contains("Thread "),
        "alias from the saved file failed:\n{out}"
    );
}

/// `--log --log-output=rpc` on `coroner core --headless`: a real JSON-RPC request
/// and its reply appear in the log, in Delve's line format.
#[test]
fn log_output_rpc_logs_requests_and_replies() {
    let env = Env::new();
    let Some((bin, core)) = fixture() else {
        return;
    };
    let log = env.path("log.txt");
    let mut child = env
        .coroner()
        .arg("--log")
        .arg("--log-output=rpc")
        .arg(format!("--log-dest={}", log.display()))
        .arg("core")
        .arg(&bin)
        .arg(&core)
        .arg("--headless")
        .arg("--listen=127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn coroner: {e}"));
    let out = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let _guard = Guard(child);
    let mut out = BufReader::new(out);
    let mut banner = String::new();
    out.read_line(&mut banner)
        .unwrap_or_else(|e| panic!("banner: {e}"));
    let addr = banner
        .trim()
        .strip_prefix("API server listening at: ")
        .unwrap_or_else(|| panic!("unexpected banner {banner:?}"))
        .to_string();
    let mut s = std::net::TcpStream::connect(&addr).unwrap_or_else(|e| panic!("connect: {e}"));
    s.set_read_timeout(Some(LIMIT))
        .unwrap_or_else(|e| panic!("{e}"));
    let req = r#"{"method":"RPCServer.ListGoroutines","params":[{"Start":0,"Count":2}],"id":7}"#;
    writeln!(s, "{req}").unwrap_or_else(|e| panic!("send: {e}"));
    let mut reply = String::new();
    BufReader::new(s.try_clone().unwrap_or_else(|e| panic!("{e}")))
        .read_line(&mut reply)
        .unwrap_or_else(|e| panic!("reply: {e}"));
    assert!(reply.contains("\"id\":7"), "{reply}");
    let text = read(&log);
    let lines: Vec<&str> = text.lines().collect();
    let req_line = lines
        .iter()
        .find(|l| l.contains("layer=rpc <- "))
        .unwrap_or_else(|| panic!("no request logged:\n{text}"));
    assert!(req_line.ends_with(req), "{req_line}");
    assert!(req_line.contains("Z debug layer=rpc"), "{req_line}");
    let reply_line = lines
        .iter()
        .find(|l| l.contains("layer=rpc -> "))
        .unwrap_or_else(|| panic!("no reply logged:\n{text}"));
    assert!(reply_line.ends_with(reply.trim_end()), "{reply_line}");
    // Only the layer asked for.
    assert!(lines.iter().all(|l| l.contains("layer=rpc")), "{text}");
}

#[test]
fn log_flags_are_checked_like_delve() {
    let env = Env::new();
    let mut c = env.coroner();
    c.arg("--log-output=rpc").arg("version");
    let (_, err) = run_capture(c, "", LIMIT);
    assert!(
        err.contains("--log-output specified without --log"),
        "{err}"
    );
    let mut c = env.coroner();
    c.arg("--log").arg("--log-output=nope").arg("version");
    let (_, err) = run_capture(c, "", LIMIT);
    assert!(err.contains("unknown log output value \"nope\""), "{err}");
    // The debugger layer by default, to stderr.
    let Some((_, err)) = env.core(&["--log"], "exit\n") else {
        return;
    };
    assert!(err.contains("debug layer=debugger opening core"), "{err}");
}

/// `--log-output=gdbwire` prints the packets exchanged with a real gdbserver.
#[test]
fn log_output_gdbwire_logs_gdbserver_packets() {
    if !Path::new("/usr/bin/gdbserver").exists() {
        eprintln!("SKIP: /usr/bin/gdbserver is not installed");
        return;
    }
    let scope = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope").unwrap_or_default();
    if scope.trim() == "3" {
        eprintln!("SKIP: ptrace is disabled (yama ptrace_scope 3)");
        return;
    }
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../cores/live-fixtures/go1.22-noopt/live.zst");
    if !src.exists() {
        eprintln!("SKIP: {} missing", src.display());
        return;
    }
    let env = Env::new();
    let live = env.path("live");
    let ok = Command::new("zstd")
        .arg("-dqf")
        .arg(&src)
        .arg("-o")
        .arg(&live)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIP: zstd could not decompress {}", src.display());
        return;
    }
    let log = env.path("gdb.log");
    let mut c = env.coroner();
    c.arg("--log")
        .arg("--log-output=gdbwire")
        .arg(format!("--log-dest={}", log.display()))
        .arg("exec")
        .arg(&live)
        .arg("--backend")
        .arg("gdbserver");
    // `exit` kills the launched program and gdbserver with it.
    let (_, err) = run_capture(c, "exit\n", LIMIT);
    let text = read(&log);
    assert!(
        text.lines()
            .any(|l| l.contains(" debug layer=gdbconn -> $qSupported")),
        "no qSupported sent:\n{text}\nstderr:\n{err}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains(" debug layer=gdbconn <- $PacketSize=")),
        "no qSupported reply:\n{text}"
    );
}
