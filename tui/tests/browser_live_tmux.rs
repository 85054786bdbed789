//! End to end: the real `coroner` binary's browser on live fixture programs
//! (cores/live-fixtures/go1.27-noopt/live), in a tmux pane as a user runs it.
//!
//! - Launched (`coroner exec live -- loop N`): toggle a breakpoint on a source line,
//!   continue to it, `next` (the line moves), a watch expression changes between stops,
//!   halt the running program with H and with Ctrl-C, see its output, quit; the
//!   program is gone afterwards.
//! - Attached (`coroner attach PID` on `live service`): set a breakpoint, stop on it,
//!   quit (detach): the program runs on untraced, its code equal to the binary's, and
//!   makes progress.

#[path = "support/tmux.rs"]
mod tmux;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use tmux::*;

/// `live service`, past its ready line.
fn start_service(exe: &Path) -> ChildGuard {
    let mut child = Command::new(exe)
        .arg("service")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start live service");
    let mut stdout = child.stdout.take().expect("stdout");
    let guard = ChildGuard(child);
    let mut buf = [0u8; 64];
    let mut got = String::new();
    while !got.contains('\n') {
        use std::io::Read;
        let n = stdout.read(&mut buf).expect("read ready line");
        assert!(n > 0, "live service ended before it was ready");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(got.starts_with("ready"), "{got}");
    // `service` prints nothing after its ready line.
    drop(stdout);

    guard
}

/// After coroner let go of `pid`: untraced (every thread), not stopped, its code equal
/// to the binary's (no breakpoint left), making progress.
fn assert_released(pid: u32, exe: &Path) {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("tasks");
    for task in tasks.filter_map(|e| e.ok()) {
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        let tracer = status
            .lines()
            .find_map(|l| l.strip_prefix("TracerPid:"))
            .map(str::trim)
            .unwrap_or("?");
        assert_eq!(tracer, "0", "thread {:?} still traced", task.file_name());
        let state = status
            .lines()
            .find_map(|l| l.strip_prefix("State:"))
            .map(str::trim)
            .unwrap_or("?");
        assert!(
            !state.starts_with('T'),
            "thread {:?} left {state}",
            task.file_name()
        );
    }
    let bin = coroner::symbols::Binary::open(exe).expect("open binary");
    let text = bin.section(".text").expect(".text");
    let want = bin.section_data(".text").expect(".text data");
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).expect("open /proc/PID/mem");
    let mut got = vec![0u8; want.len()];
    mem.read_exact_at(&mut got, text.addr.get())
        .expect("read .text from memory");
    let diff = got.iter().zip(want.iter()).position(|(a, b)| a != b);
    assert!(
        diff.is_none(),
        ".text differs from the binary at {:#x} (a breakpoint left behind?)",
        text.addr.get() + diff.unwrap_or(0) as u64
    );
    let progress = bin
        .symbol("main.Progress")
        .expect("main.Progress")
        .addr
        .get();
    let read = || {
        let mut b = [0u8; 8];
        mem.read_exact_at(&mut b, progress)
            .expect("read main.Progress");
        u64::from_le_bytes(b)
    };
    let p0 = read();
    std::thread::sleep(Duration::from_millis(300));
    let p1 = read();
    assert!(p1 > p0, "no progress after detach ({p0} -> {p1})");
}

#[test]
fn browser_on_a_launched_program() {
    if !usable("browser_on_a_launched_program") {
        return;
    }
    let exe = unpack();
    let call = line_of("loop.go", "loop-call");
    let for_line = line_of("loop.go", "loop-for");
    let t = Tmux::start("exec");
    // A loop long enough to still run when we halt it.
    let cmd = format!(
        "{} exec {} -- loop 1000000000000; echo EXIT=$?",
        env!("CARGO_BIN_EXE_coroner"),
        exe.display()
    );
    t.typed(&cmd);
    t.keys(&["Enter"]);
    let s = t.wait_for("STOPPED: at the program's entry point");
    let mut guard = PidGuard(header_pid(&s));
    let pid = guard
        .0
        .unwrap_or_else(|| panic!("no pid in the header:\n{s}"));
    substitute_sources(&t);

    breakpoint_continue_watch_next(&t, call, for_line);
    // A watch that cannot be evaluated shows why; d in the watch pane removes it.
    t.keys(&["w"]);
    t.typed("nosuchvar");
    t.keys(&["Enter"]);
    t.wait_for("│nosuchvar: could not find symbol value for nosuchvar");
    t.keys(&["Tab"]);
    t.keys(&["Tab"]);
    t.wait_for("Watch: 2");
    t.keys(&["j"]);
    t.keys(&["d"]);
    t.wait_until("the watch removed", |s| {
        s.contains("Watch: 1") && !s.contains("nosuchvar") && s.contains("│i = 1")
    });
    // Back to the source pane, its cursor on the current line.
    t.keys(&["BTab"]);
    t.keys(&["BTab"]);

    // b on the current line clears the breakpoint; the program then runs freely.
    t.keys(&["b"]);
    t.wait_until("the breakpoint cleared, its mark gone", |s| {
        s.contains("Breakpoint 1 cleared at")
            && s.contains(&format!(" =>{call:>4} │"))
            && !s.contains(&format!("●=>{call:>4} │"))
    });
    t.keys(&["c"]);
    t.wait_for("RUNNING:");
    std::thread::sleep(Duration::from_millis(300));
    // Keys are answered while it runs: the help overlay opens and closes.
    t.keys(&["?"]);
    t.wait_for("halt the running program");
    t.keys(&["Escape"]);
    t.wait_until("the help closed", |s| {
        !s.contains("halt the running program")
    });
    t.keys(&["H"]);
    t.wait_until("a halt", |s| {
        state_line(s).starts_with("STOPPED: halted") && s.contains(&format!("pid {pid} (launched)"))
    });
    // Ctrl-C halts too, and never quits.
    t.keys(&["c"]);
    t.wait_for("RUNNING:");
    std::thread::sleep(Duration::from_millis(300));
    t.keys(&["C-c"]);
    t.wait_until("a halt by Ctrl-C", |s| {
        state_line(s).starts_with("STOPPED: halted")
    });
    t.keys(&["C-c"]);
    t.wait_for("the program is stopped: q quits");

    // What the program printed.
    t.keys(&["P"]);
    t.wait_for(&format!("ready pid={pid}"));
    back_to_main(&t);

    // :restart starts a new copy from the debugger's thread (the tracer); the old one
    // is gone, the header follows the new pid, its output goes to the same view.
    t.keys(&[":"]);
    t.typed("restart");
    t.keys(&["Enter"]);
    let s = t.wait_until("the restart", |s| {
        header_pid(s).is_some_and(|p| p != pid)
            && state_line(s).starts_with("STOPPED: at the program's entry point")
    });
    let new = header_pid(&s).unwrap_or(0);
    guard.0 = Some(new);
    assert!(gone(pid), "process {pid} still exists after restart");
    back_to_main(&t);
    t.keys(&["c"]);
    t.wait_for("RUNNING:");
    t.keys(&["P"]);
    t.wait_for(&format!("ready pid={new}"));
    back_to_main(&t);

    // q kills what we launched, and the terminal is the shell's again.
    t.keys(&["q"]);
    wait_exit(&t);
    assert!(gone(new), "process {new} still exists after quitting");
    guard.0 = None;
}

#[test]
fn browser_attached_then_detached() {
    if !usable("browser_attached_then_detached") {
        return;
    }
    let exe = unpack();
    let guard = start_service(&exe);
    let pid = guard.0.id();
    let spin = line_of("service.go", "svc-spin");
    let t = Tmux::start("attach");
    let cmd = format!(
        "{} attach {pid}; echo EXIT=$?",
        env!("CARGO_BIN_EXE_coroner")
    );
    t.typed(&cmd);
    t.keys(&["Enter"]);
    t.wait_until("the attach stop", |s| {
        state_line(s).starts_with("STOPPED: attached")
            && s.contains(&format!("pid {pid} (attached)"))
    });
    substitute_sources(&t);
    t.keys(&["L"]);
    t.typed(&format!("service.go:{spin}"));
    t.keys(&["Enter"]);
    t.wait_for(&format!("{spin} │"));
    t.keys(&["b"]);
    t.wait_for("Breakpoint 1 set at");
    t.keys(&["c"]);
    t.wait_until("the breakpoint's stop", |s| {
        let st = state_line(s);
        st.starts_with("STOPPED: Breakpoint 1 at main.spinner")
            && st.contains(&format!("service.go:{spin}"))
    });

    // q asks; y detaches with the breakpoint removed.
    t.keys(&["q"]);
    t.wait_for("detach and leave the process running?");
    t.keys(&["y"]);
    let s = wait_exit(&t);
    let detached = format!("Detached from process {pid}: it keeps running.");
    assert!(s.contains(&detached), "{s}");

    assert_released(pid, &exe);
    drop(guard);
}

#[test]
fn sigterm_while_stopped_releases_the_attached_program() {
    if !usable("sigterm_while_stopped_releases_the_attached_program") {
        return;
    }
    let exe = unpack();
    let guard = start_service(&exe);
    let pid = guard.0.id();
    let spin = line_of("service.go", "svc-spin");
    let t = Tmux::start("sigterm");
    let cmd = format!(
        "{} attach {pid}; echo EXIT=$?; stty -a",
        env!("CARGO_BIN_EXE_coroner")
    );
    t.typed(&cmd);
    t.keys(&["Enter"]);
    t.wait_for("STOPPED: attached");
    // Stopped on a breakpoint (a 0xCC in the code) when the signal comes.
    t.keys(&[":"]);
    t.typed(&format!("break service.go:{spin}"));
    t.keys(&["Enter"]);
    t.wait_for("Breakpoint 1 set at");
    back_to_main(&t);
    t.keys(&["c"]);
    t.wait_until("the breakpoint's stop", |s| {
        state_line(s).starts_with("STOPPED: Breakpoint 1 at main.spinner")
    });
    let coroner = coroner_pid(&t).expect("coroner's pid");
    let out = Command::new("kill")
        .args(["-TERM", &coroner.to_string()])
        .output()
        .expect("kill");
    assert!(out.status.success(), "{out:?}");
    // 128 + SIGTERM, and the terminal is the shell's again (canonical mode, echo).
    let s = t.wait_until("EXIT=143", |s| {
        s.lines()
            .any(|l| l.trim_start_matches("# ").trim_end() == "EXIT=143")
            && s.contains("icanon")
    });
    let words: Vec<&str> = s.split_whitespace().collect();
    assert!(words.contains(&"icanon") && words.contains(&"echo"), "{s}");
    assert_released(pid, &exe);
    drop(guard);
}

#[test]
fn sighup_kills_the_launched_program() {
    if !usable("sighup_kills_the_launched_program") {
        return;
    }
    let exe = unpack();
    let t = Tmux::start("sighup");
    let cmd = format!(
        "{} exec {} -- loop 1000000000000",
        env!("CARGO_BIN_EXE_coroner"),
        exe.display()
    );
    t.typed(&cmd);
    t.keys(&["Enter"]);
    let s = t.wait_for("STOPPED: at the program's entry point");
    let mut guard = PidGuard(header_pid(&s));
    let pid = guard
        .0
        .unwrap_or_else(|| panic!("no pid in the header:\n{s}"));
    t.keys(&["c"]);
    t.wait_for("RUNNING:");
    // The terminal goes away: the shell and coroner get SIGHUP.
    drop(t);
    assert!(gone(pid), "process {pid} still exists after SIGHUP");
    guard.0 = None;
}

/// coroner's pid: the child of the pane's shell.
fn coroner_pid(t: &Tmux) -> Option<u32> {
    let sh = t.run(&["list-panes", "-t", "e2e", "-F", "#{pane_pid}"]);
    let sh = sh.trim();
    let children = std::fs::read_to_string(format!("/proc/{sh}/task/{sh}/children")).ok()?;
    children.split_whitespace().next()?.parse().ok()
}

#[test]
fn browser_shows_a_panic_stop_then_the_exit_status() {
    if !usable("browser_shows_a_panic_stop_then_the_exit_status") {
        return;
    }
    let exe = unpack();
    let t = Tmux::start("panic");
    let cmd = format!(
        "{} exec {} -- crash panic; echo EXIT=$?",
        env!("CARGO_BIN_EXE_coroner"),
        exe.display()
    );
    t.typed(&cmd);
    t.keys(&["Enter"]);
    let s = t.wait_for("STOPPED: at the program's entry point");
    let mut guard = PidGuard(header_pid(&s));
    let pid = guard
        .0
        .unwrap_or_else(|| panic!("no pid in the header:\n{s}"));
    // Delve's implicit breakpoint on an unrecovered panic, on the panicking goroutine.
    t.keys(&["c"]);
    t.wait_until("the panic stop", |s| {
        state_line(s).starts_with("STOPPED: Breakpoint unrecovered-panic at runtime.fatalpanic")
            && s.contains("main.crashPanic")
    });
    // The runtime then exits with status 2.
    t.keys(&["c"]);
    t.wait_until("the exit", |s| {
        state_line(s) == format!("ENDED: process {pid} exited with status 2")
    });
    // Execution keys now say why they cannot run.
    t.keys(&["n"]);
    t.wait_for("the process has ended");
    t.keys(&["q"]);
    wait_exit(&t);
    assert!(gone(pid), "process {pid} still exists after quitting");
    guard.0 = None;
}
